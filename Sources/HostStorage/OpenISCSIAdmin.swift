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
    public init(binary: String = "iscsiadm", timeoutSeconds: Int = 30) {
        self.binary = binary
        self.timeoutSeconds = timeoutSeconds
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

    public func prepareNode(_ login: ISCSINodeLogin) throws {
        let base = ["-m", "node", "-T", login.iqn, "-p", login.portal.argument]
        try run(base + ["--op", "new"], writesNodeDB: true)
        let secrets = login.auth.map { [$0.password] } ?? []
        // every setting in one update: iscsiadm takes repeated -n/-v pairs (open-iscsi 2.1
        // collects them into one list), which saves a process spawn and a node-database
        // lock round per setting
        guard !login.settings.isEmpty else { return }
        try run(base + ["--op", "update"] + login.settings.flatMap { ["-n", $0.0, "-v", $0.1] }, redact: secrets, writesNodeDB: true)
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
