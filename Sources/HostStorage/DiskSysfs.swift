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
        guard let bytes = binary(path) else { return nil }
        var s = String(decoding: bytes, as: UTF8.self)
        while s.last == "\n" || s.last == "\0" { s.removeLast() }
        return s
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
    static func readAll(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                // sysfs attributes of a vanished or unreadable device (EIO, ENXIO...)
                return out.isEmpty ? nil : out
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
