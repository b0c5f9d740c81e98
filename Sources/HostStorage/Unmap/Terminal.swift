import Glibc

/// Terminal facts for CLI progress output. The corresponding C function is `isatty`.
public enum Terminal {
    public static var stderrIsTTY: Bool { isatty(2) == 1 }
    public static var stdoutIsTTY: Bool { isatty(1) == 1 }

    /// Writes text to stderr unbuffered (progress lines with `\r`).
    public static func writeStderr(_ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }
}
