public import HostStorage
public import Logging
public import PathCore
public import ServiceLifecycle

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

    /// Runs until SIGTERM/SIGINT. `operations` defaults to `UnwiredVolumeOperations`.
    public func run(operations: (any VolumeOperations)? = nil) async throws {
        let workers = BlockingWorkers(count: config.workers)
        let journal = try IntentJournalStore(directory: config.stateDir)
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
        let ops = operations ?? UnwiredVolumeOperations(connector: connector)
        if operations == nil {
            logger.warning("volume operations are not wired in this build; connect/disconnect/extend answer unsupported")
        }
        let router = APIRouter(
            operations: ops, inventory: { try await workers.run { Inventory.scan(roots: roots) } },
            logger: logger)
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
        do {
            try await group.run()
        } catch {
            journal.close()
            try? await workers.shutdown()
            throw error
        }
        journal.close()
        try await workers.shutdown()
    }

    public static func logLevel(_ s: String) -> Logger.Level { Logger.Level(rawValue: s) ?? .info }
}
