import HostStorage
import Logging
import PathAPI
import PathCore
import ServiceLifecycle

/// The daemon's real volume operations: the attach/detach engine, with the path monitor
/// told about new and removed maps, and metrics recorded per operation.
public struct KernelVolumeOperations: VolumeOperations {
    public let engine: VolumeEngine
    public let connector: ConnectorPropertiesReader
    public let monitor: PathMonitor
    public let metrics: PathAgentMetrics

    public init(engine: VolumeEngine, connector: ConnectorPropertiesReader, monitor: PathMonitor, metrics: PathAgentMetrics) {
        self.engine = engine
        self.connector = connector
        self.monitor = monitor
        self.metrics = metrics
    }

    static func transport(_ p: VolumeProtocol) -> Transport { p == .iscsi ? .iscsi : .fc }
    static func reason(_ e: any Error) -> String {
        if let e = e as? PathCoreError { return e.code.rawValue }
        if let e = e as? HostStorageError { return e.code.rawValue }
        return "other"
    }

    public func connect(_ v: Validated<ConnectVolumeRequest>) async throws -> ConnectVolumeResponse {
        let request = v.request
        let t0 = MonotonicClock.nanos()
        do {
            let r = try await engine.connect(v)
            metrics.attachSucceeded(transport: Self.transport(request.protocol), seconds: Double(MonotonicClock.nanos() - t0) / 1e9)
            await monitor.refresh()
            return r
        } catch {
            metrics.attachFailed(transport: Self.transport(request.protocol), reason: Self.reason(error))
            throw error
        }
    }

    public func disconnect(_ v: Validated<DisconnectVolumeRequest>) async throws -> DisconnectVolumeResponse {
        let request = v.request
        let t0 = MonotonicClock.nanos()
        do {
            let r = try await engine.disconnect(v)
            metrics.detachSucceeded(transport: Self.transport(request.protocol), seconds: Double(MonotonicClock.nanos() - t0) / 1e9)
            if let m = r.removedMap { metrics.forgetMap(m) }
            await monitor.refresh()
            return r
        } catch {
            metrics.detachFailed(transport: Self.transport(request.protocol), reason: Self.reason(error))
            throw error
        }
    }

    public func extend(_ v: Validated<ExtendVolumeRequest>) async throws -> ExtendVolumeResponse { try await engine.extend(v) }
    public func volumePaths(_ v: Validated<GetVolumePathsRequest>) async throws -> GetVolumePathsResponse { try await engine.volumePaths(v) }
    public func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse {
        try await engine.checkValidDevice(request)
    }
    public func connectorProperties() async throws -> ConnectorProperties { try await connector.read() }

    /// Metrics text for `/metrics`: maps' path counts from the monitor, then the registry.
    public func renderMetrics() async -> String {
        for m in await monitor.snapshot() {
            metrics.setMapPaths(map: m.name, active: m.active, failed: m.paths.count - m.active)
        }
        return metrics.render()
    }
}

/// Runs the path monitor inside the daemon's ServiceGroup; graceful shutdown stops it.
public struct PathMonitorService: Service {
    public let monitor: PathMonitor
    public init(monitor: PathMonitor) { self.monitor = monitor }
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            await monitor.run()
        }
        await monitor.stop()
    }
}
