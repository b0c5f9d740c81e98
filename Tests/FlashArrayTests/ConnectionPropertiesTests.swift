import Foundation
import PathCore
import Testing
@testable import FlashArray

@Suite struct ConnectionPropertiesTests {
    func readyPorts(_ controllersFile: String) throws -> [ArrayPort] {
        let ready = Set(try Fixtures.list("array/\(controllersFile)", Controller.self).filter(\.isReady).compactMap(\.name))
        return try Fixtures.list("array/ports.json", ArrayPort.self).filter { $0.controllerName.map(ready.contains) ?? false }
    }

    @Test func wwnFromSerial() throws {
        let v = try #require(try Fixtures.list("array/volume.json", FlashArray.Volume.self).first)
        #expect(try WWN.pure(serial: v.serial!).value == "3624a93709714b5cb91634c470002b2c8")
        #expect(throws: PathCoreError.self) { try WWN.pure(serial: "9714B5CB") }
    }

    @Test func iscsiPropertiesFromRecordedResponses() throws {
        let wwn = try WWN.pure(serial: "9714B5CB91634C470002B2C8")
        let info = try ConnectionPropertiesBuilder.iscsi(
            targets: [ArrayTargets(arrayName: "fa-01", lun: 3, ports: try readyPorts("controllers.json"))],
            cidrs: ["10.20.0.0/16"], wwn: wwn, chap: nil)
        #expect(info.driverVolumeType == "iscsi")
        let p = info.data
        // CT0.ETH5 (10.99/16) and CT1.ETH5 (IPv6) are outside the CIDR; FC and management ports have no portal
        #expect(p.targetPortals == ["10.20.1.10:3260", "10.20.1.11:3260"])
        #expect(p.targetIQNs == Array(repeating: "iqn.2010-06.com.purestorage:flasharray.12d8c3a1b4f6e70", count: 2))
        #expect(p.targetLUNs == [3, 3])
        #expect(!p.targetDiscovered && p.discard && p.addressingMode == "SAM2")
        #expect(p.wwn == "3624a93709714b5cb91634c470002b2c8")
        #expect(p.authMethod == nil)

        // exact os-brick keys, nothing else
        let obj = try JSONSerialization.jsonObject(with: JSONEncoder().encode(info)) as! [String: Any]
        let data = obj["data"] as! [String: Any]
        #expect(Set(data.keys) == ["target_discovered", "target_portals", "target_iqns", "target_luns", "discard", "addressing_mode", "wwn"])
        #expect(obj["driver_volume_type"] as? String == "iscsi")
        // round trip
        #expect(try JSONDecoder().decode(ConnectionInfo.self, from: JSONEncoder().encode(info)) == info)
    }

    @Test func iscsiDefaultCIDRTakesEveryIPv4PortalOfReadyControllersOnly() throws {
        let wwn = try WWN.pure(serial: "9714B5CB91634C470002B2C8")
        let all = try ConnectionPropertiesBuilder.iscsi(
            targets: [ArrayTargets(arrayName: "fa-01", lun: 1, ports: try readyPorts("controllers.json"))],
            cidrs: ["0.0.0.0/0"], wwn: wwn, chap: nil).data
        #expect(all.targetPortals == ["10.20.1.10:3260", "10.99.1.10:3260", "10.20.1.11:3260"])
        let ct0Only = try ConnectionPropertiesBuilder.iscsi(
            targets: [ArrayTargets(arrayName: "fa-01", lun: 1, ports: try readyPorts("controllers-ct1-down.json"))],
            cidrs: ["0.0.0.0/0", "::/0"], wwn: wwn, chap: nil).data
        #expect(ct0Only.targetPortals == ["10.20.1.10:3260", "10.99.1.10:3260"])
    }

    @Test func iscsiWithChapAndUniformPair() throws {
        let wwn = try WWN.pure(serial: "9714B5CB91634C470002B2C8")
        let second = [ArrayPort(name: "CT0.ETH4", iqn: "iqn.2010-06.com.purestorage:flasharray.second", portal: "10.20.2.10:3260"),
                      ArrayPort(name: "CT1.ETH4", iqn: "iqn.2010-06.com.purestorage:flasharray.second", portal: "10.20.2.11:3260")]
        let info = try ConnectionPropertiesBuilder.iscsi(
            targets: [ArrayTargets(arrayName: "fa-01", lun: 3, ports: try readyPorts("controllers.json")),
                      ArrayTargets(arrayName: "fa-02", lun: 7, ports: second)],
            cidrs: ["10.20.0.0/16"], wwn: wwn, chap: ChapCredentials(username: "node1", secret: "s3cr3t-chap-0123"))
        #expect(info.data.targetPortals == ["10.20.1.10:3260", "10.20.1.11:3260", "10.20.2.10:3260", "10.20.2.11:3260"])
        #expect(info.data.targetLUNs == [3, 3, 7, 7])
        #expect(info.data.authMethod == "CHAP" && info.data.authUsername == "node1")
        let obj = try JSONSerialization.jsonObject(with: JSONEncoder().encode(info.data)) as! [String: Any]
        #expect(obj["auth_password"] as? String == "s3cr3t-chap-0123")  // os-brick needs it on the wire
        #expect(!"\(info)".contains("s3cr3t"))                           // never in a description
    }

    @Test func iscsiNoPortalInCIDRIsAnError() throws {
        let wwn = try WWN.pure(serial: "9714B5CB91634C470002B2C8")
        #expect(throws: FlashArrayError.self) {
            try ConnectionPropertiesBuilder.iscsi(targets: [ArrayTargets(arrayName: "a", lun: 1, ports: try readyPorts("controllers.json"))],
                                                  cidrs: ["192.168.0.0/24"], wwn: wwn, chap: nil)
        }
    }

    @Test func fcPropertiesAllToAllAndZoneMap() throws {
        let wwn = try WWN.pure(serial: "9714B5CB91634C470002B2C8")
        let t = [ArrayTargets(arrayName: "fa-01", lun: 5, ports: try readyPorts("controllers.json"))]
        let info = try ConnectionPropertiesBuilder.fc(targets: t, initiatorWWPNs: ["21:00:00:24:FF:4C:A0:01", "21000024ff4ca002"], wwn: wwn)
        #expect(info.driverVolumeType == "fibre_channel")
        let p = info.data
        // CT0.FC2 carries an NQN (NVMe/FC): excluded, as the driver does
        #expect(p.targetWWNs == ["524a937156840900", "524a937156840910"])
        #expect(p.targetWWN == p.targetWWNs)
        #expect(p.targetLUN == 5 && p.targetLUNs == [5, 5])
        #expect(p.targetDiscovered && p.discard && p.addressingMode == "SAM2")
        #expect(p.initiatorTargetMap == ["21000024ff4ca001": ["524a937156840900", "524a937156840910"],
                                         "21000024ff4ca002": ["524a937156840900", "524a937156840910"]])
        let obj = try JSONSerialization.jsonObject(with: JSONEncoder().encode(p)) as! [String: Any]
        #expect(Set(obj.keys) == ["target_discovered", "target_lun", "target_luns", "target_wwn", "target_wwns", "initiator_target_map", "discard", "addressing_mode", "wwn"])
        let zoned = try ConnectionPropertiesBuilder.fc(targets: t, initiatorWWPNs: ["21000024ff4ca001"],
                                                       zoneMap: ["21:00:00:24:FF:4C:A0:01": ["52:4A:93:71:56:84:09:00"]], wwn: wwn)
        #expect(zoned.data.initiatorTargetMap == ["21000024ff4ca001": ["524a937156840900"]])
    }

    @Test func capacityLikeThePureDriver() throws {
        let s = try #require(try Fixtures.list("array/arrays-space.json", ArraySpace.self).first)
        var cfg = try CinderConf(text: try Fixtures.text("cinder/good-fc.conf")).backend("pure-fc")
        // automatic off: the configured ratio
        let manual = CapacityStats.compute(space: s, config: cfg)
        #expect(manual.maxOverSubscriptionRatio == .ratio(10.5))
        #expect(abs(manual.totalCapacityGB - 50000) < 0.001)
        #expect(abs(manual.freeCapacityGB - (50000 - 10240)) < 0.001)
        #expect(abs(manual.provisionedCapacityGB - 204800) < 0.001)
        cfg.pureAutomaticMaxOversubscriptionRatio = true
        #expect(CapacityStats.compute(space: s, config: cfg).maxOverSubscriptionRatio == .ratio(12.6))   // total_reduction < 100
        #expect(CapacityStats.compute(space: s, config: cfg, method: .provisionedOverUsed).maxOverSubscriptionRatio == .ratio(20.0)) // 204800/10240
        var huge = s
        huge.space?.totalReduction = 250
        #expect(CapacityStats.compute(space: huge, config: cfg).maxOverSubscriptionRatio == .ratio(10.5))
        cfg.maxOverSubscriptionRatio = "auto"
        cfg.pureAutomaticMaxOversubscriptionRatio = false
        let auto = CapacityStats.compute(space: s, config: cfg)
        #expect(auto.maxOverSubscriptionRatio == .auto)
        #expect(abs(auto.effectiveRatio - (1 + 204800.0 / (10240 + 1))) < 1e-9)
        let json = String(decoding: try JSONEncoder().encode(auto), as: UTF8.self)
        #expect(json.contains("\"max_over_subscription_ratio\":\"auto\""))
    }

    @Test func arrayErrorBodyIsDecoded() throws {
        let msgs = FlashArrayClient.messages(.init(bytes: try Fixtures.data("array/error.json")))
        #expect(msgs == ["volume-missing: Volume does not exist."])
    }
}
