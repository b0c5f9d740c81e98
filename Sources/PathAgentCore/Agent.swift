public import HostStorage
public import Logging
import PathAPI
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
    /// operations with `operations` (default: the kernel engine with journal reconciliation
    /// and the path monitor), then serves.
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
        var monitorRef: PathMonitor? = nil
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var metricsText = extraMetrics
        if let makeOperations {
            ops = try await makeOperations(context)
        } else {
            // the kernel implementation: engine + journal reconciliation + path monitor
            let multipathConfig = try config.multipathConfigFile.map { file in
                try MultipathConfig.parse(try HostFiles.readTextOrThrow(file), path: file)
            }
            let engine = VolumeEngine(
                settings: EngineSettings(
                    roots: roots, useMultipath: config.useMultipath, enforceMultipath: config.enforceMultipath,
                    recoveryTimeout: config.recoveryTmo, loginTimeoutSeconds: config.loginTimeout,
                    scanTimeoutSeconds: Double(config.scanTimeout), multipathConfig: multipathConfig),
                workers: workers, locks: context.locks, journal: journal, logger: logger)
            let resolutions = try await engine.reconcile()
            let metrics = PathAgentMetrics()
            for r in resolutions {
                metrics.journalReplayed(r.outcome == .rollBackAttach ? .rolledBack : .completed)
            }
            if !resolutions.isEmpty {
                logger.info("journal reconciled", metadata: ["journal.intents": "\(resolutions.count)"])
            }
            metrics.recordInventory(first, durationSeconds: Double(first.inventory.micros) / 1e6)
            let monitor = PathMonitor(roots: roots, ownership: journal, workers: workers, pollingInterval: Double(config.pollingInterval),
                                      statePollMillis: config.statePollMillis, regrouper: engine, healer: engine, resizer: engine,
                                      metrics: metrics, logger: logger)
            monitorRef = monitor
            let kernelOps = KernelVolumeOperations(engine: engine, connector: connector, monitor: monitor, metrics: metrics)
            ops = kernelOps
            // the monitor returns at once on a fixture root (read-only): that is not a failure
            services.append(.init(service: PathMonitorService(monitor: monitor), successTerminationBehavior: .ignore))
            // [flasharray]: path health to the array, in-process (off unless configured)
            if let backend = try FlashArrayHealthReporter.backend(config: config, logger: logger) {
                logger.info("flasharray path-health reporter on", metadata: [
                    "fa.backend": "\(config.flashArrayBackend ?? "")", "fa.interval_s": "\(config.flashArrayReportInterval)"])
                services.append(.init(service: FlashArrayHealthReporter(
                    backend: backend, monitor: monitor, roots: roots, connector: connector, workers: workers,
                    intervalSeconds: config.flashArrayReportInterval, logger: logger)))
            }
            if metricsText == nil { metricsText = { await kernelOps.renderMetrics() } }
        }
        var monitored: (@Sendable () async -> [MonitoredMap])? = nil
        var mapsView: (@Sendable () async throws -> MapsResponse)? = nil
        if let m = monitorRef {
            monitored = { await m.snapshot() }
            mapsView = {
                let snap = await m.snapshot()
                return try await workers.run {
                    MapsResponse.build(monitored: snap, topology: Inventory.scan(roots: roots), dm: LibDeviceMapper(),
                                       owned: (try? journal.ownedMaps()) ?? [:])
                }
            }
        }
        let router = APIRouter(
            operations: ops, inventory: { try await workers.run { Inventory.scan(roots: roots) } },
            extraMetrics: metricsText, logger: logger, monitoredMaps: monitored, mapsView: mapsView)
        let gid = try config.group.map { try UnixAccounts.groupID($0) }
        let server = APIServer(
            configuration: .init(
                socketPath: config.socketPath, socketGroup: gid, metricsPort: config.metricsPort,
                maxBodyBytes: config.maxBodyBytes, shutdownGrace: .seconds(config.shutdownGraceSeconds)),
            router: router, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)] + services, gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [], logger: logger))
        // systemd (Type=notify): ready once the socket is bound (after the first inventory
        // and journal reconciliation above); the watchdog is fed at half of WatchdogSec,
        // but only while the agent makes progress (see `Liveness`)
        let notifier = SystemdNotifier()
        let log = logger
        let liveness = Liveness(workers: workers, monitor: monitorRef?.heartbeat,
                                monitorStallSeconds: Double(max(config.pollingInterval, 1)) * 3 + 30)
        let readiness = Task {
            guard notifier.isEnabled, await server.waitUntilListening() != nil else { return }
            do { try notifier.ready(status: "serving on \(self.config.socketPath)") } catch {
                log.warning("sd_notify READY failed", metadata: ["error": "\(error)"])
            }
            guard let interval = notifier.watchdogPingInterval else { return }
            while !Task.isCancelled {
                if let stalled = await liveness.stalled(within: interval) {
                    log.error("not feeding the systemd watchdog: \(stalled)")
                } else {
                    try? notifier.watchdog()
                }
                try? await Task.sleep(for: interval)
            }
        }
        defer {
            readiness.cancel()
            try? notifier.stopping()
        }
        try await group.run()
    }

    public static func logLevel(_ s: String) -> Logger.Level { Logger.Level(rawValue: s) ?? .info }

    /// Installs the package's log handler (`ProcessLogging`) for the daemon: call once at start.
    public static func bootstrapLogging(level: Logger.Level) { ProcessLogging.bootstrap(level: level) }
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
