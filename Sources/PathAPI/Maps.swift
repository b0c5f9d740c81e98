/// `GET /v1/maps` and `pathctl maps`: each map the agent watches, its live table, the
/// per-path state (dm active/failed, last TUR verdict, fail count, cause of the last
/// change) and the multipath settings in force with where each value came from.
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
    public struct Map: Sendable, Codable, Equatable {
        public var name: String
        public var device: String
        public var table: String?
        public var vendor: String?
        public var product: String?
        public var paths: [MonitoredPath]
        public var activePaths: Int
        public var settings: [Setting]
        public init(name: String, device: String, table: String?, vendor: String?, product: String?, paths: [MonitoredPath],
                    activePaths: Int, settings: [Setting]) {
            self.name = name
            self.device = device
            self.table = table
            self.vendor = vendor
            self.product = product
            self.paths = paths
            self.activePaths = activePaths
            self.settings = settings
        }
    }
    public var maps: [Map]
    public init(maps: [Map]) { self.maps = maps }
}
