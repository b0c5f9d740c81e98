import Foundation
import PathCore
import Testing
@testable import HostStorage

/// OpenISCSIAdmin against a stand-in `iscsiadm` (a shell script that records its argv and
/// exits with a chosen status): which commands run, in what order, with which arguments.
/// The real iscsiadm is exercised in the VM lab.
@Suite("OpenISCSIAdmin argv")
struct OpenISCSIAdminTests {
    /// A directory with `iscsiadm` that appends each argv (one argument per line, then a
    /// `--` line) to `calls`; an `--op update` exits with the status in `status` (0 when absent).
    static func fakeAdmin() throws -> (dir: String, admin: OpenISCSIAdmin) {
        let dir = NSTemporaryDirectory() + "pathagent-iscsiadm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            for a in "$@"; do printf '%s\\n' "$a" >> '\(dir)/calls'; done
            echo -- >> '\(dir)/calls'
            case " $* " in *" update "*) [ -f '\(dir)/status' ] && { echo "iscsiadm: stand-in failure" >&2; exit "$(cat '\(dir)/status')"; };; esac
            exit 0
            """
        try script.write(toFile: dir + "/iscsiadm", atomically: true, encoding: .utf8)
        chmod(dir + "/iscsiadm", 0o755)
        return (dir, OpenISCSIAdmin(binary: dir + "/iscsiadm", timeoutSeconds: 10))
    }

    static func calls(_ dir: String) -> [[String]] {
        let text = (try? String(contentsOfFile: dir + "/calls", encoding: .utf8)) ?? ""
        var out: [[String]] = [], cur: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "--" { out.append(cur); cur = [] } else if !line.isEmpty { cur.append(String(line)) }
        }
        return out
    }

    @Test func nodeRecordIsCreatedThenUpdatedWithEverySettingInOneCall() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let login = ISCSINodeLogin(portal: try ISCSIPortal("127.0.0.1:3260"), iqn: "iqn.2010-06.com.purestorage:flasharray.1",
                                   auth: CHAPCredentials(username: "chapuser", password: "s3cret-pw"), recoveryTimeout: 10)
        try admin.prepareNode(login)
        let base = ["-m", "node", "-T", "iqn.2010-06.com.purestorage:flasharray.1", "-p", "127.0.0.1:3260"]
        let c = Self.calls(dir)
        #expect(c.count == 2)
        #expect(c.first == base + ["--op", "new"])
        #expect(c.last == base + ["--op", "update",
                                  "-n", "node.startup", "-v", "manual",
                                  "-n", "node.session.scan", "-v", "manual",
                                  "-n", "node.session.timeo.replacement_timeout", "-v", "10",
                                  "-n", "node.session.auth.authmethod", "-v", "CHAP",
                                  "-n", "node.session.auth.username", "-v", "chapuser",
                                  "-n", "node.session.auth.password", "-v", "s3cret-pw"])
    }

    @Test func aFailedUpdateNamesTheCommandWithoutThePassword() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "7".write(toFile: dir + "/status", atomically: true, encoding: .utf8)
        let login = ISCSINodeLogin(portal: try ISCSIPortal("127.0.0.1:3260"), iqn: "iqn.2010-06.com.purestorage:flasharray.1",
                                   auth: CHAPCredentials(username: "chapuser", password: "s3cret-pw"), recoveryTimeout: nil)
        let e = #expect(throws: HostStorageError.self) { try admin.prepareNode(login) }
        let text = "\(e.map { "\($0)" } ?? "")"
        #expect(text.contains("--op update"))
        #expect(text.contains("-n node.session.auth.password -v ***"))
        #expect(text.contains("exit 7"))
        #expect(!text.contains("s3cret-pw"))
        #expect(Self.calls(dir).count == 2)
    }
}
