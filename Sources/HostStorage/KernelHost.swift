import Glibc
import PathCore
import Synchronization

/// Writes to the kernel's sysfs and block devices for attach, detach and tuning, rooted
/// at `HostRoots` so a fixture tree can stand in for `/sys` and `/dev`.
/// Every error names the file the kernel refused and the value.
public struct KernelHost: Sendable {
    public let roots: HostRoots
    public init(roots: HostRoots = .live) { self.roots = roots }

    public var sysfs: DiskSysfs { DiskSysfs(root: roots.sys) }

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

    /// Targeted scan: `C T L` to `class/scsi_host/hostN/scan`.
    public func scan(_ r: SCSIScanRequest) throws { try write(r.sysfsPath, r.line) }

    /// Re-reads a device's capacity (`device/rescan`).
    public func rescan(_ hctl: HCTL) throws { try write("bus/scsi/devices/\(hctl)/rescan", "1") }

    /// Deletes one SCSI device, safely: the block node is opened first (so its name cannot
    /// be reused by a new device while we work), its WWN is re-read from sysfs and must
    /// equal `expected`, then `delete` is written; the descriptor is closed last.
    /// A device that is already gone is not an error.
    public func deleteDevice(name: String?, hctl: HCTL, expected: WWN?) throws {
        let dir = "bus/scsi/devices/\(hctl)"
        guard access(roots.sys + "/" + dir, F_OK) == 0 else { return }
        var fd: Int32 = -1
        if let name {
            fd = open(roots.dev + "/" + name, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        }
        defer { if fd >= 0 { close(fd) } }
        if let expected {
            guard let wwid = sysfs.attribute("\(dir)/wwid"), let seen = try? WWN(wwid) else {
                throw HostStorageError(.io, "cannot re-read the WWN of \(name ?? "?") (\(hctl)) before deleting it; refusing")
            }
            guard seen == expected else {
                throw HostStorageError(.busy, "\(name ?? "?") (\(hctl)) now shows WWN \(seen), not \(expected); refusing to delete it")
            }
            if let name, let block = sysfs.entries("\(dir)/block").first, block != name {
                throw HostStorageError(.busy, "\(hctl) is now \(block), not \(name); refusing to delete it")
            }
        }
        try write("\(dir)/delete", "1")
    }

    /// Sets the SCSI device state (`running`, `offline`): used by tests and recovery.
    public func setDeviceState(_ hctl: HCTL, _ state: String) throws { try write("bus/scsi/devices/\(hctl)/state", state) }

    /// Flushes a block device's dirty buffers (fsync + BLKFLSBUF).
    public func flushBuffers(_ devName: String) throws {
        let path = roots.dev + "/" + devName
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw HostStorageError.posix("cannot open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 || errno == EINVAL || errno == EROFS else { throw HostStorageError.posix("fsync failed on", path) }
        let BLKFLSBUF: UInt = 0x1261
        guard ioctl(fd, BLKFLSBUF, 0) == 0 else { throw HostStorageError.posix("BLKFLSBUF failed on", path) }
    }

    /// Block devices holding this one (`holders/`), e.g. a dm map over an sd path.
    public func holders(_ block: String) -> [String] { sysfs.entries("class/block/\(block)/holders") }

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

/// Reads from block devices for validity checks.
public enum BlockDeviceProbe {
    public static func readFirstBlock(_ path: String, bytes: Int = 4096) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HostStorageError.posix("cannot open", path) }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: bytes)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw HostStorageError.posix("cannot read", path) }
        guard n > 0 else { throw HostStorageError(.io, "\(path) returned no data") }
    }
}
