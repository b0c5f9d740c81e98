/// `max_over_subscription_ratio` as the scheduler receives it: `auto` or a number.
public enum OversubscriptionRatio: Sendable, Equatable, Codable, CustomStringConvertible {
    case auto
    case ratio(Double)
    public init(config: String) {
        if config == "auto" { self = .auto } else { self = .ratio(Double(config) ?? 20.0) }
    }
    public var description: String {
        switch self { case .auto: "auto"; case .ratio(let r): "\(r)" }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self { case .auto: try c.encode("auto"); case .ratio(let r): try c.encode(r) }
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self.init(config: s) } else { self = .ratio(try c.decode(Double.self)) }
    }
}

/// The capacity part of the Pure driver's `_update_volume_stats` (GiB as floats).
public struct CapacityStats: Sendable, Equatable, Codable {
    public var totalCapacityGB: Double
    public var freeCapacityGB: Double
    public var provisionedCapacityGB: Double
    public var reservedPercentage: Int
    public var maxOverSubscriptionRatio: OversubscriptionRatio
    public var thinProvisioningSupport = true
    /// The array's `space.total_reduction` (nil when not reported, e.g. Evergreen//One).
    public var totalReduction: Double?
    public var dataReduction: Double?
    public var thinProvisioning: Double?

    enum CodingKeys: String, CodingKey {
        case totalCapacityGB = "total_capacity_gb", freeCapacityGB = "free_capacity_gb"
        case provisionedCapacityGB = "provisioned_capacity_gb", reservedPercentage = "reserved_percentage"
        case maxOverSubscriptionRatio = "max_over_subscription_ratio", thinProvisioningSupport = "thin_provisioning_support"
        case totalReduction = "total_reduction", dataReduction = "data_reduction", thinProvisioning = "thin_provisioning"
    }

    static let gib = 1024.0 * 1024.0 * 1024.0

    /// How the automatic ratio is derived when `pure_automatic_max_oversubscription_ratio` is on.
    public enum AutomaticMethod: Sendable {
        /// Current driver: the array's `total_reduction` when it is below 100, else the config value.
        case totalReduction
        /// Original driver: provisioned / used when both are non-zero, else the config value.
        case provisionedOverUsed
    }

    /// From `GET /arrays/space` and the backend's options.
    public static func compute(space s: ArraySpace, config: PureBackendConfig, method: AutomaticMethod = .totalReduction) -> CapacityStats {
        let total = Double(s.capacity ?? 0) / gib
        let used = Double(s.space?.totalPhysical ?? 0) / gib
        let provisionedBytes = s.space?.totalProvisioned ?? s.space?.usedProvisioned ?? 0
        let provisioned = Double(provisionedBytes) / gib
        let configured = OversubscriptionRatio(config: config.maxOverSubscriptionRatio)
        var ratio = configured
        if config.pureAutomaticMaxOversubscriptionRatio {
            switch method {
            case .totalReduction:
                let tr = s.space?.totalReduction ?? 999
                if tr < 100 { ratio = .ratio(tr) }
            case .provisionedOverUsed:
                if used != 0, provisioned != 0 { ratio = .ratio(provisioned / used) }
            }
        }
        return CapacityStats(totalCapacityGB: total, freeCapacityGB: total - used, provisionedCapacityGB: provisioned,
                             reservedPercentage: config.reservedPercentage, maxOverSubscriptionRatio: ratio,
                             totalReduction: s.space?.totalReduction, dataReduction: s.space?.dataReduction,
                             thinProvisioning: s.space?.thinProvisioning)
    }

    /// The ratio the scheduler applies (Cinder `sched_utils.calculate_max_over_subscription_ratio`):
    /// `auto` becomes 1 + provisioned / (used + 1), or 20 while nothing is provisioned.
    public var effectiveRatio: Double {
        switch maxOverSubscriptionRatio {
        case .ratio(let r): return r
        case .auto:
            guard provisionedCapacityGB != 0 else { return 20.0 }
            return 1 + provisionedCapacityGB / (totalCapacityGB - freeCapacityGB + 1)
        }
    }
}
