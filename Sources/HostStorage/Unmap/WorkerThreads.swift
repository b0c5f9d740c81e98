import Glibc

/// Dedicated OS threads for blocking SCSI commands (SG_IO, libiscsi sync calls), so
/// several commands can be in flight without parking Swift's cooperative pool.
/// The corresponding C functions are `pthread_create` and `pthread_join`.
enum WorkerThreads {
    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            let box = Unmanaged<Box>.fromOpaque(arg).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            return nil
        }
        return tid
    }

    /// Runs `body(i)` for i in 0..<count on `count` threads and waits for all of them.
    /// If a thread cannot be created, its share runs on the calling thread.
    static func run(count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        var threads: [pthread_t] = []
        var inline: [Int] = []
        for i in 1..<count {
            if let t = start({ body(i) }) { threads.append(t) } else { inline.append(i) }
        }
        body(0)
        for i in inline { body(i) }
        for t in threads { pthread_join(t, nil) }
    }

    /// Runs `body` on a new detached thread (for async callers of blocking work).
    static func detach(_ body: @escaping @Sendable () -> Void) {
        if let t = start(body) { pthread_detach(t) } else { body() }
    }

    static func sleep(milliseconds: Int) {
        var want = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var left = timespec()
        while nanosleep(&want, &left) != 0 && errno == EINTR { want = left }
    }
}
