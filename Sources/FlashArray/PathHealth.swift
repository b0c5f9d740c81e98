import Foundation
import PathCore

/// What the agent's health reporter hands this module (in-process), per volume and path.
public struct PathHealthReport: Codable, Sendable, Equatable {
    public enum PathState: String, Codable, Sendable { case active, failed, standby }
    public struct PathReport: Codable, Sendable, Equatable {
        /// Kernel device (`sdc`) or libiscsi session label; informational.
        public var device: String?
        /// iSCSI portal `ip:port` of the target port, or nil on FC.
        public var targetPortal: String?
        public var targetIQN: String?
        /// FC target port WWPN (any spelling).
        public var targetWWPN: String?
        public var state: PathState
        /// ALUA access state from REPORT TARGET PORT GROUPS (`active/optimized`, `active/non-optimized`, `standby`, `unavailable`).
        public var alua: String?
        public init(device: String? = nil, targetPortal: String? = nil, targetIQN: String? = nil, targetWWPN: String? = nil, state: PathState, alua: String? = nil) {
            self.device = device; self.targetPortal = targetPortal; self.targetIQN = targetIQN; self.targetWWPN = targetWWPN; self.state = state; self.alua = alua
        }
    }
    public struct VolumeReport: Codable, Sendable, Equatable {
        public var wwn: WWN
        public var paths: [PathReport]
        /// Last path state change, milliseconds since the epoch.
        public var lastChange: Int64
        public init(wwn: WWN, paths: [PathReport], lastChange: Int64) { self.wwn = wwn; self.paths = paths; self.lastChange = lastChange }
    }
    /// The array host object name (as registered); the module looks it up by initiator when nil.
    public var hostName: String?
    public var initiatorIQN: String?
    public var initiatorWWPNs: [String]
    /// When the report was made, milliseconds since the epoch.
    public var reportedAt: Int64
    public var volumes: [VolumeReport]
    public init(hostName: String? = nil, initiatorIQN: String? = nil, initiatorWWPNs: [String] = [], reportedAt: Int64, volumes: [VolumeReport]) {
        self.hostName = hostName; self.initiatorIQN = initiatorIQN; self.initiatorWWPNs = initiatorWWPNs; self.reportedAt = reportedAt; self.volumes = volumes
    }
}

/// Path counts of one group (a controller, an array, a volume, the host).
public struct PathCounts: Codable, Sendable, Equatable {
    public var total = 0
    public var active = 0
    public var failed = 0
    public init(total: Int = 0, active: Int = 0, failed: Int = 0) { self.total = total; self.active = active; self.failed = failed }
    mutating func add(_ s: PathHealthReport.PathState) {
        total += 1
        if s == .active { active += 1 } else if s == .failed { failed += 1 }
    }
    var compact: String { "\(active)/\(total)" + (failed > 0 ? "f\(failed)" : "") }
}

/// Problems worth an operator's attention.
public enum HealthFlag: String, Codable, Sendable, CaseIterable {
    /// A volume has no active path.
    case noPaths = "no-paths"
    /// Some paths failed.
    case failedPaths = "failed-paths"
    /// Active paths reach only one controller of an array that has more than one ready.
    case singleController = "single-controller"
    /// A volume on a uniform ActiveCluster pair has active paths to one array only.
    case singleArray = "single-array"
    /// Paths report ALUA states, yet no active path is active/optimized (I/O goes the long way).
    case noOptimizedPath = "no-optimized-path"
    /// Paths whose target port the array does not list (stale or foreign).
    case unknownTarget = "unknown-target"
    /// The array's `port_connectivity` and the agent's view disagree.
    case arrayDisagrees = "array-disagrees"
}

/// The module's verdict for one host: what is stored in host tags and returned by `hostHealth`.
public struct HostHealth: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case ok, degraded, critical, unknown }
    public var host: String
    public var status: Status
    public var flags: [HealthFlag]
    public var volumes: Int
    public var paths: PathCounts
    public var perController: [String: PathCounts]
    public var perArray: [String: PathCounts]
    /// WWNs of volumes with a flag (at most a few, to stay compact).
    public var flaggedVolumes: [String]
    /// The array's own view: `port_connectivity` status / details.
    public var arrayStatus: String?
    public var arrayDetails: String?
    public var reportedAt: Int64
    public var lastChange: Int64
}

/// Pure logic of the intake: classify each path by the array's ports and aggregate.
public enum PathHealthAnalyzer {
    /// One target array as the analyzer needs it.
    public struct ArrayView: Sendable {
        public var name: String
        public var ports: [ArrayPort]
        public var readyControllers: Set<String>
        public init(name: String, ports: [ArrayPort], readyControllers: Set<String>) { self.name = name; self.ports = ports; self.readyControllers = readyControllers }
    }

    public static func analyze(report: PathHealthReport, host: String, arrays: [ArrayView], uniformPair: Bool,
                               arrayConnectivity: HostPortConnectivity?) -> HostHealth {
        var flags = Set<HealthFlag>()
        var all = PathCounts()
        var perCtl: [String: PathCounts] = [:]
        var perArr: [String: PathCounts] = [:]
        var flagged: [String] = []
        var lastChange: Int64 = 0
        for v in report.volumes {
            lastChange = max(lastChange, v.lastChange)
            var vflags = Set<HealthFlag>()
            var vCtl: [String: [String: PathCounts]] = [:]   // array -> controller -> counts
            var vArr: [String: PathCounts] = [:]
            var vAll = PathCounts()
            for p in v.paths {
                vAll.add(p.state); all.add(p.state)
                guard let (arr, port) = locate(p, arrays) else {
                    vflags.insert(.unknownTarget); continue
                }
                let ctl = port.controllerName ?? "?"
                vCtl[arr.name, default: [:]][ctl, default: PathCounts()].add(p.state)
                vArr[arr.name, default: PathCounts()].add(p.state)
                perCtl["\(arr.name):\(ctl)", default: PathCounts()].add(p.state)
                perArr[arr.name, default: PathCounts()].add(p.state)
            }
            if vAll.active == 0 { vflags.insert(.noPaths) }
            let activeALUA = v.paths.filter { $0.state == .active }.compactMap(\.alua)
            if !activeALUA.isEmpty, !activeALUA.contains("active/optimized") { vflags.insert(.noOptimizedPath) }
            if vAll.failed > 0 { vflags.insert(.failedPaths) }
            for a in arrays {
                let ctls = vCtl[a.name] ?? [:]
                let activeCtls = ctls.filter { $0.value.active > 0 }.count
                if activeCtls == 1, a.readyControllers.count > 1 { vflags.insert(.singleController) }
            }
            if uniformPair, arrays.count > 1 {
                let activeArrays = vArr.filter { $0.value.active > 0 }.count
                if activeArrays == 1 { vflags.insert(.singleArray) }
            }
            if !vflags.isEmpty, flagged.count < 4 { flagged.append(v.wwn.value) }
            flags.formUnion(vflags)
        }
        // the array's view against ours
        let agentHealthy = flags.isDisjoint(with: [.noPaths, .failedPaths, .singleController, .singleArray, .noOptimizedPath]) && !report.volumes.isEmpty
        if let st = arrayConnectivity?.status, !report.volumes.isEmpty {
            let arrayHealthy = st == "healthy"
            if arrayHealthy != agentHealthy { flags.insert(.arrayDisagrees) }
        }
        let status: HostHealth.Status
        if report.volumes.isEmpty { status = .unknown }
        else if flags.contains(.noPaths) || arrayConnectivity?.status == "critical" { status = .critical }
        else if !flags.isEmpty { status = .degraded }
        else { status = .ok }
        return HostHealth(host: host, status: status, flags: HealthFlag.allCases.filter(flags.contains), volumes: report.volumes.count,
                          paths: all, perController: perCtl, perArray: perArr, flaggedVolumes: flagged,
                          arrayStatus: arrayConnectivity?.status, arrayDetails: arrayConnectivity?.details,
                          reportedAt: report.reportedAt, lastChange: lastChange)
    }

    static func locate(_ p: PathHealthReport.PathReport, _ arrays: [ArrayView]) -> (ArrayView, ArrayPort)? {
        for a in arrays {
            for port in a.ports {
                if let tp = p.targetPortal, let pp = port.portal, tp == pp,
                   p.targetIQN == nil || p.targetIQN?.lowercased() == port.iqn?.lowercased() { return (a, port) }
                if let tw = p.targetWWPN, let pw = port.wwn, FlashArrayClient.plainWWN(tw) == FlashArrayClient.plainWWN(pw) { return (a, port) }
            }
        }
        return nil
    }

    // MARK: tags

    /// Tag namespace of pathagent's summaries (not a reserved `pure*` namespace).
    public static let tagNamespace = "pathagent"

    /// The compact summary as host tags (each value at most 256 characters).
    public static func tags(_ h: HostHealth) -> [Tag] {
        func cut(_ s: String) -> String { s.count <= 256 ? s : String(s.prefix(253)) + "..." }
        func counts(_ d: [String: PathCounts]) -> String { d.keys.sorted().map { "\($0)=\(d[$0]!.compact)" }.joined(separator: ",") }
        let kv: [(String, String)] = [
            ("status", h.status.rawValue),
            ("flags", h.flags.map(\.rawValue).joined(separator: ",")),
            ("volumes", "\(h.volumes)"),
            ("paths", "\(h.paths.active)/\(h.paths.total) failed=\(h.paths.failed)"),
            ("controllers", counts(h.perController)),
            ("arrays", counts(h.perArray)),
            ("flagged_volumes", h.flaggedVolumes.joined(separator: ",")),
            ("array_view", "\(h.arrayStatus ?? "-")/\(h.arrayDetails ?? "-")"),
            ("reported_at", "\(h.reportedAt)"),
            ("last_change", "\(h.lastChange)"),
        ]
        return kv.map { Tag(namespace: tagNamespace, key: $0.0, value: cut($0.1), copyable: false) }
    }

    /// Reads a summary back from host tags (and the array's current connectivity view).
    public static func parse(host: String, tags: [Tag], arrayConnectivity: HostPortConnectivity?) -> HostHealth {
        var d: [String: String] = [:]
        for t in tags where t.namespace == tagNamespace { d[t.key] = t.value }
        func counts(_ s: String?) -> [String: PathCounts] {
            var out: [String: PathCounts] = [:]
            for item in (s ?? "").split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                out[String(kv[0])] = parseCompact(String(kv[1]))
            }
            return out
        }
        var paths = PathCounts()
        if let p = d["paths"] {
            let parts = p.split(separator: " ")
            if let first = parts.first { paths = parseCompact(String(first)) }
            if parts.count > 1, let f = Int(parts[1].replacingOccurrences(of: "failed=", with: "")) { paths.failed = f }
        }
        return HostHealth(host: host, status: HostHealth.Status(rawValue: d["status"] ?? "") ?? .unknown,
                          flags: (d["flags"] ?? "").split(separator: ",").compactMap { HealthFlag(rawValue: String($0)) },
                          volumes: Int(d["volumes"] ?? "") ?? 0, paths: paths,
                          perController: counts(d["controllers"]), perArray: counts(d["arrays"]),
                          flaggedVolumes: (d["flagged_volumes"] ?? "").split(separator: ",").map(String.init),
                          arrayStatus: arrayConnectivity?.status, arrayDetails: arrayConnectivity?.details,
                          reportedAt: Int64(d["reported_at"] ?? "") ?? 0, lastChange: Int64(d["last_change"] ?? "") ?? 0)
    }

    static func parseCompact(_ s: String) -> PathCounts {
        // "a/t" or "a/tfN"
        let f = s.split(separator: "f", maxSplits: 1)
        let at = f[0].split(separator: "/")
        var c = PathCounts()
        if at.count == 2 { c.active = Int(at[0]) ?? 0; c.total = Int(at[1]) ?? 0 }
        if f.count == 2 { c.failed = Int(f[1]) ?? 0 }
        return c
    }
}

