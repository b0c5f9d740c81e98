import Foundation
import HostStorage
import Logging
import PathAPI
import PathAgentCore
import PathCore
import PathCtlKit
import Testing

@Suite struct ServerTests {
    static func iscsiRequest() throws -> ConnectVolumeRequest {
        ConnectVolumeRequest(connectionProperties: try Fixtures.props("pure_iscsi_chap.json"), protocol: .iscsi)
    }

    @Test func routesAnswerThroughThePathctlClient() async throws {
        let log = LogRecorder()
        let ops = ScriptedOperations()
        let s = try await RunningServer.start(operations: ops, logger: log.logger())
        let client = s.client
        let req = try Self.iscsiRequest()

        let connected = try await blocking { try client.connect(req) }
        #expect(connected.deviceInfo == ScriptedOperations.device)
        #expect(connected.paths.first?.device == "sdb")
        let seen = try #require(ops.state.withLock { $0.connects.first })
        #expect(seen == req)  // the operation got the caller's properties, secret included

        let disc = try await blocking {
            try client.disconnect(DisconnectVolumeRequest(
                connectionProperties: req.connectionProperties, protocol: .iscsi, deviceInfo: ScriptedOperations.device, force: true))
        }
        #expect(disc.removedDevices == ["sdb"])
        #expect(disc.removedMap == "3624a93709714b5cb91634c470002b2c8")
        #expect(ops.state.withLock { $0.disconnects.first?.force } == true)

        let ext = try await blocking { try client.extend(req.base) }
        #expect(ext.newSize == 2 << 30)
        let vp = try await blocking { try client.volumePaths(req.base) }
        #expect(vp.paths == ["/dev/sdb", "/dev/sdc"])
        let chk = try await blocking { try client.checkValidDevice(CheckValidDeviceRequest(path: "/dev/dm-3")) }
        #expect(chk.valid)

        let conn = try await blocking { try client.connector() }
        #expect(conn.initiator == "iqn.1993-08.org.debian:01:5c3a9e2b7f41")
        #expect(conn.host == "compute-01")

        let health = try await blocking { try client.health() }
        #expect(health.status == .ok)
        #expect(health.volumes.count == 4)
        #expect(health.volumes.first { $0.wwn.value == "3624a93709714b5cb91634c4800000001" }?.pathsTotal == 4)

        let version = try await blocking { try client.version() }
        #expect(version.apiVersions == ["v1"])

        let paths = try await rawHTTP(s.socket, "GET /v1/paths HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(paths.status == 200)
        let topo = try JSONDecoder().decode(Topology.self, from: Data(paths.body))
        #expect(topo.volumes.count == 4)
        #expect(topo.fcHosts.map(\.host) == [4, 5])

        let metrics = try await rawHTTP(s.socket, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(metrics.text.contains("\npathagent_up 1\n"))
        #expect(metrics.text.contains(#"pathagent_api_requests_total{route="/v1/volumes/connect",status="200"} 1"#))
        #expect(metrics.text.contains(#"pathagent_api_requests_total{route="/v1/paths",status="200"} 1"#))
        #expect(s.stats.count(route: "/v1/health", status: 200) == 1)
        try await s.stop()
    }

    @Test func socketIsPrivateAndRemovedOnStop() async throws {
        let s = try await RunningServer.start(operations: ScriptedOperations(), logger: LogRecorder().logger())
        #expect(UnixSocketPath.mode(s.socket) == 0o600)
        #expect(UnixSocketPath.mode(s.dir + "/run") == 0o755)
        let socket = s.socket
        try await s.stop()
        #expect(!FileManager.default.fileExists(atPath: socket))
        let err = #expect(throws: AgentClientError.self) { try AgentClient(socketPath: socket).health() }
        #expect(err == .notRunning(socket))
    }

    @Test func errorsHaveOneShapeWithStableCodes() async throws {
        let s = try await RunningServer.start(operations: ScriptedOperations(), logger: LogRecorder().logger(), maxBody: 4096)
        func decode(_ r: AgentClient.HTTPResult) throws -> APIErrorBody {
            try JSONDecoder().decode(APIErrorResponse.self, from: Data(r.body)).error
        }
        let notFound = try await rawHTTP(s.socket, "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(notFound.status == 404)
        #expect(try decode(notFound).code == .notFound)

        let wrongMethod = try await rawHTTP(s.socket, "GET /v1/volumes/connect HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers["allow"] == "POST")
        #expect(try decode(wrongMethod).code == .methodNotAllowed)

        let big = [UInt8](repeating: UInt8(ascii: " "), count: 10_000)
        let tooLarge = try await rawHTTP(
            s.socket, "POST /v1/volumes/connect HTTP/1.1\r\nHost: x\r\nContent-Length: \(big.count)\r\n\r\n", body: big)
        #expect(tooLarge.status == 413)
        #expect(try decode(tooLarge).code == .payloadTooLarge)

        let chunked = try await rawHTTP(
            s.socket, "POST /v1/volumes/connect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            body: Array("2710\r\n".utf8) + big + Array("\r\n0\r\n\r\n".utf8))
        #expect(chunked.status == 413)

        let body = Array(#"{"protocol": "iscsi", "connection_properties": {"#.utf8)
        let malformed = try await rawHTTP(
            s.socket, "POST /v1/volumes/connect HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n", body: body)
        #expect(malformed.status == 400)
        #expect(try decode(malformed).code == .malformedJSON)

        // Through the pathctl client: the error line names the key.
        let client = s.client
        let missing = await #expect(throws: AgentClientError.self) {
            try await blocking { try client.connect(ConnectVolumeRequest(connectionProperties: .object([("wwn", .string("x"))]), protocol: .iscsi)) }
        }
        guard case .api(let status, let e)? = missing else { Issue.record("not an API error"); return }
        #expect(status == 400)
        #expect(e.code == .missingKey || e.code == .invalidValue)
        #expect(e.key != nil)
        #expect(missing?.description.hasPrefix("\(e.code.rawValue): ") == true)

        let badProto = Array(#"{"protocol": "nvme", "connection_properties": {}}"#.utf8)
        let bad = try await rawHTTP(
            s.socket, "POST /v1/volumes/extend HTTP/1.1\r\nHost: x\r\nContent-Length: \(badProto.count)\r\n\r\n", body: badProto)
        #expect(bad.status == 400)
        #expect(try decode(bad).key == "protocol")

        let badPath = Array(#"{"path": "/etc/passwd"}"#.utf8)
        let dev = try await rawHTTP(
            s.socket, "POST /v1/devices/check HTTP/1.1\r\nHost: x\r\nContent-Length: \(badPath.count)\r\n\r\n", body: badPath)
        #expect(dev.status == 400)
        #expect(try decode(dev).key == "path")
        try await s.stop()
    }

    @Test func unwiredOperationsSayUnsupported() async throws {
        let connector = ConnectorPropertiesReader(
            roots: HostRoots(under: Fixtures.path("agent-host")), useMultipath: true, enforceMultipath: false)
        let s = try await RunningServer.start(operations: UnwiredVolumeOperations(connector: connector), logger: LogRecorder().logger())
        let client = s.client
        let req = try Self.iscsiRequest()
        let err = await #expect(throws: AgentClientError.self) { try await blocking { try client.connect(req) } }
        guard case .api(let status, let e)? = err else { Issue.record("not an API error"); return }
        #expect(status == 422)
        #expect(e.code == .unsupported)
        #expect(e.message == "volume operations are not wired in this build")
        let props = try await blocking { try client.connector() }
        #expect(props.initiator == "iqn.1993-08.org.debian:01:5c3a9e2b7f41")
        try await s.stop()
    }

    @Test func secretsNeverReachLogsOrAnswers() async throws {
        let log = LogRecorder()
        // A careless operation that puts the password in its error text.
        let ops = ScriptedOperations(connectError: { r in
            PathCoreError(.conflict, "login refused for \(r.connectionProperties["auth_password"]?.stringValue ?? "")",
                          detail: "chap secret \(r.connectionProperties["auth_password"]?.stringValue ?? "")")
        })
        let s = try await RunningServer.start(operations: ops, logger: log.logger())
        let req = try Self.iscsiRequest()
        let client = s.client
        let err = await #expect(throws: AgentClientError.self) { try await blocking { try client.connect(req) } }
        #expect(err?.description.contains(Fixtures.chapPassword) == false)
        #expect(err?.description.contains("<redacted>") == true)
        // Raw body too.
        let body = try JSONEncoder().encode(req)
        let raw = try await rawHTTP(
            s.socket, "POST /v1/volumes/connect HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n", body: Array(body))
        #expect(raw.status == 409)
        #expect(!raw.text.contains(Fixtures.chapPassword))
        // A malformed request that carries the secret in a bad value.
        let bad = Array(#"{"protocol": "iscsi", "connection_properties": {"auth_method": "CHAP", "auth_password": "Zq8vR2xT5mWk9LpA", "target_portal": 7}}"#.utf8)
        let r2 = try await rawHTTP(
            s.socket, "POST /v1/volumes/connect HTTP/1.1\r\nHost: x\r\nContent-Length: \(bad.count)\r\n\r\n", body: bad)
        #expect(r2.status == 400)
        #expect(!r2.text.contains(Fixtures.chapPassword))
        try await s.stop()

        let logs = log.text
        #expect(logs.contains("api request"))
        #expect(logs.contains("auth_password"))  // the key is logged, redacted
        #expect(logs.contains("<redacted>"))
        #expect(logs.contains("volume.wwn=3624a93709714b5cb91634c470002b2c8"))
        #expect(!logs.contains(Fixtures.chapPassword))
    }

    @Test func peersOutsideThePolicyGet403() async throws {
        let log = LogRecorder()
        let nobody = PeerAccessPolicy(allowedUIDs: [], groupID: nil)
        let s = try await RunningServer.start(operations: ScriptedOperations(), logger: log.logger(), access: nobody)
        let r = try await rawHTTP(s.socket, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(r.status == 403)
        let e = try JSONDecoder().decode(APIErrorResponse.self, from: Data(r.body))
        #expect(e.error.code == .forbidden)
        #expect(e.error.message.contains("uid \(UnixAccounts.effectiveUID)"))
        #expect(log.text.contains("api peer refused"))
        #expect(log.text.contains("peer.uid=\(UnixAccounts.effectiveUID)"))
        try await s.stop()

        // The same uid is let in as a member of the group (primary gid match via SO_PEERCRED).
        let myGroup = PeerAccessPolicy(allowedUIDs: [], groupID: UInt32(getegid()))
        let s2 = try await RunningServer.start(operations: ScriptedOperations(), logger: log.logger(), access: myGroup)
        let ok = try await rawHTTP(s2.socket, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.status == 200)
        try await s2.stop()

        // Supplementary membership goes through the injected check.
        let viaList = PeerAccessPolicy(allowedUIDs: [], groupID: 4242, isMember: { uid, gid in uid == 1000 && gid == 4242 })
        #expect(viaList.allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000)))
        #expect(!viaList.allows(PeerCredentials(pid: 1, uid: 1001, gid: 1001)))
        #expect(viaList.allows(PeerCredentials(pid: 1, uid: 1002, gid: 4242)))
    }

    @Test func staleSocketIsReplacedButALiveOneIsNot() async throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        let path = dir + "/run/api.sock"
        // A socket file nothing listens on (bound by a process that exited).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", path]
        try p.run()
        p.waitUntilExit()
        #expect(UnixSocketPath.mode(path) != nil)
        let s = try await RunningServer.start(operations: ScriptedOperations(), logger: LogRecorder().logger(), dir: dir)
        let r = try await rawHTTP(s.socket, "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(r.status == 200)
        // A second server on the same path refuses to steal it.
        #expect(throws: HostStorageError.self) { try UnixSocketPath.prepare(path) }
        try FileManager.default.createDirectory(atPath: dir + "/keep", withIntermediateDirectories: true)
        #expect(throws: HostStorageError.self) { try UnixSocketPath.prepare(dir + "/keep") }  // not a socket: never deleted
        #expect(FileManager.default.fileExists(atPath: dir + "/keep"))
        try await s.stop()
    }

    @Test func metricsPortServesOnlyMetrics() async throws {
        let s = try await RunningServer.start(operations: ScriptedOperations(), logger: LogRecorder().logger(), metricsPort: 0)
        #expect(s.metricsPort == nil)
        try await s.stop()
        // An ephemeral port is not configurable (0 = off), so pick a high one.
        let port = 20000 + Int.random(in: 0..<20000)
        let t = try await RunningServer.start(operations: ScriptedOperations(), logger: LogRecorder().logger(), metricsPort: port)
        #expect(t.metricsPort == port)
        // curl: a TCP client that is not ours.
        func curl(_ path: String) async throws -> String {
            try await blocking {
                let p = Process()
                let out = Pipe()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                p.arguments = ["-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
                p.standardOutput = out
                try p.run()
                let d = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                return String(decoding: d, as: UTF8.self)
            }
        }
        let metrics = try await curl("/metrics")
        let other = try await curl("/v1/health")
        #expect(metrics.hasSuffix("\n200"))
        #expect(other.hasSuffix("\n404"))
        #expect(metrics.contains("pathagent_up 1"))
        try await t.stop()
    }
}
