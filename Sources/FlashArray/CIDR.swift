import Foundation

/// An IPv4 or IPv6 network (`10.0.0.0/24`, `fd00::/64`) and address parsing without libc.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let address: [UInt8]   // 4 or 16 bytes
    public let prefix: Int
    public let text: String

    public init?(_ s: String) {
        let t = s.trimmingWhitespace()
        let parts = t.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let a = parseIP(String(parts[0])) else { return nil }
        let maxP = a.count * 8
        var p = maxP
        if parts.count == 2 {
            guard let v = Int(parts[1]), v >= 0, v <= maxP else { return nil }
            p = v
        }
        self.address = a
        self.prefix = p
        self.text = t
    }

    public func contains(_ ip: [UInt8]) -> Bool {
        guard ip.count == address.count else { return false }
        var bits = prefix
        for i in 0..<ip.count where bits > 0 {
            let take = min(8, bits)
            let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
            if ip[i] & mask != address[i] & mask { return false }
            bits -= take
        }
        return true
    }

    public func contains(_ ip: String) -> Bool { parseIP(ip).map(contains) ?? false }
    public var description: String { text }
}

/// Parses a dotted IPv4 or an IPv6 address (with `::`, optional brackets, optional zone).
public func parseIP(_ s: String) -> [UInt8]? {
    var t = s.trimmingWhitespace()
    if t.hasPrefix("["), t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
    if let z = t.firstIndex(of: "%") { t = String(t[..<z]) }
    if !t.contains(":") {
        let o = t.split(separator: ".", omittingEmptySubsequences: false)
        guard o.count == 4 else { return nil }
        var r: [UInt8] = []
        for x in o {
            guard !x.isEmpty, x.count <= 3, x.allSatisfy(\.isNumber), let v = UInt8(x) else { return nil }
            r.append(v)
        }
        return r
    }
    let halves = t.components(separatedBy: "::")
    guard halves.count <= 2 else { return nil }
    func groups(_ h: String) -> [UInt16]? {
        if h.isEmpty { return [] }
        var g: [UInt16] = []
        let items = h.split(separator: ":", omittingEmptySubsequences: false)
        for (i, x) in items.enumerated() {
            if i == items.count - 1, x.contains("."), let v4 = parseIP(String(x)) {
                g.append(UInt16(v4[0]) << 8 | UInt16(v4[1])); g.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                continue
            }
            guard !x.isEmpty, x.count <= 4, let v = UInt16(x, radix: 16) else { return nil }
            g.append(v)
        }
        return g
    }
    guard let head = groups(halves[0]) else { return nil }
    var all = head
    if halves.count == 2 {
        guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
        all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
    guard all.count == 8 else { return nil }
    return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
}

/// The host part of an iSCSI portal `ip:port` / `[v6]:port`.
public func portalHost(_ portal: String) -> String {
    if portal.hasPrefix("["), let c = portal.firstIndex(of: "]") {
        return String(portal[portal.index(after: portal.startIndex)..<c])
    }
    if let c = portal.lastIndex(of: ":"), portal.filter({ $0 == ":" }).count == 1 { return String(portal[..<c]) }
    return portal
}
