import CPathShims
import Glibc
import PathCore

/// Credentials of the process at the other end of a connected Unix socket, as the kernel
/// recorded them at `connect` time (`SO_PEERCRED`).
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// From the kernel's `struct ucred` (what `getsockopt(SO_PEERCRED)` fills).
    public init(_ raw: PeerCredentialOption.Raw) {
        self.init(pid: raw.pid, uid: raw.uid, gid: raw.gid)
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }
}

/// The `getsockopt` level, name and value type of `SO_PEERCRED`, for callers that reach the
/// socket through an abstraction (swift-nio's `SocketOptionProvider`) rather than an fd.
public enum PeerCredentialOption {
    public static let level: Int32 = SOL_SOCKET
    public static let name: Int32 = SO_PEERCRED
    /// The kernel's `struct ucred`; decode it with `PeerCredentials(_:)`.
    public typealias Raw = cpathshims_ucred
}

/// Unix users and groups (`getpwuid_r`, `getgrnam_r`, `getgrouplist`).
public enum UnixAccounts {
    /// The effective uid of this process (`geteuid`).
    public static var effectiveUID: UInt32 { geteuid() }

    /// The gid of a group given by name or as a decimal number. The corresponding C
    /// function is `getgrnam_r`.
    public static func groupID(_ nameOrNumber: String) throws -> UInt32 {
        if let n = UInt32(nameOrNumber) { return n }
        var grp = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buf = [CChar](repeating: 0, count: 16384)
        let rc = getgrnam_r(nameOrNumber, &grp, &buf, buf.count, &result)
        guard rc == 0, result != nil else {
            throw HostStorageError(.notFound, "no such group \(nameOrNumber)", errno: rc == 0 ? nil : rc)
        }
        return grp.gr_gid
    }

    /// True when `uid`'s primary group is `gid` or `gid` is one of its supplementary groups
    /// (`/etc/group`, NSS). The corresponding C functions are `getpwuid_r` and `getgrouplist`.
    /// A uid with no passwd entry is in no group.
    public static func userIsInGroup(uid: UInt32, gid: UInt32) -> Bool {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buf = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil, let name = pw.pw_name else {
            return false
        }
        if pw.pw_gid == gid { return true }
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var n = count
            if getgrouplist(name, pw.pw_gid, &groups, &n) >= 0 {
                return groups.prefix(Int(n)).contains(gid)
            }
            guard n > count, n < 65536 else { return false }
            count = n
        }
    }
}

/// Filesystem steps around a listening Unix socket.
public enum UnixSocketPath {
    /// Makes the socket's directory (mode 0755, parents too) and removes a stale socket
    /// file: one nothing answers on (`ECONNREFUSED`). Refuses when a process still listens
    /// there or when the path is not a socket (never deletes a regular file).
    public static func prepare(_ path: String) throws {
        guard path.utf8.count + 4 < 108 else {
            throw HostStorageError(.invalidArgument, "socket path \(path) is longer than 103 bytes")
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]), mode: 0o755)
        }
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw HostStorageError.posix("stat", path)
        }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw HostStorageError(.invalidArgument, "\(path) exists and is not a socket; not removing it")
        }
        do {
            let c = try UnixSocketClient(path: path, timeoutSeconds: 1)
            c.close()
            throw HostStorageError(.busy, "another process is listening on \(path) (is pathagent already running?)")
        } catch let e as HostStorageError where e.errno == ECONNREFUSED {
            guard unlink(path) == 0 || errno == ENOENT else { throw HostStorageError.posix("unlink stale socket", path) }
        }
    }

    /// `mkdir -p` with `mode` for the directories it creates.
    public static func makeDirectories(_ path: String, mode: UInt32) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for comp in path.split(separator: "/") {
            prefix += "/" + comp
            if mkdir(prefix, mode_t(mode)) != 0 && errno != EEXIST {
                throw HostStorageError.posix("mkdir", prefix)
            }
        }
    }

    /// Sets the socket file's mode and, when given, its group (`chmod`, `chown`).
    public static func setAccess(_ path: String, mode: UInt32, group: UInt32? = nil) throws {
        if let group, chown(path, UInt32.max, group) != 0 { throw HostStorageError.posix("chown", path) }
        guard chmod(path, mode_t(mode)) == 0 else { throw HostStorageError.posix("chmod", path) }
    }

    /// Atomically moves a bound socket to its final name (`rename`), so the final path only
    /// ever shows a socket whose mode is already set.
    public static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw HostStorageError.posix("rename \(from) to", to) }
    }

    /// The mode bits of a file (for tests and `pathctl doctor`).
    public static func mode(_ path: String) -> UInt32? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt32(st.st_mode & 0o7777)
    }

    public static func remove(_ path: String) {
        unlink(path)
    }
}

/// A blocking client end of a Unix stream socket, for `pathctl` (one request per
/// connection). Every call has a timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`).
public final class UnixSocketClient {
    private var fd: Int32

    /// Connects to `path`. Errors keep the errno: `ENOENT`/`ECONNREFUSED` (nothing
    /// listening), `EACCES` (socket permissions).
    public init(path: String, timeoutSeconds: Int = 30) throws {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw HostStorageError(.invalidArgument, "socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw HostStorageError.posix("socket", path) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(s)
            throw HostStorageError.posix("connect", path, e)
        }
        fd = s
    }

    /// Writes all of `bytes` (EINTR retried).
    public func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HostStorageError.posix("send to", "socket")
            }
            off += n
        }
    }

    /// Shuts down the sending side (the peer sees end of input).
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads until the peer closes or `limit` bytes arrived.
    public func receiveAll(limit: Int = 64 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw HostStorageError(.timeout, "no answer from the socket before the timeout", errno: errno)
                }
                throw HostStorageError.posix("recv from", "socket")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}

/// Who this host is, for os-brick's connector properties.
public enum HostIdentity {
    /// `gethostname`.
    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first IPv4 address of an interface that is up and not loopback, in `getifaddrs`
    /// order (os-brick takes the address of the default route's interface; without a
    /// routing table read this is the usual answer on a compute node).
    public static func firstIPv4() -> String? {
        var head: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&head) == 0 else { return nil }
        defer { freeifaddrs(head) }
        var p = head
        while let ifa = p {
            defer { p = ifa.pointee.ifa_next }
            let flags = Int32(bitPattern: ifa.pointee.ifa_flags)
            guard let sa = ifa.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
                flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0
            else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let rc = getnameinfo(sa, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            if rc == 0 {
                return String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return nil
    }
}

/// Whole-file text reads of configuration files (`/etc/iscsi/initiatorname.iscsi`,
/// `pathagent.conf`).
public enum HostFiles {
    /// The file's text, or nil when it does not exist or cannot be read.
    public static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        FileIO.readAll(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Like `readText`, but says why not (missing, permission) as a HostStorageError.
    public static func readTextOrThrow(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HostStorageError.posix("open", path) }
        close(fd)
        guard let t = readText(path) else { throw HostStorageError(.io, "cannot read \(path)") }
        return t
    }
}
