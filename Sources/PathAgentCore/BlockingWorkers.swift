public import NIOPosix

/// A bounded pool of threads for blocking calls (iscsiadm, SG_IO, dm ioctls, sysfs walks),
/// so they never occupy the cooperative pool: at most `count` run at once, the rest queue.
public final class BlockingWorkers: Sendable {
    public let count: Int
    private let pool: NIOThreadPool

    /// Starts `count` threads.
    public init(count: Int) {
        precondition(count > 0, "BlockingWorkers needs at least one thread")
        self.count = count
        pool = NIOThreadPool(numberOfThreads: count)
        pool.start()
    }

    /// Runs `body` on a worker thread and returns its result. Throws when the pool was shut
    /// down (`NIOThreadPoolError.ThreadPoolInactive`).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Stops the threads after the queued work is done.
    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }
}
