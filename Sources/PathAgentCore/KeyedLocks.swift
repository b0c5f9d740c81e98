/// Locks by key (a volume WWN, an iSCSI portal, an FC target), never one host-wide lock.
///
/// `withLock(keys:)` takes all of its keys in sorted order (so two callers whose key sets
/// overlap cannot deadlock), waiters on one key are served first come first served, and a
/// waiter whose task is cancelled leaves the queue and throws `CancellationError`.
public actor KeyedLocks {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct KeyState {
        var waiters: [Waiter] = []
    }
    /// A key is present while held; its waiters queue in it.
    private var held: [String: KeyState] = [:]
    private var nextID: UInt64 = 0

    public init() {}

    /// Runs `body` holding every key in `keys` (duplicates ignored).
    public nonisolated func withLock<T: Sendable>(
        keys: [String], _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let ordered = Array(Set(keys)).sorted()
        var taken: [String] = []
        do {
            for k in ordered {
                try await acquire(k)
                taken.append(k)
            }
        } catch {
            for k in taken.reversed() { await release(k) }
            throw error
        }
        do {
            let r = try await body()
            for k in taken.reversed() { await release(k) }
            return r
        } catch {
            for k in taken.reversed() { await release(k) }
            throw error
        }
    }

    /// Keys held right now (for `pathctl`/metrics and tests).
    public var heldKeys: [String] { held.keys.sorted() }

    /// Number of tasks waiting for `key`.
    public func waiterCount(_ key: String) -> Int { held[key]?.waiters.count ?? 0 }

    private func acquire(_ key: String) async throws {
        try Task.checkCancellation()
        guard held[key] != nil else {
            held[key] = KeyState()
            return
        }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                held[key, default: KeyState()].waiters.append(Waiter(id: id, continuation: c))
            }
        } onCancel: {
            // Runs on the actor after the waiter was queued: acquire does not suspend
            // between entering the handler and queueing.
            Task { await self.cancelWaiter(key: key, id: id) }
        }
    }

    private func cancelWaiter(key: String, id: UInt64) {
        if let i = held[key]?.waiters.firstIndex(where: { $0.id == id }) {
            let w = held[key]!.waiters.remove(at: i)
            w.continuation.resume(throwing: CancellationError())
        }
        // Otherwise the waiter was already handed the lock: it holds it and will release it.
    }

    private func release(_ key: String) {
        guard var state = held[key] else { return }
        if state.waiters.isEmpty {
            held[key] = nil
        } else {
            // Hand the lock to the oldest waiter; the key stays held.
            let next = state.waiters.removeFirst()
            held[key] = state
            next.continuation.resume()
        }
    }
}

/// The lock keys operations use, so every caller spells them the same way.
public enum LockKey {
    /// One volume: `wwn:<canonical wwn>`.
    public static func volume(_ wwn: String) -> String { "wwn:" + wwn }
    /// One iSCSI portal + target (login/logout/session changes): `iscsi:<portal>,<iqn>`.
    public static func iscsiTarget(portal: String, iqn: String) -> String { "iscsi:\(portal),\(iqn)" }
    /// One FC remote port as seen from one HBA (targeted scans): `fc:<initiator>,<target>`.
    public static func fcTarget(initiatorWWPN: String, targetWWPN: String) -> String { "fc:\(initiatorWWPN),\(targetWWPN)" }
}
