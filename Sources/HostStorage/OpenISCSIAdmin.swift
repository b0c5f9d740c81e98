import Glibc
import PathCore
import Synchronization

/// open-iscsi's command-line tool is the interface to kernel iSCSI sessions. Every call
/// is an argv array built from values the caller validated (ISCSIPortal, IQN).
public protocol ISCSIAdmin: Sendable {
    func prepareNode(_ login: ISCSINodeLogin) throws
    func login(portal: ISCSIPortal, iqn: String) throws
    func logout(portal: ISCSIPortal, iqn: String) throws
    func deleteNode(portal: ISCSIPortal, iqn: String) throws
}

public struct OpenISCSIAdmin: ISCSIAdmin {
    public var binary: String
    public var timeoutSeconds: Int
    /// open-iscsi's node databases (`ISCSI_DB_ROOT/nodes`), in the order they are tried.
    public var nodeDatabases: [String]
    /// open-iscsi's lock directory (`LOCK_DIR`).
    public var lockDirectory: String

    /// `nodeDatabases` defaults to `roots.etc/iscsi/nodes` (Debian's and upstream's
    /// `ISCSI_DB_ROOT`), then `/var/lib/iscsi/nodes` (builds configured with that DB root)
    /// for the live roots; `lockDirectory` to `roots.run/lock/iscsi`.
    public init(binary: String = "iscsiadm", timeoutSeconds: Int = 30, roots: HostRoots = .live,
                nodeDatabases: [String]? = nil, lockDirectory: String? = nil) {
        self.binary = binary
        self.timeoutSeconds = timeoutSeconds
        self.nodeDatabases = nodeDatabases ?? Self.defaultNodeDatabases(roots)
        self.lockDirectory = lockDirectory ?? roots.run + "/lock/iscsi"
    }

    public static func defaultNodeDatabases(_ roots: HostRoots) -> [String] {
        [roots.etc + "/iscsi/nodes"] + (roots.isLive ? ["/var/lib/iscsi/nodes"] : [])
    }

    // iscsiadm exit codes (open-iscsi include/iscsi_err.h)
    static let errSessionExists: Int32 = 15
    static let errNoObjectsFound: Int32 = 21
    static let errIDBM: Int32 = 6

    /// open-iscsi's node database is guarded by a lock directory that concurrent iscsiadm
    /// processes do not wait for (they fail with "Could not open /run/lock/iscsi" and exit
    /// 6): node-record writes from this process are serialized here (they take
    /// milliseconds), and a command that still lost the race with another process is
    /// retried a bounded number of times.
    static let nodeDatabase = Mutex(())

    @discardableResult
    func run(_ args: [String], redact: [String] = [], ok: Set<Int32> = [0], writesNodeDB: Bool = false) throws -> ToolResult {
        var r = try once(args, redact: redact, writesNodeDB: writesNodeDB)
        var attempt = 1
        while r.status == Self.errIDBM && (r.stderr.contains("/lock/iscsi") || r.stderr.contains("database failure")) && attempt < 8 {
            usleep(UInt32(20_000 * attempt))
            attempt += 1
            r = try once(args, redact: redact, writesNodeDB: writesNodeDB)
        }
        guard ok.contains(r.status) else {
            let shown = args.enumerated().map { i, a in i > 0 && args[i - 1] == "-v" && redact.contains(a) ? "***" : a }
            throw HostStorageError(.toolFailed, "iscsiadm \(shown.joined(separator: " ")) failed with exit \(r.status)",
                                   errno: nil, cause: (r.stderr + r.stdout).trimmingWhitespace())
        }
        return r
    }

    private func once(_ args: [String], redact: [String], writesNodeDB: Bool) throws -> ToolResult {
        if writesNodeDB {
            return try Self.nodeDatabase.withLock { _ in try ProcessRunner.run([binary] + args, timeoutSeconds: timeoutSeconds, redact: redact) }
        }
        return try ProcessRunner.run([binary] + args, timeoutSeconds: timeoutSeconds, redact: redact)
    }

    /// Creates the node record and applies the login's settings. The settings without a
    /// secret go in one `--op update` (iscsiadm takes repeated -n/-v pairs, which saves a
    /// process spawn and a node-database lock round per setting). The CHAP fields never go
    /// on a command line (any user can read /proc/PID/cmdline): they are written into the
    /// record file(s) `--op new` made (`ISCSINodeRecords`), then `--op show` must show
    /// open-iscsi reading them back (method CHAP, the user name, a non-empty password,
    /// which iscsiadm prints as `********`).
    public func prepareNode(_ login: ISCSINodeLogin) throws {
        let base = ["-m", "node", "-T", login.iqn, "-p", login.portal.argument]
        try run(base + ["--op", "new"], writesNodeDB: true)
        if !login.nodeSettings.isEmpty {
            try run(base + ["--op", "update"] + login.nodeSettings.flatMap { ["-n", $0.0, "-v", $0.1] }, writesNodeDB: true)
        }
        guard let auth = login.auth else { return }
        let secrets = [auth.password]
        let files = try Self.nodeDatabase.withLock { _ in
            // the first database that holds the record `--op new` just wrote
            for db in nodeDatabases {
                let records = ISCSINodeRecords(directory: db, lockDirectory: lockDirectory, lockTimeoutSeconds: Double(timeoutSeconds))
                let files = records.recordFiles(iqn: login.iqn, portal: login.portal)
                guard !files.isEmpty else { continue }
                try records.setFields(login.authSettings, in: files, iqn: login.iqn)
                return files
            }
            throw HostStorageError(
                .toolFailed, "iscsiadm --op new left no node record for \(login.iqn) \(login.portal.argument) in \(nodeDatabases.joined(separator: " or "))")
        }
        let shown = try run(base + ["--op", "show"], redact: secrets)
        try Self.verifyAuth(shown: shown.stdout, username: auth.username, records: files.count, iqn: login.iqn, portal: login.portal)
    }

    /// Checks iscsiadm's `--op show` output: one record per file written, each with
    /// authmethod CHAP, the user name, and a password present (shown masked).
    static func verifyAuth(shown: String, username: String, records: Int, iqn: String, portal: ISCSIPortal) throws {
        var blocks: [[String: String]] = []
        for line in shown.split(separator: "\n") {
            if line.hasPrefix("# BEGIN RECORD") { blocks.append([:]); continue }
            guard !blocks.isEmpty, let eq = line.firstIndex(of: "=") else { continue }
            blocks[blocks.count - 1][String(line[..<eq]).trimmingWhitespace()] = String(line[line.index(after: eq)...]).trimmingWhitespace()
        }
        var problems: [String] = []
        if blocks.count != records { problems.append("it shows \(blocks.count) record(s), \(records) were written") }
        for b in blocks {
            let method = b["node.session.auth.authmethod"] ?? "<absent>"
            let user = b["node.session.auth.username"] ?? "<absent>"
            let password = b["node.session.auth.password"] ?? ""
            if method != "CHAP" { problems.append("node.session.auth.authmethod is \(method)") }
            if user != username { problems.append("node.session.auth.username is \(user)") }
            if password.isEmpty || password == "<empty>" { problems.append("node.session.auth.password is empty") }
        }
        guard problems.isEmpty else {
            throw HostStorageError(
                .toolFailed, "open-iscsi does not read back the CHAP settings written for \(iqn) \(portal.argument): \(problems.joined(separator: "; "))")
        }
    }

    public func login(portal: ISCSIPortal, iqn: String) throws {
        try run(["-m", "node", "-T", iqn, "-p", portal.argument, "--login"], ok: [0, Self.errSessionExists])
    }

    public func logout(portal: ISCSIPortal, iqn: String) throws {
        try run(["-m", "node", "-T", iqn, "-p", portal.argument, "--logout"], ok: [0, Self.errNoObjectsFound])
    }

    public func deleteNode(portal: ISCSIPortal, iqn: String) throws {
        try run(["-m", "node", "-T", iqn, "-p", portal.argument, "--op", "delete"], ok: [0, Self.errNoObjectsFound], writesNodeDB: true)
    }
}
