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

    /// Returns once the socket is bound and has its permissions, or once `run()` ended
    /// without getting there (for tests and start-up ordering); the TCP port in use when
    /// `metricsPort` was set.
    @discardableResult
    public func waitUntilListening() async -> Int? { await listening.wait() }

    public func run() async throws {
        // Waiters of waitUntilListening() are released even when start-up fails.
        defer { listening.signal(port: nil) }
        let path = configuration.socketPath
        try UnixSocketPath.prepare(path)
        // Bind under a temporary name, set owner and mode, then rename into place: the API
        // path never shows a socket with the umask's permissions.
        let staging = path + ".new"
        UnixSocketPath.remove(staging)
        let unix = try await bootstrap(metricsOnly: false)
            .bind(unixDomainSocketPath: staging, cleanupExistingSocketFile: false).get()
        do {
            try UnixSocketPath.setAccess(
                staging, mode: configuration.socketGroup == nil ? 0o600 : 0o660, group: configuration.socketGroup)
            try UnixSocketPath.rename(staging, to: path)
        } catch {
            UnixSocketPath.remove(staging)
            try? await unix.close()
            throw error
        }
        defer { UnixSocketPath.remove(path) }
        var listeners = [unix]
        if configuration.metricsPort > 0 {
            do {
                listeners.append(
                    try await bootstrap(metricsOnly: true)
                        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                        .bind(host: "127.0.0.1", port: configuration.metricsPort).get())
            } catch {
                try? await unix.close()
                throw error
            }
        }
        let port = listeners.count > 1 ? listeners[1].localAddress?.port : nil
        logger.info("api listening", metadata: ["api.socket": "\(path)", "api.metrics_port": "\(port ?? 0)"])
        listening.signal(port: port)

        // Serve until graceful shutdown (or cancellation, which gets no grace).
        var grace = configuration.shutdownGrace
        do {
            try await gracefulShutdown()
        } catch {
            grace = .zero
        }
        logger.info("api shutting down", metadata: ["api.in_flight": "\(tracker.busyCount)"])
        for l in listeners { try? await l.close() }
        tracker.beginShutdown()
        if await !tracker.waitUntilEmpty(timeout: grace) {
            logger.warning("api shutdown grace expired", metadata: ["api.in_flight": "\(tracker.busyCount)"])
            tracker.cancelAll()
            _ = await tracker.waitUntilEmpty(timeout: .seconds(5))
        }
        logger.info("api stopped")
    }

    private func bootstrap(metricsOnly: Bool) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try ch.pipeline.syncOperations.addHandler(HTTPConnectionHandler(server: self, metricsOnly: metricsOnly))
                }
            }
    }

    /// Answers one complete request (called by the connection handler off the event loop).
    func respond(head: HTTPRequestHead, body: [UInt8], refusal: APIErrorBody?, peer: PeerCredentials?, metricsOnly: Bool, id: Int) async -> APIResponse {
        if let refusal {
            let e = APIErrorResponse(error: refusal)
            if refusal.code != .forbidden { router.stats.record(route: "refused", status: e.httpStatus, seconds: 0) }
            return APIResponse(status: e.httpStatus, body: APIRouter.encode(e))
        }
        let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if metricsOnly && path != APIRoute.metrics.rawValue {
            let e = APIErrorResponse(error: APIErrorBody(code: .notFound, message: "only GET /metrics is served on this port"))
            return APIResponse(status: 404, body: APIRouter.encode(e))
        }
        var r = await router.handle(APIRequest(method: head.method.rawValue, path: path, body: body, peer: peer, id: "\(id)"))
        r.headers.append(("X-Request-Id", "\(id)"))
        return r
    }

    /// The refusal for a request head, if any: shutting down, peer not allowed, body too large.
    func admit(_ h: HTTPRequestHead, peer: PeerCredentials?, metricsOnly: Bool, id: Int) -> APIErrorBody? {
        guard tracker.markBusy(id) else {
            return APIErrorBody(code: .unavailable, message: "pathagent is shutting down")
        }
        if !metricsOnly {
            guard let p = peer, configuration.access.allows(p) else {
                router.stats.refusedPeer()
                logger.warning("api peer refused", metadata: [
                    "peer.uid": "\(peer.map { "\($0.uid)" } ?? "unknown")",
                    "peer.pid": "\(peer.map { "\($0.pid)" } ?? "unknown")",
                    "http.path": "\(String(h.uri.prefix(200)))",
                ])
                return APIErrorBody(
                    code: .forbidden,
                    message: "uid \(peer.map { "\($0.uid)" } ?? "unknown") may not use the pathagent API (root or the api.group only)")
            }
        }
        if let cl = h.headers.first(name: "content-length").flatMap({ Int($0) }), cl > configuration.maxBodyBytes {
            return Self.tooLarge(configuration.maxBodyBytes)
        }
        return nil
    }

    static func tooLarge(_ max: Int) -> APIErrorBody {
        APIErrorBody(code: .payloadTooLarge, message: "request body is larger than \(max) bytes (api.max_body_bytes)")
    }

    var connections: ConnectionTracker { tracker }

    /// SO_PEERCRED of an accepted Unix connection, through NIO's socket option provider
    /// (synchronous on the channel's event loop).
    static func peerCredentials(_ ch: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = ch as? any SocketOptionProvider else {
            return ch.eventLoop.makeFailedFuture(HostStorageError(.invalidArgument, "channel has no socket options"))
        }
        let raw: EventLoopFuture<PeerCredentialOption.Raw> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(PeerCredentialOption.level), name: SocketOptionName(PeerCredentialOption.name))
        return raw.map { PeerCredentials($0) }
    }
}

/// One HTTP connection: collects one request (head, body up to the cap), answers it from a
/// task, then closes (`Connection: close`).
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: APIServer
    private let metricsOnly: Bool
    private var id = 0
    private var peer: PeerCredentials?
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var refusal: APIErrorBody?
    private var drained = 0
    private var answered = false

    init(server: APIServer, metricsOnly: Bool) {
        self.server = server
        self.metricsOnly = metricsOnly
    }

    func handlerAdded(context: ChannelHandlerContext) {
        id = server.connections.add(context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        server.connections.remove(id)
    }

    func channelActive(context: ChannelHandlerContext) {
        if !metricsOnly {
            // Completes at once on the event loop (before any read is delivered).
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            APIServer.peerCredentials(context.channel).whenSuccess { p in bound.value.peer = p }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            refusal = server.admit(h, peer: peer, metricsOnly: metricsOnly, id: id)
        case .body(let b):
            if refusal != nil {
                drained += b.readableBytes
                if drained > 16 * server.configuration.maxBodyBytes { context.close(promise: nil) }  // a flood
                return
            }
            if body.count + b.readableBytes > server.configuration.maxBodyBytes {
                refusal = APIServer.tooLarge(server.configuration.maxBodyBytes)
                body = []
                return
            }
            body.append(contentsOf: b.readableBytesView)
        case .end:
            guard let h = head else { return }
            answered = true
            let channel = context.channel
            let (server, body, refusal, peer, metricsOnly, id) = (server, body, refusal, peer, metricsOnly, id)
            self.body = []
            server.connections.taskStarting(id)
            let task = Task {
                defer { server.connections.taskDone(id) }
                let r = await server.respond(head: h, body: body, refusal: refusal, peer: peer, metricsOnly: metricsOnly, id: id)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: r.contentType)
                headers.add(name: "Content-Length", value: "\(r.body.count)")
                headers.add(name: "Connection", value: "close")
                for (k, v) in r.headers { headers.add(name: k, value: v) }
                let responseHead = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: r.status), headers: headers)
                channel.write(HTTPServerResponsePart.head(responseHead), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: r.body))), promise: nil)
                try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                try? await channel.close()
            }
            server.connections.attach(task, to: id)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("api connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Open connections, whether each is handling a request, and the task answering it.
final class ConnectionTracker: Sendable {
    /// A connection counts until its channel is closed AND its answering task (if any)
    /// has returned, so shutdown waits for cancelled operations to unwind.
    private struct Entry {
        var channel: any Channel
        var busy = false
        var open = true
        var taskRunning = false
        var task: Task<Void, Never>?
    }
    private struct State {
        var next = 0
        var entries: [Int: Entry] = [:]
        var shuttingDown = false
        var emptyWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    func add(_ ch: any Channel) -> Int {
        let (id, close) = state.withLock { s -> (Int, Bool) in
            s.next += 1
            s.entries[s.next] = Entry(channel: ch)
            return (s.next, s.shuttingDown)
        }
        if close { ch.close(promise: nil) }
        return id
    }

    /// The channel closed.
    func remove(_ id: Int) {
        update(id) { $0.open = false }
    }

    /// An answering task is about to start (called on the event loop, before the task exists).
    func taskStarting(_ id: Int) {
        update(id) { $0.taskRunning = true }
    }

    /// The answering task returned.
    func taskDone(_ id: Int) {
        update(id) { $0.taskRunning = false }
    }

    private func update(_ id: Int, _ change: (inout Entry) -> Void) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard var e = s.entries[id] else { return [] }
            change(&e)
            if !e.open && !e.taskRunning {
                s.entries.removeValue(forKey: id)
            } else {
                s.entries[id] = e
            }
            guard s.entries.isEmpty else { return [] }
            defer { s.emptyWaiters = [:] }
            return Array(s.emptyWaiters.values)
        }
        for w in waiters { w.resume() }
    }

    func attach(_ task: Task<Void, Never>, to id: Int) {
        let cancelNow = state.withLock { s -> Bool in
            s.entries[id]?.task = task
            return s.entries[id].map { !$0.open } ?? true
        }
        if cancelNow { task.cancel() }
    }

    /// False once shutdown began: the request is refused with 503.
    func markBusy(_ id: Int) -> Bool {
        state.withLock { s in
            guard !s.shuttingDown else { return false }
            s.entries[id]?.busy = true
            return true
        }
    }

    var busyCount: Int { state.withLock { $0.entries.values.filter(\.busy).count } }

    /// Closes idle connections; busy ones finish their request.
    func beginShutdown() {
        let idle = state.withLock { s in
            s.shuttingDown = true
            return s.entries.values.filter { !$0.busy }.map(\.channel)
        }
        for c in idle { c.close(promise: nil) }
    }

    /// Cancels every in-flight answer and closes every connection.
    func cancelAll() {
        let all = state.withLock { $0.entries.values.map { ($0.channel, $0.task) } }
        // Cancelling reaches the operation; closing stops the connection.
        for (c, t) in all {
            t?.cancel()
            c.close(promise: nil)
        }
    }

    /// True when every connection closed before `timeout`.
    func waitUntilEmpty(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { g in
            g.addTask { await self.waitEmpty(); return true }
            g.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await g.next() ?? false
            g.cancelAll()
            return first
        }
    }

    private func waitEmpty() async {
        let key = state.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let done = state.withLock { s -> Bool in
                    if s.entries.isEmpty || Task.isCancelled { return true }
                    s.emptyWaiters[key] = c
                    return false
                }
                if done { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { $0.emptyWaiters.removeValue(forKey: key) }
            c?.resume()
        }
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
        let ws = state.withLock { s -> [CheckedContinuation<Int?, Never>] in
            guard s.port == nil else { return [] }  // the first signal wins
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
