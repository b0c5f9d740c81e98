/// `GET /v1/maps` and `pathctl maps`: every multipath map on the host, each marked as the
/// agent's (it created the map: a claim in its journal) or foreign (multipathd or another
/// tool made it; the agent only reads it). For the agent's maps: the live table, the
/// per-path state (dm active/failed, last TUR verdict, fail count, cause of the last
/// change) and the multipath settings in force with where each value came from; for a
/// foreign map: its table and the paths' dm state as the kernel reports them.
/// What the agent knows about one path of a managed map, for health and `pathctl maps`.
public struct MonitoredPath: Sendable, Codable, Equatable {
    public var device: String       // maj:min
    public var name: String?        // sdX
    public var dmState: String      // active | failed
    public var failCount: UInt32
    public var checker: String?     // up | down | ghost | pending | shaky (last TUR verdict)
    public var lastChangeMicros: UInt64
    public var reason: String?
    public init(device: String, name: String?, dmState: String, failCount: UInt32, checker: String?, lastChangeMicros: UInt64,
                reason: String?) {
        self.device = device
        self.name = name
        self.dmState = dmState
        self.failCount = failCount
        self.checker = checker
        self.lastChangeMicros = lastChangeMicros
        self.reason = reason
    }
}

public struct MonitoredMap: Sendable, Codable, Equatable {
    public var name: String
    public var device: String
    public var paths: [MonitoredPath]
    public var active: Int { paths.filter { $0.dmState == "active" }.count }
    public init(name: String, device: String, paths: [MonitoredPath]) {
        self.name = name
        self.device = device
        self.paths = paths
    }
}

public struct MapsResponse: Sendable, Codable, Equatable {
    public struct Setting: Sendable, Codable, Equatable {
        public var key: String
        public var value: String
        public var origin: String
        public init(key: String, value: String, origin: String) {
            self.key = key
            self.value = value
            self.origin = origin
        }
    }
    /// Who made a map: the agent (it watches, messages and reloads it) or someone else.
    public enum Owner: String, Sendable, Codable, Equatable {
        case pathagent
        case foreign
    }
    /// One path of a path group: its device, the kernel's name for it and its ALUA state.
    public struct GroupPath: Sendable, Codable, Equatable {
        public var device: String       // maj:min
        public var name: String?        // sdX
        /// The kernel's `access_state` (`active/optimized`, `active/non-optimized`, ...);
        /// nil when no ALUA device handler is attached.
        public var alua: String?
        /// The PREF bit of its target port group (`preferred_path`).
        public var preferred: Bool?
        /// The dm state of the path: active | failed.
        public var dmState: String?
        public init(device: String, name: String?, alua: String?, preferred: Bool?, dmState: String?) {
            self.device = device
            self.name = name
            self.alua = alua
            self.preferred = preferred
            self.dmState = dmState
        }
    }
    /// One priority group of the live table, in table order (group 1 is the one the kernel
    /// tries first).
    public struct PathGroup: Sendable, Codable, Equatable {
        public var number: Int
        /// From the dm status: `active` (carries I/O now), `enabled`, `disabled`.
        public var state: String?
        public var paths: [GroupPath]
        public init(number: Int, state: String?, paths: [GroupPath]) {
            self.number = number
            self.state = state
            self.paths = paths
        }
    }
    public struct Map: Sendable, Codable, Equatable {
        public var name: String
        public var device: String
        /// `pathagent` for a map the agent created, `foreign` for any other multipath map.
        public var owner: Owner
        /// The dm uuid (`mpath-<wwn>` for both the agent's maps and multipathd's).
        public var uuid: String?
        public var table: String?
        public var vendor: String?
        public var product: String?
        public var paths: [MonitoredPath]
        public var activePaths: Int
        public var settings: [Setting]
        /// The live table's path groups with each path's ALUA state.
        public var groups: [PathGroup]
        /// Why the paths are grouped so (the policy, where it came from, what the ALUA states
        /// say), and whether the live grouping is what the states want now; nil for a
        /// foreign map (its owner groups it).
        public var grouping: String?
        public init(name: String, device: String, owner: Owner = .pathagent, uuid: String? = nil, table: String?, vendor: String?,
                    product: String?, paths: [MonitoredPath], activePaths: Int, settings: [Setting], groups: [PathGroup] = [],
                    grouping: String? = nil) {
            self.name = name
            self.device = device
            self.owner = owner
            self.uuid = uuid
            self.table = table
            self.vendor = vendor
            self.product = product
            self.paths = paths
            self.activePaths = activePaths
            self.settings = settings
            self.groups = groups
            self.grouping = grouping
        }
        private enum CodingKeys: String, CodingKey {
            case name, device, owner, uuid, table, vendor, product, paths, activePaths, settings, groups, grouping
        }
        /// `owner` absent (a daemon from before the field) means the agent's: that daemon
        /// listed only the maps it watched.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            device = try c.decode(String.self, forKey: .device)
            owner = try c.decodeIfPresent(Owner.self, forKey: .owner) ?? .pathagent
            uuid = try c.decodeIfPresent(String.self, forKey: .uuid)
            table = try c.decodeIfPresent(String.self, forKey: .table)
            vendor = try c.decodeIfPresent(String.self, forKey: .vendor)
            product = try c.decodeIfPresent(String.self, forKey: .product)
            paths = try c.decode([MonitoredPath].self, forKey: .paths)
            activePaths = try c.decode(Int.self, forKey: .activePaths)
            settings = try c.decode([Setting].self, forKey: .settings)
            groups = try c.decodeIfPresent([PathGroup].self, forKey: .groups) ?? []
            grouping = try c.decodeIfPresent(String.self, forKey: .grouping)
        }
    }
    public var maps: [Map]
    public init(maps: [Map]) { self.maps = maps }
}
