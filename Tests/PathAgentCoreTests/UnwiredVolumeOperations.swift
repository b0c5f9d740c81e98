import PathAPI
import PathAgentCore
import PathCore

/// Test double: every volume operation answers `unsupported` (for error-mapping tests).
struct UnwiredVolumeOperations: VolumeOperations {
    let connector: ConnectorPropertiesReader

    init(connector: ConnectorPropertiesReader) { self.connector = connector }

    static func unwired(_ op: String) -> PathCoreError {
        PathCoreError(.unsupported, "volume operations are not wired in this build", detail: "\(op) has no kernel implementation")
    }
    func connect(_ request: Validated<ConnectVolumeRequest>) async throws -> ConnectVolumeResponse { throw Self.unwired("connect") }
    func disconnect(_ request: Validated<DisconnectVolumeRequest>) async throws -> DisconnectVolumeResponse {
        throw Self.unwired("disconnect")
    }
    func extend(_ request: Validated<ExtendVolumeRequest>) async throws -> ExtendVolumeResponse { throw Self.unwired("extend") }
    func volumePaths(_ request: Validated<GetVolumePathsRequest>) async throws -> GetVolumePathsResponse {
        throw Self.unwired("volume_paths")
    }
    func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse {
        throw Self.unwired("check_valid_device")
    }
    func connectorProperties() async throws -> ConnectorProperties { try await connector.read() }
}
