/// Validators for values that arrive in connection properties and later become argv
/// elements (iscsiadm) or sysfs writes. Each throws `PathCoreError` with `.invalidValue`,
/// the offending `key`, and a message that quotes the value only when it is not a secret
/// and is free of control characters.
public enum ConnectionValidators {
    /// Longest iSCSI name, in bytes (RFC 3720 section 3.2.6.1).
    public static let maxISCSINameBytes = 223
    /// Port used when a portal has no `:port` (iscsiadm's default too).
    public static let defaultISCSIPort = 3260

    // MARK: argv safety

    /// Refuses NUL, CR, LF and every other C0 control character or DEL. Values go into
    /// argv arrays (never a shell), but a newline would still split an iscsiadm config
    /// line or a sysfs write. The message never quotes the value.
    public static func argvSafe(_ value: String, key: String) throws {
        for u in value.unicodeScalars where u.value < 0x20 || u.value == 0x7f {
            let what = u.value == 0 ? "a NUL byte" : (u.value == 0x0a || u.value == 0x0d) ? "a line break" : "a control character"
            throw PathCoreError(.invalidValue, "\(key) contains \(what)", key: key)
        }
    }

    /// A value safe to quote in an error message: argv-safe and short; otherwise a placeholder.
    /// Never call it on a secret.
    public static func argvSafeQuote(_ value: String) -> String { quoted(value) }

    static func quoted(_ value: String) -> String {
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "<value with control characters>" }
        if value.utf8.count > 256 { return "<\(value.utf8.count)-byte value>" }
        return "'\(value)'"
    }

    // MARK: iSCSI names

    /// Validates an iSCSI name: `iqn.yyyy-mm.reverse.domain[:identifier]`, `eui.` + 16 hex
    /// digits or `naa.` + 16/32 hex digits; at most 223 bytes; ASCII letters, digits,
    /// `-`, `.`, `:` only (RFC 3720 3.2.6 / RFC 3722; `_` and spaces are refused).
    /// Returns the name unchanged (open-iscsi compares names byte for byte).
    @discardableResult
    public static func iscsiName(_ name: String, key: String) throws -> String {
        try argvSafe(name, key: key)
        func bad(_ why: String) -> PathCoreError {
            PathCoreError(.invalidValue, "\(key) is not a valid iSCSI name \(quoted(name)): \(why)", key: key)
        }
        guard !name.isEmpty else { throw bad("empty") }
        guard name.utf8.count <= maxISCSINameBytes else { throw bad("longer than \(maxISCSINameBytes) bytes") }
        let lower = name.lowercased()
        if lower.hasPrefix("eui.") {
            let hex = lower.dropFirst(4)
            guard hex.count == 16, hex.allSatisfy(\.isASCIIHexDigit) else { throw bad("eui. needs 16 hex digits") }
            return name
        }
        if lower.hasPrefix("naa.") {
            let hex = lower.dropFirst(4)
            guard hex.count == 16 || hex.count == 32, hex.allSatisfy(\.isASCIIHexDigit) else { throw bad("naa. needs 16 or 32 hex digits") }
            return name
        }
        guard lower.hasPrefix("iqn.") else { throw bad("must start with iqn., eui. or naa.") }
        for u in name.unicodeScalars {
            let ok = (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "-" || u == "." || u == ":"
            guard ok else { throw bad("character outside letters, digits, '-', '.', ':'") }
        }
        // iqn.YYYY-MM.naming.authority[:anything]
        let body = Array(name.utf8.dropFirst(4))
        guard body.count >= 8, body[4] == UInt8(ascii: "-"),
            body[0..<4].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            body[5..<7].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { throw bad("needs a yyyy-mm date after iqn.") }
        let month = Int(body[5] - 0x30) * 10 + Int(body[6] - 0x30)
        guard (1...12).contains(month) else { throw bad("month must be 01-12") }
        guard body[7] == UInt8(ascii: ".") else { throw bad("needs '.' and a reversed domain after the date") }
        let rest = String(decoding: body[8...], as: UTF8.self)
        let authority = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard !authority.isEmpty, !authority.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            throw bad("the reversed domain is empty or has an empty label")
        }
        return name
    }

    // MARK: portals

    /// Validates `host:port`: dotted IPv4, `[IPv6]` (optionally with `%zone`), or an
    /// RFC 1123 host name. Decision: a portal without `:port` gets 3260 (as iscsiadm
    /// does); a bare IPv6 address without brackets is refused because its last group
    /// cannot be told apart from a port.
    public static func portal(_ text: String, key: String) throws -> ISCSIPortal {
        try argvSafe(text, key: key)
        func bad(_ why: String) -> PathCoreError {
            PathCoreError(.invalidValue, "\(key) is not a valid portal \(quoted(text)): \(why)", key: key)
        }
        let s = text.trimmingWhitespace()
        guard !s.isEmpty else { throw bad("empty") }
        var hostPart: Substring
        var portPart: Substring?
        var isIPv6 = false
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw bad("missing ']'") }
            hostPart = s[s.index(after: s.startIndex)..<close]
            let after = s[s.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw bad("expected ':port' after ']'") }
                portPart = after.dropFirst()
            }
            isIPv6 = true
        } else {
            let colons = s.filter { $0 == ":" }.count
            if colons > 1 { throw bad("IPv6 addresses must be written [address]:port") }
            if colons == 1 {
                let i = s.firstIndex(of: ":")!
                hostPart = s[..<i]
                portPart = s[s.index(after: i)...]
            } else {
                hostPart = s[...]
            }
        }
        var port = defaultISCSIPort
        if let p = portPart {
            guard !p.isEmpty, p.count <= 5, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p), (1...65535).contains(n) else {
                throw bad("port must be 1-65535")
            }
            port = n
        }
        let host = String(hostPart)
        if isIPv6 {
            guard let canonical = canonicalIPv6(host) else { throw bad("not an IPv6 address") }
            return ISCSIPortal(host: canonical, port: port, isIPv6: true)
        } else if host.allSatisfy({ $0 == "." || ($0.isASCII && $0.isNumber) }) {
            guard isIPv4Address(host) else { throw bad("not an IPv4 address") }
        } else {
            guard isHostName(host) else { throw bad("not an IP address or host name") }
        }
        return ISCSIPortal(host: host.lowercased(), port: port, isIPv6: isIPv6)
    }

    public static func isIPv4Address(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy({ $0.isASCII && $0.isNumber }) && (p.count == 1 || p.first != "0")
                && Int(p)! <= 255
        }
    }

    public static func isIPv6Address(_ text: String) -> Bool { canonicalIPv6(text) != nil }

    /// The RFC 5952 text form of an IPv6 address (lower case, leading zeros dropped,
    /// the longest run of two or more zero groups as `::`, embedded IPv4 spelled out as
    /// hex), so a portal from properties and a session's address from sysfs compare
    /// equal however each was written. A `%zone` suffix is kept. nil when not IPv6.
    public static func canonicalIPv6(_ text: String) -> String? {
        var s = Substring(text)
        var zone = ""
        if let pct = s.firstIndex(of: "%") {
            let z = s[s.index(after: pct)...]
            guard !z.isEmpty, z.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }) else { return nil }
            zone = "%" + z
            s = s[..<pct]
        }
        guard !s.isEmpty else { return nil }
        let halves = s.components("::")
        guard halves.count <= 2 else { return nil }
        func parse(_ h: Substring, allowV4: Bool) -> [UInt16]? {
            if h.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = h.split(separator: ":", omittingEmptySubsequences: false)
            for (i, g) in parts.enumerated() {
                if allowV4, i == parts.count - 1, g.contains(".") {
                    guard isIPv4Address(String(g)) else { return nil }
                    let o = g.split(separator: ".").map { UInt16($0)! }
                    out += [o[0] << 8 | o[1], o[2] << 8 | o[3]]
                    continue
                }
                guard !g.isEmpty, g.count <= 4, g.allSatisfy(\.isHexDigit), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var groups: [UInt16]
        if halves.count == 2 {
            guard let l = parse(halves[0], allowV4: false), let r = parse(halves[1], allowV4: true), l.count + r.count <= 7 else { return nil }
            groups = l + Array(repeating: 0, count: 8 - l.count - r.count) + r
        } else {
            guard let all = parse(halves[0], allowV4: true), all.count == 8 else { return nil }
            groups = all
        }
        // longest run (>= 2) of zero groups, first one on ties
        var best = (start: -1, len: 0)
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > best.len { best = (i, j - i) }
                i = j
            } else { i += 1 }
        }
        let hex = groups.map { String($0, radix: 16) }
        let text: String
        if best.len >= 2 {
            text = hex[..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.len)...].joined(separator: ":")
        } else {
            text = hex.joined(separator: ":")
        }
        return text + zone
    }

    public static func isHostName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { l in
            !l.isEmpty && l.count <= 63 && l.first != "-" && l.last != "-"
                && l.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        }
    }

    // MARK: NVMe names

    /// Longest NVMe Qualified Name, in bytes (NVMe Base Specification, NQN).
    public static let maxNQNBytes = 223

    /// Validates an NVMe Qualified Name: `nqn.yyyy-mm.reverse.domain[:string]` or the UUID
    /// form `nqn.2014-08.org.nvmexpress:uuid:` + 36-character UUID; at most 223 bytes; no
    /// blanks or control characters. Returns the name unchanged (NQNs compare byte for byte).
    @discardableResult
    public static func nvmeQualifiedName(_ name: String, key: String) throws -> String {
        try argvSafe(name, key: key)
        func bad(_ why: String) -> PathCoreError {
            PathCoreError(.invalidValue, "\(key) is not a valid NVMe qualified name \(quoted(name)): \(why)", key: key)
        }
        guard name.utf8.count <= maxNQNBytes else { throw bad("longer than \(maxNQNBytes) bytes") }
        guard name.hasPrefix("nqn.") else { throw bad("must start with nqn.") }
        guard !name.contains(where: \.isWhitespace) else { throw bad("contains a blank") }
        let uuidPrefix = "nqn.2014-08.org.nvmexpress:uuid:"
        if name.hasPrefix(uuidPrefix) {
            let u = Array(name.utf8.dropFirst(uuidPrefix.utf8.count))
            let dashes: Set<Int> = [8, 13, 18, 23]
            let hex = Set("0123456789abcdefABCDEF".utf8)
            guard u.count == 36, u.enumerated().allSatisfy({ i, c in dashes.contains(i) ? c == UInt8(ascii: "-") : hex.contains(c) }) else {
                throw bad("the uuid form needs a 36-character UUID")
            }
            return name
        }
        let body = Array(name.utf8.dropFirst(4))
        guard body.count >= 8, body[4] == UInt8(ascii: "-"),
            body[0..<4].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), body[5..<7].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { throw bad("needs a yyyy-mm date after nqn.") }
        let month = Int(body[5] - 0x30) * 10 + Int(body[6] - 0x30)
        guard (1...12).contains(month) else { throw bad("month must be 01-12") }
        guard body[7] == UInt8(ascii: ".") else { throw bad("needs '.' and a reversed domain after the date") }
        let rest = String(decoding: body[8...], as: UTF8.self)
        let domain = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard !domain.isEmpty, labels.allSatisfy({ l in !l.isEmpty && l.unicodeScalars.allSatisfy { u in
            (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "-" } })
        else { throw bad("the reversed domain must be dot-separated labels of letters, digits and '-'") }
        return name
    }

    // MARK: FC

    /// Validates an FC port name: 16 hex digits, with or without `0x` and `:` separators
    /// (`50:0a:09:81:00:00:00:01`); all zeros refused. Returns the canonical form.
    public static func wwpn(_ text: String, key: String) throws -> WWPN {
        try argvSafe(text, key: key)
        var s = Substring(text.trimmingWhitespace().lowercased())
        if s.hasPrefix("0x") { s = s.dropFirst(2) }
        if s.contains(":") {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 8, parts.allSatisfy({ $0.count == 2 }) else {
                throw PathCoreError(.invalidValue, "\(key) is not a valid FC port name \(quoted(text)): colon form needs 8 pairs of hex digits", key: key)
            }
            s = Substring(parts.joined())
        }
        guard s.count == 16, s.allSatisfy(\.isASCIIHexDigit) else {
            throw PathCoreError(.invalidValue, "\(key) is not a valid FC port name \(quoted(text)): needs 16 hex digits", key: key)
        }
        guard s.contains(where: { $0 != "0" }) else {
            throw PathCoreError(.invalidValue, "\(key) is the all-zero FC port name", key: key)
        }
        return WWPN(canonical: String(s))
    }

    // MARK: LUNs

    /// Largest LUN number the kernel's targeted scan and sysfs names can carry in practice.
    public static let maxKernelLUN: UInt64 = UInt64(UInt32.max)

    /// A LUN from a JSON number: non-negative integer below 2^64.
    public static func lun(_ value: JSONValue, key: String) throws -> UInt64 {
        guard case .number(let text) = value else {
            throw PathCoreError(.invalidValue, "\(key) must be a non-negative integer, got a \(value.typeName)", key: key)
        }
        guard let n = UInt64(text) else {
            throw PathCoreError(.invalidValue, "\(key) must be a non-negative integer below 2^64, got \(text)", key: key)
        }
        return n
    }

    /// Checks a LUN after the addressing transform fits a targeted scan (`< 2^32`).
    public static func kernelLUN(_ lun: UInt64, key: String) throws -> UInt64 {
        guard lun <= maxKernelLUN else {
            throw PathCoreError(.invalidValue, "\(key) \(lun) is out of the range a SCSI scan accepts (0-\(maxKernelLUN))", key: key)
        }
        return lun
    }
}

extension StringProtocol {
    /// Splits on a multi-character separator (no Foundation).
    func components(_ sep: String) -> [Substring] {
        let s = Substring(self)
        var out: [Substring] = []
        var start = s.startIndex
        var i = s.startIndex
        let sepChars = Array(sep)
        while i < s.endIndex {
            if s[i...].starts(with: sepChars) {
                out.append(s[start..<i])
                i = s.index(i, offsetBy: sepChars.count)
                start = i
            } else {
                i = s.index(after: i)
            }
        }
        out.append(s[start..<s.endIndex])
        return out
    }
}

/// An iSCSI portal, normalized: host lower-cased without brackets, port always present.
public struct ISCSIPortal: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var isIPv6: Bool

    public init(host: String, port: Int = ConnectionValidators.defaultISCSIPort, isIPv6: Bool = false) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    /// Parses and validates (see `ConnectionValidators.portal`).
    public init(_ text: String, key: String = "portal") throws {
        self = try ConnectionValidators.portal(text, key: key)
    }

    /// From an address and port as sysfs shows them (`iscsi_connection/.../persistent_address`
    /// holds an IPv6 address without brackets); IPv6 is canonicalized.
    public init(address: String, port: Int) throws {
        let a = address.trimmingWhitespace()
        let text = a.contains(":") ? "[\(a)]:\(port)" : "\(a):\(port)"
        self = try ConnectionValidators.portal(text, key: "persistent_address")
    }

    /// Same endpoint: host names compare case-insensitively, IPv6 addresses in canonical form.
    public func sameEndpoint(as other: ISCSIPortal) -> Bool {
        guard port == other.port else { return false }
        func norm(_ p: ISCSIPortal) -> String {
            p.isIPv6 ? (ConnectionValidators.canonicalIPv6(p.host) ?? p.host.lowercased()) : p.host.lowercased()
        }
        return norm(self) == norm(other)
    }

    /// The `-p` argument of iscsiadm: `10.0.0.1:3260` or `[fd00::1]:3260`.
    public var argument: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
    public var description: String { argument }
    public static func < (a: ISCSIPortal, b: ISCSIPortal) -> Bool { (a.host, a.port) < (b.host, b.port) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        self = try ConnectionValidators.portal(try c.decode(String.self), key: "portal")
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(argument)
    }
}

/// An FC port name (WWPN/WWNN) in canonical form: 16 lower-case hex digits, no separators
/// (what sysfs `port_name` shows after its `0x`, and what Cinder's map uses).
public struct WWPN: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let value: String
    init(canonical: String) { value = canonical }
    public init(_ text: String, key: String = "wwpn") throws {
        self = try ConnectionValidators.wwpn(text, key: key)
    }
    public var description: String { value }
    /// `0x500a098100000001`, as sysfs `fc_host/hostN/port_name` prints it.
    public var sysfsForm: String { "0x" + value }
    public static func < (a: WWPN, b: WWPN) -> Bool { a.value < b.value }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        self = try ConnectionValidators.wwpn(try c.decode(String.self), key: "wwpn")
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
