import Glibc
import PathCore

/// Where SCSI commands for a target go: a local sg/sd node (SG_IO) or an iSCSI session
/// (libiscsi). Never holds a password in its description.
public enum SCSIEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// `node` is the device file opened (`/dev/sg1`, or `/dev/sdb` without an sg node);
    /// `path` is the kernel name of the path's block device (`sdb`) for messages.
    case local(node: String, path: String)
    case iscsi(ISCSIURL, initiator: String)

    public var description: String {
        switch self {
        case .local(let node, let path): return node.hasSuffix("/" + path) ? node : "\(node) (\(path))"
        case .iscsi(let url, _): return url.redacted
        }
    }
}

/// A target named by an operator, resolved to the endpoints that reach it (best first).
public struct SCSITarget: Sendable {
    /// The operator's text, with any password removed.
    public var name: String
    /// For local targets, the volume and paths from sysfs; nil for iSCSI URLs.
    public var resolved: ResolvedTarget?
    public var endpoints: [SCSIEndpoint]
    /// The block device whose use (mounts, holders, O_EXCL) guards destructive commands:
    /// the dm map when the volume has one, else the sd. nil for iSCSI URLs.
    public var blockDevice: String? { resolved?.topDevice }

    public init(name: String, resolved: ResolvedTarget?, endpoints: [SCSIEndpoint]) {
        self.name = name
        self.resolved = resolved
        self.endpoints = endpoints
    }

    /// Opens one endpoint: SG_IO on the node, or an iSCSI login.
    public func open(_ endpoint: SCSIEndpoint, timeoutSeconds: Int = 10) throws -> any SCSITransport {
        switch endpoint {
        case .local(let node, _): return try SGIOTransport(device: node)
        case .iscsi(let url, let initiator): return try ISCSITransport(url: url, initiator: initiator, timeoutSeconds: timeoutSeconds)
        }
    }

    /// Opens the first endpoint that opens; the error of the last one otherwise.
    public func openFirst(timeoutSeconds: Int = 10) throws -> (SCSIEndpoint, any SCSITransport) {
        var last: (any Error)? = nil
        for e in endpoints {
            do { return (e, try open(e, timeoutSeconds: timeoutSeconds)) } catch { last = error }
        }
        throw last ?? HostStorageError(.notFound, "\(name): no path to open")
    }
}

/// Turns TARGET text into a `SCSITarget`: a device path (`/dev/sdX`, `/dev/sgN`,
/// `/dev/dm-N`, `/dev/mapper/<name>`, `/dev/disk/by-id/...`), a volume WWN (resolved
/// through sysfs to a usable path: SCSI state running, iSCSI LOGGED_IN, ALUA active), or an
/// `iscsi://` URL (libiscsi, initiator from `initiator`, else the host's
/// `etc/iscsi/initiatorname.iscsi`, else `defaultInitiator`).
public struct SCSITargetOpener: Sendable {
    public static let defaultInitiator = "iqn.2024-01.io.pathagent:pathctl"

    public var roots: HostRoots
    public var initiator: String?
    /// CHAP user and password for `iscsi://` targets whose URL has none (pathctl reads the
    /// password from a file or libiscsi's LIBISCSI_CHAP_PASSWORD, never from its argv).
    public var chapUser: String?
    public var chapPassword: String?

    public init(roots: HostRoots = .live, initiator: String? = nil, chapUser: String? = nil, chapPassword: String? = nil) {
        self.roots = roots
        self.initiator = initiator
        self.chapUser = chapUser
        self.chapPassword = chapPassword
    }

    /// The initiator IQN for libiscsi sessions.
    public func initiatorName() -> String {
        if let initiator, !initiator.isEmpty { return initiator }
        if let bytes = FileIO.readAll(roots.etc + "/iscsi/initiatorname.iscsi"),
            let name = Self.parseInitiatorName(String(decoding: bytes, as: UTF8.self))
        {
            return name
        }
        return Self.defaultInitiator
    }

    /// `InitiatorName=iqn...` (comments and blank lines skipped), as open-iscsi writes it.
    public static func parseInitiatorName(_ text: String) -> String? {
        for line in text.split(separator: "\n") {
            let t = line.trimmingWhitespace()
            guard !t.hasPrefix("#"), t.hasPrefix("InitiatorName=") else { continue }
            let v = t.dropFirst("InitiatorName=".count).trimmingWhitespace()
            if !v.isEmpty { return v }
        }
        return nil
    }

    public func resolve(_ text: String, topology: Topology? = nil) throws -> SCSITarget {
        let spec = try TargetSpec.parse(text)
        if case .iscsiURL(let u) = spec {
            var url = try ISCSIURL(u)
            if url.user == nil { url.user = chapUser }
            if url.password == nil { url.password = chapPassword }
            return SCSITarget(name: url.redacted, resolved: nil, endpoints: [.iscsi(url, initiator: initiatorName())])
        }
        var effective = spec
        if case .device(let path) = spec, path.hasPrefix("/") {
            if roots.isLive {
                guard access(path, F_OK) == 0 else {
                    throw HostStorageError(.notFound, "no such device: \(path)", errno: ENOENT)
                }
                if let real = Self.realPath(path), real != path { effective = .device(real) }
                var st = stat()
                if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFBLK, (st.st_mode & S_IFMT) != S_IFCHR {
                    throw HostStorageError(.invalidArgument, "not a SCSI device: \(path) is not a device node")
                }
            }
        }
        let topo = topology ?? Inventory.scan(roots: roots)
        let resolved = try TargetResolver.resolve(effective, in: topo)
        let endpoints: [SCSIEndpoint] = resolved.candidates.compactMap { p in
            guard let name = p.device ?? p.sg else { return nil }
            if let sg = p.sg, !roots.isLive || access(roots.dev + "/" + sg, F_OK) == 0 {
                return .local(node: roots.dev + "/" + sg, path: name)
            }
            if let sd = p.device { return .local(node: roots.dev + "/" + sd, path: name) }
            return nil
        }
        return SCSITarget(name: text, resolved: resolved, endpoints: endpoints)
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
