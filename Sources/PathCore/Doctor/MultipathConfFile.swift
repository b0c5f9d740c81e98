/// A reader for multipath-tools' `/etc/multipath.conf` (the format multipathd reads, not
/// pathagent's own config): `section { key value }` with nested `devices { device { ... } }`,
/// `blacklist { wwid ... device { vendor ... product ... } }`, `#` and `!` comments,
/// double-quoted values, braces as tokens of their own (libmpathutil/parser.c).
public struct MultipathConfFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int
    }

    public struct Section: Sendable, Equatable {
        public var name: String
        public var line: Int
        public var entries: [Entry]
        public var children: [Section]

        /// The last value of `key` in this section (later lines win, as in multipathd).
        public func value(_ key: String) -> String? { entries.last { $0.key == key }?.value }
        public func entry(_ key: String) -> Entry? { entries.last { $0.key == key } }
        public func sections(_ name: String) -> [Section] { children.filter { $0.name == name } }
        public func section(_ name: String) -> Section? { children.last { $0.name == name } }
    }

    public var path: String
    /// The unnamed top level: `defaults`, `blacklist`, `blacklist_exceptions`, `devices`, `overrides`, `multipaths`.
    public var root: Section

    public var defaults: Section? { root.section("defaults") }
    public var blacklist: Section? { root.section("blacklist") }
    public var blacklistExceptions: Section? { root.section("blacklist_exceptions") }
    public var overrides: Section? { root.section("overrides") }
    /// Every `device` of every `devices` section, in file order.
    public var devices: [Section] { root.sections("devices").flatMap { $0.sections("device") } }

    public static func parse(_ text: String, path: String) throws -> MultipathConfFile {
        var stack: [Section] = [Section(name: "", line: 0, entries: [], children: [])]
        var lineNo = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {  // CRLF is one Character
            lineNo += 1
            var tokens = try tokenize(raw, line: lineNo, path: path)[...]
            while let t = tokens.first {
                tokens = tokens.dropFirst()
                if t == .close {
                    guard stack.count > 1 else {
                        throw PathCoreError(.malformed, "\(path):\(lineNo): '}' without an open section", detail: "\(path):\(lineNo)")
                    }
                    let done = stack.removeLast()
                    stack[stack.count - 1].children.append(done)
                    continue
                }
                guard case .word(let key) = t else {
                    throw PathCoreError(.malformed, "\(path):\(lineNo): '{' without a section name", detail: "\(path):\(lineNo)")
                }
                if tokens.first == .open {
                    tokens = tokens.dropFirst()
                    stack.append(Section(name: key, line: lineNo, entries: [], children: []))
                    continue
                }
                var words: [String] = []
                while let v = tokens.first, case .word(let w) = v {
                    words.append(w)
                    tokens = tokens.dropFirst()
                }
                if tokens.first == .open {
                    throw PathCoreError(.malformed, "\(path):\(lineNo): unexpected '{' after '\(key) \(words.joined(separator: " "))'", detail: "\(path):\(lineNo)")
                }
                guard stack.count > 1 else {
                    throw PathCoreError(.malformed, "\(path):\(lineNo): '\(key)' outside any section", detail: "\(path):\(lineNo)")
                }
                stack[stack.count - 1].entries.append(Entry(key: key, value: words.joined(separator: " "), line: lineNo))
            }
        }
        guard stack.count == 1 else {
            let open = stack.last!
            throw PathCoreError(.malformed, "\(path): section '\(open.name)' opened on line \(open.line) is never closed", detail: "\(path):\(open.line)")
        }
        return MultipathConfFile(path: path, root: stack[0])
    }

    enum Token: Equatable {
        case word(String)
        case open
        case close
    }

    static func tokenize(_ line: Substring, line no: Int, path: String) throws -> [Token] {
        var out: [Token] = []
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if c == " " || c == "\t" || c == "\r" { i = line.index(after: i); continue }
            if c == "#" || c == "!" { break }
            if c == "{" { out.append(.open); i = line.index(after: i); continue }
            if c == "}" { out.append(.close); i = line.index(after: i); continue }
            if c == "\"" {
                let start = line.index(after: i)
                guard let end = line[start...].firstIndex(of: "\"") else {
                    throw PathCoreError(.malformed, "\(path):\(no): unterminated quoted string", detail: "\(path):\(no)")
                }
                out.append(.word(String(line[start..<end])))
                i = line.index(after: end)
                continue
            }
            var j = i
            while j < line.endIndex, !" \t\r{}\"".contains(line[j]) { j = line.index(after: j) }
            out.append(.word(String(line[i..<j])))
            i = j
        }
        return out
    }

    // MARK: blacklist

    /// Why multipathd would ignore a path with this wwid / vendor / product, or nil when it
    /// would claim it. Like multipath-tools' filter_wwid/filter_device: a matching
    /// `blacklist_exceptions` entry of the same kind overrides the blacklist; patterns are
    /// POSIX extended regular expressions matched anywhere in the string.
    public func blacklistReason(wwid: String, vendor: String, product: String) -> String? {
        func matches(_ pattern: String, _ s: String) -> Bool {
            guard let re = try? Regex(pattern) else { return false }
            return (try? re.firstMatch(in: s)) != nil
        }
        func wwidHit(_ sec: Section?) -> Entry? {
            sec?.entries.first { $0.key == "wwid" && matches($0.value, wwid) }
        }
        func deviceHit(_ sec: Section?) -> Section? {
            sec?.sections("device").first { d in
                let v = d.value("vendor").map { matches($0, vendor) } ?? true
                let p = d.value("product").map { matches($0, product) } ?? true
                return v && p && (d.value("vendor") != nil || d.value("product") != nil)
            }
        }
        if let e = wwidHit(blacklist), wwidHit(blacklistExceptions) == nil {
            return "\(path):\(e.line): blacklist wwid \"\(e.value)\""
        }
        if let d = deviceHit(blacklist), deviceHit(blacklistExceptions) == nil {
            return "\(path):\(d.line): blacklist device { vendor \"\(d.value("vendor") ?? "")\" product \"\(d.value("product") ?? "")\" }"
        }
        return nil
    }

    /// The `device` sections whose vendor and product patterns match (file order).
    public func matchingDevices(vendor: String, product: String) -> [Section] {
        devices.filter { d in
            guard let v = d.value("vendor"), let p = d.value("product") else { return false }
            guard let vr = try? Regex(v), let pr = try? Regex(p) else { return false }
            return (try? vr.firstMatch(in: vendor)) != nil && (try? pr.firstMatch(in: product)) != nil
        }
    }
}
