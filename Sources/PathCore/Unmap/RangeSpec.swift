/// A `START:LEN` range as operators type it for `pathctl unmap --range` and
/// `pathctl lba-status --range`.
///
/// Units: a bare number is bytes; `K`, `M`, `G`, `T` (also `KiB`... and lower case) are
/// binary multiples of bytes (1K = 1024); the suffix `LBA` means logical blocks of the
/// device. A bare number takes the other value's unit when that one is in LBAs, so
/// `0:100LBA` is blocks 0-99. A byte range that does not start or end on a block boundary
/// leaves the partial blocks mapped.
///
/// Examples: `1M:4M` (bytes 1 MiB to 5 MiB), `0:100LBA`, `2048LBA:8LBA`, `1G:16LBA`
/// (mixed: resolved to bytes once the block length is known).
public struct RangeSpec: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Quantity: Sendable, Equatable, Codable, CustomStringConvertible {
        case bytes(UInt64)
        case blocks(UInt64)

        public var description: String {
            switch self {
            case .bytes(let b): return "\(b)"
            case .blocks(let n): return "\(n)LBA"
            }
        }

        func bytes(blockLength: UInt64) throws -> UInt64 {
            switch self {
            case .bytes(let b): return b
            case .blocks(let n):
                let (v, o) = n.multipliedReportingOverflow(by: blockLength)
                guard !o else { throw PathCoreError(.invalidValue, "\(n) blocks of \(blockLength) bytes overflow 64 bits") }
                return v
            }
        }
    }

    public var start: Quantity
    public var length: Quantity

    public init(start: Quantity, length: Quantity) {
        self.start = start
        self.length = length
    }

    /// Parses `START:LEN`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw PathCoreError(.invalidValue, "range must be START:LEN (e.g. 1M:4M or 0:100LBA), got '\(text)'")
        }
        let s = try Self.quantity(String(parts[0]), what: "START")
        let l = try Self.quantity(String(parts[1]), what: "LEN")
        var start = s.value
        var length = l.value
        // a bare number follows the other value when that one is in LBAs
        if s.bare, case .blocks = l.value, case .bytes(let v) = s.value { start = .blocks(v) }
        if l.bare, case .blocks = s.value, case .bytes(let v) = l.value { length = .blocks(v) }
        switch length {
        case .bytes(0), .blocks(0): throw PathCoreError(.invalidValue, "range length must not be 0 ('\(text)')")
        default: break
        }
        self.start = start
        self.length = length
    }

    public var description: String { "\(start):\(length)" }

    /// The request for the UNMAP planner: blocks when both values are in LBAs, bytes
    /// otherwise (LBAs converted with the device's block length).
    public func request(blockLength: Int) throws -> UnmapRequest {
        guard blockLength > 0 else { throw PathCoreError(.invalidValue, "block length must be positive") }
        if case .blocks(let lba) = start, case .blocks(let n) = length {
            return .blocks(lba: lba, count: n)
        }
        let bl = UInt64(blockLength)
        return .bytes(offset: try start.bytes(blockLength: bl), length: try length.bytes(blockLength: bl))
    }

    /// The whole blocks the range touches (partial blocks at either end included), checked
    /// against the device's size: what `lba-status` reports on.
    public func blockRange(blockLength: Int, blockCount: UInt64) throws -> SCSICommands.BlockRange {
        let r = try Self.enclosingBlocks(try request(blockLength: blockLength), blockLength: blockLength)
        guard r.end <= blockCount, r.end >= r.lba else {
            throw PathCoreError(
                .invalidValue, "range \(self) (LBA \(r.lba)+\(r.count)) extends past the end of the device (\(blockCount) blocks)")
        }
        return r
    }

    /// Whole blocks enclosing a request (for `.wholeDevice` the caller uses the capacity).
    public static func enclosingBlocks(_ request: UnmapRequest, blockLength: Int) throws -> SCSICommands.BlockRange {
        let bl = UInt64(blockLength)
        switch request {
        case .blocks(let lba, let count):
            let (end, o) = lba.addingReportingOverflow(count)
            guard !o else { throw PathCoreError(.invalidValue, "LBA range \(lba)+\(count) overflows") }
            return .init(lba: lba, count: end - lba)
        case .bytes(let offset, let length):
            let (stop, o) = offset.addingReportingOverflow(length)
            guard !o else { throw PathCoreError(.invalidValue, "byte range \(offset)+\(length) overflows") }
            let first = offset / bl
            let end = stop / bl + (stop % bl == 0 ? 0 : 1)
            return .init(lba: first, count: end - first)
        case .wholeDevice:
            throw PathCoreError(.invalidValue, "a whole-device request has no range of its own")
        }
    }

    static func quantity(_ raw: String, what: String) throws -> (value: Quantity, bare: Bool) {
        let text = raw.trimmingWhitespace()
        let lower = text.lowercased()
        var digits = Substring(lower)
        var multiplier: UInt64 = 1
        var blocks = false
        var bare = true
        let suffixes: [(String, UInt64)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
            ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40),
        ]
        if lower.hasSuffix("lba") {
            digits = digits.dropLast(3)
            blocks = true
            bare = false
        } else {
            for (s, m) in suffixes where lower.hasSuffix(s) {
                digits = digits.dropLast(s.count)
                multiplier = m
                bare = false
                break
            }
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(digits) else {
            throw PathCoreError(
                .invalidValue, "\(what) '\(raw)' is not a number with an optional K/M/G/T or LBA suffix")
        }
        if blocks { return (.blocks(n), bare) }
        let (v, o) = n.multipliedReportingOverflow(by: multiplier)
        guard !o else { throw PathCoreError(.invalidValue, "\(what) '\(raw)' overflows 64 bits") }
        return (.bytes(v), bare)
    }
}

/// Human sizes and rates for progress lines (binary units, one decimal).
public enum ByteCount {
    /// `4194304` -> `4.0 MiB`; below 1 KiB, `512 B`.
    public static func format(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        if bytes < 1024 { return "\(bytes) B" }
        var v = Double(bytes)
        var i = 0
        while v >= 1024, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return "\(oneDecimal(v)) \(units[i])"
    }

    /// `x.y` without Foundation's String(format:).
    public static func oneDecimal(_ v: Double) -> String {
        guard v.isFinite else { return "?" }
        let tenths = (v * 10).rounded()
        let whole = Int(tenths / 10)
        let frac = Int(tenths) - whole * 10
        return "\(whole).\(abs(frac))"
    }

    /// Seconds as `42s`, `3m05s`, `1h02m`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad2(s % 60))s" }
        return "\(s / 3600)h\(pad2((s % 3600) / 60))m"
    }

    static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
