import PathAgentCore
import Synchronization
import Testing

/// A Mutex that escaping task closures can share.
final class Shared<T: Sendable>: Sendable {
    let m: Mutex<T>
    init(_ v: T) { m = Mutex(v) }
    func withLock<R>(_ body: (inout T) -> R) -> R { m.withLock { body(&$0) } }
}

/// Records enter/exit instants per label.
final class Timeline: Sendable {
    private let events = Mutex<[(String, String, ContinuousClock.Instant)]>([])
    func mark(_ label: String, _ what: String) { events.withLock { $0.append((label, what, .now)) } }
    func interval(_ label: String) -> (ContinuousClock.Instant, ContinuousClock.Instant)? {
        let e = events.withLock { $0 }
        guard let a = e.first(where: { $0.0 == label && $0.1 == "enter" })?.2,
            let b = e.first(where: { $0.0 == label && $0.1 == "exit" })?.2
        else { return nil }
        return (a, b)
    }
    var order: [String] { events.withLock { $0.filter { $0.1 == "enter" }.map(\.0) } }
    static func overlap(_ x: (ContinuousClock.Instant, ContinuousClock.Instant), _ y: (ContinuousClock.Instant, ContinuousClock.Instant)) -> Bool {
        x.0 < y.1 && y.0 < x.1
    }
}

/// Waits (bounded) until `cond` holds; false on timeout. Used as a rendezvous, not a timer.
func waitFor(_ cond: @Sendable () async -> Bool, seconds: Int = 5) async -> Bool {
    for _ in 0..<(seconds * 200) {
        if await cond() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return false
}

@Suite struct KeyedLocksTests {
    @Test func sameKeySerializes() async throws {
        let locks = KeyedLocks()
        let t = Timeline()
        let inside = Shared(0)
        let maxInside = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in 0..<8 {
                g.addTask {
                    try await locks.withLock(keys: ["wwn:3624a937aa"]) {
                        t.mark("\(i)", "enter")
                        let n = inside.withLock { $0 += 1; return $0 }
                        maxInside.withLock { $0 = max($0, n) }
                        try await Task.sleep(for: .milliseconds(2))
                        inside.withLock { $0 -= 1 }
                        t.mark("\(i)", "exit")
                    }
                }
            }
            try await g.waitForAll()
        }
        #expect(maxInside.withLock { $0 } == 1)
        for a in 0..<8 {
            for b in 0..<8 where a < b {
                #expect(!Timeline.overlap(t.interval("\(a)")!, t.interval("\(b)")!), "\(a) and \(b) overlapped")
            }
        }
        #expect(await locks.heldKeys.isEmpty)
    }

    @Test func differentKeysRunConcurrently() async throws {
        let locks = KeyedLocks()
        let t = Timeline()
        let entered = Shared<Set<String>>([])
        // Each holder waits (bounded) inside its lock until the other is inside too: if the
        // locks serialized them, neither would see the other and the intervals would not overlap.
        let results = try await withThrowingTaskGroup(of: Bool.self) { g in
            for key in ["wwn:a", "wwn:b"] {
                g.addTask {
                    try await locks.withLock(keys: [key, "portal:10.0.1.11:3260:" + key]) {
                        t.mark(key, "enter")
                        entered.withLock { _ = $0.insert(key) }
                        let both = await waitFor { entered.withLock { $0.count } == 2 }
                        t.mark(key, "exit")
                        return both
                    }
                }
            }
            return try await g.reduce(into: []) { $0.append($1) }
        }
        #expect(results == [true, true])
        #expect(Timeline.overlap(t.interval("wwn:a")!, t.interval("wwn:b")!))
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        let locks = KeyedLocks()
        let t = Timeline()
        let release = Gate()
        let holder = Task {
            try await locks.withLock(keys: ["k"]) {
                t.mark("holder", "enter")
                await release.wait()
            }
        }
        #expect(await waitFor { await locks.heldKeys == ["k"] })
        var waiters: [Task<Void, any Error>] = []
        for i in 1...5 {
            waiters.append(Task { try await locks.withLock(keys: ["k"]) { t.mark("w\(i)", "enter") } })
            #expect(await waitFor { await locks.waiterCount("k") == i })  // queued before the next arrives
        }
        release.open()
        try await holder.value
        for w in waiters { try await w.value }
        #expect(t.order == ["holder", "w1", "w2", "w3", "w4", "w5"])
    }

    @Test func overlappingKeySetsInOppositeOrderDoNotDeadlock() async throws {
        let locks = KeyedLocks()
        let count = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in 0..<50 {
                let keys = i % 2 == 0 ? ["wwn:a", "portal:p"] : ["portal:p", "wwn:a"]
                g.addTask { try await locks.withLock(keys: keys) { count.withLock { $0 += 1 } } }
            }
            try await g.waitForAll()
        }
        #expect(count.withLock { $0 } == 50)
    }

    @Test func cancelledWaiterLeavesTheQueue() async throws {
        let locks = KeyedLocks()
        let release = Gate()
        let holder = Task { try await locks.withLock(keys: ["k"]) { await release.wait() } }
        #expect(await waitFor { await locks.heldKeys == ["k"] })
        let waiter = Task { try await locks.withLock(keys: ["k"]) { "ran" } }
        #expect(await waitFor { await locks.waiterCount("k") == 1 })
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(await locks.waiterCount("k") == 0)
        release.open()
        try await holder.value
        #expect(await locks.heldKeys.isEmpty)
        // The key is usable again.
        #expect(try await locks.withLock(keys: ["k"]) { 42 } == 42)
    }
}

@Suite struct BlockingWorkersTests {
    @Test func atMostCountRunAtOnce() async throws {
        let workers = BlockingWorkers(count: 2)
        let inside = Shared(0)
        let maxInside = Shared(0)
        let both = Shared(false)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<6 {
                g.addTask {
                    try await workers.run {
                        let n = inside.withLock { $0 += 1; return $0 }
                        maxInside.withLock { $0 = max($0, n) }
                        // Rendezvous: block the thread until another worker is inside too (bounded).
                        for _ in 0..<2000 where !both.withLock({ $0 }) {
                            if inside.withLock({ $0 }) >= 2 { both.withLock { $0 = true } }
                            usleepShim(500)
                        }
                        inside.withLock { $0 -= 1 }
                    }
                }
            }
            try await g.waitForAll()
        }
        #expect(maxInside.withLock { $0 } == 2)  // concurrent, and bounded by the pool size
        #expect(both.withLock { $0 })
        let v = try await workers.run { 6 * 7 }
        #expect(v == 42)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await workers.run { throw Boom() } }
        try await workers.shutdown()
    }
}

import Foundation
func usleepShim(_ micros: UInt32) { Thread.sleep(forTimeInterval: Double(micros) / 1e6) }
