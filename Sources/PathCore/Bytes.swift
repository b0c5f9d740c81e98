/// Big-endian field access over bytes returned by a SCSI device. Every read is bounds
/// checked and throws `.truncated` naming the field, so a short or lying device
/// response never traps.
public struct ByteView: Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var count: Int { bytes.count }

    public func u8(_ at: Int, _ field: String = "byte") throws -> UInt8 {
        guard at >= 0, at < bytes.count else { throw short(field, at, 1) }
        return bytes[at]
    }
    public func u16(_ at: Int, _ field: String = "u16") throws -> UInt16 {
        UInt16(try uint(at, 2, field))
    }
    public func u32(_ at: Int, _ field: String = "u32") throws -> UInt32 {
        UInt32(try uint(at, 4, field))
    }
    public func u64(_ at: Int, _ field: String = "u64") throws -> UInt64 {
        try uint(at, 8, field)
    }
    public func uint(_ at: Int, _ width: Int, _ field: String) throws -> UInt64 {
        guard at >= 0, width <= 8, at + width <= bytes.count else { throw short(field, at, width) }
        var v: UInt64 = 0
        for i in at..<(at + width) { v = v << 8 | UInt64(bytes[i]) }
        return v
    }
    public func slice(_ at: Int, _ length: Int, _ field: String = "bytes") throws -> [UInt8] {
        guard at >= 0, length >= 0, at + length <= bytes.count else { throw short(field, at, length) }
        return Array(bytes[at..<(at + length)])
    }
    public func bit(_ at: Int, _ bit: Int, _ field: String = "bit") throws -> Bool {
        (try u8(at, field) >> UInt8(bit)) & 1 == 1
    }
    /// Printable ASCII with trailing spaces and NULs trimmed (INQUIRY vendor, product...).
    public func ascii(_ at: Int, _ length: Int, _ field: String) throws -> String {
        let raw = try slice(at, length, field)
        return String(decoding: raw.map { $0 >= 0x20 && $0 < 0x7f ? $0 : 0x20 }, as: UTF8.self)
            .trimmingWhitespace()
    }

    private func short(_ field: String, _ at: Int, _ width: Int) -> PathCoreError {
        PathCoreError(
            .truncated, "response too short for \(field)",
            detail: "needs bytes \(at)..<\(at + width), have \(bytes.count)")
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hex, no separators.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses hex, ignoring spaces, newlines and `#` comments to end of line
    /// (so goldens can be annotated field by field).
    public init(hex text: String) throws {
        var out = [UInt8]()
        var nibble: UInt8? = nil
        var inComment = false
        for ch in text.utf8 {
            if inComment {
                if ch == UInt8(ascii: "\n") { inComment = false }
                continue
            }
            if ch == UInt8(ascii: "#") { inComment = true; continue }
            let v: UInt8
            switch ch {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = ch - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = ch - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = ch - UInt8(ascii: "A") + 10
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: ":"): continue
            default: throw PathCoreError(.invalidValue, "not hex: '\(Character(Unicode.Scalar(ch)))'")
            }
            if let hi = nibble { out.append(hi << 4 | v); nibble = nil } else { nibble = v }
        }
        guard nibble == nil else { throw PathCoreError(.invalidValue, "odd number of hex digits") }
        self = out
    }
}
