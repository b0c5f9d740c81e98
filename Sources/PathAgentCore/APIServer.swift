public import HostStorage
public import Logging
import NIOCore
import PathAPI
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// Who may use the API: root, the agent's own user, and members of the API group.
public struct PeerAccessPolicy: Sendable {
    public var allowedUIDs: Set<UInt32>
    public var groupID: UInt32?
    /// Supplementary-group check (getgrouplist); injectable for tests.
    public var isMember: @Sendable (_ uid: UInt32, _ gid: UInt32) -> Bool

    public init(
        allowedUIDs: Set<UInt32>, groupID: UInt32?,
        isMember: @escaping @Sendable (UInt32, UInt32) -> Bool = { UnixAccounts.userIsInGroup(uid: $0, gid: $1) }
    ) {
        self.allowedUIDs = allowedUIDs
        self.groupID = groupID
        self.isMember = isMember
    }

    /// uid 0, this process's euid, and `group` members.
    public static func standard(group: UInt32?) -> PeerAccessPolicy {
        PeerAccessPolicy(allowedUIDs: [0, UnixAccounts.effectiveUID], groupID: group)
    }

    public func allows(_ c: PeerCredentials) -> Bool {
        if allowedUIDs.contains(c.uid) { return true }
        guard let g = groupID else { return false }
        return c.gid == g || isMember(c.uid, g)
    }
}

/// The local API server: HTTP/1.1 + JSON on a Unix socket (and, when configured, GET
/// /metrics on a loopback TCP port). One request per connection (`Connection: close`).
/// A ServiceLifecycle `Service`: on graceful shutdown it stops accepting, closes idle
/// connections, lets in-flight requests finish for `shutdownGrace`, then cancels them.
public final class APIServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var socketPath: String
        /// Group owning the socket (mode 0660); nil = mode 0600.
        public var socketGroup: UInt32?
        /// 0 = no TCP metrics listener.
        public var metricsPort: Int
        public var maxBodyBytes: Int
        public var shutdownGrace: Duration
        public var access: PeerAccessPolicy

        public init(
            socketPath: String, socketGroup: UInt32? = nil, metricsPort: Int = 0, maxBodyBytes: Int = 1 << 20,
            shutdownGrace: Duration = .seconds(10), access: PeerAccessPolicy? = nil
        ) {
            self.socketPath = socketPath
            self.socketGroup = socketGroup
            self.metricsPort = metricsPort
            self.maxBodyBytes = maxBodyBytes
            self.shutdownGrace = shutdownGrace
            self.access = access ?? .standard(group: socketGroup)
        }
    }

    public let configuration: Configuration
    public let router: APIRouter
    let logger: Logger
    private let group: any EventLoopGroup
    private let listening = ListeningSignal()
    private let tracker = ConnectionTracker()

    public init(configuration: Configuration, router: APIRouter, logger: Logger,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.group = eventLoopGroup
    }

    /// Returns once the socket is bound and has its permissions (for tests and start-up
    /// ordering); the TCP port in use when `metricsPort` was set.
    @discardableResult
    public func waitUntilListening() async -> Int? { await listening.wait() }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public func run() async throws {
        let path = configuration.socketPath
        try UnixSocketPath.prepare(path)
        let unix = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { ch in Self.initialize(ch) }
        defer { UnixSocketPath.remove(path) }
        try UnixSocketPath.setAccess(path, mode: configuration.socketGroup == nil ? 0o600 : 0o660, group: configuration.socketGroup)
        let tcp: NIOAsyncChannel<Connection, Never>? =
            configuration.metricsPort == 0 ? nil : try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .bind(host: "127.0.0.1", port: configuration.metricsPort) { ch in Self.initialize(ch) }
        logger.info("api listening", metadata: [
            "api.socket": "\(path)", "api.metrics_port": "\(tcp?.channel.localAddress?.port ?? 0)",
        ])
        listening.signal(port: tcp?.channel.localAddress?.port)

        let listeners = [unix.channel] + (tcp.map { [$0.channel] } ?? [])
        let grace = configuration.shutdownGrace
        try await withThrowingTaskGroup(of: Void.self) { outer in
            outer.addTask {
                try await withThrowingTaskGroup(of: Void.self) { loops in
                    loops.addTask { try await self.acceptLoop(unix, metricsOnly: false) }
                    if let tcp { loops.addTask { try await self.acceptLoop(tcp, metricsOnly: true) } }
                    try await loops.waitForAll()
                }
            }
            outer.addTask {
                try await gracefulShutdown()
                self.logger.info("api shutting down", metadata: ["api.in_flight": "\(self.tracker.busyCount)"])
                for l in listeners { try? await l.close() }
                self.tracker.beginShutdown()
                try await Task.sleep(for: grace)
                self.logger.warning("api shutdown grace expired", metadata: ["api.in_flight": "\(self.tracker.busyCount)"])
                self.tracker.closeAll()
            }
            // Whichever ends first (all connections drained, or the grace expired) ends both.
            _ = try await outer.next()
            outer.cancelAll()
            while let _ = try? await outer.next() {}
        }
        logger.info("api stopped")
    }

    static func initialize(_ ch: any Channel) -> EventLoopFuture<Connection> {
        ch.eventLoop.makeCompletedFuture {
            try ch.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            return try Connection(wrappingChannelSynchronously: ch)
        }
    }

    private func acceptLoop(_ server: NIOAsyncChannel<Connection, Never>, metricsOnly: Bool) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await conn in inbound {
                    group.addTask { await self.serve(conn, metricsOnly: metricsOnly) }
                }
            }
        }
    }

    private func serve(_ conn: Connection, metricsOnly: Bool) async {
        let id = tracker.add(conn.channel)
        defer { tracker.remove(id) }
        var peer: PeerCredentials? = nil
        if !metricsOnly {
            peer = try? await Self.peerCredentials(conn.channel)
        }
        let max = configuration.maxBodyBytes
        do {
            try await conn.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead? = nil
                var body: [UInt8] = []
                var refusal: APIErrorBody? = nil
                var drained = 0
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        guard self.tracker.markBusy(id) else {
                            refusal = APIErrorBody(code: .unavailable, message: "pathagent is shutting down")
                            continue
                        }
                        if !metricsOnly {
                            guard let p = peer, self.configuration.access.allows(p) else {
                                self.router.stats.refusedPeer()
                                self.logger.warning("api peer refused", metadata: [
                                    "peer.uid": "\(peer.map { "\($0.uid)" } ?? "unknown")",
                                    "peer.pid": "\(peer.map { "\($0.pid)" } ?? "unknown")",
                                    "http.path": "\(String(h.uri.prefix(200)))",
                                ])
                                refusal = APIErrorBody(
                                    code: .forbidden,
                                    message: "uid \(peer.map { "\($0.uid)" } ?? "unknown") may not use the pathagent API (root or the api.group only)")
                                continue
                            }
                        }
                        if let cl = h.headers.first(name: "content-length").flatMap({ Int($0) }), cl > max {
                            refusal = Self.tooLarge(max)
                        }
                    case .body(let b):
                        if refusal != nil {
                            drained += b.readableBytes
                            if drained > 16 * max { return }  // stop reading a flood
                            continue
                        }
                        if body.count + b.readableBytes > max {
                            refusal = Self.tooLarge(max)
                            body = []
                            continue
                        }
                        body.append(contentsOf: b.readableBytesView)
                    case .end:
                        guard let h = head else { return }
                        let response: APIResponse
                        if let refusal {
                            let e = APIErrorResponse(error: refusal)
                            response = APIResponse(status: e.httpStatus, body: APIRouter.encode(e))
                            if refusal.code != .forbidden {
                                self.router.stats.record(route: "refused", status: e.httpStatus, seconds: 0)
                            }
                        } else {
                            let path = String(h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                            if metricsOnly && path != APIRoute.metrics.rawValue {
                                let e = APIErrorResponse(error: APIErrorBody(code: .notFound, message: "only GET /metrics is served on this port"))
                                response = APIResponse(status: 404, body: APIRouter.encode(e))
                            } else {
                                response = await self.router.handle(
                                    APIRequest(method: h.method.rawValue, path: path, body: body, peer: peer, id: "\(id)"))
                            }
                        }
                        try await Self.write(response, to: outbound)
                        return
                    }
                }
            }
        } catch {
            logger.debug("api connection error", metadata: ["error": "\(error)"])
        }
    }

    static func tooLarge(_ max: Int) -> APIErrorBody {
        APIErrorBody(code: .payloadTooLarge, message: "request body is larger than \(max) bytes (api.max_body_bytes)")
    }

    static func write(_ r: APIResponse, to out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: r.contentType)
        headers.add(name: "Content-Length", value: "\(r.body.count)")
        headers.add(name: "Connection", value: "close")
        for (k, v) in r.headers { headers.add(name: k, value: v) }
        try await out.write(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: r.status), headers: headers)))
        try await out.write(.body(.byteBuffer(ByteBuffer(bytes: r.body))))
        try await out.write(.end(nil))
    }

    /// SO_PEERCRED of an accepted Unix connection, through NIO's socket option provider.
    static func peerCredentials(_ ch: any Channel) async throws -> PeerCredentials {
        guard let provider = ch as? any SocketOptionProvider else {
            throw HostStorageError(.invalidArgument, "channel has no socket options")
        }
        let raw: PeerCredentialOption.Raw = try await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(PeerCredentialOption.level), name: SocketOptionName(PeerCredentialOption.name)
        ).get()
        return PeerCredentials(raw)
    }
}

/// Open connections and whether each is handling a request.
final class ConnectionTracker: Sendable {
    private struct State {
        var next = 0
        var channels: [Int: (channel: any Channel, busy: Bool)] = [:]
        var shuttingDown = false
    }
    private let state = Mutex(State())

    func add(_ ch: any Channel) -> Int {
        let (id, close) = state.withLock { s -> (Int, Bool) in
            s.next += 1
            s.channels[s.next] = (ch, false)
            return (s.next, s.shuttingDown)
        }
        if close { ch.close(promise: nil) }
        return id
    }
    func remove(_ id: Int) { state.withLock { _ = $0.channels.removeValue(forKey: id) } }
    /// False once shutdown began: the request is refused with 503.
    func markBusy(_ id: Int) -> Bool {
        state.withLock { s in
            guard !s.shuttingDown else { return false }
            s.channels[id]?.busy = true
            return true
        }
    }
    var busyCount: Int { state.withLock { $0.channels.values.filter(\.busy).count } }
    /// Closes idle connections; busy ones finish their request.
    func beginShutdown() {
        let idle = state.withLock { s in
            s.shuttingDown = true
            return s.channels.values.filter { !$0.busy }.map(\.channel)
        }
        for c in idle { c.close(promise: nil) }
    }
    func closeAll() {
        for c in state.withLock({ $0.channels.values.map(\.channel) }) { c.close(promise: nil) }
    }
}

/// Resumes waiters once the server listens.
final class ListeningSignal: Sendable {
    private struct State {
        var port: Int?? = nil
        var waiters: [CheckedContinuation<Int?, Never>] = []
    }
    private let state = Mutex(State())

    func signal(port: Int?) {
        let ws = state.withLock { s in
            s.port = .some(port)
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in ws { w.resume(returning: port) }
    }

    func wait() async -> Int? {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Int?? in
                if let p = s.port { return .some(p) }
                s.waiters.append(c)
                return nil
            }
            if let p = now { c.resume(returning: p) }
        }
    }
}
