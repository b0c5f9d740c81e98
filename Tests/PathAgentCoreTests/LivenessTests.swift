import Dispatch
import Synchronization
import PathAgentCore
import Testing

/// The systemd watchdog is fed only while the blocking pool answers and the path
/// monitor's loops beat (`Liveness`), not from a timer of its own.
@Suite struct LivenessTests {
    // The limits given for "it answers" are generous on purpose: the probe is a task on
    // the cooperative pool, which the suite's parallel tests can keep busy for seconds on
    // a 2-core machine; what is checked is that an idle pool answers at all.
    @Test func aFreshMonitorAndAnIdlePoolAreLive() async throws {
        let workers = BlockingWorkers(count: 1)
        let beat = Heartbeat()
        let live = Liveness(workers: workers, monitor: beat, monitorStallSeconds: 60)
        #expect(await live.stalled(within: .seconds(60)) == nil)
        try await workers.shutdown()
    }

    @Test func aMonitorThatStoppedBeatingStopsTheWatchdog() async throws {
        let workers = BlockingWorkers(count: 1)
        let clock = ManualNanos()
        let beat = Heartbeat(now: { clock.now })
        let live = Liveness(workers: workers, monitor: beat, monitorStallSeconds: 5)
        clock.advance(seconds: 6)
        let why = await live.stalled(within: .seconds(60))
        #expect(why?.contains("path monitor made no progress for 6 s") == true, "\(why ?? "nil")")
        beat.beat()
        #expect(await live.stalled(within: .seconds(60)) == nil)
        clock.advance(seconds: 4)
        #expect(await live.stalled(within: .seconds(60)) == nil)
        try await workers.shutdown()
    }

    @Test func aPoolWhoseThreadsAreStuckStopsTheWatchdog() async throws {
        let workers = BlockingWorkers(count: 1)
        let release = DispatchSemaphore(value: 0)
        let started = Mutex(false)
        let stuck = Task { try await workers.run { started.withLock { $0 = true }; release.wait() } }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        let live = Liveness(workers: workers, monitor: nil, monitorStallSeconds: 60)
        let why = await live.stalled(within: .milliseconds(200))
        #expect(why?.contains("no blocking worker") == true, "\(why ?? "nil")")
        release.signal()
        _ = try await stuck.value
        #expect(await live.stalled(within: .seconds(60)) == nil)
        try await workers.shutdown()
    }
}

/// A monotonic clock the test moves by hand.
final class ManualNanos: Sendable {
    private let t = Mutex<UInt64>(1_000_000_000)
    var now: UInt64 { t.withLock { $0 } }
    func advance(seconds: Double) { t.withLock { $0 += UInt64(seconds * 1e9) } }
}
