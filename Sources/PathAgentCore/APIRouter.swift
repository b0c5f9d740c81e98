import FoundationEssentials
public import HostStorage
public import Logging
public import PathAPI
public import PathCore

/// One HTTP request as the router sees it (transport already done).
public struct APIRequest: Sendable {
    public var method: String
    /// Path without the query string.
    public var path: String
    public var body: [UInt8]
    /// Who connected (SO_PEERCRED); nil on the metrics TCP port.
    public var peer: PeerCredentials?
    public var id: String

    public init(method: String, path: String, body: [UInt8] = [], peer: PeerCredentials? = nil, id: String = "0") {
        self.method = method
        self.path = path
        self.body = body
        self.peer = peer
        self.id = id
    }
}

public struct APIResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)]

    public init(status: Int, contentType: String = "application/json", body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

/// The routes of API v1 (plus `/metrics`). Paths are versioned; a new incompatible API
/// gets `/v2/...` next to these.
public enum APIRoute: String, Sendable, CaseIterable {
    case connector = "/v1/connector"
    case connect = "/v1/volumes/connect"
    case disconnect = "/v1/volumes/disconnect"
    case extend = "/v1/volumes/extend"
    case volumePaths = "/v1/volumes/paths"
    case checkDevice = "/v1/devices/check"
    case paths = "/v1/paths"
    case health = "/v1/health"
    case maps = "/v1/maps"
    case version = "/v1/version"
    case metrics = "/metrics"

    public var method: String {
        switch self {
        case .connect, .disconnect, .extend, .volumePaths, .checkDevice: "POST"
        case .connector, .paths, .health, .maps, .version, .metrics: "GET"
        }
    }
}

/// Routing, request parsing, dispatch to `VolumeOperations`, error mapping, per-request
/// logging and timing. Transport-free: the server feeds it parsed requests.
public struct APIRouter: Sendable {
    public var operations: any VolumeOperations
    /// The current topology (a sysfs scan on the worker pool).
    public var inventory: @Sendable () async throws -> Topology
    /// Extra Prometheus text appended to the server's own (`RequestStats`) on `/metrics`.
    public var extraMetrics: (@Sendable () async -> String)?
    public var stats: RequestStats
    public var logger: Logger
    public var version: String
    /// The path monitor's view of the maps (dm path states); nil when no monitor runs.
    public var monitoredMaps: (@Sendable () async -> [MonitoredMap])?
    /// `/v1/maps` (table, settings with origins, per-path states); nil when no monitor runs.
    public var mapsView: (@Sendable () async throws -> MapsResponse)?

    public init(
        operations: any VolumeOperations, inventory: @escaping @Sendable () async throws -> Topology,
        extraMetrics: (@Sendable () async -> String)? = nil, stats: RequestStats = RequestStats(), logger: Logger,
        version: String = PathAgentVersion.string, monitoredMaps: (@Sendable () async -> [MonitoredMap])? = nil,
        mapsView: (@Sendable () async throws -> MapsResponse)? = nil
    ) {
        self.monitoredMaps = monitoredMaps
        self.mapsView = mapsView
        self.operations = operations
        self.inventory = inventory
        self.extraMetrics = extraMetrics
        self.stats = stats
        self.logger = logger
        self.version = version
    }

    /// Answers one request; never throws (errors become the API error shape) and logs one
    /// line for it with constant message and redacted metadata.
    public func handle(_ req: APIRequest) async -> APIResponse {
        let clock = ContinuousClock()
        let start = clock.now
        var meta: Logger.Metadata = ["request.id": "\(req.id)", "http.method": "\(req.method)"]
        if let p = req.peer {
            meta["peer.uid"] = "\(p.uid)"
            meta["peer.pid"] = "\(p.pid)"
        }
        var secrets: [String] = []
        let route = APIRoute(rawValue: req.path)
        meta["http.route"] = "\(route?.rawValue ?? "unknown")"
        if route == nil { meta["http.path"] = "\(String(req.path.prefix(200)))" }
        stats.inFlight(1)
        let response: APIResponse
        do {
            guard let route else {
                throw APIErrorResponse(error: APIErrorBody(code: .notFound, message: "no route \(req.method) \(String(req.path.prefix(200)))"))
            }
            guard req.method == route.method else {
                throw APIErrorResponse(
                    error: APIErrorBody(code: .methodNotAllowed, message: "\(route.rawValue) takes \(route.method), not \(req.method)"))
            }
            response = try await dispatch(route, req.body, &meta, &secrets)
        } catch {
            let e = APIErrorMapping.response(for: error, secrets: secrets)
            meta["error.code"] = "\(e.error.code.rawValue)"
            meta["error.message"] = "\(e.error.message)"
            if let k = e.error.key { meta["error.key"] = "\(k)" }
            var headers: [(String, String)] = []
            if e.error.code == .methodNotAllowed, let route { headers.append(("Allow", route.method)) }
            response = APIResponse(status: e.httpStatus, body: Self.encode(e), headers: headers)
        }
        stats.inFlight(-1)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        stats.record(route: route?.rawValue ?? "unknown", status: response.status, seconds: seconds)
        meta["http.status"] = "\(response.status)"
        meta["duration.ms"] = "\((seconds * 1e6).rounded() / 1000)"
        if response.status >= 500 {
            logger.error("api request", metadata: meta)
        } else if response.status >= 400 {
            logger.warning("api request", metadata: meta)
        } else if route?.method == "GET" {
            // Reads (health checks, scrapes) are frequent: debug, not info.
            logger.debug("api request", metadata: meta)
        } else {
            logger.info("api request", metadata: meta)
        }
        return response
    }

    private func dispatch(
        _ route: APIRoute, _ body: [UInt8], _ meta: inout Logger.Metadata, _ secrets: inout [String]
    ) async throws -> APIResponse {
        let text = String(decoding: body, as: UTF8.self)
        /// Notes the request for the log (redacted) and validates its properties for the
        /// protocol before any operation runs, so every bad key is a 400 naming it.
        func note(_ base: VolumeRequestBase) throws -> ConnectionSpec {
            secrets = base.secrets
            meta["volume.protocol"] = "\(base.protocol.rawValue)"
            // Redacted properties only: CHAP secrets become <redacted>.
            meta["request.properties"] = "\(base.connectionProperties.redacted().encoded)"
            // the one validation of the properties: the operations get the spec with the request
            let spec = try base.spec()
            if let w = spec.wwn { meta["volume.wwn"] = "\(w.value)" }
            return spec
        }
        switch route {
        case .connect:
            let r = try ConnectVolumeRequest.parse(text)
            let spec = try note(r.base)
            return Self.ok(try await operations.connect(Validated(request: r, spec: spec)))
        case .disconnect:
            let r = try DisconnectVolumeRequest.parse(text)
            let spec = try note(r.base)
            meta["request.force"] = "\(r.force)"
            meta["request.ignore_errors"] = "\(r.ignoreErrors)"
            return Self.ok(try await operations.disconnect(Validated(request: r, spec: spec)))
        case .extend:
            let r = try VolumeRequestBase.parse(text)
            let spec = try note(r)
            return Self.ok(try await operations.extend(Validated(request: r, spec: spec)))
        case .volumePaths:
            let r = try VolumeRequestBase.parse(text)
            let spec = try note(r)
            return Self.ok(try await operations.volumePaths(Validated(request: r, spec: spec)))
        case .checkDevice:
            let r = try CheckValidDeviceRequest.parse(text)
            meta["device.path"] = "\(r.path)"
            _ = try r.validatedPath()
            return Self.ok(try await operations.checkValidDevice(r))
        case .connector:
            return Self.ok(try await operations.connectorProperties())
        case .paths:
            return Self.ok(try await inventory())
        case .health:
            return Self.ok(Self.health(try await inventory(), monitored: await monitoredMaps?() ?? []))
        case .maps:
            guard let mapsView else {
                throw APIErrorResponse(error: APIErrorBody(code: .unsupported, message: "no path monitor runs in this agent"))
            }
            return Self.ok(try await mapsView())
        case .version:
            return Self.ok(VersionResponse(version: version, apiVersions: ["v1"]))
        case .metrics:
            var text = stats.exposition()
            if let extraMetrics { text += await extraMetrics() }
            return APIResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
        }
    }

    /// Health per volume from the topology: ok (all paths active), degraded (some),
    /// failed (none). A path is active when its SCSI device is `running`, its iSCSI session
    /// (if any) LOGGED_IN and its FC remote port (if any) Online. Devices without a readable
    /// WWN are not volumes and are left out.
    /// With the monitor's maps, a path of a watched map also needs its dm state active
    /// (the kernel or the checker may have failed it while sysfs still says running).
    public static func health(_ t: Topology, monitored: [MonitoredMap] = []) -> HealthResponse {
        let vols = t.volumes.compactMap { v -> HealthResponse.Volume? in
            guard let wwn = try? WWN(v.wwn) else { return nil }
            let failedInMap = Set(monitored.first { $0.name == v.map?.name }?.paths.filter { $0.dmState != "active" }.map(\.device) ?? [])
            let active = v.paths.filter { isActive($0) && !failedInMap.contains($0.devNumber ?? "") }.count
            let status: HealthResponse.Status = active == 0 ? .failed : (active < v.paths.count ? .degraded : .ok)
            return HealthResponse.Volume(wwn: wwn, status: status, pathsTotal: v.paths.count, pathsActive: active)
        }
        return HealthResponse(status: HealthResponse.overall(vols), volumes: vols)
    }

    public static func isActive(_ p: ScsiPath) -> Bool { p.isActive }

    static func ok<T: Encodable>(_ value: T) -> APIResponse {
        APIResponse(status: 200, body: encode(value))
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try e.encode(value)) + [0x0a]
        } catch {
            return Array(#"{"error":{"code":"internal","message":"response did not encode"}}"#.utf8) + [0x0a]
        }
    }
}

public enum PathAgentVersion {
    public static let string = "0.1.0"
}
