import ArgumentParser
import Foundation
import HostStorage
import PathCore
@testable import PathCtlKit
import Testing

/// A CHAP password for `pathctl inquiry|unmap|lba-status iscsi://...` never has to be on
/// pathctl's own command line (any local user reads /proc/PID/cmdline): it comes from a
/// file or from libiscsi's environment variable, and a URL that carries one is refused.
@Suite struct PathctlSecretTests {
    static let url = "iscsi://chapuser@127.0.0.1:3260/iqn.2024-01.x:t/1"

    func fixtureRoot() throws -> String {
        let dir = tempDir("ctl-secret")
        try FileManager.default.createDirectory(atPath: dir + "/sys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/etc/iscsi", withIntermediateDirectories: true)
        return dir
    }

    @Test func aPasswordInTheURLIsRefusedWithoutBeingRepeated() throws {
        let root = try fixtureRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for cmd in [["inquiry"], ["lba-status"], ["unmap", "--range", "0:4096"]] {
            var c = try PathCtl.parseAsRoot(cmd + ["iscsi://chapuser%s3cret-pw@127.0.0.1:1/iqn.2024-01.x:t/1", "--root", root])
            let e = #expect(throws: (any Error).self) { try c.run() }
            let text = "\(e.map { "\($0)" } ?? "")"
            #expect(text.contains("--chap-password-file"), "\(cmd): \(text)")
            #expect(text.contains("LIBISCSI_CHAP_PASSWORD"), "\(cmd): \(text)")
            #expect(!text.contains("s3cret-pw"), "\(cmd): \(text)")
        }
    }

    @Test func thePasswordComesFromAFile() throws {
        let root = try fixtureRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = root + "/chap"
        try "s3cret-pw\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let cmd = try #require(try PathCtl.parseAsRoot(["inquiry", Self.url, "--chap-password-file", file, "--root", root]) as? InquiryCommand)
        let t = try cmd.target.opener(cmd.global).resolve(cmd.target.target)
        guard case .iscsi(let u, _) = t.endpoints.first else { Issue.record("not an iSCSI endpoint"); return }
        #expect(u.user == "chapuser" && u.password == "s3cret-pw")
        #expect(!t.name.contains("s3cret-pw"))
    }

    /// libiscsi's own variables: LIBISCSI_CHAP_PASSWORD, and LIBISCSI_CHAP_USERNAME when
    /// the URL names no user; a file wins over the environment.
    @Test func thePasswordComesFromLibiscsisEnvironmentVariables() throws {
        let root = try fixtureRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cmd = try #require(try PathCtl.parseAsRoot(["inquiry", "iscsi://127.0.0.1/iqn.2024-01.x:t/2", "--root", root]) as? InquiryCommand)
        let env = ["LIBISCSI_CHAP_USERNAME": "envuser", "LIBISCSI_CHAP_PASSWORD": "env-s3cret"]
        let t = try cmd.target.opener(cmd.global, environment: env).resolve(cmd.target.target)
        guard case .iscsi(let u, _) = t.endpoints.first else { Issue.record("not an iSCSI endpoint"); return }
        #expect(u.user == "envuser" && u.password == "env-s3cret")
        #expect(SecretRegistry.shared.contains("env-s3cret"))  // the installed log handler redacts it
        #expect(!t.name.contains("env-s3cret") && !u.redacted.contains("env-s3cret"))
        // a password without any user name is refused
        #expect(throws: CLIError.self) { _ = try cmd.target.opener(cmd.global, environment: ["LIBISCSI_CHAP_PASSWORD": "env-s3cret"]) }
        // --chap-password-file wins; the URL's user wins
        let file = root + "/chap"
        try "file-s3cret\r\nsecond line\n".write(toFile: file, atomically: true, encoding: .utf8)
        let withFile = try #require(try PathCtl.parseAsRoot(["inquiry", Self.url, "--chap-password-file", file, "--root", root]) as? InquiryCommand)
        let t2 = try withFile.target.opener(withFile.global, environment: env).resolve(withFile.target.target)
        guard case .iscsi(let u2, _) = t2.endpoints.first else { Issue.record("not an iSCSI endpoint"); return }
        #expect(u2.user == "chapuser" && u2.password == "file-s3cret")
        // no credentials at all: none are sent
        let plain = try cmd.target.opener(cmd.global, environment: [:]).resolve(cmd.target.target)
        guard case .iscsi(let u3, _) = plain.endpoints.first else { Issue.record("not an iSCSI endpoint"); return }
        #expect(u3.user == nil && u3.password == nil)
    }

    @Test func aPasswordFileForALocalDeviceIsAnError() throws {
        let root = try fixtureRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cmd = try #require(try PathCtl.parseAsRoot(["inquiry", "/dev/sdb", "--chap-password-file", root + "/x", "--root", root]) as? InquiryCommand)
        #expect(throws: CLIError.self) { _ = try cmd.target.opener(cmd.global, environment: [:]) }
    }

    @Test func helpSaysHowToPassThePassword() {
        let help = InquiryCommand.helpMessage()
        #expect(help.contains("--chap-password-file"), "\(help)")
        #expect(help.contains("LIBISCSI_CHAP_PASSWORD"), "\(help)")
    }
}
