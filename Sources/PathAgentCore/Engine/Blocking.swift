import Dispatch

/// Runs blocking calls (iscsiadm, sysfs writes, dm ioctls, SG_IO) on Dispatch's global
/// pool, never on Swift concurrency's cooperative threads.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            DispatchQueue.global(qos: .userInitiated).async {
                do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
            }
        }
    }
}
