import ArgumentParser
import Foundation
import HostStorage
import PathAPI
import PathCore
@testable import PathCtlKit
import Testing

/// `pathctl connect --plan` against fixture hosts: session reuse, new logins, a
/// recovering session, scans, and no secret in the output.
@Suite struct AttachPlanTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func rendered(_ tree: String, props file: String = "pure_iscsi_fixture_host.json", proto: VolumeProtocol = .iscsi, json: Bool) throws
        -> AttachPlanText.Rendered
    {
        let props = try JSONValue.parse(String(contentsOf: Self.repo.appendingPathComponent("Tests/Fixtures/props/\(file)"), encoding: .utf8))
        let topo = Inventory.scan(roots: HostRoots(under: Self.repo.appendingPathComponent("Tests/Fixtures/\(tree)").path))
        return try AttachPlanText.render(request: ConnectVolumeRequest(connectionProperties: props, protocol: proto), topology: topo, json: json)
    }
    func plan(_ tree: String, json: Bool) throws -> String {
        let r = try rendered(tree, json: json)
        #expect(r.nothingToDo == nil)
        return r.text
    }

    /// The FC properties name initiator ports this host does not have: the real connect
    /// would fail, so the plan says the attach could do nothing, and why (pathctl exits 1).
    @Test func fcPlanWithNoLocalPortInTheMapHasNothingToDo() throws {
        let r = try rendered("iscsi-fc-dm", props: "pure_fc.json", proto: .fc, json: false)
        let why = try #require(r.nothingToDo)
        #expect(why.contains("not in initiator_target_map"), "\(why)")
        #expect(r.text.contains("skipped: host4"))
        var cmd = try PathCtl.parseAsRoot(["connect", Self.repo.appendingPathComponent("Tests/Fixtures/props/pure_fc.json").path, "--plan",
                                           "--root", Self.repo.appendingPathComponent("Tests/Fixtures/iscsi-fc-dm").path])
        #expect(throws: ExitCode(ExitStatus.failed)) { try cmd.run() }
    }

    @Test func reusesLoggedInSessionsAndLogsInToTheNewPortal() throws {
        let text = try plan("iscsi-fc-dm", json: true)
        let d = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let paths = try #require(d["paths"] as? [[String: String]])
        #expect(paths.count == 3)
        #expect(paths[0]["session"]?.hasPrefix("reuse session1 (host2)") == true)
        #expect(paths[1]["session"]?.hasPrefix("reuse session2 (host3)") == true)
        #expect(paths[2]["session"]?.hasPrefix("log in") == true)
        let logins = try #require(d["logins"] as? [[String: String]])
        #expect(logins.map { $0["portal"] } == ["10.10.1.12:3260"])
        #expect(logins[0]["node.session.auth.password"] == "<redacted>")
        #expect(logins[0]["node.session.timeo.replacement_timeout"] == "10")
        let scans = try #require(d["scans"] as? [String])
        #expect(scans.contains("host2: 0 0 2") && scans.contains("host3: 0 0 2"))
        #expect(d["expectedWWN"] as? String == "3624a93709714b5cb91634c4700000002")
        #expect(!text.contains("plan-secret-Xy9"))
    }

    @Test func recoveringSessionIsNotLoggedInAgain() throws {
        let text = try plan("iscsi-fc-dm-degraded", json: false)
        #expect(text.contains("session2 is recovering"))
        #expect(!text.contains("plan-secret-Xy9"))
        #expect(text.contains("host2: 0 0 2"))
    }
}
