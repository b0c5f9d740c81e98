import Dispatch
import PathAgentCore
import Testing

/// The systemd watchdog is fed only while the blocking pool answers and the path
/// monitor's loops beat (`Liveness`), not from a timer of its own.
@Suite struct LivenessTests {
    @Test func aFreshMonitorAndAnIdlePoolAreLive() async throws {
        let workers = BlockingWorkers(count: 1)
        let beat = Heartbeat()
        let live = Liveness(workers: workers, monitor: beat, monitorStallSeconds: 60)
        #expect(await live.stalled(within: .seconds(2)) == nil)
        try await workers.shutdown()
    }

    @Test func aMonitorThatStoppedBeatingStopsTheWatchdog() async throws {
        let workers = BlockingWorkers(count: 1)
        let beat = Heartbeat()
        let live = Liveness(workers: workers, monitor: beat, monitorStallSeconds: 0.05)
        try await Task.sleep(for: .milliseconds(100))
        let why = await live.stalled(within: .seconds(1))
        #expect(why?.contains("path monitor") == true, "\(why ?? "nil")")
        beat.beat()
        #expect(await live.stalled(within: .seconds(1)) == nil)
        try await workers.shutdown()
    }

    @Test func aPoolWhoseThreadsAreStuckStopsTheWatchdog() async throws {
        let workers = BlockingWorkers(count: 1)
        let release = DispatchSemaphore(value: 0)
        let stuck = Task { try await workers.run { release.wait() } }
        try await Task.sleep(for: .milliseconds(50))
        let live = Liveness(workers: workers, monitor: nil, monitorStallSeconds: 60)
        let why = await live.stalled(within: .milliseconds(200))
        #expect(why?.contains("no blocking worker") == true, "\(why ?? "nil")")
        release.signal()
        _ = try await stuck.value
        #expect(await live.stalled(within: .seconds(2)) == nil)
        try await workers.shutdown()
    }
}
