/// A JSON value kept as the caller sent it, so validation can name the offending key and
/// accept the "string or list" variants os-brick callers use (FC `target_wwn`).
///
/// Numbers keep their literal text: a LUN such as 18446744073709551615 survives exactly,
/// and `1.0` is told apart from `1`. Objects keep their keys in input order (duplicates are
/// refused by `parse`), and `encoded` writes keys sorted so equal objects hash equal.
public enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    case null
    case bool(Bool)
    /// The number's literal JSON text (`12`, `-3`, `1.5e3`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    // MARK: access

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }
    public var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let m) = self { return m }
        return nil
    }
    public var keys: [String] { objectMembers?.map(\.key) ?? [] }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
    /// The number as an unsigned 64-bit integer when it is a non-negative integer literal.
    public var uint64Value: UInt64? {
        guard case .number(let text) = self else { return nil }
        return UInt64(text)
    }
    /// A name for the value's type in error messages (never the value itself).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "list"
        case .object: "object"
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            let ys = Dictionary(y.map { ($0.key, $0.value) }, uniquingKeysWith: { f, _ in f })
            return x.allSatisfy { ys[$0.key] == $0.value }
        default: return false
        }
    }

    // MARK: secrets

    /// Keys whose values are secrets: never logged, never echoed, never hashed.
    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return k.hasSuffix("password") || k.hasSuffix("secret") || k.hasSuffix("token")
            || k == "auth_password" || k == "discovery_auth_password"
    }
    public static let redactedMarker = "<redacted>"

    /// A copy with the value of every secret key (at any depth) replaced by `"<redacted>"`.
    public func redacted() -> JSONValue {
        switch self {
        case .object(let members):
            return .object(members.map { m in
                (m.key, JSONValue.isSecretKey(m.key) && !m.value.isNull ? .string(JSONValue.redactedMarker) : m.value.redacted())
            })
        case .array(let items): return .array(items.map { $0.redacted() })
        default: return self
        }
    }
    /// The string values of every secret key (at any depth), for scrubbing error texts.
    public var secretValues: [String] {
        switch self {
        case .object(let members):
            return members.flatMap { m -> [String] in
                if JSONValue.isSecretKey(m.key), let s = m.value.stringValue, !s.isEmpty { return [s] }
                return m.value.secretValues
            }
        case .array(let items): return items.flatMap(\.secretValues)
        default: return []
        }
    }

    /// A copy with every secret key removed (at any depth); used for the properties hash.
    public func withoutSecrets() -> JSONValue {
        switch self {
        case .object(let members):
            return .object(members.filter { !JSONValue.isSecretKey($0.key) }.map { ($0.key, $0.value.withoutSecrets()) })
        case .array(let items): return .array(items.map { $0.withoutSecrets() })
        default: return self
        }
    }

    /// Compact JSON with object keys sorted (deterministic). Includes secrets: use
    /// `redacted().encoded` for anything that may reach a log.
    public var encoded: String {
        var out = ""
        write(to: &out)
        return out
    }
    /// Redacted JSON text: safe to print.
    public var description: String { redacted().encoded }
    public var debugDescription: String { description }
    /// `dump()` and mirrors see the redacted text only.
    public var customMirror: Mirror { Mirror(self, children: ["json": description]) }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, m) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(m.key, to: &out)
                out += ":"
                m.value.write(to: &out)
            }
            out += "}"
        }
    }
    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = Array("0123456789abcdef")
                    out += "\\u00" + String(hex[Int(u.value >> 4)]) + String(hex[Int(u.value & 0xf)])
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    // MARK: Codable (for embedding in the API's wire types)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let u = try? c.decode(UInt64.self) { self = .number(String(u)); return }
        if let i = try? c.decode(Int64.self) { self = .number(String(i)); return }
        if let d = try? c.decode(Double.self) { self = .number(String(d)); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        if let o = try? c.decode([String: JSONValue].self) {
            self = .object(o.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) })
            return
        }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if let u = UInt64(n) { try c.encode(u) }
            else if let i = Int64(n) { try c.encode(i) }
            else if let d = Double(n) { try c.encode(d) }
            else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let m):
            try c.encode(Dictionary(m.map { ($0.key, $0.value) }, uniquingKeysWith: { f, _ in f }))
        }
    }
}

// MARK: - parser

extension JSONValue {
    /// Parses JSON text (RFC 8259) strictly: one value, no trailing garbage, no duplicate
    /// keys, nesting at most 64 deep. Errors are `.malformed` with the byte offset in
    /// `detail`; they never quote the input (it may hold a CHAP secret).
    public static func parse(_ text: String) throws -> JSONValue {
        var p = JSONParser(bytes: Array(text.utf8))
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.i == p.bytes.count else { throw p.fail("unexpected text after the JSON value") }
        return v
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ what: String) -> PathCoreError {
        PathCoreError(.malformed, "malformed JSON: \(what)", detail: "at byte \(i)")
    }

    mutating func skipWS() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw fail("nested too deep") }
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("bad literal") }
        i += w.count
    }

    mutating func object(depth: Int) throws -> JSONValue {
        i += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipWS()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
            let key = try string()
            guard seen.insert(key).inserted else {
                var e = fail("duplicate key")
                e.key = key
                throw e
            }
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipWS()
            members.append((key, try value(depth: depth + 1)))
            skipWS()
            guard i < bytes.count else { throw fail("unexpected end of input in object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        i += 1
        var items: [JSONValue] = []
        skipWS()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWS()
            items.append(try value(depth: depth + 1))
            skipWS()
            guard i < bytes.count else { throw fail("unexpected end of input in list") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func number() throws -> String {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.i
            while p.i < p.bytes.count, p.bytes[p.i] >= 0x30, p.bytes[p.i] <= 0x39 { p.i += 1 }
            return p.i - s
        }
        let intStart = i
        let n = digits(&self)
        guard n > 0 else { throw fail("bad number") }
        if n > 1, bytes[intStart] == UInt8(ascii: "0") { throw fail("leading zero in number") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw fail("bad fraction") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw fail("bad exponent") }
        }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1  // opening quote
        var out = [UInt8]()
        var scalars = String.UnicodeScalarView()
        func flush(_ out: inout [UInt8], _ scalars: inout String.UnicodeScalarView) {
            if !out.isEmpty {
                scalars.append(contentsOf: String(decoding: out, as: UTF8.self).unicodeScalars)
                out.removeAll()
            }
        }
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("raw control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5c)
            case UInt8(ascii: "/"): out.append(0x2f)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v) {
                    guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("lone surrogate")
                    }
                    i += 2
                    let lo = try hex4()
                    guard (0xDC00..<0xE000).contains(lo) else { throw fail("bad surrogate pair") }
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..<0xE000).contains(v) {
                    throw fail("lone surrogate")
                }
                flush(&out, &scalars)
                guard let s = Unicode.Scalar(v) else { throw fail("bad code point") }
                scalars.append(s)
            default: throw fail("bad escape")
            }
        }
        flush(&out, &scalars)
        return String(scalars)
    }
}
