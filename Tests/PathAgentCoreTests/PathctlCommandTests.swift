import ArgumentParser
import Foundation
import PathAPI
import PathAgentCore
import PathCore
@testable import PathCtlKit
import Testing

/// pathctl's client commands, parsed and run as the binary would, against a real server.
@Suite struct PathctlCommandTests {
    func run(_ args: [String]) async throws -> Int32 {
        try await blocking { () -> Int32 in
            var cmd = try PathCtl.parseAsRoot(args)
            do {
                try cmd.run()
                return 0
            } catch let e as ExitCode {
                return e.rawValue
            }
        }
    }

    @Test func exitCodesFollowTheAnswer() async throws {
        let ops = ScriptedOperations()
        let ok = try await RunningServer.start(operations: ops, logger: LogRecorder().logger())
        #expect(try await run(["agent-health", "--socket", ok.socket]) == ExitStatus.ok)
        #expect(try await run(["connector", "--socket", ok.socket, "--json"]) == ExitStatus.ok)
        // A Cinder connection_info file: protocol from driver_volume_type, properties from data.
        #expect(try await run(["connect", Fixtures.path("props/pure_iscsi_connection_info.json"), "--socket", ok.socket]) == ExitStatus.ok)
        let sent = try #require(ops.state.withLock { $0.connects.last })
        #expect(sent.protocol == .iscsi)
        #expect(sent.connectionProperties["wwn"]?.stringValue == "3624a93709714b5cb91634c470002b2c9")
        #expect(sent.connectionProperties["driver_volume_type"] == nil)
        // FC properties are recognised without --protocol.
        #expect(try await run(["volume-paths", Fixtures.path("props/pure_fc.json"), "--socket", ok.socket]) == ExitStatus.ok)
        #expect(ops.state.withLock { $0.pathsRequests.last?.protocol } == .fc)
        // check-valid-device: 0 when the daemon says valid, 1 when not, 64 for a non-/dev path
        #expect(try await run(["check-valid-device", "/dev/dm-3", "--socket", ok.socket]) == ExitStatus.ok)
        #expect(try await run(["check-valid-device", "/dev/sdq", "--socket", ok.socket, "--json"]) == ExitStatus.failed)
        #expect(ops.state.withLock { $0.checks.map(\.path) } == ["/dev/dm-3", "/dev/sdq"])
        #expect(try await run(["check-valid-device", "/etc/passwd", "--socket", ok.socket]) == ExitStatus.usage)
        #expect(ops.state.withLock { $0.checks.count } == 2)
        // disconnect takes connect's --json output as --device-info.
        let info = ok.dir + "/device.json"
        try JSONEncoder().encode(ConnectVolumeResponse(deviceInfo: ScriptedOperations.device, paths: [], degraded: false, timings: []))
            .write(to: URL(fileURLWithPath: info))
        #expect(try await run([
            "disconnect", Fixtures.path("props/pure_iscsi_chap.json"), "--device-info", info, "--force", "--ignore-errors", "--skip-mismatched",
            "--socket", ok.socket,
        ]) == ExitStatus.ok)
        let d = try #require(ops.state.withLock { $0.disconnects.last })
        #expect(d.deviceInfo == ScriptedOperations.device)
        #expect(d.force && d.ignoreErrors && d.skipMismatched)
        try await ok.stop()

        let degraded = try await RunningServer.start(
            operations: ScriptedOperations(), logger: LogRecorder().logger(), inventoryFixture: "iscsi-fc-dm-degraded")
        #expect(try await run(["agent-health", "--socket", degraded.socket]) == ExitStatus.degradedOrErrors)
        try await degraded.stop()

        // Daemon not running: exit 1.
        #expect(try await run(["agent-health", "--socket", ok.socket]) == ExitStatus.failed)
    }

    @Test func socketComesFromTheConfigFile() throws {
        let dir = tempDir("ctl")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[api]\nsocket = /run/other/agent.sock\n".write(toFile: dir + "/a.conf", atomically: true, encoding: .utf8)
        let o = try ClientOptions.parse(["--config", dir + "/a.conf"])
        #expect(try o.socketPath() == "/run/other/agent.sock")
        let explicit = try ClientOptions.parse(["--config", dir + "/a.conf", "--socket", "/tmp/x.sock"])
        #expect(try explicit.socketPath() == "/tmp/x.sock")
        try "[api]\nsocket = relative\n".write(toFile: dir + "/b.conf", atomically: true, encoding: .utf8)
        let bad = try ClientOptions.parse(["--config", dir + "/b.conf"])
        #expect(throws: (any Error).self) { try bad.socketPath() }
    }

    @Test func errorLinesAreOneLine() {
        #expect(AgentClientError.notRunning("/run/x.sock").description == "pathagent is not running (nothing listens on /run/x.sock)")
        #expect(AgentClientError.permissionDenied("/run/x.sock").description.hasPrefix("permission denied on /run/x.sock"))
        let api = AgentClientError.api(status: 400, APIErrorBody(code: .missingKey, message: "missing target_iqns", key: "target_iqns"))
        #expect(api.description == "bad_request.missing_key: missing target_iqns (target_iqns)")
    }
}
