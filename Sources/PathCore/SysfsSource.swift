/// Read access to a sysfs-shaped tree. Discovery logic in PathCore takes one of these so
/// it can run against the live `/sys` (HostStorage's `DiskSysfs`) or against a fixture
/// tree of real kernel shapes, symlinks included.
///
/// Paths are relative to the tree's root, without a leading slash
/// (`class/iscsi_session/session1/targetname`).
public protocol SysfsSource: Sendable {
    /// Contents of an attribute file with the trailing newline removed; nil when the
    /// file does not exist or cannot be read (sysfs attributes come and go with devices).
    func attribute(_ path: String) -> String?
    /// Names in a directory (following symlinks), sorted; empty when it does not exist.
    func entries(_ path: String) -> [String]
    /// The target of a symlink as stored (often `../../devices/...`); nil if not a link.
    func link(_ path: String) -> String?
    /// Raw bytes of a binary attribute (`vpd_pg83`, `inquiry`); nil when absent.
    func binary(_ path: String) -> [UInt8]?
    /// Several attributes of one directory, in order (nil for each one absent). A real
    /// tree resolves the directory once; the default reads them one by one.
    func attributes(in dir: String, _ names: [String]) -> [String?]
}

extension SysfsSource {
    /// The H:C:T:L of the SCSI device behind block device `name` (`sdb`), from the last
    /// component of its `block/<name>/device` link; nil for a block device that is no SCSI
    /// disk (a dm map) or is gone.
    public func diskHCTL(_ name: String) -> HCTL? {
        guard let link = link("block/\(name)/device"), let last = link.split(separator: "/").last else { return nil }
        return try? HCTL(String(last))
    }

    public func attributes(in dir: String, _ names: [String]) -> [String?] {
        names.map { attribute(dir + "/" + $0) }
    }

    /// Resolves a relative symlink target against the directory holding the link and
    /// returns the normalized tree-relative path (no `..`, no leading slash).
    public func resolvedLink(_ path: String) -> String? {
        guard let target = link(path) else { return nil }
        return SysfsPath.resolve(target, relativeTo: SysfsPath.parent(path))
    }
}

/// Pure helpers for sysfs-relative path arithmetic.
public enum SysfsPath {
    public static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "" }
        return String(path[..<i])
    }
    public static func basename(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }
    /// `resolve("../../devices/x", relativeTo: "class/block")` -> `devices/x`.
    /// An absolute target (`/sys/devices/x`) is taken relative to the tree root after
    /// dropping a leading `sys/` component.
    public static func resolve(_ target: String, relativeTo dir: String) -> String {
        var parts: [Substring]
        if target.hasPrefix("/") {
            parts = []
            var t = target.split(separator: "/")
            if t.first == "sys" { t.removeFirst() }
            for p in t { append(p, to: &parts) }
            return parts.joined(separator: "/")
        }
        parts = dir.split(separator: "/")
        for p in target.split(separator: "/") { append(p, to: &parts) }
        return parts.joined(separator: "/")
    }
    private static func append(_ p: Substring, to parts: inout [Substring]) {
        if p == "." || p.isEmpty { return }
        if p == ".." { if !parts.isEmpty { parts.removeLast() }; return }
        parts.append(p)
    }
}
