public import PathCore

/// Wire types of pathagent's local API (HTTP/1.1 + JSON on a Unix socket), shared by the
/// daemon, `pathctl` and the FlashArray module. Keys are snake_case as os-brick spells
/// them; every type encodes with explicit coding keys, so any JSON encoder gives the
/// same keys regardless of its key strategy.
///
/// Anything that can hold a secret (connection properties carry `auth_password` and
/// `discovery_auth_password`) redacts it in `description`, `debugDescription` and
/// `dump`, and offers `redacted()`: encode that copy for logs.

/// `protocol` of a request: os-brick's connector protocol.
public enum VolumeProtocol: String, Sendable, Codable, CaseIterable {
    case iscsi
    case fc

    /// Also accepts os-brick's and Cinder's spellings (`ISCSI`, `FIBRE_CHANNEL`,
    /// `fibre_channel`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        try self.init(text: try c.decode(String.self))
    }

    public init(text s: String) throws {
        switch s.lowercased() {
        case "iscsi": self = .iscsi
        case "fc", "fibre_channel": self = .fc
        default:
            throw PathCoreError(
                .invalidValue, "protocol \(ConnectionValidators.argvSafeQuote(s)) is not iscsi or fc", key: "protocol")
        }
    }
}

/// A validated connection spec of either protocol.
public enum ConnectionSpec: Sendable, Equatable {
    case iscsi(ISCSIConnectionSpec)
    case fc(FCConnectionSpec)

    public var wwn: WWN? {
        switch self {
        case .iscsi(let s): s.wwn
        case .fc(let s): s.wwn
        }
    }
}

/// `connection_properties` + `protocol`, common to connect, disconnect, extend and
/// get_volume_paths.
public struct VolumeRequestBase: Sendable, Equatable, Codable {
    public var connectionProperties: JSONValue
    public var `protocol`: VolumeProtocol

    enum CodingKeys: String, CodingKey {
        case connectionProperties = "connection_properties"
        case `protocol`
    }

    public init(connectionProperties: JSONValue, protocol: VolumeProtocol) {
        self.connectionProperties = connectionProperties
        self.protocol = `protocol`
    }

    /// Validates the properties for the request's protocol (PathCore's parser).
    public func spec() throws -> ConnectionSpec {
        switch self.protocol {
        case .iscsi: .iscsi(try ConnectionProperties.iscsi(connectionProperties))
        case .fc: .fc(try ConnectionProperties.fc(connectionProperties))
        }
    }

    /// String values of secret keys in the properties: an error text is scrubbed of them
    /// before it leaves the daemon (`APIErrorResponse(_:scrubbing:)`).
    public var secrets: [String] { connectionProperties.secretValues }
}

/// `POST /v1/volumes/connect`.
public struct ConnectVolumeRequest: Sendable, Equatable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public var connectionProperties: JSONValue
    public var `protocol`: VolumeProtocol

    enum CodingKeys: String, CodingKey {
        case connectionProperties = "connection_properties"
        case `protocol`
    }
    public init(connectionProperties: JSONValue, protocol: VolumeProtocol) {
        self.connectionProperties = connectionProperties
        self.protocol = `protocol`
    }
    public var base: VolumeRequestBase { VolumeRequestBase(connectionProperties: connectionProperties, protocol: self.protocol) }
    public func spec() throws -> ConnectionSpec { try base.spec() }
    public func redacted() -> ConnectVolumeRequest {
        ConnectVolumeRequest(connectionProperties: connectionProperties.redacted(), protocol: self.protocol)
    }
    public var description: String { "connect_volume(\(self.protocol.rawValue), \(connectionProperties.description))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["request": description]) }
}

/// `POST /v1/volumes/disconnect`: os-brick's `(connection_properties, device_info, force,
/// ignore_errors)`.
public struct DisconnectVolumeRequest: Sendable, Equatable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public var connectionProperties: JSONValue
    public var `protocol`: VolumeProtocol
    /// What connect returned; its `scsi_wwn` is used when the properties have no `wwn`.
    public var deviceInfo: DeviceInfo?
    /// Remove devices whose WWN cannot be read, keep going when a flush fails.
    public var force: Bool
    /// Report errors in the response instead of failing the call.
    public var ignoreErrors: Bool
    /// pathagent extra: leave disks that show another WWN (reported) instead of refusing.
    public var skipMismatched: Bool

    enum CodingKeys: String, CodingKey {
        case connectionProperties = "connection_properties"
        case `protocol`
        case deviceInfo = "device_info"
        case force
        case ignoreErrors = "ignore_errors"
        case skipMismatched = "skip_mismatched"
    }
    public init(
        connectionProperties: JSONValue, protocol: VolumeProtocol, deviceInfo: DeviceInfo? = nil, force: Bool = false,
        ignoreErrors: Bool = false, skipMismatched: Bool = false
    ) {
        self.connectionProperties = connectionProperties
        self.protocol = `protocol`
        self.deviceInfo = deviceInfo
        self.force = force
        self.ignoreErrors = ignoreErrors
        self.skipMismatched = skipMismatched
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        connectionProperties = try c.decode(JSONValue.self, forKey: .connectionProperties)
        self.protocol = try c.decode(VolumeProtocol.self, forKey: .protocol)
        deviceInfo = try c.decodeIfPresent(DeviceInfo.self, forKey: .deviceInfo)
        force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
        ignoreErrors = try c.decodeIfPresent(Bool.self, forKey: .ignoreErrors) ?? false
        skipMismatched = try c.decodeIfPresent(Bool.self, forKey: .skipMismatched) ?? false
    }
    public var base: VolumeRequestBase { VolumeRequestBase(connectionProperties: connectionProperties, protocol: self.protocol) }
    public func spec() throws -> ConnectionSpec { try base.spec() }

    /// The volume WWN to detach: the properties' `wwn`, else device_info `scsi_wwn`;
    /// when both are present they must agree.
    public func volumeWWN(spec: ConnectionSpec) throws -> WWN {
        let fromInfo = try deviceInfo?.scsiWWN.map { text -> WWN in
            do { return try WWN(text) } catch var e as PathCoreError {
                e.key = "device_info.scsi_wwn"
                throw e
            }
        }
        switch (spec.wwn, fromInfo) {
        case (let a?, let b?) where a != b:
            throw PathCoreError(.conflict, "wwn \(a) and device_info.scsi_wwn \(b) differ", key: "device_info.scsi_wwn")
        case (let a?, _): return a
        case (nil, let b?): return b
        case (nil, nil):
            throw PathCoreError(.missing, "missing wwn (in connection_properties) or device_info.scsi_wwn", key: "wwn")
        }
    }

    public func redacted() -> DisconnectVolumeRequest {
        var c = self
        c.connectionProperties = connectionProperties.redacted()
        return c
    }
    public var description: String {
        "disconnect_volume(\(self.protocol.rawValue), \(connectionProperties.description), device_info: \(deviceInfo.map { "\($0)" } ?? "none"), force: \(force), ignore_errors: \(ignoreErrors))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["request": description]) }
}

/// `POST /v1/volumes/extend` and `POST /v1/volumes/paths`: properties + protocol.
/// A volume request whose connection properties were validated once, where the request
/// entered the process (the API router, or an in-process caller): the spec travels with
/// it, so nothing downstream parses the properties again.
public struct Validated<Request: Sendable>: Sendable {
    public let request: Request
    public let spec: ConnectionSpec
    public init(request: Request, spec: ConnectionSpec) {
        self.request = request
        self.spec = spec
    }
}

extension ConnectVolumeRequest {
    public func validated() throws -> Validated<ConnectVolumeRequest> { Validated(request: self, spec: try spec()) }
}

extension DisconnectVolumeRequest {
    public func validated() throws -> Validated<DisconnectVolumeRequest> { Validated(request: self, spec: try spec()) }
}

extension VolumeRequestBase {
    public func validated() throws -> Validated<VolumeRequestBase> { Validated(request: self, spec: try spec()) }
}

public typealias ExtendVolumeRequest = VolumeRequestBase
public typealias GetVolumePathsRequest = VolumeRequestBase

extension VolumeRequestBase: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public func redacted() -> VolumeRequestBase {
        VolumeRequestBase(connectionProperties: connectionProperties.redacted(), protocol: self.protocol)
    }
    public var description: String { "\(self.protocol.rawValue) \(connectionProperties.description)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["request": description]) }
}

/// `POST /v1/devices/check`.
public struct CheckValidDeviceRequest: Sendable, Equatable, Codable {
    /// `/dev/dm-3`, `/dev/sdb` or `/dev/mapper/<wwn>`.
    public var path: String
    public init(path: String) { self.path = path }
    /// Validates: an absolute path under /dev, no `..`, no control characters.
    public func validatedPath() throws -> String {
        try ConnectionValidators.argvSafe(path, key: "path")
        guard path.hasPrefix("/dev/"), !path.split(separator: "/").contains("..") else {
            throw PathCoreError(.invalidValue, "path must be a device under /dev", key: "path")
        }
        return path
    }
}

public struct CheckValidDeviceResponse: Sendable, Equatable, Codable {
    public var valid: Bool
    /// Why not, when not valid (no I/O possible, not a block device...).
    public var reason: String?
    public init(valid: Bool, reason: String? = nil) {
        self.valid = valid
        self.reason = reason
    }
}
