import Foundation
import HostStorage
import Logging
import PathAPI
import PathAgentCore
import PathCtlKit
import PathCore
import ServiceLifecycle
import Synchronization

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    static func props(_ name: String) throws -> JSONValue {
        try JSONValue.parse(try String(contentsOfFile: path("props/\(name)"), encoding: .utf8))
    }
    /// The CHAP secret in props/pure_iscsi_chap.json.
    static let chapPassword = "Zq8vR2xT5mWk9LpA"
}

/// A fresh temp directory, removed by the caller.
func tempDir(_ tag: String = "pa") -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString.prefix(8))").path
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// Keeps every log record (message, level, metadata) in memory for assertions.
final class LogRecorder: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var text: String { all.joined(separator: "\n") }

    func logger(_ label: String = "test") -> Logger {
        Logger(label: label) { _ in RecordingHandler(recorder: self) }
    }

    struct RecordingHandler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let meta = metadata.merging(event.metadata ?? [:]) { $1 }
            let m = meta.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            recorder.lines.withLock { $0.append("\(event.level) \(event.message) \(m)") }
        }
    }
}

/// Scripted `VolumeOperations`: records every request, answers with what the test set.
final class ScriptedOperations: VolumeOperations {
    struct State {
        var connects: [ConnectVolumeRequest] = []
        var disconnects: [DisconnectVolumeRequest] = []
        var extends: [ExtendVolumeRequest] = []
        var pathsRequests: [GetVolumePathsRequest] = []
        var checks: [CheckValidDeviceRequest] = []
        var inConnect = 0
    }
    let state = Mutex(State())
    /// Runs inside connect (e.g. to block until released); default: nothing.
    let connectGate: (@Sendable () async throws -> Void)?
    let connectError: (@Sendable (ConnectVolumeRequest) -> (any Error)?)?
    let connector: ConnectorPropertiesReader

    init(
        connector: ConnectorPropertiesReader = ConnectorPropertiesReader(
            roots: HostRoots(under: Fixtures.path("agent-host")), useMultipath: true, enforceMultipath: false,
            hostname: { "compute-01" }, ipv4: { "192.0.2.10" }),
        connectGate: (@Sendable () async throws -> Void)? = nil,
        connectError: (@Sendable (ConnectVolumeRequest) -> (any Error)?)? = nil
    ) {
        self.connector = connector
        self.connectGate = connectGate
        self.connectError = connectError
    }

    static let device = DeviceInfo(scsiWWN: "3624a93709714b5cb91634c470002b2c8", path: "/dev/dm-3", multipathID: "3624a93709714b5cb91634c470002b2c8")

    func connect(_ v: Validated<ConnectVolumeRequest>) async throws -> ConnectVolumeResponse {
        let r = v.request
        state.withLock { $0.connects.append(r); $0.inConnect += 1 }
        defer { state.withLock { $0.inConnect -= 1 } }
        if let e = connectError?(r) { throw e }
        try await connectGate?()
        return ConnectVolumeResponse(
            deviceInfo: Self.device,
            paths: [PathInfo(hctl: HCTL(host: 3, channel: 0, target: 0, lun: 1), device: "sdb", transport: "iscsi",
                             portal: "10.0.1.11:3260", targetIQN: "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873", state: "active")],
            degraded: false, timings: [StepTiming(step: "login", milliseconds: 1.5)])
    }
    func disconnect(_ v: Validated<DisconnectVolumeRequest>) async throws -> DisconnectVolumeResponse {
        let r = v.request
        state.withLock { $0.disconnects.append(r) }
        return DisconnectVolumeResponse(removedDevices: ["sdb"], removedMap: r.deviceInfo?.multipathID, loggedOutSessions: [], kept: ["session 1: still used by 2 device(s)"])
    }
    func extend(_ v: Validated<ExtendVolumeRequest>) async throws -> ExtendVolumeResponse {
        let r = v.request
        state.withLock { $0.extends.append(r) }
        return ExtendVolumeResponse(newSize: 2 << 30)
    }
    func volumePaths(_ v: Validated<GetVolumePathsRequest>) async throws -> GetVolumePathsResponse {
        let r = v.request
        state.withLock { $0.pathsRequests.append(r) }
        return GetVolumePathsResponse(paths: ["/dev/sdb", "/dev/sdc"])
    }
    func checkValidDevice(_ r: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse {
        state.withLock { $0.checks.append(r) }
        return CheckValidDeviceResponse(valid: r.path == "/dev/dm-3", reason: r.path == "/dev/dm-3" ? nil : "no such device")
    }
    func connectorProperties() async throws -> ConnectorProperties { try await connector.read() }
}

/// A real APIServer on a temp socket inside a real ServiceGroup.
struct RunningServer {
    let dir: String
    let socket: String
    let server: APIServer
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let stats: RequestStats
    let metricsPort: Int?

    static func start(
        operations: any VolumeOperations, logger: Logger, maxBody: Int = 1 << 20, grace: Duration = .seconds(5),
        access: PeerAccessPolicy? = nil, metricsPort: Int = 0, socketName: String = "api.sock", dir: String? = nil,
        inventoryFixture: String = "iscsi-fc-dm"
    ) async throws -> RunningServer {
        let dir = dir ?? tempDir()
        let socket = dir + "/run/" + socketName
        let stats = RequestStats()
        let router = APIRouter(
            operations: operations,
            inventory: { Inventory.scan(roots: HostRoots(under: Fixtures.path(inventoryFixture))) },
            stats: stats, logger: logger)
        let server = APIServer(
            configuration: .init(socketPath: socket, metricsPort: metricsPort, maxBodyBytes: maxBody, shutdownGrace: grace, access: access),
            router: router, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: server)], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        let task = Task { try await group.run() }
        let port = await server.waitUntilListening()
        return RunningServer(dir: dir, socket: socket, server: server, group: group, task: task, stats: stats, metricsPort: port)
    }

    var client: AgentClient { AgentClient(socketPath: socket, timeoutSeconds: 30) }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try? FileManager.default.removeItem(atPath: dir)
    }
}


/// Runs blocking client code off the cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread.detachNewThread { c.resume(with: Result { try body() }) }
    }
}

/// Raw HTTP over the socket: the exact bytes, for tests of the wire.
func rawHTTP(_ socket: String, _ request: String, body: [UInt8] = []) async throws -> AgentClient.HTTPResult {
    try await blocking {
        let c = try UnixSocketClient(path: socket, timeoutSeconds: 30)
        defer { c.close() }
        try? c.send(Array(request.utf8) + body)
        return try AgentClient.parse(try c.receiveAll())
    }
}
