import Glibc
import PathCore

extension HostRoots {
    /// The proc root that goes with these roots: `/proc` live, `DIR/proc` under `--root DIR`.
    public var proc: String {
        if isLive { return "/proc" }
        return sys.hasSuffix("/sys") ? String(sys.dropLast(4)) + "/proc" : "/proc"
    }
}

/// Is a volume in use? Mounts (`proc/self/mountinfo`, else `proc/mounts`), holders in
/// sysfs, and an O_EXCL open of its top block device (the kernel refuses it with EBUSY
/// while a filesystem, LVM, md, dm or another O_EXCL opener holds the device).
public enum VolumeUse {
    public static func reasons(_ target: ResolvedTarget, roots: HostRoots = .live, exclusiveProbe: Bool = true) -> [String] {
        var mounts: [MountEntry] = []
        if let b = FileIO.readAll(roots.proc + "/self/mountinfo") {
            mounts = MountEntry.parseMountInfo(String(decoding: b, as: UTF8.self))
        } else if let b = FileIO.readAll(roots.proc + "/mounts") {
            mounts = MountEntry.parseMounts(String(decoding: b, as: UTF8.self))
        }
        var reasons = DeviceUsage.reasons(volume: target.volume, sysfs: DiskSysfs(root: roots.sys), mounts: mounts)
        if exclusiveProbe, roots.isLive, let top = target.topDevice, reasons.isEmpty {
            if let r = exclusiveOpenRefusal(roots.dev + "/" + top) { reasons.append(r) }
        }
        return reasons
    }

    /// nil when `open(O_RDONLY|O_EXCL)` of the block device succeeds (nobody holds it),
    /// otherwise why not. The corresponding C function is `open` with `O_EXCL`.
    public static func exclusiveOpenRefusal(_ device: String) -> String? {
        var fd: Int32
        repeat { fd = open(device, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK) } while fd < 0 && errno == EINTR
        if fd >= 0 {
            close(fd)
            return nil
        }
        let e = errno
        if e == EBUSY { return "\(device) is in use (exclusive open refused: EBUSY)" }
        if e == ENOENT { return nil }  // no node under this /dev (fixture roots): nothing holds it
        return "\(device) cannot be checked for exclusive use: \(String(cString: strerror(e)))"
    }
}
