import Glibc

/// systemd's notification protocol (sd_notify(3)) without libsystemd: newline-separated
/// `KEY=value` assignments in one datagram to the AF_UNIX socket named by `NOTIFY_SOCKET`
/// (a path, or an abstract name written with a leading `@`).
///
/// The daemon sends `READY=1` after its first inventory and journal reconciliation,
/// `STATUS=` lines for `systemctl status`, `WATCHDOG=1` every `watchdogPingInterval`
/// (half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises) and `STOPPING=1` on
/// SIGTERM. Without `NOTIFY_SOCKET` (not started by systemd) every call is a no-op.
public struct SystemdNotifier: Sendable {
    public enum State: Sendable, Equatable {
        /// `READY=1`: start-up finished (Type=notify units become active).
        case ready
        /// `STATUS=...`: free-form status line shown by `systemctl status`.
        case status(String)
        /// `WATCHDOG=1`: keep-alive for `WatchdogSec=`.
        case watchdog
        /// `STOPPING=1`: shutdown began.
        case stopping
        /// `RELOADING=1`.
        case reloading
        /// `MAINPID=N`.
        case mainPID(Int32)

        var assignment: String {
            switch self {
            case .ready: "READY=1"
            case .status(let s): "STATUS=" + s.map { $0 == "\n" ? " " : $0 }.reduce(into: "") { $0.append($1) }
            case .watchdog: "WATCHDOG=1"
            case .stopping: "STOPPING=1"
            case .reloading: "RELOADING=1"
            case .mainPID(let p): "MAINPID=\(p)"
            }
        }
    }

    /// `NOTIFY_SOCKET` as given (`/run/systemd/notify` or `@name`); nil: not under systemd.
    public let socketPath: String?
    /// `WATCHDOG_USEC` when the watchdog is enabled for this process (`WATCHDOG_PID`
    /// absent or equal to our pid), in microseconds.
    public let watchdogUSec: UInt64?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`
    /// (default: the process environment) and `pid` (default: getpid()).
    public init(environment: [String: String]? = nil, pid: Int32 = getpid()) {
        func env(_ k: String) -> String? {
            if let environment { return environment[k] }
            return getenv(k).map { String(cString: $0) }
        }
        let sock = env("NOTIFY_SOCKET")
        socketPath = (sock?.isEmpty ?? true) ? nil : sock
        var wd: UInt64? = env("WATCHDOG_USEC").flatMap { UInt64($0) }
        if wd == 0 { wd = nil }
        if let wpid = env("WATCHDOG_PID"), Int32(wpid) != pid { wd = nil }
        watchdogUSec = wd
    }

    public var isEnabled: Bool { socketPath != nil }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`; nil when the watchdog is off.
    public var watchdogPingInterval: Duration? {
        watchdogUSec.map { .microseconds(Int64($0 / 2)) }
    }

    /// Sends the states in one datagram. No-op without `NOTIFY_SOCKET`.
    /// Throws `HostStorageError` when the socket cannot be reached.
    public func notify(_ states: [State]) throws {
        guard let path = socketPath, !states.isEmpty else { return }
        let message = states.map(\.assignment).joined(separator: "\n") + "\n"
        try Self.send(Array(message.utf8), to: path)
    }

    public func ready(status: String? = nil) throws { try notify([.ready] + (status.map { [.status($0)] } ?? [])) }
    public func status(_ s: String) throws { try notify([.status(s)]) }
    public func watchdog() throws { try notify([.watchdog]) }
    public func stopping() throws { try notify([.stopping]) }

    /// The socket address of `path`; `@name` is the abstract name `\0name`.
    static func address(_ path: String) throws -> (sockaddr_un, socklen_t) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else {
            throw HostStorageError(.invalidArgument, "NOTIFY_SOCKET \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let base = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        // A path includes its NUL; an abstract name is exactly its bytes.
        let len = base + bytes.count + (abstract ? 0 : 1)
        return (addr, socklen_t(len))
    }

    static func send(_ bytes: [UInt8], to path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostStorageError.posix("socket", "AF_UNIX datagram") }
        defer { close(fd) }
        var (addr, len) = try address(path)
        while true {
            let n = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, len) }
                }
            }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw HostStorageError.posix("sd_notify sendto", path)
        }
    }
}

/// The receiving end of the notification protocol: a datagram socket bound at a path or an
/// abstract `@name`. For tests of services that call `SystemdNotifier` (the role systemd
/// plays in production).
public final class NotifySocketReceiver {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostStorageError.posix("socket", "AF_UNIX datagram") }
        var (addr, len) = try SystemdNotifier.address(path)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        guard rc == 0 else {
            let e = HostStorageError.posix("bind", path)
            close(fd)
            throw e
        }
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }

    /// The next datagram as text, waiting at most `timeoutMillis`; nil on timeout.
    public func receive(timeoutMillis: Int32 = 2000) throws -> String? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&pfd, 1, timeoutMillis)
            if r == 0 { return nil }
            if r < 0 {
                if errno == EINTR { continue }
                throw HostStorageError.posix("poll", path)
            }
            break
        }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw HostStorageError.posix("recv", path) }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }
}
