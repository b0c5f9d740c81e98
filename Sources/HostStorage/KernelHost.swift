import Glibc
import PathCore
import Synchronization

/// Writes to the kernel's sysfs and block devices for attach, detach and tuning, rooted
/// at `HostRoots` so a fixture tree can stand in for `/sys` and `/dev`.
/// Every error names the file the kernel refused and the value.
public struct KernelHost: Sendable {
    public let roots: HostRoots
    public init(roots: HostRoots = .live) { self.roots = roots }

    /// Writes `value` to a sysfs attribute (relative to the sys root).
    public func write(_ rel: String, _ value: String) throws {
        let path = roots.sys + "/" + rel
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HostStorageError.posix("cannot open", path) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else {
            let e = errno
            throw HostStorageError(e == EINVAL ? .invalidArgument : .io,
                                   "the kernel refused '\(value)' for \(path): \(String(cString: strerror(e)))", errno: e)
        }
    }

    /// Sets the SCSI device state (`running`, `offline`): used by tests and recovery.
    public func setDeviceState(_ hctl: HCTL, _ state: String) throws { try write("bus/scsi/devices/\(hctl)/state", state) }

    /// Mount points of a block device `maj:min`, from `<proc>/self/mountinfo`.
    public func mountPoints(devNumber: String, procRoot: String = "/proc") -> [String] {
        guard let bytes = FileIO.readAll(procRoot + "/self/mountinfo") else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count > 4 && f[2] == devNumber ? String(f[4]) : nil
        }
    }

    /// True when the block device exists and can be opened exclusively (not mounted,
    /// not held by dm or md). The corresponding C call is `open(O_EXCL)`.
    public func isExclusivelyOpenable(_ devName: String) -> Bool {
        let fd = open(roots.dev + "/" + devName, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 { close(fd); return true }
        return false
    }

    public func exists(dev devName: String) -> Bool { access(roots.dev + "/" + devName, F_OK) == 0 }

    /// Contents of a file under the etc root (`iscsi/initiatorname.iscsi`).
    public func etcFile(_ rel: String) -> String? {
        FileIO.readAll(roots.etc + "/" + rel).map { String(decoding: $0, as: UTF8.self) }
    }
}
