import Foundation
import HostStorage
import PathAPI
import PathCtlKit
import Testing

/// The real `pathagent` binary: config file, fixture root, SIGTERM.
@Suite struct ExecutableTests {
    /// Built next to the test bundle (`swift build --build-tests` builds every product).
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("pathagent").path

    @Test func daemonServesAndStopsOnSIGTERM() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the pathagent product first")
        let dir = tempDir("agent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = dir + "/pathagent.conf"
        try """
            [api]
            socket = \(dir)/run/pathagent.sock
            shutdown_grace = 2
            [agent]
            state_dir = \(dir)/state
            log_level = info
            """.write(toFile: conf, atomically: true, encoding: .utf8)
        let logURL = URL(fileURLWithPath: dir + "/agent.log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["--config", conf, "--root", Fixtures.path("agent-host")]
        p.standardError = try FileHandle(forWritingTo: logURL)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let socket = dir + "/run/pathagent.sock"
        try await eventually("socket") { (try? UnixSocketClient(path: socket, timeoutSeconds: 1)) != nil }
        #expect(UnixSocketPath.mode(socket) == 0o600)

        let client = AgentClient(socketPath: socket)
        let props = try await blocking { try client.connector() }
        #expect(props.initiator == "iqn.1993-08.org.debian:01:5c3a9e2b7f41")
        #expect(props.wwpns == ["21000024ff7f3e10"])
        let req = ConnectVolumeRequest(connectionProperties: try Fixtures.props("pure_iscsi_chap.json"), protocol: .iscsi)
        let err = await #expect(throws: AgentClientError.self) { try await blocking { try client.connect(req) } }
        // a fixture root is read-only: the kernel operations refuse before touching the host
        #expect(err?.description.hasPrefix("unsupported: volume operations run only against the live kernel") == true)

        kill(p.processIdentifier, SIGTERM)
        try await eventually("exit") { !p.isRunning }
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
        #expect(FileManager.default.fileExists(atPath: dir + "/state/journal.sqlite"))
        let log = try String(contentsOf: logURL, encoding: .utf8)
        #expect(log.contains("api listening"))
        #expect(log.contains("api stopped"))
        #expect(!log.contains(Fixtures.chapPassword))
        // the line shape of ProcessLogging's redacting handler (level, label, message,
        // sorted key=value metadata): the daemon installed it, not swift-log's default
        #expect(log.contains("info pathagent: api listening api."), "\(log)")
    }

    @Test func badConfigExitsWithFileLineKey() async throws {
        let dir = tempDir("agent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[iscsi]\nscan_timeout = -1\n".write(toFile: dir + "/bad.conf", atomically: true, encoding: .utf8)
        let errURL = URL(fileURLWithPath: dir + "/err")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["--config", dir + "/bad.conf"]
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        try await eventually("exit") { !p.isRunning }
        #expect(p.terminationStatus == 64)
        let text = try String(contentsOf: errURL, encoding: .utf8)
        #expect(text.contains("\(dir)/bad.conf:2: iscsi.scan_timeout: -1 is out of range 1...600"))
    }
}
