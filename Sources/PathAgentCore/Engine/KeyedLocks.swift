/// Locks by key (one per volume WWN, one per iSCSI portal), never one host-wide lock.
/// Keys are taken in sorted order so two callers cannot deadlock; waiters on one key are
/// served first come, first served.
public actor KeyedLocks {
    private var held: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    public func withLock<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let sorted = Array(Set(keys)).sorted()
        for k in sorted { await acquire(k) }
        do {
            let v = try await body()
            for k in sorted.reversed() { release(k) }
            return v
        } catch {
            for k in sorted.reversed() { release(k) }
            throw error
        }
    }

    private func acquire(_ key: String) async {
        if !held.contains(key) {
            held.insert(key)
            return
        }
        await withCheckedContinuation { c in waiters[key, default: []].append(c) }
    }

    private func release(_ key: String) {
        if var q = waiters[key], !q.isEmpty {
            let next = q.removeFirst()
            waiters[key] = q.isEmpty ? nil : q
            next.resume()  // ownership passes to the next waiter
        } else {
            held.remove(key)
        }
    }

    /// Keys currently held (for health and tests).
    public var heldKeys: Set<String> { held }
}
