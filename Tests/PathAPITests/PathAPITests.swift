import Foundation
import Testing
import PathCore
@testable import PathAPI

private let secret = "Zq8vR2xT5mWk9LpA"

private func fixture(_ name: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/props/\(name)")
    return try String(contentsOf: url, encoding: .utf8)
}
private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(text.utf8))
}
private func encode<T: Encodable>(_ value: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return String(decoding: try e.encode(value), as: UTF8.self)
}

@Test func connectRequestDecodesAndValidates() throws {
    let body = #"{"protocol": "iscsi", "connection_properties": "# + (try fixture("pure_iscsi_chap.json")) + "}"
    let req = try decode(ConnectVolumeRequest.self, body)
    #expect(req.protocol == .iscsi)
    guard case .iscsi(let spec) = try req.spec() else {
        Issue.record("expected an iSCSI spec")
        return
    }
    #expect(spec.paths.count == 4)
    #expect(spec.wwn?.value == "3624a93709714b5cb91634c470002b2c8")
    #expect(req.base.secrets == [secret])
}

@Test func secretsAreRedactedInEveryPrintableAndLoggableForm() throws {
    let body = #"{"protocol": "iscsi", "connection_properties": "# + (try fixture("osbrick_iscsi_single.json")) + "}"
    let req = try decode(ConnectVolumeRequest.self, body)
    let secrets = ["fake_password_123", "fake_disc_password_456"]
    var dumped = ""
    dump(req, to: &dumped)
    let forLog = try encode(req.redacted())
    for text in [req.description, req.debugDescription, String(describing: req), String(reflecting: req), dumped, forLog,
                 "\(req.connectionProperties)"] {
        for s in secrets { #expect(!text.contains(s), "secret in: \(text)") }
    }
    #expect(forLog.contains(#""auth_password":"<redacted>""#))
    #expect(forLog.contains(#""auth_username":"fake_username""#))
    // the unredacted request still carries the secret for the daemon to use
    #expect(try encode(req).contains("fake_password_123"))

    let dis = DisconnectVolumeRequest(connectionProperties: req.connectionProperties, protocol: .iscsi)
    var dumped2 = ""
    dump(dis, to: &dumped2)
    for text in [dis.description, dumped2, try encode(dis.redacted()), dis.base.description] {
        for s in secrets { #expect(!text.contains(s)) }
    }
}

@Test func disconnectRequestDefaultsAndWWNResolution() throws {
    let props = try fixture("pure_fc.json")
    let req = try decode(DisconnectVolumeRequest.self, #"{"protocol": "fc", "connection_properties": "# + props + "}")
    #expect(!req.force && !req.ignoreErrors && !req.skipMismatched && req.deviceInfo == nil)
    #expect(try req.volumeWWN(spec: try req.spec()).value == "3624a93709714b5cb91634c470002b2c8")

    // properties without wwn: device_info.scsi_wwn is used
    let noWWN = #"{"target_wwn": "1234567890123456", "target_lun": 1}"#
    let req2 = try decode(
        DisconnectVolumeRequest.self,
        #"{"protocol": "FIBRE_CHANNEL", "connection_properties": "# + noWWN
            + #", "device_info": {"type": "block", "scsi_wwn": "3624a93709714b5cb91634c470002b2c9", "path": "/dev/dm-2", "multipath_id": "3624a93709714b5cb91634c470002b2c9"}, "force": true, "ignore_errors": true}"#)
    #expect(req2.protocol == .fc && req2.force && req2.ignoreErrors)
    #expect(try req2.volumeWWN(spec: try req2.spec()).value == "3624a93709714b5cb91634c470002b2c9")

    // both given and different: conflict naming device_info.scsi_wwn
    var req3 = req
    req3.deviceInfo = DeviceInfo(scsiWWN: "3624a93709714b5cb91634c470002b2c9", path: "/dev/dm-2", multipathID: nil)
    do {
        _ = try req3.volumeWWN(spec: try req3.spec())
        Issue.record("expected conflict")
    } catch let e as PathCoreError {
        #expect(e.code == .conflict && e.key == "device_info.scsi_wwn")
    }
    // neither: missing wwn
    let req4 = try decode(DisconnectVolumeRequest.self, #"{"protocol": "fc", "connection_properties": "# + noWWN + "}")
    #expect(throws: PathCoreError(.missing, "missing wwn (in connection_properties) or device_info.scsi_wwn", key: "wwn")) {
        try req4.volumeWWN(spec: try req4.spec())
    }
}

@Test func unknownProtocolIsRefused() {
    #expect(throws: (any Error).self) {
        try decode(ConnectVolumeRequest.self, #"{"protocol": "nvme", "connection_properties": {}}"#)
    }
}

@Test func errorShapeAndStableCodes() throws {
    let props: JSONValue = try JSONValue.parse(try fixture("pure_iscsi_chap.json"))
    // drop target_iqns: the parser names the missing key
    let bad = JSONValue.object((props.objectMembers ?? []).filter { $0.key != "target_iqns" && $0.key != "target_luns" })
    let req = ConnectVolumeRequest(connectionProperties: bad, protocol: .iscsi)
    do {
        _ = try req.spec()
        Issue.record("expected an error")
    } catch let e as PathCoreError {
        let resp = APIErrorResponse(e, scrubbing: req.base.secrets)
        #expect(resp.httpStatus == 400)
        #expect(resp.error.code == .missingKey)
        let json = try encode(resp)
        #expect(json.hasPrefix(#"{"error":{"code":"bad_request.missing_key","key":"target_portal","message":"#))
        let back = try decode(APIErrorResponse.self, json)
        #expect(back == resp)
    }
    #expect(APIErrorBody.Code(PathCoreError.Code.invalidValue).rawValue == "bad_request.invalid_value")
    #expect(APIErrorBody.Code(PathCoreError.Code.malformed).rawValue == "bad_request.malformed_json")
    #expect(APIErrorBody.Code(PathCoreError.Code.conflict).httpStatus == 409)
    #expect(APIErrorBody.Code(PathCoreError.Code.unsupported).httpStatus == 422)
    #expect(APIErrorBody.Code.timeout.httpStatus == 504)
}

@Test func errorTextIsScrubbedOfSecrets() {
    // Even if some lower layer put a secret into a message, the API body does not carry it.
    let e = PathCoreError(.invalidValue, "iscsiadm said: bad value \(secret)", detail: "arg \(secret)", key: "auth_password")
    let body = APIErrorBody(e, scrubbing: [secret])
    #expect(!body.message.contains(secret) && !(body.detail ?? "").contains(secret))
    #expect(body.message == "iscsiadm said: bad value <redacted>")
}

@Test func connectResponseFlattensDeviceInfo() throws {
    let resp = ConnectVolumeResponse(
        deviceInfo: DeviceInfo(scsiWWN: "3624a93709714b5cb91634c470002b2c8", path: "/dev/dm-0", multipathID: "3624a93709714b5cb91634c470002b2c8"),
        paths: [PathInfo(hctl: try HCTL("3:0:0:1"), device: "sdb", transport: "iscsi", portal: "10.0.1.11:3260", targetIQN: "iqn.2010-06.com.purestorage:fa", state: "active")],
        degraded: false, timings: [StepTiming(step: "login", milliseconds: 12.5)])
    let json = try encode(resp)
    let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
    #expect(obj["type"] as? String == "block")
    #expect(obj["scsi_wwn"] as? String == "3624a93709714b5cb91634c470002b2c8")
    #expect(obj["path"] as? String == "/dev/dm-0")
    #expect(obj["multipath_id"] as? String == "3624a93709714b5cb91634c470002b2c8")
    #expect((obj["paths"] as? [[String: Any]])?.first?["hctl"] as? String == "3:0:0:1")
    #expect((obj["timings"] as? [[String: Any]])?.first?["ms"] as? Double == 12.5)
    #expect(try decode(ConnectVolumeResponse.self, json) == resp)
    // an os-brick device_info decodes as DeviceInfo
    #expect(try decode(DeviceInfo.self, json).path == "/dev/dm-0")
}

@Test func connectorPropertiesUseOsBrickKeys() throws {
    let props = ConnectorProperties(
        initiator: "iqn.1993-08.org.debian:01:abcdef", wwpns: ["21000024ff2c2d70"], wwnns: ["20000024ff2c2d70"],
        host: "compute-01", ip: "192.0.2.10", multipath: true, enforceMultipath: false, platform: "x86_64", osType: "linux",
        systemUUID: "4c4c4544-0042-3510-8052-b4c04f4d4e32")
    let json = try encode(props)
    #expect(json == #"{"enforce_multipath":false,"host":"compute-01","initiator":"iqn.1993-08.org.debian:01:abcdef","ip":"192.0.2.10","multipath":true,"os_type":"linux","platform":"x86_64","system uuid":"4c4c4544-0042-3510-8052-b4c04f4d4e32","wwnns":["20000024ff2c2d70"],"wwpns":["21000024ff2c2d70"]}"#)
    #expect(try decode(ConnectorProperties.self, json) == props)
    let noFC = ConnectorProperties(
        initiator: nil, wwpns: nil, wwnns: nil, host: "h", ip: nil, multipath: false, enforceMultipath: false,
        platform: "x86_64", osType: "linux", systemUUID: nil)
    #expect(!(try encode(noFC)).contains("wwpns"))
}

@Test func otherResponsesUseSnakeCase() throws {
    #expect(try encode(ExtendVolumeResponse(newSize: 10_737_418_240)) == #"{"new_size":10737418240}"#)
    #expect(try encode(GetVolumePathsResponse(paths: ["/dev/sdb"])) == #"{"paths":["\/dev\/sdb"]}"#
        || (try encode(GetVolumePathsResponse(paths: ["/dev/sdb"]))) == #"{"paths":["/dev/sdb"]}"#)
    let d = DisconnectVolumeResponse(
        removedDevices: ["sdb"], removedMap: "3624a93709714b5cb91634c470002b2c8", loggedOutSessions: [2], kept: ["session 1: shared"])
    let json = try encode(d)
    #expect(json.contains(#""removed_devices":["sdb"]"#) && json.contains(#""logged_out_sessions":[2]"#))
    let h = HealthResponse.Volume(wwn: try WWN("3624a93709714b5cb91634c470002b2c8"), status: .degraded, pathsTotal: 4, pathsActive: 3)
    #expect(HealthResponse.overall([h]) == .degraded)
    #expect(try encode(h).contains(#""paths_active":3"#))
    #expect(try CheckValidDeviceRequest(path: "/dev/dm-0").validatedPath() == "/dev/dm-0")
    #expect(throws: PathCoreError.self) { try CheckValidDeviceRequest(path: "/dev/../etc/passwd").validatedPath() }
    #expect(throws: PathCoreError.self) { try CheckValidDeviceRequest(path: "/dev/sdb\n").validatedPath() }
}

@Test func strictBodyParsingNamesKeys() throws {
    func err(_ body: String, _ parse: (String) throws -> Any) -> APIErrorBody? {
        do {
            _ = try parse(body)
            Issue.record("expected an error for \(body)")
            return nil
        } catch let e as PathCoreError {
            return APIErrorBody(e)
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }
    let connect: (String) throws -> Any = { try ConnectVolumeRequest.parse($0) }
    let disconnect: (String) throws -> Any = { try DisconnectVolumeRequest.parse($0) }
    #expect(err(#"{"protocol": "iscsi"}"#, connect).map { ($0.code, $0.key) } ?? (.internal, nil) == (.missingKey, "connection_properties"))
    #expect(err(#"{"connection_properties": {}}"#, connect)?.key == "protocol")
    #expect(err(#"{"connection_properties": [], "protocol": "iscsi"}"#, connect)?.code == .invalidValue)
    #expect(err(#"{"connection_properties": {}, "protocol": "nvme"}"#, connect)?.key == "protocol")
    #expect(err(#"{"connection_properties": {}, "protocol": "iscsi""#, connect)?.code == .malformedJSON)
    #expect(err(#"{"protocol": "iscsi", "protocol": "fc", "connection_properties": {}}"#, connect)?.key == "protocol")
    #expect(err(#"{"connection_properties": {}, "protocol": "fc", "device_info": {"scsi_wwn": "x"}}"#, disconnect)?.key == "device_info.path")
    #expect(err(#"{"connection_properties": {}, "protocol": "fc", "force": "yes"}"#, disconnect)?.key == "force")

    let ok = try DisconnectVolumeRequest.parse(
        #"{"connection_properties": {"target_wwn": "1234567890123456", "target_lun": 0}, "protocol": "fc", "device_info": {"path": "/dev/sdb", "scsi_wwn": "3624a93709714b5cb91634c470002b2c8"}, "force": true}"#)
    #expect(ok.force && !ok.ignoreErrors && ok.deviceInfo?.path == "/dev/sdb" && ok.deviceInfo?.type == "block")
    #expect(try ok.volumeWWN(spec: try ok.spec()).value == "3624a93709714b5cb91634c470002b2c8")
    let same = try decode(DisconnectVolumeRequest.self, try encode(ok))
    #expect(same == ok)
    #expect(try CheckValidDeviceRequest.parse(#"{"path": "/dev/dm-1"}"#).path == "/dev/dm-1")
}

@Test func mapsResponseMarksOwnerAndReadsOlderDaemons() throws {
    let own = MapsResponse.Map(
        name: "3624a9370aaaa", device: "dm-0", owner: .pathagent, uuid: "mpath-3624a9370aaaa", table: "0 8 multipath x",
        vendor: "PURE", product: "FlashArray", paths: [], activePaths: 0, settings: [],
        groups: [.init(number: 1, state: "active", paths: [.init(device: "8:32", name: "sdc", alua: "active/optimized", preferred: false, dmState: "active")]),
                 .init(number: 2, state: "enabled", paths: [.init(device: "8:16", name: "sdb", alua: "active/non-optimized", preferred: false, dmState: "active")])],
        grouping: "group_by_prio (rule: paths show different ALUA states): active/optimized paths first, then active/non-optimized")
    var foreign = own
    foreign.grouping = nil
    foreign.name = "3333333000001770"
    foreign.owner = .foreign
    let text = try encode(MapsResponse(maps: [own, foreign]))
    #expect(text.contains(#""owner":"pathagent""#) && text.contains(#""owner":"foreign""#))
    #expect(try decode(MapsResponse.self, text) == MapsResponse(maps: [own, foreign]))
    // a daemon from before the field listed only the maps it watched: its own
    let old = #"{"maps":[{"name":"m","device":"dm-1","paths":[],"activePaths":0,"settings":[]}]}"#
    let m = try decode(MapsResponse.self, old).maps[0]
    #expect(m.owner == .pathagent && m.uuid == nil && m.table == nil && m.groups.isEmpty && m.grouping == nil)
    #expect(text.contains(#""alua":"active\/optimized""#) || text.contains(#""alua":"active/optimized""#))
}
