/// One mounted filesystem from `/proc/self/mountinfo` (or `/proc/mounts`, which has no
/// device numbers).
public struct MountEntry: Sendable, Equatable, Codable {
    /// `major:minor` (mountinfo field 3), nil from /proc/mounts.
    public var devNumber: String?
    public var source: String
    public var mountPoint: String
    public var fsType: String

    public init(devNumber: String?, source: String, mountPoint: String, fsType: String) {
        self.devNumber = devNumber
        self.source = source
        self.mountPoint = mountPoint
        self.fsType = fsType
    }

    /// `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw` (proc(5)):
    /// ID, parent, major:minor, root, mount point, options, optional fields, `-`, fstype,
    /// source, super options. Octal escapes (`\040`) in paths are decoded.
    public static func parseMountInfo(_ text: String) -> [MountEntry] {
        var out: [MountEntry] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 7, let dash = f.firstIndex(of: "-"), dash >= 6 else { continue }
            let fsType = dash + 1 < f.count ? String(f[dash + 1]) : ""
            let source = dash + 2 < f.count ? unescape(f[dash + 2]) : ""
            out.append(MountEntry(devNumber: String(f[2]), source: source, mountPoint: unescape(f[4]), fsType: fsType))
        }
        return out
    }

    /// `/dev/sdb1 /mnt ext4 rw,relatime 0 0` (fstab(5) format).
    public static func parseMounts(_ text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 3 else { return nil }
            return MountEntry(devNumber: nil, source: unescape(f[0]), mountPoint: unescape(f[1]), fsType: String(f[2]))
        }
    }

    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            let octal = { (b: UInt8) in b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7") }
            if u[i] == UInt8(ascii: "\\"), i + 3 < u.count, octal(u[i + 1]), octal(u[i + 2]), octal(u[i + 3]) {
                let v = (Int(u[i + 1]) - 48) * 64 + (Int(u[i + 2]) - 48) * 8 + (Int(u[i + 3]) - 48)
                bytes.append(UInt8(truncatingIfNeeded: v))
                i += 4
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a volume's block devices are in use (mounted, held by LVM/md/kpartx, or open
/// exclusively), found from sysfs holders and the mount table. Pure over `SysfsSource`;
/// HostStorage adds the O_EXCL probe.
public enum DeviceUsage {
    /// Reasons the volume is in use; empty when it is free.
    ///
    /// Checked: every sd path and its partitions are neither mounted nor held by anything
    /// but the volume's own dm map; the map and its partitions/holders are not mounted,
    /// and the map has no holders (kpartx partitions, LVM, md, another dm target).
    public static func reasons(volume: Volume, sysfs: any SysfsSource, mounts: [MountEntry]) -> [String] {
        var reasons: [String] = []
        let ownMap = volume.map?.device
        // name -> dev number for everything whose mount would put the volume in use
        var watched: [(name: String, dev: String?)] = []
        func addWithPartitions(_ name: String) {
            watched.append((name, sysfs.attribute("class/block/\(name)/dev")))
            for e in sysfs.entries("class/block/\(name)") where e.hasPrefix(name) && e != name {
                if sysfs.attribute("class/block/\(name)/\(e)/partition") != nil {
                    watched.append((e, sysfs.attribute("class/block/\(name)/\(e)/dev")))
                    for h in sysfs.entries("class/block/\(name)/\(e)/holders") {
                        reasons.append("partition \(e) is held by \(h)")
                    }
                }
            }
        }
        for p in volume.paths {
            guard let sd = p.device else { continue }
            addWithPartitions(sd)
            for h in sysfs.entries("class/block/\(sd)/holders") where h != ownMap {
                reasons.append("\(sd) is held by \(h)\(holderKind(h, sysfs))")
            }
        }
        if let dm = ownMap {
            addWithPartitions(dm)
            for h in sysfs.entries("class/block/\(dm)/holders") {
                reasons.append("\(dm) (\(volume.map!.name)) is held by \(h)\(holderKind(h, sysfs))")
                watched.append((h, sysfs.attribute("class/block/\(h)/dev")))
            }
        }
        for m in mounts {
            if let w = watched.first(where: { w in
                (m.devNumber != nil && m.devNumber == w.dev) || m.source == "/dev/\(w.name)"
                    || (volume.map.map { m.source == "/dev/mapper/\($0.name)" } ?? false) && w.name == ownMap
            }) {
                reasons.append("\(w.name) is mounted on \(m.mountPoint) (\(m.fsType))")
            }
        }
        return reasons
    }

    static func holderKind(_ h: String, _ sysfs: any SysfsSource) -> String {
        guard h.hasPrefix("dm-") else { return "" }
        let uuid = sysfs.attribute("class/block/\(h)/dm/uuid") ?? ""
        let name = sysfs.attribute("class/block/\(h)/dm/name") ?? ""
        let kind: String
        if uuid.hasPrefix("LVM-") { kind = "LVM" } else if uuid.hasPrefix("part") { kind = "partition" } else if uuid.hasPrefix("mpath-") { kind = "multipath" } else if uuid.hasPrefix("CRYPT-") { kind = "dm-crypt" } else { kind = "dm" }
        return name.isEmpty ? " (\(kind))" : " (\(kind) \(name))"
    }
}
