public import PathCore

/// os-brick's device_info: what connect returns and disconnect takes.
public struct DeviceInfo: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Always `block`.
    public var type: String
    /// The volume WWN (`3624a9370...`).
    public var scsiWWN: String?
    /// `/dev/dm-N` (multipath) or `/dev/sdX` (single path).
    public var path: String
    /// The multipath map name (the WWN) when a map was built.
    public var multipathID: String?

    enum CodingKeys: String, CodingKey {
        case type
        case scsiWWN = "scsi_wwn"
        case path
        case multipathID = "multipath_id"
    }
    public init(type: String = "block", scsiWWN: String?, path: String, multipathID: String?) {
        self.type = type
        self.scsiWWN = scsiWWN
        self.path = path
        self.multipathID = multipathID
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "block"
        scsiWWN = try c.decodeIfPresent(String.self, forKey: .scsiWWN)
        path = try c.decode(String.self, forKey: .path)
        multipathID = try c.decodeIfPresent(String.self, forKey: .multipathID)
    }
    public var description: String { "\(path) (wwn \(scsiWWN ?? "?"))" }
}

/// One path of a volume in a response.
public struct PathInfo: Sendable, Equatable, Codable {
    public var hctl: HCTL
    /// `sdb`.
    public var device: String?
    /// `iscsi` or `fc`.
    public var transport: String
    /// iSCSI: `portal` and `target_iqn`; FC: `target_wwpn` and `initiator_wwpn`.
    public var portal: String?
    public var targetIQN: String?
    public var targetWWPN: String?
    public var initiatorWWPN: String?
    /// `active`, `failed`, `missing` (expected but not found), `wwn_mismatch`.
    public var state: String
    /// ALUA access state when known (`active/optimized`, `active/non-optimized`, `standby`...).
    public var alua: String?

    enum CodingKeys: String, CodingKey {
        case hctl, device, transport, portal
        case targetIQN = "target_iqn"
        case targetWWPN = "target_wwpn"
        case initiatorWWPN = "initiator_wwpn"
        case state, alua
    }
    public init(
        hctl: HCTL, device: String?, transport: String, portal: String? = nil, targetIQN: String? = nil,
        targetWWPN: String? = nil, initiatorWWPN: String? = nil, state: String, alua: String? = nil
    ) {
        self.hctl = hctl
        self.device = device
        self.transport = transport
        self.portal = portal
        self.targetIQN = targetIQN
        self.targetWWPN = targetWWPN
        self.initiatorWWPN = initiatorWWPN
        self.state = state
        self.alua = alua
    }
}

/// Duration of one step of an operation.
public struct StepTiming: Sendable, Equatable, Codable {
    /// `login`, `scan`, `wait_devices`, `verify_wwn`, `build_map`, `flush`, `delete`...
    public var step: String
    public var milliseconds: Double
    enum CodingKeys: String, CodingKey {
        case step
        case milliseconds = "ms"
    }
    public init(step: String, milliseconds: Double) {
        self.step = step
        self.milliseconds = milliseconds
    }
}

/// Result of connect_volume: os-brick's device_info keys at top level (so os-brick
/// callers read it unchanged) plus pathagent's extras.
public struct ConnectVolumeResponse: Sendable, Equatable, Codable {
    public var deviceInfo: DeviceInfo
    public var paths: [PathInfo]
    /// Fewer paths than planned came up (the volume is usable).
    public var degraded: Bool
    public var timings: [StepTiming]

    enum CodingKeys: String, CodingKey {
        case paths, degraded, timings
    }
    public init(deviceInfo: DeviceInfo, paths: [PathInfo], degraded: Bool, timings: [StepTiming]) {
        self.deviceInfo = deviceInfo
        self.paths = paths
        self.degraded = degraded
        self.timings = timings
    }
    public init(from decoder: any Decoder) throws {
        deviceInfo = try DeviceInfo(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        paths = try c.decodeIfPresent([PathInfo].self, forKey: .paths) ?? []
        degraded = try c.decodeIfPresent(Bool.self, forKey: .degraded) ?? false
        timings = try c.decodeIfPresent([StepTiming].self, forKey: .timings) ?? []
    }
    public func encode(to encoder: any Encoder) throws {
        try deviceInfo.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(paths, forKey: .paths)
        try c.encode(degraded, forKey: .degraded)
        try c.encode(timings, forKey: .timings)
    }
}

/// Result of disconnect_volume: what was removed and what was given up or left.
public struct DisconnectVolumeResponse: Sendable, Equatable, Codable {
    /// Removed disks (`sdb`, or H:C:T:L when the disk had no block device).
    public var removedDevices: [String]
    public var removedMap: String?
    public var loggedOutSessions: [Int]
    /// Left alone on purpose: another volume's disk, a shared session... one line each.
    public var kept: [String]
    /// Errors swallowed under `ignore_errors` (or steps given up under `force`).
    public var ignoredErrors: [APIErrorBody]
    public var timings: [StepTiming]

    enum CodingKeys: String, CodingKey {
        case removedDevices = "removed_devices"
        case removedMap = "removed_map"
        case loggedOutSessions = "logged_out_sessions"
        case kept
        case ignoredErrors = "ignored_errors"
        case timings
    }
    public init(
        removedDevices: [String], removedMap: String?, loggedOutSessions: [Int], kept: [String],
        ignoredErrors: [APIErrorBody] = [], timings: [StepTiming] = []
    ) {
        self.removedDevices = removedDevices
        self.removedMap = removedMap
        self.loggedOutSessions = loggedOutSessions
        self.kept = kept
        self.ignoredErrors = ignoredErrors
        self.timings = timings
    }
}

/// Result of extend_volume: the new size (os-brick returns it in bytes).
public struct ExtendVolumeResponse: Sendable, Equatable, Codable {
    public var newSize: UInt64
    enum CodingKeys: String, CodingKey { case newSize = "new_size" }
    public init(newSize: UInt64) { self.newSize = newSize }
}

/// Result of get_volume_paths: the volume's disk paths (`/dev/sdb`...).
public struct GetVolumePathsResponse: Sendable, Equatable, Codable {
    public var paths: [String]
    public init(paths: [String]) { self.paths = paths }
}

/// Result of get_connector_properties, os-brick's keys (including `system uuid` with
/// its space).
public struct ConnectorProperties: Sendable, Equatable, Codable {
    /// From /etc/iscsi/initiatorname.iscsi; nil when open-iscsi is not configured.
    public var initiator: String?
    /// Online FC ports only; nil when the host has no FC.
    public var wwpns: [String]?
    public var wwnns: [String]?
    public var host: String
    public var ip: String?
    public var multipath: Bool
    public var enforceMultipath: Bool
    /// `x86_64`.
    public var platform: String
    /// `linux` (os-brick reports `sys.platform`, e.g. `linux` / `linux2`).
    public var osType: String
    public var systemUUID: String?

    enum CodingKeys: String, CodingKey {
        case initiator, wwpns, wwnns, host, ip, multipath
        case enforceMultipath = "enforce_multipath"
        case platform
        case osType = "os_type"
        case systemUUID = "system uuid"
    }
    public init(
        initiator: String?, wwpns: [String]?, wwnns: [String]?, host: String, ip: String?, multipath: Bool,
        enforceMultipath: Bool, platform: String, osType: String, systemUUID: String?
    ) {
        self.initiator = initiator
        self.wwpns = wwpns
        self.wwnns = wwnns
        self.host = host
        self.ip = ip
        self.multipath = multipath
        self.enforceMultipath = enforceMultipath
        self.platform = platform
        self.osType = osType
        self.systemUUID = systemUUID
    }
    /// Omits absent optional keys (os-brick leaves out `initiator` / `wwpns` when the
    /// protocol is not configured).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(initiator, forKey: .initiator)
        try c.encodeIfPresent(wwpns, forKey: .wwpns)
        try c.encodeIfPresent(wwnns, forKey: .wwnns)
        try c.encode(host, forKey: .host)
        try c.encodeIfPresent(ip, forKey: .ip)
        try c.encode(multipath, forKey: .multipath)
        try c.encode(enforceMultipath, forKey: .enforceMultipath)
        try c.encode(platform, forKey: .platform)
        try c.encode(osType, forKey: .osType)
        try c.encodeIfPresent(systemUUID, forKey: .systemUUID)
    }
}

/// Every path the agent sees, grouped by volume. (`GET /v1/paths` serves PathCore's
/// `Topology` as is; this is the compact shape for clients that want only volumes.)
public struct PathsResponse: Sendable, Equatable, Codable {
    public var volumes: [VolumePaths]
    public init(volumes: [VolumePaths]) { self.volumes = volumes }
}

public struct VolumePaths: Sendable, Equatable, Codable {
    public var wwn: WWN
    /// Map name and `dm-N` when a multipath map exists.
    public var map: String?
    public var dmDevice: String?
    public var paths: [PathInfo]
    enum CodingKeys: String, CodingKey {
        case wwn, map
        case dmDevice = "dm_device"
        case paths
    }
    public init(wwn: WWN, map: String?, dmDevice: String?, paths: [PathInfo]) {
        self.wwn = wwn
        self.map = map
        self.dmDevice = dmDevice
        self.paths = paths
    }
}

/// `GET /v1/health`.
public struct HealthResponse: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case ok, degraded, failed
    }
    public struct Volume: Sendable, Equatable, Codable {
        public var wwn: WWN
        public var status: Status
        public var pathsTotal: Int
        public var pathsActive: Int
        enum CodingKeys: String, CodingKey {
            case wwn, status
            case pathsTotal = "paths_total"
            case pathsActive = "paths_active"
        }
        public init(wwn: WWN, status: Status, pathsTotal: Int, pathsActive: Int) {
            self.wwn = wwn
            self.status = status
            self.pathsTotal = pathsTotal
            self.pathsActive = pathsActive
        }
    }
    public var status: Status
    public var volumes: [Volume]
    public init(status: Status, volumes: [Volume]) {
        self.status = status
        self.volumes = volumes
    }
    /// Worst status of the volumes (`ok` when there are none).
    public static func overall(_ volumes: [Volume]) -> Status {
        if volumes.contains(where: { $0.status == .failed }) { return .failed }
        if volumes.contains(where: { $0.status == .degraded }) { return .degraded }
        return .ok
    }
}
