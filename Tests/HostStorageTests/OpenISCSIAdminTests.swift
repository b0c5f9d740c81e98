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
    /// Like open-iscsi 2.1 it keeps node records under `nodes/` (`--op new` writes
    /// `nodes/<iqn>/<host>,<port>`, mode 0600; `--op show` prints every record of the
    /// portal's records with passwords masked as `********`, or `show.override` when that exists).
    static func fakeAdmin() throws -> (dir: String, admin: OpenISCSIAdmin) {
        let dir = NSTemporaryDirectory() + "pathagent-iscsiadm-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/nodes", withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            for a in "$@"; do printf '%s\\n' "$a" >> '\(dir)/calls'; done
            echo -- >> '\(dir)/calls'
            iqn=; portal=; op=
            while [ $# -gt 0 ]; do
              case "$1" in -T) iqn="$2"; shift;; -p) portal="$2"; shift;; --op|-o) op="$2"; shift;; esac
              shift
            done
            case "$op" in
            update) [ -f '\(dir)/status' ] && { echo "iscsiadm: stand-in failure" >&2; exit "$(cat '\(dir)/status')"; };;
            new)
              host="${portal%:*}"; port="${portal##*:}"
              mkdir -p "\(dir)/nodes/$iqn"
              f="\(dir)/nodes/$iqn/$host,$port"
              umask 077
              printf '# BEGIN RECORD 2.1.8\\nnode.name = %s\\nnode.tpgt = -1\\nnode.session.auth.authmethod = None\\nnode.conn[0].address = %s\\nnode.conn[0].port = %s\\n# END RECORD\\n' "$iqn" "$host" "$port" > "$f";;
            show)
              if [ -f '\(dir)/show.override' ]; then cat '\(dir)/show.override'; exit 0; fi
              host="${portal%:*}"; port="${portal##*:}"
              find "\(dir)/nodes/$iqn" -type f | sort | while read -r f; do
                case "$f" in */"$host,$port"|*/"$host,$port",*/*) ;; *) continue;; esac
                sed -e 's/^\\(node.session.auth.password\\) = .*/\\1 = ********/' "$f"
              done;;
            esac
            exit 0
            """
        try writeExecutable(dir + "/iscsiadm", script)
        return (dir, OpenISCSIAdmin(binary: dir + "/iscsiadm", timeoutSeconds: 10,
                                    nodeDatabases: [dir + "/nodes"], lockDirectory: dir + "/lock"))
    }

    /// Writes a script through a close-on-exec descriptor: a process another test spawns
    /// meanwhile must not inherit it open for writing (exec would then fail with ETXTBSY).
    static func writeExecutable(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    static func calls(_ dir: String) -> [[String]] {
        let text = (try? String(contentsOfFile: dir + "/calls", encoding: .utf8)) ?? ""
        var out: [[String]] = [], cur: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "--" { out.append(cur); cur = [] } else if !line.isEmpty { cur.append(String(line)) }
        }
        return out
    }

    static let iqn = "iqn.2010-06.com.purestorage:flasharray.1"
    static let chapLogin = ISCSINodeLogin(portal: try! ISCSIPortal("127.0.0.1:3260"), iqn: iqn,
                                          auth: CHAPCredentials(username: "chapuser", password: "s3cret-pw"), recoveryTimeout: 10)

    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    /// The CHAP secret never reaches a process's argv (anyone can read /proc/PID/cmdline):
    /// the node is created and tuned with iscsiadm, the auth fields go into the node record
    /// file (0600, open-iscsi's `name = value` lines), and `--op show` confirms open-iscsi
    /// reads them back.
    @Test func theCHAPSecretGoesIntoTheNodeRecordNeverIntoArgv() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try admin.prepareNode(Self.chapLogin)
        let base = ["-m", "node", "-T", Self.iqn, "-p", "127.0.0.1:3260"]
        let c = Self.calls(dir)
        for argv in c { #expect(!argv.contains { $0.contains("s3cret-pw") }, "argv holds the secret: \(argv)") }
        #expect(c.count == 3)
        #expect(c.first == base + ["--op", "new"])
        #expect(c.dropFirst().first == base + ["--op", "update",
                                               "-n", "node.startup", "-v", "manual",
                                               "-n", "node.session.scan", "-v", "manual",
                                               "-n", "node.session.timeo.replacement_timeout", "-v", "10"])
        #expect(c.last == base + ["--op", "show"])
        let record = dir + "/nodes/\(Self.iqn)/127.0.0.1,3260"
        #expect(Self.mode(record) == 0o600)
        let lines = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "# BEGIN RECORD 2.1.8")
        #expect(lines.last == "# END RECORD")
        #expect(lines.contains("node.name = \(Self.iqn)"))
        #expect(lines.filter { $0.hasPrefix("node.session.auth.authmethod") } == ["node.session.auth.authmethod = CHAP"])
        #expect(lines.filter { $0.hasPrefix("node.session.auth.username") } == ["node.session.auth.username = chapuser"])
        #expect(lines.filter { $0.hasPrefix("node.session.auth.password") } == ["node.session.auth.password = s3cret-pw"])
        // the temporary file was renamed over the record: nothing else is left behind
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/nodes/\(Self.iqn)") == ["127.0.0.1,3260"])
    }

    /// Every record of (target, portal) gets the auth fields, as `--op update` would give
    /// them: the old-style file and each iface file below `<host>,<port>,<tpgt>/`.
    @Test func everyRecordOfThePortalGetsTheAuthFields() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tpgtDir = dir + "/nodes/\(Self.iqn)/127.0.0.1,3260,1"
        try FileManager.default.createDirectory(atPath: tpgtDir, withIntermediateDirectories: true)
        try "# BEGIN RECORD 2.1.8\nnode.name = \(Self.iqn)\nnode.tpgt = 1\nnode.session.auth.authmethod = None\n# END RECORD\n"
            .write(toFile: tpgtDir + "/default", atomically: false, encoding: .utf8)
        // another portal of the same target is left alone
        try "# BEGIN RECORD 2.1.8\nnode.name = \(Self.iqn)\n# END RECORD\n"
            .write(toFile: dir + "/nodes/\(Self.iqn)/127.0.0.10,3260", atomically: false, encoding: .utf8)
        try admin.prepareNode(Self.chapLogin)
        for f in [tpgtDir + "/default", dir + "/nodes/\(Self.iqn)/127.0.0.1,3260"] {
            let text = try String(contentsOfFile: f, encoding: .utf8)
            #expect(text.contains("\nnode.session.auth.authmethod = CHAP\nnode.session.auth.username = chapuser\nnode.session.auth.password = s3cret-pw\n"), "\(f)")
            #expect(text.hasSuffix("# END RECORD\n"))
            #expect(Self.mode(f) == 0o600)
        }
        #expect(try String(contentsOfFile: dir + "/nodes/\(Self.iqn)/127.0.0.10,3260", encoding: .utf8) == "# BEGIN RECORD 2.1.8\nnode.name = \(Self.iqn)\n# END RECORD\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tpgtDir) == ["default"])
    }

    /// When open-iscsi does not read back what was written (another DB root, a format it
    /// does not take), the attach fails before login, and says so without the secret.
    @Test func aRecordOpenISCSIDoesNotReadBackFailsWithoutThePassword() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# BEGIN RECORD 2.1.8\nnode.name = \(Self.iqn)\nnode.session.auth.authmethod = None\nnode.session.auth.username = <empty>\nnode.session.auth.password = <empty>\n# END RECORD\n"
            .write(toFile: dir + "/show.override", atomically: true, encoding: .utf8)
        let e = #expect(throws: HostStorageError.self) { try admin.prepareNode(Self.chapLogin) }
        let text = "\(e.map { "\($0)" } ?? "")"
        #expect(text.contains("node.session.auth"), "\(text)")
        #expect(!text.contains("s3cret-pw"))
    }

    /// Without CHAP no record file is touched and nothing is shown.
    @Test func withoutCHAPOnlyIscsiadmRuns() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var login = Self.chapLogin
        login.auth = nil
        try admin.prepareNode(login)
        #expect(Self.calls(dir).map { $0.suffix(2) } == [["--op", "new"], ["-v", "10"]])
        let text = try String(contentsOfFile: dir + "/nodes/\(Self.iqn)/127.0.0.1,3260", encoding: .utf8)
        #expect(text.contains("node.session.auth.authmethod = None"))
    }

    /// open-iscsi strips each record line, so a secret with a leading or trailing blank
    /// would come back changed: refused before any record is touched, without quoting it.
    @Test func aSecretOpenISCSICannotHoldIsRefused() throws {
        let (dir, admin) = try Self.fakeAdmin()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var login = Self.chapLogin
        login.auth = CHAPCredentials(username: "chapuser", password: "trailing-blank ")
        let e = #expect(throws: HostStorageError.self) { try admin.prepareNode(login) }
        let text = "\(e.map { "\($0)" } ?? "")"
        #expect(text.contains("node.session.auth.password cannot be stored"), "\(text)")
        #expect(!text.contains("trailing-blank"))
        #expect(try String(contentsOfFile: dir + "/nodes/\(Self.iqn)/127.0.0.1,3260", encoding: .utf8).contains("authmethod = None"))
    }

    /// Duplicate lines of a field collapse into one (open-iscsi lets the last one win).
    @Test func recordTextUpdateReplacesTheFirstAndDropsDuplicates() {
        let text = "# BEGIN RECORD 2.1.8\nnode.session.auth.password = old\nnode.x = 1\n  node.session.auth.password=older\n# END RECORD\n"
        #expect(ISCSINodeRecords.updated(text, setting: [("node.session.auth.password", "new")])
                == "# BEGIN RECORD 2.1.8\nnode.session.auth.password = new\nnode.x = 1\n# END RECORD\n")
        #expect(ISCSINodeRecords.updated("# BEGIN RECORD 2.1.8\n# END RECORD\n", setting: [("a", "1"), ("b", "2")])
                == "# BEGIN RECORD 2.1.8\na = 1\nb = 2\n# END RECORD\n")
    }

    /// The node database and lock follow the roots (`--root DIR`, tests).
    @Test func nodeDatabaseFollowsTheRoots() {
        let a = OpenISCSIAdmin(roots: HostRoots(under: "/fixture"))
        #expect(a.nodeDatabases == ["/fixture/etc/iscsi/nodes"])
        #expect(a.lockDirectory == "/fixture/run/lock/iscsi")
        #expect(OpenISCSIAdmin().nodeDatabases == ["/etc/iscsi/nodes", "/var/lib/iscsi/nodes"])
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
        #expect(text.contains("exit 7"))
        #expect(!text.contains("s3cret-pw"))
        #expect(Self.calls(dir).count == 2)
    }
}

/// The node record file against the real open-iscsi (node-database operations only: no
/// iscsid, no network; a test target on 127.0.0.1:3260 or [fd00::1]:3260, deleted afterwards).
/// Opt in with PATHAGENT_REAL_ISCSIADM=1 as root on a host with open-iscsi installed: it
/// writes to the live node database (/etc/iscsi/nodes).
@Suite("OpenISCSIAdmin against the real iscsiadm", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["PATHAGENT_REAL_ISCSIADM"] == "1" && getuid() == 0
                    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/iscsiadm"),
                "needs root, open-iscsi and PATHAGENT_REAL_ISCSIADM=1"))
struct OpenISCSIAdminRealTests {
    static func show(_ iqn: String, _ portal: String, secrets: Bool) throws -> [String] {
        let r = try ProcessRunner.run(["iscsiadm", "-m", "node", "-T", iqn, "-p", portal, "--op", "show"] + (secrets ? ["-S"] : []))
        return r.stdout.split(separator: "\n").map(String.init)
    }

    @Test(arguments: [false, true], ["127.0.0.1:3260", "[fd00::1]:3260"])
    func openISCSIReadsTheAuthFieldsBackFromTheRecordFile(alsoTagged: Bool, portalText: String) throws {
        let iqn = "iqn.2024-01.test.pathagent:record-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        let admin = OpenISCSIAdmin()
        let portal = try ISCSIPortal(portalText)
        // a record with a portal group tag too (as SendTargets discovery writes them)
        if alsoTagged { _ = try ProcessRunner.run(["iscsiadm", "-m", "node", "-T", iqn, "-p", portal.argument + ",1", "--op", "new"]) }
        defer { try? admin.deleteNode(portal: portal, iqn: iqn) }
        let password = "p@ss w0rd = #x'\"\\"
        try admin.prepareNode(ISCSINodeLogin(portal: portal, iqn: iqn, auth: CHAPCredentials(username: "chap-user", password: password),
                                             recoveryTimeout: 10))
        let files = ISCSINodeRecords(directory: "/etc/iscsi/nodes", lockDirectory: "/run/lock/iscsi").recordFiles(iqn: iqn, portal: portal)
        // open-iscsi 2.1.8's `--op update` folds the tag-less record into the tagged one
        #expect(!files.isEmpty)
        for f in files { #expect(OpenISCSIAdminTests.mode(f) == 0o600, "\(f)") }
        let masked = try Self.show(iqn, portal.argument, secrets: false)
        #expect(masked.filter { $0.hasPrefix("# BEGIN RECORD") }.count == files.count)
        #expect(masked.filter { $0 == "node.session.auth.password = ********" }.count == files.count)
        let plain = try Self.show(iqn, portal.argument, secrets: true)
        #expect(plain.filter { $0 == "node.session.auth.authmethod = CHAP" }.count == files.count)
        #expect(plain.filter { $0 == "node.session.auth.username = chap-user" }.count == files.count)
        #expect(plain.filter { $0 == "node.session.auth.password = \(password)" }.count == files.count)
        #expect(plain.filter { $0 == "node.session.timeo.replacement_timeout = 10" }.count == files.count)
        try admin.deleteNode(portal: portal, iqn: iqn)
        #expect(!FileManager.default.fileExists(atPath: "/etc/iscsi/nodes/\(iqn)"))
    }
}
