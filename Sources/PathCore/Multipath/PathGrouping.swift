extension ALUAState {
    /// multipath-tools' prio/alua.c values: optimized 50, non-optimized 10, LBA-dependent 5,
    /// standby 1, anything else 0; a port group with the PREF bit set adds 80.
    /// (`ALUAState` itself is decoded from REPORT TARGET PORT GROUPS in SCSI/TargetPortGroups.swift.)
    public func priority(preferred: Bool = false) -> Int {
        let base: Int
        switch self {
        case .activeOptimized: base = 50
        case .activeNonOptimized: base = 10
        case .logicalBlockDependent: base = 5
        case .standby: base = 1
        case .unavailable, .offline, .transitioning, .reserved: base = 0
        }
        return base + (preferred ? 80 : 0)
    }
}

/// The SCSI device state of a path (`/sys/block/sdX/device/state`).
public enum SCSIDeviceState: String, Hashable, Sendable {
    case running, offline, blocked, created, cancel, deleted, quiesce
    case transportOffline = "transport-offline"
}

/// What the planner knows about one path of a volume.
public struct MultipathPathInfo: Hashable, Sendable {
    public var device: DeviceNumber
    /// Kernel name, e.g. `sdb` (for messages).
    public var name: String
    public var deviceState: SCSIDeviceState
    /// From REPORT TARGET PORT GROUPS; nil when the LU does not support ALUA or RTPG failed.
    public var aluaState: ALUAState?
    public var targetPortGroup: UInt16?
    /// The PREF bit of the path's target port group.
    public var preferred: Bool
    /// An explicit priority (e.g. from a `sysfs` prioritizer); overrides the ALUA-derived one.
    public var priority: Int?
    /// Capacity reported by this path (READ CAPACITY / sysfs `size`), 512-byte sectors.
    public var sizeSectors: UInt64?
    /// The last checker verdict, when one exists.
    public var checkState: PathCheckState?

    public init(device: DeviceNumber, name: String, deviceState: SCSIDeviceState = .running,
                aluaState: ALUAState? = nil, targetPortGroup: UInt16? = nil, preferred: Bool = false,
                priority: Int? = nil, sizeSectors: UInt64? = nil, checkState: PathCheckState? = nil) {
        self.device = device
        self.name = name
        self.deviceState = deviceState
        self.aluaState = aluaState
        self.targetPortGroup = targetPortGroup
        self.preferred = preferred
        self.priority = priority
        self.sizeSectors = sizeSectors
        self.checkState = checkState
    }

    /// The planner's view of a path the kernel shows (the one conversion attach and regroup
    /// use): its device number, name, SCSI state, size, and the ALUA state and PREF bit that
    /// scsi_dh_alua keeps in sysfs (`access_state`, `preferred_path`: refreshed by the kernel
    /// with REPORT TARGET PORT GROUPS at attach and on every ASYMMETRIC ACCESS STATE CHANGED
    /// unit attention). A path without a handler has no ALUA state.
    /// - Throws: `.missing` when the path has no block device.
    public init(path p: ScsiPath) throws {
        guard let name = p.device, let dev = p.devNumber else {
            throw PathCoreError(.missing, "SCSI device \(p.hctl) has no block device")
        }
        self.init(device: try DeviceNumber(dev), name: name, deviceState: SCSIDeviceState(rawValue: p.state) ?? .offline,
                  aluaState: p.aluaState, preferred: p.preferredPath ?? false, sizeSectors: p.sizeBytes.map { $0 / 512 })
    }
}

/// Path grouping (multipath-tools' pgpolicies.c) and pathagent's ALUA rule.
public enum PathGrouping {
    public static let mixedALUARule = "paths show different ALUA states"

    /// pathagent's ALUA rule: Pure's guide says multibus, but when the paths of one volume
    /// report different ALUA states (an ActiveCluster pod seen through two arrays: the local
    /// array's ports active/optimized, the remote's active/non-optimized), multibus would spread
    /// I/O over the slow remote paths. Then switch to group_by_prio + prio alua + failback
    /// immediate, so the kernel uses the optimized group and returns to it when it recovers.
    /// Only replaces a multibus that came from a default or a vendor profile; a policy set in
    /// the config file or by the caller is respected.
    ///
    /// Hardware handler: the rule also sets `1 alua` in the table. The kernel attaches
    /// scsi_dh_alua to TPGS-capable LUs at scan time and dm-mpath keeps an attached handler
    /// (retain_attached_hw_handler is implied since Linux 4.3), so the word changes no handler;
    /// it does make dm-mpath run pg_init (an RTPG refresh) when it switches groups, which is
    /// what multipath-tools' PURE hwtable entry (2020, `hwhandler "1 alua"`) asks for too.
    public static func applyALUARule(_ settings: MultipathSettings, paths: [MultipathPathInfo]) -> MultipathSettings {
        let states = Set(paths.compactMap(\.aluaState))
        guard states.count > 1, settings.pathGroupingPolicy.value == .multibus else { return settings }
        switch settings.pathGroupingPolicy.origin {
        case .configFile, .override: return settings
        case .builtinDefault, .vendorProfile, .rule: break
        }
        var s = settings
        let o = SettingOrigin.rule(mixedALUARule)
        s.pathGroupingPolicy = Setting(.groupByPrio, o)
        s.prio = Setting("alua", o)
        s.failback = Setting(.immediate, o)
        s.hardwareHandler = Setting(["alua"], o)
        return s
    }

    /// False while a path's target port group is in transition (`transitioning`): the array
    /// has not settled, and grouping by that state would reload the map twice for one change.
    public static func aluaSettled(_ paths: [MultipathPathInfo]) -> Bool {
        !paths.contains { $0.aluaState == .transitioning }
    }

    /// Why the paths are grouped as they are, for operators (`pathctl maps`): the policy in
    /// force and where it came from, and what the paths' ALUA states say, e.g.
    /// `group_by_prio (rule: paths show different ALUA states): active/optimized paths first,
    /// then active/non-optimized`. `settings` are the ones after `applyALUARule`.
    public static func reason(_ settings: MultipathSettings, paths: [MultipathPathInfo]) -> String {
        let policy = settings.pathGroupingPolicy
        let head = "\(policy.value.rawValue) (\(policy.origin))"
        func label(_ p: MultipathPathInfo) -> String {
            (p.aluaState?.rawValue ?? "no ALUA state") + (p.preferred ? " (preferred)" : "")
        }
        let states = Set(paths.compactMap(\.aluaState))
        switch policy.value {
        case .groupByPrio, .failover:
            var order: [String] = []
            for p in paths.sorted(by: { priority(of: $0, prio: settings.prio.value) > priority(of: $1, prio: settings.prio.value) })
            where !order.contains(label(p)) {
                order.append(label(p))
            }
            guard let first = order.first else { return head }
            let rest = order.dropFirst()
            return "\(head): \(first) paths first" + (rest.isEmpty ? "" : ", then " + rest.joined(separator: ", then "))
        case .multibus:
            if states.isEmpty { return "\(head): no path reports an ALUA state" }
            if states.count == 1 {
                let s = states.first!.rawValue
                return paths.allSatisfy({ $0.aluaState != nil }) ? "\(head): every path reports \(s)"
                    : "\(head): the paths that report an ALUA state agree (\(s))"
            }
            return "\(head): kept although the paths show different ALUA states (\(states.map(\.rawValue).sorted().joined(separator: ", "))): the ALUA rule does not replace a policy set there"
        case .groupBySerial, .groupByNodeName:
            return head
        }
    }

    /// The priority of a path under the given prioritizer.
    public static func priority(of p: MultipathPathInfo, prio: String) -> Int {
        if let explicit = p.priority { return explicit }
        if prio == "alua", let a = p.aluaState { return a.priority(preferred: p.preferred) }
        if prio == "alua" { return 0 }
        return 1
    }

    /// Groups paths per policy. Deterministic: groups by priority (highest first), paths within
    /// a group by device number. Every path is kept, whatever its state: like multipath-tools,
    /// the map holds all paths and failed ones are failed by message after the load, so they
    /// can be reinstated later without a table reload.
    public static func group(_ paths: [MultipathPathInfo], policy: PathGroupingPolicy, prio: String) throws -> [[MultipathPathInfo]] {
        let sorted = paths.sorted { $0.device < $1.device }
        switch policy {
        case .multibus:
            return sorted.isEmpty ? [] : [sorted]
        case .failover:
            return sorted.enumerated()
                .sorted { a, b in
                    let pa = priority(of: a.element, prio: prio), pb = priority(of: b.element, prio: prio)
                    return pa != pb ? pa > pb : a.offset < b.offset
                }
                .map { [$0.element] }
        case .groupByPrio:
            var byPrio: [Int: [MultipathPathInfo]] = [:]
            for p in sorted { byPrio[priority(of: p, prio: prio), default: []].append(p) }
            return byPrio.keys.sorted(by: >).map { byPrio[$0]! }
        case .groupBySerial, .groupByNodeName:
            throw PathCoreError(.unsupported, "path_grouping_policy \(policy.rawValue) is not supported by pathagent (use multibus, failover or group_by_prio)")
        }
    }

    /// Per-path table arguments the selector takes (what multipath-tools writes):
    /// round-robin and queue-length a repeat count of 1, service-time repeat count and
    /// relative throughput `1 1`.
    public static func pathArgs(forSelector name: String) throws -> [String] {
        switch name {
        case "queue-length", "round-robin": return ["1"]
        case "service-time": return ["1", "1"]
        default:
            throw PathCoreError(.unsupported, "path selector '\(name)' is not supported by the map planner")
        }
    }
}
