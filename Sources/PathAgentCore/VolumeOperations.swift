public import PathAPI
public import PathCore

/// What the API's volume routes execute. The daemon's kernel implementation (iscsiadm,
/// sysfs scan/delete, dm maps) conforms to this; tests use scripted doubles.
///
/// Implementations take per-volume locks (`KeyedLocks`, per WWN and per portal) and run
/// blocking calls on `BlockingWorkers`; they throw `PathCoreError`, `HostStorageError` or
/// `APIErrorResponse`, which the server maps to the API's error shape (`APIErrorMapping`).
public protocol VolumeOperations: Sendable {
    /// `POST /v1/volumes/connect`. The requests come validated (`Validated`): the router
    /// parsed their connection properties once.
    func connect(_ request: Validated<ConnectVolumeRequest>) async throws -> ConnectVolumeResponse
    /// `POST /v1/volumes/disconnect`.
    func disconnect(_ request: Validated<DisconnectVolumeRequest>) async throws -> DisconnectVolumeResponse
    /// `POST /v1/volumes/extend`.
    func extend(_ request: Validated<ExtendVolumeRequest>) async throws -> ExtendVolumeResponse
    /// `POST /v1/volumes/paths`.
    func volumePaths(_ request: Validated<GetVolumePathsRequest>) async throws -> GetVolumePathsResponse
    /// `POST /v1/devices/check`.
    func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse
    /// `GET /v1/connector`.
    func connectorProperties() async throws -> ConnectorProperties
}
