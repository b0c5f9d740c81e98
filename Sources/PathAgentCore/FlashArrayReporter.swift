import FlashArray
import Foundation
import HostStorage
import Logging
import PathAPI
import PathCore
import ServiceLifecycle

/// Builds the FlashArray module's `PathHealthReport` from the path monitor's maps (dm's
/// per-path state) and the topology (which target portal/IQN or WWPN each disk reaches).
/// Pure: tests feed it a fixture topology and a snapshot.
public enum PathHealthReportBuilder {
    /// - Parameters:
    ///   - monotonicNowMicros / epochNowMillis: the same instant on both clocks, to turn the
    ///     monitor's monotonic change times into epoch milliseconds.
    public static func build(maps: [MonitoredMap], topology: Topology, initiatorIQN: String?, initiatorWWPNs: [String],
                             hostName: String? = nil, monotonicNowMicros: UInt64, epochNowMillis: Int64) -> PathHealthReport {
        var volumes: [PathHealthReport.VolumeReport] = []
        for m in maps {
            guard let volume = topology.volumes.first(where: { $0.map?.name == m.name }) ?? topology.volumes.first(where: { $0.wwn == m.name }),
                  volume.isPure, let wwn = try? WWN(volume.wwn) else { continue }
            var paths: [PathHealthReport.PathReport] = []
            var last: UInt64 = 0
            for p in m.paths {
                let sp = volume.paths.first { $0.devNumber == p.device } ?? volume.paths.first { $0.device != nil && $0.device == p.name }
                last = max(last, p.lastChangeMicros)
                paths.append(PathHealthReport.PathReport(
                    device: p.name ?? sp?.device ?? p.device, targetPortal: sp?.iscsi?.portal, targetIQN: sp?.iscsi?.target,
                    targetWWPN: sp?.fc?.targetPortName, state: p.dmState == "active" ? .active : .failed, alua: sp?.accessState))
            }
            let ageMillis = Int64(monotonicNowMicros >= last ? (monotonicNowMicros - last) / 1000 : 0)
            volumes.append(PathHealthReport.VolumeReport(wwn: wwn, paths: paths, lastChange: last == 0 ? epochNowMillis : epochNowMillis - ageMillis))
        }
        return PathHealthReport(hostName: hostName, initiatorIQN: initiatorIQN, initiatorWWPNs: initiatorWWPNs,
                                reportedAt: epochNowMillis, volumes: volumes.sorted { $0.wwn < $1.wwn })
    }

    /// What changes a report's verdict (paths and their states), to report after a change.
    static func signature(_ r: PathHealthReport) -> [String] {
        r.volumes.flatMap { v in v.paths.map { "\(v.wwn.value) \($0.device ?? "") \($0.state.rawValue) \($0.alua ?? "")" } }
    }
}

/// `[flasharray]` in pathagent.conf: sends the path health of this host's Pure volumes to
/// the FlashArray module in-process (`PureBackend.recordHealth`), after every change of the
/// monitor's view (checked each second) and at least every `report_interval` seconds.
public struct FlashArrayHealthReporter: Service {
    let backend: PureBackend
    let monitor: PathMonitor
    let roots: HostRoots
    let connector: ConnectorPropertiesReader
    let workers: BlockingWorkers
    let interval: Duration
    let logger: Logger

    public init(backend: PureBackend, monitor: PathMonitor, roots: HostRoots, connector: ConnectorPropertiesReader,
                workers: BlockingWorkers, intervalSeconds: Int, logger: Logger) {
        self.backend = backend; self.monitor = monitor; self.roots = roots; self.connector = connector
        self.workers = workers; self.interval = .seconds(intervalSeconds); self.logger = logger
    }

    /// Reads the backend stanza; the daemon refuses to start when it is unusable.
    public static func backend(config: AgentConfig, logger: Logger) throws -> PureBackend? {
        guard let file = config.flashArrayCinderConf, let name = config.flashArrayBackend else { return nil }
        let cfg = try CinderConf.load(path: file).backend(name)
        return try PureBackend(config: cfg, logger: logger)
    }

    /// One report: build it from the current snapshot and record it on the array.
    public func reportOnce() async throws -> (PathHealthReport, HostHealth) {
        let snap = await monitor.snapshot()
        let roots = self.roots
        let topology = try await workers.run { Inventory.scan(roots: roots) }
        let c = try await connector.read()
        let report = PathHealthReportBuilder.build(
            maps: snap, topology: topology, initiatorIQN: c.initiator, initiatorWWPNs: c.wwpns ?? [],
            monotonicNowMicros: MonotonicClock.nanos() / 1000, epochNowMillis: Int64(Date().timeIntervalSince1970 * 1000))
        let health = try await backend.recordHealth(report)
        return (report, health)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var lastSignature: [String]? = nil
            var lastReport = clock.now - interval
            var lastError = ""
            while !Task.isCancelled {
                do {
                    let snap = await monitor.snapshot()
                    let sig = snap.flatMap { m in m.paths.map { "\(m.name) \($0.device) \($0.dmState)" } }.sorted()
                    if sig != lastSignature || clock.now - lastReport >= interval {
                        let (r, h) = try await reportOnce()
                        lastSignature = sig
                        lastReport = clock.now
                        lastError = ""
                        logger.debug("path health reported", metadata: ["health.volumes": "\(r.volumes.count)", "health.status": "\(h.status.rawValue)"])
                    }
                } catch is CancellationError {
                    break
                } catch {
                    // keep going: the array may be briefly unreachable, or the host not yet registered
                    let text = "\(error)"
                    if text != lastError { logger.warning("path health report failed", metadata: ["error": "\(text)"]) }
                    lastError = text
                    // retry after the next change or interval, not every second
                    lastSignature = await monitor.snapshot().flatMap { m in m.paths.map { "\(m.name) \($0.device) \($0.dmState)" } }.sorted()
                    lastReport = clock.now
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await backend.shutdown()
    }
}
