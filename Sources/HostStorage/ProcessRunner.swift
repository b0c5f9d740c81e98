import Glibc
import PathCore

/// Result of running a tool.
public struct ToolResult: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var millis: Int
}

/// Runs a standard tool (iscsiadm) by argv array — never a shell string — with a
/// deadline. The child gets /dev/null as stdin and its own process group so a timeout
/// kills everything it started. `redact` strings are replaced in any error text.
public enum ProcessRunner {
    public static func run(_ argv: [String], timeoutSeconds: Int = 30, redact: [String] = []) throws -> ToolResult {
        precondition(!argv.isEmpty, "argv must name a program")
        let t0 = MonotonicClock.nanos()
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw HostStorageError.posix("cannot create pipes for", argv[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)

        let cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        let envStrings: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        let env: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        defer { env.forEach { free($0) } }
        let path = argv[0].contains("/") ? argv[0] : (findExecutable(argv[0]) ?? argv[0])
        let rc = posix_spawn(&pid, path, &actions, &attr, cargs, env)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw HostStorageError(rc == ENOENT ? .notFound : .toolFailed, "cannot run \(argv[0]): \(String(cString: strerror(rc)))", errno: rc)
        }
        var out: [UInt8] = []
        var err: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        let deadline = t0 + UInt64(timeoutSeconds) * 1_000_000_000
        var open = 2
        var timedOut = false
        var buf = [UInt8](repeating: 0, count: 8192)
        while open > 0 {
            let now = MonotonicClock.nanos()
            if now >= deadline { timedOut = true; break }
            let n = poll(&fds, 2, Int32(min(1000, (deadline - now) / 1_000_000 + 1)))
            if n < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let r = buf.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if r > 0 {
                    if i == 0 { out.append(contentsOf: buf[0..<r]) } else { err.append(contentsOf: buf[0..<r]) }
                } else if r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN) {
                    close(fds[i].fd); fds[i].fd = -1; open -= 1
                }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let ms = Int((MonotonicClock.nanos() - t0) / 1_000_000)
        func clean(_ b: [UInt8]) -> String {
            var s = String(decoding: b, as: UTF8.self)
            for r in redact where !r.isEmpty { s = s.replacingAll(r, with: "***") }
            return s
        }
        if timedOut {
            throw HostStorageError(.timeout, "\(argv[0]) \(argv.dropFirst().prefix(3).joined(separator: " ")) did not finish within \(timeoutSeconds) s (killed)")
        }
        let exit: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ToolResult(status: exit, stdout: clean(out), stderr: clean(err), millis: ms)
    }

    static func findExecutable(_ name: String) -> String? {
        for d in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] where access(d + "/" + name, X_OK) == 0 {
            return d + "/" + name
        }
        return nil
    }
}
