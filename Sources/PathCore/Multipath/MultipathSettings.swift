/// Where a multipath setting's value came from, like multipath-tools' propsel.c
/// ("(setting: storage device configuration)", "(setting: multipath.conf defaults/devices section)").
public enum SettingOrigin: Hashable, Sendable, CustomStringConvertible {
    /// pathagent's built-in default (multipath-tools' compiled-in defaults).
    case builtinDefault
    /// A vendor profile from the hardware table, e.g. `PURE/FlashArray`.
    case vendorProfile(String)
    /// A line of a pathagent multipath config file.
    case configFile(path: String, line: Int)
    /// Set by the caller (CLI flag, API request).
    case override
    /// Chosen by one of pathagent's own rules; the string says which (e.g. mixed ALUA states).
    case rule(String)

    public var description: String {
        switch self {
        case .builtinDefault: "built-in default"
        case .vendorProfile(let p): "vendor profile \(p)"
        case .configFile(let path, let line): "\(path):\(line)"
        case .override: "override"
        case .rule(let why): "rule: \(why)"
        }
    }
}

/// A setting value together with its origin.
public struct Setting<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var origin: SettingOrigin
    public init(_ value: Value, _ origin: SettingOrigin) {
        self.value = value
        self.origin = origin
    }
}

public enum PathGroupingPolicy: String, Hashable, Sendable, CaseIterable {
    /// One path per group.
    case failover
    /// All paths in one group.
    case multibus
    case groupBySerial = "group_by_serial"
    /// One group per priority value, highest first.
    case groupByPrio = "group_by_prio"
    case groupByNodeName = "group_by_node_name"
}

/// multipath-tools' `no_path_retry`: `fail` (also written `0`), `queue`, or N checker intervals
/// of queueing before failing.
public enum NoPathRetry: Hashable, Sendable, CustomStringConvertible {
    case fail
    case queue
    case retries(Int)

    public init(parsing s: String) throws {
        switch s {
        case "fail", "0": self = .fail
        case "queue": self = .queue
        default:
            guard let n = Int(s), n > 0 else {
                throw PathCoreError(.invalidValue, "no_path_retry must be 'fail', 'queue' or a positive number, got '\(s)'")
            }
            self = .retries(n)
        }
    }

    public var description: String {
        switch self {
        case .fail: "fail"
        case .queue: "queue"
        case .retries(let n): String(n)
        }
    }
}

/// multipath-tools' `failback`: when to return to the highest-priority group.
public enum Failback: Hashable, Sendable, CustomStringConvertible {
    case manual
    case immediate
    case followover
    case seconds(Int)

    public init(parsing s: String) throws {
        switch s {
        case "manual": self = .manual
        case "immediate": self = .immediate
        case "followover": self = .followover
        default:
            guard let n = Int(s), n > 0 else {
                throw PathCoreError(.invalidValue, "failback must be manual, immediate, followover or seconds, got '\(s)'")
            }
            self = .seconds(n)
        }
    }

    public var description: String {
        switch self {
        case .manual: "manual"
        case .immediate: "immediate"
        case .followover: "followover"
        case .seconds(let n): String(n)
        }
    }
}

/// Every setting of the Pure multipath table plus Pure's udev queue settings, each with its origin.
/// Optional values mean "leave the kernel's value alone".
public struct MultipathSettings: Hashable, Sendable {
    /// Checker period in seconds.
    public var pollingInterval: Setting<Int>
    /// Path selector with its selector arguments, e.g. `queue-length 0`.
    public var pathSelector: Setting<String>
    public var pathGroupingPolicy: Setting<PathGroupingPolicy>
    public var pathChecker: Setting<String>
    /// FC rport fast_io_fail_tmo in seconds (nil = `off`). For iSCSI see `iscsiRecoveryTmo`.
    public var fastIOFailTmo: Setting<Int?>
    /// FC rport dev_loss_tmo in seconds.
    public var devLossTmo: Setting<Int?>
    public var noPathRetry: Setting<NoPathRetry>
    /// dm feature words (without the count): `[]` for `features "0"`.
    public var features: Setting<[String]>
    /// dm hardware handler words (without the count): `[]` for `"0"`, `["alua"]` for `"1 alua"`.
    public var hardwareHandler: Setting<[String]>
    /// Prioritizer: `const` or `alua`.
    public var prio: Setting<String>
    public var failback: Setting<Failback>
    public var detectPrio: Setting<Bool>
    public var maxSectorsKB: Setting<Int?>
    /// `queue/scheduler` (`none`).
    public var scheduler: Setting<String?>
    /// `queue/add_random`.
    public var addRandom: Setting<Int?>
    /// `queue/rq_affinity`.
    public var rqAffinity: Setting<Int?>
    /// `device/timeout` of each SCSI path device, seconds.
    public var deviceTimeout: Setting<Int?>

    /// On iSCSI, fast_io_fail_tmo becomes the session's `replacement_timeout`
    /// (`node.session.timeo.replacement_timeout`, the kernel's `recovery_tmo`); same value, same origin.
    public var iscsiRecoveryTmo: Setting<Int?> { fastIOFailTmo }

    /// The selector name and its arguments without the count: `queue-length 0` gives
    /// (`queue-length`, `[]`), `round-robin 1 100` gives (`round-robin`, `["100"]`).
    public var selectorNameAndArgs: (name: String, args: [String]) {
        let w = pathSelector.value.split(separator: " ").map(String.init)
        return (w.first ?? "", Array(w.dropFirst(2)))
    }

    /// Every setting as (key, value text, origin), in multipath.conf key names. For `pathctl`
    /// and logs ("where does this value come from").
    public var listing: [(key: String, value: String, origin: SettingOrigin)] {
        func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "unset" }
        func words(_ w: [String]) -> String { ([String(w.count)] + w).joined(separator: " ") }
        return [
            ("polling_interval", String(pollingInterval.value), pollingInterval.origin),
            ("path_selector", pathSelector.value, pathSelector.origin),
            ("path_grouping_policy", pathGroupingPolicy.value.rawValue, pathGroupingPolicy.origin),
            ("path_checker", pathChecker.value, pathChecker.origin),
            ("fast_io_fail_tmo", fastIOFailTmo.value.map(String.init) ?? "off", fastIOFailTmo.origin),
            ("dev_loss_tmo", opt(devLossTmo.value), devLossTmo.origin),
            ("no_path_retry", noPathRetry.value.description, noPathRetry.origin),
            ("features", words(features.value), features.origin),
            ("hardware_handler", words(hardwareHandler.value), hardwareHandler.origin),
            ("prio", prio.value, prio.origin),
            ("failback", failback.value.description, failback.origin),
            ("detect_prio", detectPrio.value ? "yes" : "no", detectPrio.origin),
            ("max_sectors_kb", opt(maxSectorsKB.value), maxSectorsKB.origin),
            ("scheduler", opt(scheduler.value), scheduler.origin),
            ("add_random", opt(addRandom.value), addRandom.origin),
            ("rq_affinity", opt(rqAffinity.value), rqAffinity.origin),
            ("device_timeout", opt(deviceTimeout.value), deviceTimeout.origin),
        ]
    }

    /// The dm feature words to load: the configured features plus `queue_if_no_path` when
    /// no_path_retry says queue (or retries: multipathd queues and later sends fail_if_no_path),
    /// minus it when no_path_retry is fail — multipath-tools' select_features/`no_path_retry` rule.
    public var effectiveFeatures: [String] {
        var f = features.value.filter { $0 != "queue_if_no_path" }
        switch noPathRetry.value {
        case .fail: break
        case .queue, .retries: f.insert("queue_if_no_path", at: 0)
        }
        return f
    }
}
