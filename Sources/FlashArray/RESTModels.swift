// Codable shapes of the FlashArray REST 2.x resources the data path uses. Field names
// follow Pure's OpenAPI models (as shipped in py-pure-client's `flasharray` models):
// every field is optional on decode, because the array omits what does not apply.

/// A list response: `{"items": [...], "continuation_token", "more_items_remaining", "total_item_count"}`.
public struct ListResponse<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var continuationToken: String?
    public var moreItemsRemaining: Bool?
    public var totalItemCount: Int?
    enum CodingKeys: String, CodingKey {
        case items
        case continuationToken = "continuation_token"
        case moreItemsRemaining = "more_items_remaining"
        case totalItemCount = "total_item_count"
    }
    public init(items: [Item], continuationToken: String? = nil, moreItemsRemaining: Bool? = nil, totalItemCount: Int? = nil) {
        self.items = items
        self.continuationToken = continuationToken
        self.moreItemsRemaining = moreItemsRemaining
        self.totalItemCount = totalItemCount
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []
        continuationToken = try c.decodeIfPresent(String.self, forKey: .continuationToken)
        moreItemsRemaining = try c.decodeIfPresent(Bool.self, forKey: .moreItemsRemaining)
        totalItemCount = try c.decodeIfPresent(Int.self, forKey: .totalItemCount)
    }
}

/// `{"errors": [{"context": "...", "message": "..."}]}`
public struct ErrorResponse: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public var context: String?
        public var message: String?
    }
    public var errors: [Item]
}

/// `GET /api/api_version` -> `{"version": ["2.0", ...]}`
public struct APIVersions: Codable, Sendable {
    public var version: [String]
}

/// Reference `{"id", "name"}`.
public struct Reference: Codable, Sendable, Hashable {
    public var id: String?
    public var name: String?
    public init(id: String? = nil, name: String? = nil) { self.id = id; self.name = name }
}

/// Space accounting of an array or volume (bytes; ratios are plain numbers).
public struct Space: Codable, Sendable, Hashable {
    public var dataReduction: Double?
    public var shared: Int64?
    public var snapshots: Int64?
    public var system: Int64?
    public var thinProvisioning: Double?
    public var totalPhysical: Int64?
    public var totalProvisioned: Int64?
    public var totalReduction: Double?
    public var totalUsed: Int64?
    public var unique: Int64?
    public var usedProvisioned: Int64?
    public var virtual: Int64?
    enum CodingKeys: String, CodingKey {
        case dataReduction = "data_reduction", shared, snapshots, system
        case thinProvisioning = "thin_provisioning", totalPhysical = "total_physical"
        case totalProvisioned = "total_provisioned", totalReduction = "total_reduction"
        case totalUsed = "total_used", unique, usedProvisioned = "used_provisioned", virtual
    }
    public init() {}
}

/// `GET /arrays` item.
public struct ArrayInfo: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var capacity: Int64?
    public var os: String?
    public var version: String?
    public var space: Space?
}

/// `GET /arrays/space` item.
public struct ArraySpace: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var capacity: Int64?
    public var space: Space?
    public var time: Int64?
}

/// `GET /controllers` item. `status`: `ready`, `not ready`, `unknown`, `updating`;
/// `mode`: `primary`, `secondary`, `offline`, `not present`.
public struct Controller: Codable, Sendable {
    public var name: String?
    public var mode: String?
    public var model: String?
    public var status: String?
    public var type: String?
    public var version: String?
    public var isReady: Bool { status == "ready" }
}

/// `GET /ports` item: name `CT0.ETH4`, iSCSI `portal` `ip:port` + `iqn`, FC `wwn`
/// (colon-separated upper-case hex on real arrays).
public struct ArrayPort: Codable, Sendable, Hashable {
    public var name: String?
    public var iqn: String?
    public var nqn: String?
    public var portal: String?
    public var wwn: String?
    public var failover: String?
    public init(name: String?, iqn: String? = nil, portal: String? = nil, wwn: String? = nil, nqn: String? = nil, failover: String? = nil) {
        self.name = name; self.iqn = iqn; self.portal = portal; self.wwn = wwn; self.nqn = nqn; self.failover = failover
    }
    /// The controller part of the name (`CT0` of `CT0.ETH4`).
    public var controllerName: String? { name.flatMap { $0.split(separator: ".").first.map(String.init) } }
}

/// `GET /network-interfaces` item.
public struct NetworkInterface: Codable, Sendable {
    public struct Eth: Codable, Sendable {
        public var address: String?
        public var gateway: String?
        public var macAddress: String?
        public var mtu: Int?
        public var netmask: String?
        public var subtype: String?
        public var vlan: Int?
        enum CodingKeys: String, CodingKey { case address, gateway, macAddress = "mac_address", mtu, netmask, subtype, vlan }
    }
    public struct FC: Codable, Sendable { public var wwn: String? }
    public var name: String?
    public var enabled: Bool?
    public var eth: Eth?
    public var fc: FC?
    public var interfaceType: String?
    public var services: [String]?
    public var speed: Int64?
    enum CodingKeys: String, CodingKey { case name, enabled, eth, fc, interfaceType = "interface_type", services, speed }
}

/// CHAP settings of a host (passwords are secrets).
public struct Chap: Codable, Sendable, Hashable {
    public var hostUser: String?
    public var hostPassword: Secret?
    public var targetUser: String?
    public var targetPassword: Secret?
    enum CodingKeys: String, CodingKey {
        case hostUser = "host_user", hostPassword = "host_password", targetUser = "target_user", targetPassword = "target_password"
    }
    public init(hostUser: String? = nil, hostPassword: Secret? = nil, targetUser: String? = nil, targetPassword: Secret? = nil) {
        self.hostUser = hostUser; self.hostPassword = hostPassword; self.targetUser = targetUser; self.targetPassword = targetPassword
    }
}

/// The array's view of a host's paths: `status` `healthy|unhealthy|critical`, `details`
/// `Redundant`, `Redundant-Failover`, `Uneven`, `Unused Port`, `Single Controller`,
/// `Single Controller-Failover`, `None`, `N/A`.
public struct HostPortConnectivity: Codable, Sendable, Hashable {
    public var details: String?
    public var status: String?
    public init(details: String? = nil, status: String? = nil) { self.details = details; self.status = status }
}

/// `GET /hosts` item.
public struct ArrayHost: Codable, Sendable {
    public var name: String?
    public var chap: Chap?
    public var connectionCount: Int?
    public var iqns: [String]?
    public var wwns: [String]?
    public var nqns: [String]?
    public var isLocal: Bool?
    public var personality: String?
    public var portConnectivity: HostPortConnectivity?
    public var preferredArrays: [Reference]?
    enum CodingKeys: String, CodingKey {
        case name, chap, connectionCount = "connection_count", iqns, wwns, nqns, isLocal = "is_local"
        case personality, portConnectivity = "port_connectivity", preferredArrays = "preferred_arrays"
    }
}

/// Body of `POST /hosts?names=` and `PATCH /hosts?names=`.
public struct HostPost: Codable, Sendable {
    public var iqns: [String]?
    public var wwns: [String]?
    public var personality: String?
    public var chap: Chap?
    public init(iqns: [String]? = nil, wwns: [String]? = nil, personality: String? = nil, chap: Chap? = nil) {
        self.iqns = iqns; self.wwns = wwns; self.personality = personality; self.chap = chap
    }
}

/// `GET /volumes` item.
public struct Volume: Codable, Sendable {
    public var id: String?
    public var name: String?
    public var connectionCount: Int?
    public var created: Int64?
    public var destroyed: Bool?
    public var provisioned: Int64?
    public var serial: String?
    public var space: Space?
    public var timeRemaining: Int64?
    enum CodingKeys: String, CodingKey {
        case id, name, connectionCount = "connection_count", created, destroyed, provisioned, serial, space
        case timeRemaining = "time_remaining"
    }
}

/// Body of `POST /volumes?names=` (`provisioned`) and `PATCH /volumes?names=`
/// (`provisioned` to resize, `destroyed` to destroy or recover).
public struct VolumePatch: Codable, Sendable {
    public var provisioned: Int64?
    public var destroyed: Bool?
    public init(provisioned: Int64? = nil, destroyed: Bool? = nil) { self.provisioned = provisioned; self.destroyed = destroyed }
}

/// `GET|POST /connections` item.
public struct Connection: Codable, Sendable {
    public var host: Reference?
    public var hostGroup: Reference?
    public var lun: Int?
    public var volume: Reference?
    enum CodingKeys: String, CodingKey { case host, hostGroup = "host_group", lun, volume }
}

/// A resource tag `{namespace, key, value, copyable, resource}`.
public struct Tag: Codable, Sendable, Hashable {
    public var namespace: String?
    public var key: String
    public var value: String
    public var copyable: Bool?
    public var resource: Reference?
    public init(namespace: String?, key: String, value: String, copyable: Bool? = false, resource: Reference? = nil) {
        self.namespace = namespace; self.key = key; self.value = value; self.copyable = copyable; self.resource = resource
    }
}
