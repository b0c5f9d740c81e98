/// What an operator names as the target of a SCSI command (`pathctl inquiry|unmap|lba-status
/// TARGET`): a device node, a multipath map, a volume WWN, or an iSCSI URL.
public enum TargetSpec: Sendable, Equatable, CustomStringConvertible {
    /// `iscsi://...` (parsed and opened by HostStorage; never logged with its password).
    case iscsiURL(String)
    /// `/dev/sdX`, `/dev/sgN`, `/dev/dm-N`, `/dev/mapper/<name>` or a bare kernel name (`sdb`).
    case device(String)
    case wwn(WWN)

    /// Classifies operator text: `iscsi://` is a URL, `/dev/...` or a kernel name
    /// (`sd*`, `sg*`, `dm-*`) is a device, anything else must parse as a WWN.
    public static func parse(_ text: String) throws -> TargetSpec {
        let t = text.trimmingWhitespace()
        if t.hasPrefix("iscsi://") { return .iscsiURL(t) }
        if t.hasPrefix("/") { return .device(t) }
        if Self.isKernelName(t) { return .device(t) }
        do {
            return .wwn(try WWN(t))
        } catch {
            throw PathCoreError(
                .invalidValue,
                "target '\(t)' is not a device (/dev/sdX, /dev/sgN, /dev/dm-N, /dev/mapper/NAME), a volume WWN or an iscsi:// URL")
        }
    }

    static func isKernelName(_ t: String) -> Bool {
        for p in ["sd", "sg", "dm-"] where t.hasPrefix(p) {
            let rest = t.dropFirst(p.count)
            if p == "sd" { return !rest.isEmpty && rest.allSatisfy { $0 >= "a" && $0 <= "z" } }
            return !rest.isEmpty && rest.allSatisfy(\.isNumber)
        }
        return false
    }

    public var description: String {
        switch self {
        case .iscsiURL: return "iSCSI URL"
        case .device(let d): return d
        case .wwn(let w): return w.value
        }
    }
}

/// A local target resolved against the topology: the volume, the block device to check
/// for mounts and holders, and the paths to send commands through, best first.
public struct ResolvedTarget: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// One SCSI path named by the operator (`/dev/sdb`, `/dev/sg1`): only that path is used.
        case path
        /// A dm multipath map (`/dev/dm-0`, `/dev/mapper/<wwn>`): any usable path of its volume.
        case multipathMap = "multipath_map"
        /// A volume WWN: any usable path.
        case volume
    }

    public struct UnusablePath: Sendable, Equatable, Codable {
        public var path: String
        public var reason: String
    }

    public var kind: Kind
    public var volume: Volume
    /// Paths to use, in preference order (ALUA active/optimized first).
    public var candidates: [ScsiPath]
    /// Paths left out, with why.
    public var unusable: [UnusablePath]
    /// The device the volume's users open: the dm map when there is one, else the sd.
    public var topDevice: String?

    public init(kind: Kind, volume: Volume, candidates: [ScsiPath], unusable: [UnusablePath], topDevice: String?) {
        self.kind = kind
        self.volume = volume
        self.candidates = candidates
        self.unusable = unusable
        self.topDevice = topDevice
    }
}

/// Resolves local targets from a `Topology` (pure; HostStorage resolves symlinks such as
/// `/dev/disk/by-id/...` before calling it).
public enum TargetResolver {
    /// Why a path cannot carry commands now, nil when it can: SCSI state `running`, iSCSI
    /// session LOGGED_IN, FC remote port Online, and an ALUA state that accepts I/O.
    public static func unusableReason(_ p: ScsiPath) -> String? {
        if p.state != "running" { return "SCSI device state \(p.state)" }
        if let i = p.iscsi, i.state != "LOGGED_IN" { return "iSCSI \(i.session) \(i.state)" }
        if let f = p.fc, let s = f.portState, s != "Online" { return "FC \(f.rport) \(s)" }
        if let a = p.accessState, ["standby", "unavailable", "offline", "transitioning"].contains(a) {
            return "ALUA \(a)"
        }
        if p.device == nil && p.sg == nil { return "no sd or sg node" }
        return nil
    }

    /// Usable paths first by ALUA preference, then the rest with their reasons.
    public static func rank(_ paths: [ScsiPath]) -> (usable: [ScsiPath], unusable: [ResolvedTarget.UnusablePath]) {
        var usable: [(Int, Int, ScsiPath)] = []
        var unusable: [ResolvedTarget.UnusablePath] = []
        for (i, p) in paths.enumerated() {
            if let r = unusableReason(p) {
                unusable.append(.init(path: p.device ?? p.sg ?? p.hctl.description, reason: r))
            } else {
                let pref: Int
                switch p.accessState {
                case "active/optimized", nil: pref = 0
                case "active/non-optimized": pref = 1
                default: pref = 2
                }
                usable.append((pref, i, p))
            }
        }
        return (usable.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2), unusable)
    }

    public static func resolve(_ spec: TargetSpec, in topology: Topology) throws -> ResolvedTarget {
        switch spec {
        case .iscsiURL:
            throw PathCoreError(.invalidValue, "an iscsi:// target is opened over libiscsi, not resolved from sysfs")
        case .wwn(let w):
            guard let v = topology.volume(w) else {
                throw PathCoreError(.missing, "no volume with WWN \(w.value) on this host (not attached, or no path discovered)")
            }
            return try whole(v, kind: .volume, named: w.value)
        case .device(let raw):
            let name = try kernelName(raw, in: topology)
            guard !name.contains("/") else {
                throw PathCoreError(.invalidValue, "not a SCSI device or multipath map: \(raw)")
            }
            if name.hasPrefix("dm-") {
                guard let m = topology.maps.first(where: { $0.device == name }) else {
                    throw PathCoreError(.missing, "no such device-mapper device: \(raw)")
                }
                guard let v = topology.volumes.first(where: { $0.map?.device == name }) else {
                    throw PathCoreError(
                        .unsupported,
                        "\(raw) is not a multipath map of a SCSI volume (dm name '\(m.name)', uuid '\(m.uuid)')")
                }
                return try whole(v, kind: .multipathMap, named: raw)
            }
            for v in topology.volumes {
                if let p = v.paths.first(where: { $0.device == name || $0.sg == name }) {
                    if let r = unusableReason(p) {
                        throw PathCoreError(
                            .unsupported,
                            "path \(raw) cannot carry commands now (\(r))" + (v.paths.count > 1 ? "; name the volume \(v.wwn) or its map to use a healthy path" : ""))
                    }
                    let others = v.paths.filter { $0 != p }.map { ResolvedTarget.UnusablePath(path: $0.device ?? $0.sg ?? $0.hctl.description, reason: "not the path named") }
                    return ResolvedTarget(kind: .path, volume: v, candidates: [p], unusable: others,
                                          topDevice: v.map?.device ?? p.device)
                }
            }
            if name.hasPrefix("sd") || name.hasPrefix("sg") {
                throw PathCoreError(.missing, "no such SCSI device: \(raw)")
            }
            throw PathCoreError(.unsupported, "not a SCSI device: \(raw) (expected an sd/sg node, a multipath map or a volume WWN)")
        }
    }

    static func whole(_ v: Volume, kind: ResolvedTarget.Kind, named: String) throws -> ResolvedTarget {
        let (usable, unusable) = rank(v.paths)
        guard !usable.isEmpty else {
            let why = unusable.map { "\($0.path): \($0.reason)" }.joined(separator: "; ")
            throw PathCoreError(
                .unsupported, "volume \(v.wwn) (\(named)) has no usable path", detail: why.isEmpty ? "no paths" : why)
        }
        return ResolvedTarget(kind: kind, volume: v, candidates: usable, unusable: unusable,
                              topDevice: v.map?.device ?? usable.first?.device)
    }
}

extension TargetResolver {
    /// The volume a device or WWN names, whatever the state of its paths (for checks that
    /// read sysfs only, such as the discard chain).
    /// The kernel name of a device given as `/dev/mapper/NAME` (the map's `dm-N`),
    /// `/dev/NAME` or `NAME`.
    static func kernelName(_ raw: String, in topology: Topology) throws -> String {
        if raw.hasPrefix("/dev/mapper/") {
            let mapName = String(raw.dropFirst("/dev/mapper/".count))
            guard let m = topology.maps.first(where: { $0.name == mapName }) else {
                throw PathCoreError(.missing, "no device-mapper map named '\(mapName)' (\(raw))")
            }
            return m.device
        }
        return raw.hasPrefix("/dev/") ? String(raw.dropFirst(5)) : raw
    }

    public static func volume(_ spec: TargetSpec, in topology: Topology) throws -> Volume {
        switch spec {
        case .iscsiURL:
            throw PathCoreError(.invalidValue, "an iscsi:// target has no local volume in sysfs")
        case .wwn(let w):
            guard let v = topology.volume(w) else { throw PathCoreError(.missing, "no volume with WWN \(w.value) on this host") }
            return v
        case .device(let raw):
            let name = try kernelName(raw, in: topology)
            if let v = topology.volumes.first(where: { $0.map?.device == name || $0.paths.contains { $0.device == name || $0.sg == name } }) {
                return v
            }
            throw PathCoreError(.missing, "no SCSI volume behind \(raw)")
        }
    }
}
