import Glibc
import PathCore

/// A `SysfsSource` over a real directory: `/sys` on a host, or a fixture tree.
/// The root is a parameter so every caller can point it elsewhere (`pathctl --root`).
public struct DiskSysfs: SysfsSource {
    public let root: String

    public init(root: String = "/sys") {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    private func full(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }

    public func attribute(_ path: String) -> String? {
        guard let bytes = FileIO.readAll(full(path), sysfsAttribute: true) else { return nil }
        var s = String(decoding: bytes, as: UTF8.self)
        while s.last == "\n" || s.last == "\0" { s.removeLast() }
        return s
    }

    /// Opens the directory once and reads each attribute relative to it (`openat`), so the
    /// kernel walks the long device path once instead of once per attribute.
    public func attributes(in dir: String, _ names: [String]) -> [String?] {
        let dfd = open(full(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { return names.map { _ in nil } }
        defer { close(dfd) }
        return names.map { name in
            let fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buf -> String? in
                var n = 0
                repeat { n = read(fd, buf.baseAddress, buf.count) } while n < 0 && errno == EINTR
                guard n >= 0 else { return nil }
                var end = n
                while end > 0 && (buf[end - 1] == 10 || buf[end - 1] == 0) { end -= 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: buf[0..<end]), as: UTF8.self)
            }
        }
    }

    public func binary(_ path: String) -> [UInt8]? {
        FileIO.readAll(full(path))
    }

    public func entries(_ path: String) -> [String] {
        guard let dir = opendir(full(path)) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func link(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(full(path), &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Whole-file reads with EINTR handled, for sysfs attributes, /etc files and fixtures.
enum FileIO {
    /// `sysfsAttribute`: a sysfs text attribute is produced whole by one read (at most a
    /// page), so a short first read is the end; saves a syscall per attribute. Never use
    /// it for procfs or regular files, whose reads may legitimately come back short.
    static func readAll(_ path: String, limit: Int = 1 << 20, sysfsAttribute: Bool = false) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // sysfs attributes fit one page: one read into a stack buffer is the common case
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buf -> [UInt8]? in
            var out: [UInt8] = []
            while out.count < limit {
                let n = read(fd, buf.baseAddress, buf.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    // sysfs attributes of a vanished or unreadable device (EIO, ENXIO...)
                    return out.isEmpty ? nil : out
                }
                if n == 0 { break }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[0..<n]))
                if sysfsAttribute && n < buf.count && out.count < buf.count { break }
            }
            return out
        }
    }
}
