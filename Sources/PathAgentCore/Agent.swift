public import HostStorage
public import Logging
public import PathCore
import ServiceLifecycle

/// Builds the daemon from its configuration: journal, workers, first inventory, API server,
/// and runs them in a ServiceGroup (SIGTERM/SIGINT = graceful shutdown).
public struct Agent: Sendable {
    public var config: AgentConfig
    public var logger: Logger

    public init(config: AgentConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Loads `file` (nil = defaults only). Errors are `file:line: key: reason`.
    public static func loadConfig(file: String?) throws -> AgentConfig {
        guard let file else { return AgentConfig() }
        let text = try HostFiles.readTextOrThrow(file)
        return try AgentConfig.parse(text, file: file)
    }

    public var roots: HostRoots { config.roots == "/" ? .live : HostRoots(under: config.roots) }

    /// Runs until SIGTERM/SIGINT: opens the journal, takes the first inventory, builds the
    /// operations with `operations` (default: `UnwiredVolumeOperations`), then serves.
    /// `operations` runs before the socket is bound: start-up reconciliation of
    /// `context.journal.unfinished()` against the kernel belongs there.
    public func run(
        operations makeOperations: (@Sendable (AgentContext) async throws -> any VolumeOperations)? = nil,
        extraMetrics: (@Sendable () async -> String)? = nil
    ) async throws {
        let workers = BlockingWorkers(count: config.workers)
        let journal: IntentJournalStore
        do {
            journal = try IntentJournalStore(directory: config.stateDir)
        } catch {
            try? await workers.shutdown()
            throw error
        }
        defer { journal.close() }
        do {
            try await serve(workers: workers, journal: journal, makeOperations: makeOperations, extraMetrics: extraMetrics)
        } catch {
            try? await workers.shutdown()
            throw error
        }
        try await workers.shutdown()
    }

    private func serve(
        workers: BlockingWorkers, journal: IntentJournalStore,
        makeOperations: (@Sendable (AgentContext) async throws -> any VolumeOperations)?,
        extraMetrics: (@Sendable () async -> String)?
    ) async throws {
        let open = try journal.unfinished()
        logger.info("journal opened", metadata: ["journal.path": "\(journal.path)", "journal.unfinished": "\(open.count)"])
        let roots = self.roots
        let first = try await workers.run { Inventory.scan(roots: roots) }
        logger.info("inventory", metadata: [
            "inventory.volumes": "\(first.volumes.count)", "inventory.paths": "\(first.inventory.paths)",
            "inventory.ms": "\(Double(first.inventory.micros) / 1000)",
        ])
        let connector = ConnectorPropertiesReader(
            roots: roots, useMultipath: config.useMultipath, enforceMultipath: config.enforceMultipath, workers: workers)
        let context = AgentContext(
            config: config, roots: roots, logger: logger, journal: journal, workers: workers, locks: KeyedLocks(),
            connector: connector, firstInventory: first)
        let ops: any VolumeOperations
        if let makeOperations {
            ops = try await makeOperations(context)
        } else {
            ops = UnwiredVolumeOperations(connector: connector)
            logger.warning("volume operations are not wired in this build; connect/disconnect/extend answer unsupported")
        }
        let router = APIRouter(
            operations: ops, inventory: { try await workers.run { Inventory.scan(roots: roots) } },
            extraMetrics: extraMetrics, logger: logger)
        let gid = try config.group.map { try UnixAccounts.groupID($0) }
        let server = APIServer(
            configuration: .init(
                socketPath: config.socketPath, socketGroup: gid, metricsPort: config.metricsPort,
                maxBodyBytes: config.maxBodyBytes, shutdownGrace: .seconds(config.shutdownGraceSeconds)),
            router: router, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [], logger: logger))
        try await group.run()
    }

    public static func logLevel(_ s: String) -> Logger.Level { Logger.Level(rawValue: s) ?? .info }
}

/// What the agent shares with the volume operations it builds.
public struct AgentContext: Sendable {
    public var config: AgentConfig
    public var roots: HostRoots
    public var logger: Logger
    /// The open intent journal (closed when the agent stops).
    public var journal: IntentJournalStore
    /// The pool for blocking calls (agent.workers threads).
    public var workers: BlockingWorkers
    /// Per-WWN / per-portal locks (`LockKey`).
    public var locks: KeyedLocks
    public var connector: ConnectorPropertiesReader
    /// The inventory taken at start, before serving.
    public var firstInventory: Topology
}
