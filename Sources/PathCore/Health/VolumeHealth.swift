/// Path health per volume, computed from a `Topology` (sysfs): active/total paths, the
/// same counts per controller port (iSCSI portal or FC target port) and per array (iSCSI
/// target IQN or FC target WWPN prefix), and why a volume is degraded. Used by
/// `pathctl health`; the daemon's `/v1/health` can map it to `HealthResponse`.
public enum HealthStatus: String, Sendable, Codable, Comparable {
    case ok, degraded, failed
    var rank: Int { self == .ok ? 0 : self == .degraded ? 1 : 2 }
    public static func < (a: HealthStatus, b: HealthStatus) -> Bool { a.rank < b.rank }
}

public struct HealthReport: Sendable, Codable, Equatable {
    public var status: HealthStatus
    public var volumes: [VolumeHealth]
    public init(status: HealthStatus, volumes: [VolumeHealth]) {
        self.status = status
        self.volumes = volumes
    }

    public init(_ topology: Topology) {
        let vols = topology.volumes.map { VolumeHealth($0, sessions: topology.sessions) }
        self.init(status: vols.map(\.status).max() ?? .ok, volumes: vols)
    }

    public func volume(_ wwn: String) -> VolumeHealth? { volumes.first { $0.wwn == wwn } }

    /// What changed since `old`, one line per change, for `pathctl health --watch`.
    /// Empty when nothing changed.
    public func changes(since old: HealthReport) -> [String] {
        var out: [String] = []
        let before = Dictionary(old.volumes.map { ($0.wwn, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Set(volumes.map(\.wwn))
        for v in volumes {
            guard let o = before[v.wwn] else {
                out.append("\(v.wwn): appeared, \(v.status.rawValue), paths \(v.pathsActive)/\(v.pathsTotal)")
                continue
            }
            if o.status != v.status { out.append("\(v.wwn): \(o.status.rawValue) -> \(v.status.rawValue)") }
            if o.pathsActive != v.pathsActive || o.pathsTotal != v.pathsTotal {
                out.append("\(v.wwn): paths \(o.pathsActive)/\(o.pathsTotal) -> \(v.pathsActive)/\(v.pathsTotal)")
            }
            let oldReasons = Set(o.reasons), newReasons = Set(v.reasons)
            for r in v.reasons where !oldReasons.contains(r) { out.append("\(v.wwn): + \(r.code): \(r.detail)") }
            for r in o.reasons where !newReasons.contains(r) { out.append("\(v.wwn): - \(r.code): \(r.detail)") }
        }
        for o in old.volumes where !now.contains(o.wwn) { out.append("\(o.wwn): gone") }
        return out
    }
}

/// Paths of one group (a controller port or an array).
public struct PathGroupHealth: Sendable, Codable, Equatable {
    /// `iscsi:<portal>`, `fc:<target wwpn>`, `iscsi:<target iqn>`, `fc:<wwpn prefix>`.
    public var key: String
    public var active: Int
    public var total: Int
    public init(key: String, active: Int, total: Int) {
        self.key = key
        self.active = active
        self.total = total
    }
}

public struct DegradedReason: Sendable, Codable, Hashable {
    /// `path_offline`, `session_failed`, `rport_offline`, `single_path`, `single_controller`, `no_active_path`.
    public var code: String
    public var detail: String
    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }
}

public struct VolumeHealth: Sendable, Codable, Equatable {
    public var wwn: String
    public var map: String?
    public var status: HealthStatus
    public var pathsActive: Int
    public var pathsTotal: Int
    public var controllers: [PathGroupHealth]
    public var arrays: [PathGroupHealth]
    public var reasons: [DegradedReason]

    /// A path carries I/O: SCSI state running, its iSCSI session LOGGED_IN, its FC rport Online.
    public static func isActive(_ p: ScsiPath) -> Bool { p.isActive }

    /// The controller port a path goes through: its iSCSI portal or FC target port WWPN.
    public static func controllerKey(_ p: ScsiPath) -> String {
        switch p.transport {
        case .iscsi: "iscsi:\(p.iscsi?.portal ?? "?")"
        case .fc: "fc:\(p.fc?.targetPortName ?? p.fc?.rport ?? "?")"
        case .other: "local:host\(p.hctl.host)"
        }
    }

    /// The array a path leads to: the iSCSI target IQN (Pure exposes one per array) or the
    /// FC target WWPN without its last byte (Pure numbers the ports of one array in the
    /// last byte: controller in the high nibble, port in the low one).
    public static func arrayKey(_ p: ScsiPath) -> String {
        switch p.transport {
        case .iscsi: return "iscsi:\(p.iscsi?.target ?? "?")"
        case .fc:
            let w = p.fc?.targetPortName ?? ""
            return "fc:\(w.count == 16 ? String(w.prefix(14)) : w)"
        case .other: return "local:host\(p.hctl.host)"
        }
    }

    public init(_ v: Volume, sessions: [ISCSISession] = []) {
        wwn = v.wwn
        map = v.map?.device
        pathsTotal = v.paths.count
        pathsActive = v.paths.filter(Self.isActive).count
        func groups(_ key: (ScsiPath) -> String) -> [PathGroupHealth] {
            var order: [String] = []
            var counts: [String: (Int, Int)] = [:]
            for p in v.paths {
                let k = key(p)
                if counts[k] == nil { order.append(k); counts[k] = (0, 0) }
                counts[k]!.1 += 1
                if Self.isActive(p) { counts[k]!.0 += 1 }
            }
            return order.map { PathGroupHealth(key: $0, active: counts[$0]!.0, total: counts[$0]!.1) }
        }
        controllers = groups(Self.controllerKey)
        arrays = groups(Self.arrayKey)

        var reasons: [DegradedReason] = []
        var failedSessions: [String] = []
        var offlineRports: [String] = []
        for p in v.paths {
            let name = "\(p.device ?? "-") (\(p.hctl))"
            if p.state != "running" { reasons.append(DegradedReason(code: "path_offline", detail: "\(name) state \(p.state)")) }
            if let s = p.iscsi, s.state != "LOGGED_IN", !failedSessions.contains(s.session) {
                failedSessions.append(s.session)
                reasons.append(DegradedReason(code: "session_failed", detail: "\(s.session) to \(s.portal ?? "?") is \(s.state)"))
            }
            if let f = p.fc, let st = f.portState, st != "Online", !offlineRports.contains(f.rport) {
                offlineRports.append(f.rport)
                reasons.append(DegradedReason(code: "rport_offline", detail: "\(f.rport) (\(f.targetPortName ?? "?")) is \(st)"))
            }
        }
        let activeControllers = controllers.filter { $0.active > 0 }
        if pathsActive == 0 {
            reasons.append(DegradedReason(code: "no_active_path", detail: "none of \(pathsTotal) paths is active"))
        } else if pathsActive == 1 {
            reasons.append(DegradedReason(code: "single_path", detail: "only 1 of \(pathsTotal) paths is active"))
        } else if activeControllers.count == 1 {
            reasons.append(DegradedReason(code: "single_controller", detail: "all \(pathsActive) active paths go through \(activeControllers[0].key)"))
        }
        self.reasons = reasons
        status = pathsActive == 0 ? .failed : reasons.isEmpty ? .ok : .degraded
    }
}
