public import PathAPI
public import PathCore

/// What the API's volume routes execute. The daemon's kernel implementation (iscsiadm,
/// sysfs scan/delete, dm maps) conforms to this; tests use scripted doubles.
///
/// Implementations take per-volume locks (`KeyedLocks`, per WWN and per portal) and run
/// blocking calls on `BlockingWorkers`; they throw `PathCoreError`, `HostStorageError` or
/// `APIErrorResponse`, which the server maps to the API's error shape (`APIErrorMapping`).
public protocol VolumeOperations: Sendable {
    /// `POST /v1/volumes/connect`.
    func connect(_ request: ConnectVolumeRequest) async throws -> ConnectVolumeResponse
    /// `POST /v1/volumes/disconnect`.
    func disconnect(_ request: DisconnectVolumeRequest) async throws -> DisconnectVolumeResponse
    /// `POST /v1/volumes/extend`.
    func extend(_ request: ExtendVolumeRequest) async throws -> ExtendVolumeResponse
    /// `POST /v1/volumes/paths`.
    func volumePaths(_ request: GetVolumePathsRequest) async throws -> GetVolumePathsResponse
    /// `POST /v1/devices/check`.
    func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse
    /// `GET /v1/connector`.
    func connectorProperties() async throws -> ConnectorProperties
}

/// The operations of a build whose kernel data path is not wired yet: every volume
/// operation throws `unsupported` (HTTP 422) and says so; connector properties are real.
/// Never a fake success.
public struct UnwiredVolumeOperations: VolumeOperations {
    public let connector: ConnectorPropertiesReader

    public init(connector: ConnectorPropertiesReader) { self.connector = connector }

    static func unwired(_ op: String) -> PathCoreError {
        PathCoreError(.unsupported, "volume operations are not wired in this build", detail: "\(op) has no kernel implementation")
    }
    public func connect(_ request: ConnectVolumeRequest) async throws -> ConnectVolumeResponse { throw Self.unwired("connect") }
    public func disconnect(_ request: DisconnectVolumeRequest) async throws -> DisconnectVolumeResponse {
        throw Self.unwired("disconnect")
    }
    public func extend(_ request: ExtendVolumeRequest) async throws -> ExtendVolumeResponse { throw Self.unwired("extend") }
    public func volumePaths(_ request: GetVolumePathsRequest) async throws -> GetVolumePathsResponse {
        throw Self.unwired("volume_paths")
    }
    public func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse {
        throw Self.unwired("check_valid_device")
    }
    public func connectorProperties() async throws -> ConnectorProperties { try await connector.read() }
}
