import Foundation
import PathCore
import Testing
@testable import FlashArray

/// `pathctl attach/detach/array-health --backend` against the simulator (no daemon, no
/// kernel): configuration errors name the file and line, the array side is undone when the
/// daemon cannot attach, secrets never appear in the output.
@Suite(.serialized) struct PathctlAttachTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var pathctl: String {
        for c in ["debug", "release"] {
            let p = repo.appendingPathComponent(".build/\(c)/pathctl").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return repo.appendingPathComponent(".build/debug/pathctl").path
    }

    static func run(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: pathctl)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A scratch host: etc/iscsi/initiatorname.iscsi, etc/machine-id, cinder.conf, state dir.
    static func host(conf: String, initiator: String) throws -> String {
        let d = NSTemporaryDirectory() + "pathctl-attach-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: d + "/etc/iscsi", withIntermediateDirectories: true)
        try "InitiatorName=\(initiator)\n".write(toFile: d + "/etc/iscsi/initiatorname.iscsi", atomically: true, encoding: .utf8)
        try "0123456789abcdef0123456789abcdef\n".write(toFile: d + "/etc/machine-id", atomically: true, encoding: .utf8)
        try conf.write(toFile: d + "/cinder.conf", atomically: true, encoding: .utf8)
        return d
    }

    @Test func attachWithoutDaemonUndoesTheArrayConnectionAndHidesSecrets() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.pathctl), "build pathctl first (swift build --build-tests)")
        try await withSimulator { sim in
            let conf = sim.cinderConf(extra: "use_chap_auth = True")
            let initiator = "iqn.2026-11.net.example:pathctl-attach"
            let d = try Self.host(conf: conf, initiator: initiator)
            defer { try? FileManager.default.removeItem(atPath: d) }
            let backend = try PureBackend(config: try CinderConf(text: conf).backend("pure-1"))
            _ = try await backend.createVolume(name: "vol-a", sizeGiB: 1)
            let common = ["--backend", "pure-1", "--cinder-conf", d + "/cinder.conf", "--etc", d + "/etc", "--state-dir", d + "/state"]
            let (rc, out, err) = try Self.run(["attach"] + common + ["--socket", d + "/no-daemon.sock", "vol-a"])
            #expect(rc == 1, "\(out)\(err)")
            #expect(err.contains("pathagent could not attach vol-a") && err.contains("the array connection was undone"), "\(err)")
            // the host was registered (with CHAP) and the volume connected, then disconnected again
            let host = try #require(try await backend.primary.host(initiator: initiator))
            #expect(host.name?.hasSuffix("0123456789abcdef0123456789abcdef-cinder") == true, "\(String(describing: host.name))")
            #expect(try await backend.primary.connections(volume: "vol-a").isEmpty)
            // the generated CHAP secret is kept 0600 and never printed
            let secretFile = d + "/state/pure-1/chap-secret"
            let secret = try String(contentsOfFile: secretFile, encoding: .utf8)
            #expect(secret.count == 16)
            let mode = try FileManager.default.attributesOfItem(atPath: secretFile)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(!(out + err).contains(secret) && !(out + err).contains(sim.token))
            #expect(!FileManager.default.fileExists(atPath: d + "/state/pure-1/vol-a.json"))

            // detach without an attach record: a clear error, nothing touched
            let (rc2, _, err2) = try Self.run(["detach"] + common + ["--socket", d + "/no-daemon.sock", "vol-a"])
            #expect(rc2 != 0 && err2.contains("no attach record for vol-a"), "\(err2)")

            // array-health before any report: unknown (exit 2), read back through the module
            let (rc3, out3, err3) = try Self.run(["array-health", "--json"] + common)
            #expect(rc3 == 2, "\(out3)\(err3)")
            let h = try JSONDecoder().decode(HostHealth.self, from: Data(out3.utf8))
            #expect(h.status == .unknown && h.host == host.name)
            await backend.shutdown()
        }
    }

    @Test func brokenStanzaIsRefusedWithFileAndLine() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.pathctl), "build pathctl first (swift build --build-tests)")
        let text = try Fixtures.text("cinder/bad-cidr.conf")
        let d = try Self.host(conf: text, initiator: "iqn.2026-11.net.example:x")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let (rc, _, err) = try Self.run(["attach", "--backend", "pure-1", "--cinder-conf", d + "/cinder.conf", "--etc", d + "/etc",
                                         "--state-dir", d + "/state", "--socket", d + "/s.sock", "vol-x"])
        #expect(rc != 0)
        #expect(err.contains(d + "/cinder.conf:8:") && err.contains("rule cidr"), "\(err)")
        #expect(!err.contains("9b2c8f14-0a6e-4d37-b5c1-3e7f2d9a8c60"))
    }
}
