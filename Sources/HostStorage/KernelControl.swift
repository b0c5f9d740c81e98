import Glibc
import PathCore
import Synchronization

/// The kernel as the attach/detach engine and the path monitor see it: sysfs to read,
/// sysfs attributes to write (scans, deletes, rescans, tuning: the kernel acts on those
/// writes), block devices to hold open and question, mounts, and a stream of kernel
/// events. `KernelHost` is the real one; the simulated host of the test tier is the other.
/// Every decision the engine makes goes through this seam, so the same code runs against
/// both.
public protocol KernelControl: Sendable {
    var sysfs: any SysfsSource { get }
    /// False for a fixture tree (`--root DIR`): nothing may be written there.
    var acceptsWrites: Bool { get }
    /// Writes `value` to a sysfs attribute (tree-relative). Errors name the file and value.
    func write(_ rel: String, _ value: String) throws
    /// Opens a block device node (`sdb`, `dm-3`) read-only without following symlinks and
    /// refuses anything that is not a block device. The node stays open until `close()`
    /// (or the object goes away), so its name cannot pass to a new device meanwhile.
    func openBlock(_ name: String) throws -> any HeldBlockDevice
    /// The kernel name (`dm-3`, `sdb`) of the block device a `/dev` path names, symlinks
    /// resolved; throws when the path leaves the dev root or is not a block device
    /// (checked with stat, nothing is opened).
    func deviceName(ofPath path: String) throws -> String
    /// Mount points of the block device `maj:min`.
    func mountPoints(devNumber: String) -> [String]
    /// True when `/dev/<name>` exists.
    func exists(dev name: String) -> Bool
    /// Starts delivering a signal for every kernel event of these subsystems; nil when
    /// events cannot be watched. Stop it with `stop()`.
    func watchEvents(subsystems: [String], _ onEvent: @escaping @Sendable () -> Void) -> (any KernelEventWatch)?
}

/// A block device held open.
public protocol HeldBlockDevice: AnyObject, Sendable {
    var name: String { get }
    /// `maj:min` from fstat of the held descriptor.
    var devNumber: String { get }
    /// VPD page 0x83 (Device Identification) read now through the held descriptor
    /// (INQUIRY EVPD over SG_IO), not from a cached sysfs attribute.
    func deviceIdentification() throws -> [UInt8]
    /// fsync + BLKFLSBUF.
    func flush() throws
    /// Reads the first `bytes` bytes (os-brick's check_valid_device).
    func readFirstBlock(bytes: Int) throws
    /// TEST UNIT READY through the descriptor.
    func testUnitReady(timeoutSeconds: Int) -> TURResult
    /// REPORT LUNS (SELECT REPORT 0) sent now through the held descriptor: the target's
    /// LUN inventory for this I_T nexus, as raw parameter data.
    func reportLUNs(allocationLength: Int) throws -> [UInt8]
    func close()
}

public protocol KernelEventWatch: Sendable {
    func stop()
}

extension KernelControl {
    /// Block devices holding this one (`holders/`), e.g. a dm map over an sd path.
    public func holders(_ block: String) -> [String] { sysfs.entries("class/block/\(block)/holders") }

    /// The target's LUN inventory read now through the held device (REPORT LUNS, asked
    /// again with the length it needs when the first answer was cut).
    public func reportedLUNs(_ held: any HeldBlockDevice) throws -> ReportLUNs {
        var r = try ReportLUNs(try held.reportLUNs(allocationLength: 8192))
        if !r.complete { r = try ReportLUNs(try held.reportLUNs(allocationLength: r.requiredAllocationLength)) }
        return r
    }

    /// Targeted scan: `C T L` to `class/scsi_host/hostN/scan`.
    public func scan(_ r: SCSIScanRequest) throws { try write(r.sysfsPath, r.line) }

    /// Re-reads a device's capacity (`device/rescan`).
    public func rescan(_ hctl: HCTL) throws { try write("bus/scsi/devices/\(hctl)/rescan", "1") }

    /// The WWN a held device reports now (VPD 0x83, logical unit NAA designator). Throws
    /// `.noLogicalUnit` when what answers is not a disk (see `diskWWN`).
    public func currentWWN(_ held: any HeldBlockDevice) throws -> WWN {
        try Self.diskWWN(try held.deviceIdentification(), of: held.name)
    }

    /// The disk's WWN in a VPD 0x83 page (read now, or the kernel's cached `vpd_pg83`).
    /// A page whose peripheral byte says no disk answers (the LUN is gone from the target;
    /// tgt then answers with qualifier 3 and its LUN 0 controller's designator) names no
    /// volume: `.noLogicalUnit`, never another WWN.
    public static func diskWWN(_ page: [UInt8], of name: String) throws -> WWN {
        let id = try DeviceIdentification(page)
        guard id.answersAsDisk else {
            throw HostStorageError(
                .noLogicalUnit, "no disk answers at \(name)'s address: VPD 0x83 came with peripheral qualifier \(id.peripheralQualifier), "
                    + "device type 0x\(String(id.deviceType, radix: 16)) (the LUN is gone from the target)")
        }
        guard let wwn = id.logicalUnitWWN else {
            throw HostStorageError(.io, "\(name) reports no NAA/EUI logical unit designator in VPD 0x83")
        }
        return wwn
    }

    /// Deletes one SCSI disk, only after proving it is the one meant:
    /// - a disk that is already gone is not an error;
    /// - its block node (when it has one) is opened first and held until the delete is
    ///   written, so the name cannot pass to another device meanwhile; a node that cannot
    ///   be opened is refused, never deleted blind;
    /// - the address must still carry that block device;
    /// - with `expected`, the WWN is re-read now through the held descriptor (VPD 0x83
    ///   over SG_IO; the cached sysfs `wwid` can be stale after a LUN was re-mapped) and
    ///   must equal it; a disk without a block device is re-checked from `vpd_pg83`;
    /// - nothing may hold it (a dm map or md array above it) unless `allowHolders` lists
    ///   the holder;
    /// - an offline disk (`offline`, `transport-offline`: the kernel refuses to open it) is
    ///   judged by its cached `vpd_pg83`, which the kernel cannot have re-read since, and
    ///   its address must still carry the node when the delete is written.
    public func deleteDisk(name: String?, hctl: HCTL, expected: WWN?, allowHolders: Set<String> = []) throws {
        let dir = "bus/scsi/devices/\(hctl)"
        guard sysfs.link(dir) != nil else { return }
        let block = sysfs.entries("\(dir)/block").first
        if let name, let block, block != name {
            throw HostStorageError(.busy, "\(hctl) is now \(block), not \(name); refusing to delete it")
        }
        let node = name ?? block
        var held: (any HeldBlockDevice)? = nil
        defer { held?.close() }
        if let node {
            do { held = try openBlock(node) } catch let e as HostStorageError where e.isNoSuchDevice && Self.offlineStates.contains(sysfs.attribute("\(dir)/state") ?? "") {
                // sd_open refuses an offline disk (ENXIO); the kernel cannot have re-read its
                // identity since it went offline, so its cached page decides (below), and the
                // address must still carry the node when the delete is written
                held = nil
            } catch {
                throw HostStorageError(.busy, "cannot hold \(node) (\(hctl)) open to delete it safely: \(error); refusing")
            }
            // the name may have moved between the listing and the open
            guard sysfs.entries("\(dir)/block").first == node else {
                throw HostStorageError(.busy, "\(hctl) no longer carries \(node); refusing to delete it")
            }
        }
        if let expected {
            let seen: WWN
            do {
                if let held {
                    seen = try currentWWN(held)
                } else {
                    guard let page = sysfs.binary("\(dir)/vpd_pg83") else { throw HostStorageError(.io, "no VPD 0x83 in sysfs") }
                    seen = try Self.diskWWN(page, of: "\(hctl)")
                }
            } catch {
                throw HostStorageError(.io, "cannot re-read the WWN of \(node ?? "?") (\(hctl)) before deleting it (\(error)); refusing")
            }
            guard seen == expected else {
                throw HostStorageError(.busy, "\(node ?? "?") (\(hctl)) now shows WWN \(seen), not \(expected); refusing to delete it")
            }
        }
        if let node {
            let holding = holders(node).filter { !allowHolders.contains($0) }
            if let h = holding.first {
                throw HostStorageError(.busy, "\(node) (\(hctl)) is held by \(h); refusing to delete it")
            }
        }
        if held == nil, let node, sysfs.entries("\(dir)/block").first != node {
            throw HostStorageError(.busy, "\(hctl) no longer carries \(node); refusing to delete it")
        }
        try write("\(dir)/delete", "1")
    }

    /// States in which the kernel refuses to open a disk (`sd_open`: not online).
    static var offlineStates: Set<String> { ["offline", "transport-offline"] }

    /// Flushes a block device's dirty buffers.
    public func flushBuffers(_ devName: String) throws {
        let held = try openBlock(devName)
        defer { held.close() }
        try held.flush()
    }
}

extension KernelHost: KernelControl {
    public var acceptsWrites: Bool { roots.isLive }

    public var sysfs: any SysfsSource { DiskSysfs(root: roots.sys) }

    public func openBlock(_ name: String) throws -> any HeldBlockDevice {
        try OpenBlockDevice(path: roots.dev + "/" + name, name: name)
    }

    public func mountPoints(devNumber: String) -> [String] { mountPoints(devNumber: devNumber, procRoot: "/proc") }

    public func deviceName(ofPath path: String) throws -> String {
        let rel = path.hasPrefix("/dev/") ? String(path.dropFirst(5)) : path
        let full = roots.dev + "/" + rel
        guard let resolved = realpath(full, nil) else { throw HostStorageError.posix("cannot resolve", path) }
        defer { free(resolved) }
        let real = String(cString: resolved)
        guard let devRoot = realpath(roots.dev, nil) else { throw HostStorageError.posix("cannot resolve", roots.dev) }
        defer { free(devRoot) }
        let root = String(cString: devRoot)
        guard real.hasPrefix(root + "/") else {
            throw HostStorageError(.invalidArgument, "\(path) resolves to \(real), outside \(root)")
        }
        var st = stat()
        guard lstat(real, &st) == 0 else { throw HostStorageError.posix("cannot stat", real) }
        guard (st.st_mode & S_IFMT) == S_IFBLK else {
            throw HostStorageError(.invalidArgument, "\(path) is not a block device; not opened")
        }
        return String(real.dropFirst(root.count + 1))
    }

    public func watchEvents(subsystems: [String], _ onEvent: @escaping @Sendable () -> Void) -> (any KernelEventWatch)? {
        guard let m = try? UdevMonitor(source: .kernel, subsystems: subsystems) else { return nil }
        let task = Task.detached { for await _ in m { onEvent() }; onEvent() }
        return UdevEventWatch(monitor: m, task: task)
    }
}

struct UdevEventWatch: KernelEventWatch {
    let monitor: UdevMonitor
    let task: Task<Void, Never>
    func stop() {
        monitor.stop()
        task.cancel()
    }
}

/// A block device node held open read-only (O_NOFOLLOW | O_NONBLOCK): fstat must show a
/// block device, so a character device (a watchdog, a tty) or a symlink is refused before
/// anything is read from it.
public final class OpenBlockDevice: HeldBlockDevice {
    public let name: String
    public let path: String
    public let devNumber: String
    private let fd: Mutex<Int32>

    public init(path: String, name: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw HostStorageError.posix("cannot stat", path) }
        guard (st.st_mode & S_IFMT) == S_IFBLK else {
            throw HostStorageError(.invalidArgument, "\(path) is not a block device; refusing to open it")
        }
        let f = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard f >= 0 else { throw HostStorageError.posix("cannot open", path) }
        var st2 = stat()
        guard fstat(f, &st2) == 0, (st2.st_mode & S_IFMT) == S_IFBLK, st2.st_rdev == st.st_rdev else {
            Glibc.close(f)
            throw HostStorageError(.busy, "\(path) changed while it was opened; refusing")
        }
        self.path = path
        self.name = name
        let rdev = UInt64(st2.st_rdev)
        let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff))
        let minor = (rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff))
        self.devNumber = "\(major):\(minor)"
        self.fd = Mutex(f)
    }

    deinit { close() }

    public func close() {
        fd.withLock { if $0 >= 0 { Glibc.close($0); $0 = -1 } }
    }

    private func withFD<T>(_ body: (Int32) throws -> T) throws -> T {
        try fd.withLock { f in
            guard f >= 0 else { throw HostStorageError(.io, "\(path) is closed") }
            return try body(f)
        }
    }

    public func deviceIdentification() throws -> [UInt8] {
        let cmd = try SCSICommands.inquiry(vpdPage: 0x83, allocationLength: 1024)
        let req = SCSIRequest(cdb: cmd.cdb, direction: .fromDevice(cmd.allocationLength), timeoutSeconds: 10)
        let r = try withFD { f in try SGIOTransport.execute(fd: f, endpoint: path, req) }
        guard r.status == 0 else {
            throw HostStorageError(.io, "INQUIRY VPD 0x83 on \(path) returned SCSI status \(r.status)")
        }
        return r.data
    }

    public func reportLUNs(allocationLength: Int) throws -> [UInt8] {
        let cmd = try SCSICommands.reportLUNs(allocationLength: allocationLength)
        let req = SCSIRequest(cdb: cmd.cdb, direction: .fromDevice(cmd.allocationLength), timeoutSeconds: 10)
        let r = try withFD { f in try SGIOTransport.execute(fd: f, endpoint: path, req) }
        guard r.status == 0 else {
            func hex(_ b: UInt8) -> String { (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) }
            let sense = r.senseTriple.map { t in " (sense key \(t.key), ASC/ASCQ \(hex(t.asc))/\(hex(t.ascq)))" } ?? ""
            throw HostStorageError(.io, "REPORT LUNS on \(path) returned SCSI status \(r.status)\(sense)")
        }
        return r.data
    }

    public func flush() throws {
        try withFD { f in
            guard fsync(f) == 0 || errno == EINVAL || errno == EROFS else { throw HostStorageError.posix("fsync failed on", path) }
            let BLKFLSBUF: UInt = 0x1261
            guard ioctl(f, BLKFLSBUF, 0) == 0 else { throw HostStorageError.posix("BLKFLSBUF failed on", path) }
        }
    }

    public func readFirstBlock(bytes: Int) throws {
        try withFD { f in
            var buf = [UInt8](repeating: 0, count: bytes)
            let n = buf.withUnsafeMutableBytes { pread(f, $0.baseAddress, $0.count, 0) }
            guard n >= 0 else { throw HostStorageError.posix("cannot read", path) }
            guard n > 0 else { throw HostStorageError(.io, "\(path) returned no data") }
        }
    }

    public func testUnitReady(timeoutSeconds: Int) -> TURResult {
        do {
            let r = try withFD { f in
                try SGIOTransport.execute(fd: f, endpoint: path, SCSIRequest(cdb: [0, 0, 0, 0, 0, 0], timeoutSeconds: timeoutSeconds))
            }
            return TURResult(status: r.status, sense: r.senseTriple)
        } catch let e as HostStorageError {
            switch e.code {
            case .timeout: return .timeout
            case .transport: return .hostError(hostByte: 0x01)
            default: return .ioctlFailed(errno: e.errno ?? 5)
            }
        } catch {
            return .ioctlFailed(errno: 5)
        }
    }
}

extension TURResult {
    /// The checker's verdict from a TUR's SCSI status and sense.
    public init(status: UInt8, sense: (key: UInt8, asc: UInt8, ascq: UInt8)?) {
        switch status {
        case 0: self = .good
        case 2: self = .checkCondition(senseKey: sense?.key ?? 0, asc: sense?.asc ?? 0, ascq: sense?.ascq ?? 0)
        case 0x08: self = .busy
        case 0x18: self = .reservationConflict
        case 0x28: self = .taskSetFull
        default: self = .hostError(hostByte: 0x01)
        }
    }
}
