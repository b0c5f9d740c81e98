import Synchronization

/// What the systemd watchdog is fed on: the agent's loops making progress, not a timer of
/// its own. Two signals:
/// - the blocking pool answers: a no-op submitted to `BlockingWorkers` runs within the
///   watchdog interval (every engine step, scan, dm ioctl and checker TUR runs there; a
///   pool whose every thread hangs in the kernel can do no attach or detach);
/// - the path monitor's loops beat (`Heartbeat`) within `monitorStallSeconds` (its state
///   poll beats every few hundred ms, its checker round every polling interval).
public struct Liveness: Sendable {
    public let workers: BlockingWorkers
    public let monitor: Heartbeat?
    public let monitorStallSeconds: Double

    public init(workers: BlockingWorkers, monitor: Heartbeat?, monitorStallSeconds: Double) {
        self.workers = workers
        self.monitor = monitor
        self.monitorStallSeconds = monitorStallSeconds
    }

    /// nil when both signals are fresh; otherwise why not.
    public func stalled(within limit: Duration) async -> String? {
        if let m = monitor, m.ageSeconds > monitorStallSeconds {
            return "the path monitor made no progress for \(Int(m.ageSeconds)) s"
        }
        let answered = Mutex(false)
        let probe = Task { [workers] in
            _ = try? await workers.run { answered.withLock { $0 = true } }
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if answered.withLock({ $0 }) { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        probe.cancel()
        return answered.withLock({ $0 }) ? nil : "no blocking worker answered within \(limit) (every one is stuck)"
    }
}
