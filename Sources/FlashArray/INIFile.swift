/// An INI file read with oslo.config's semantics (`oslo_config/iniparser.py`):
/// `[section]` headers (case-sensitive), `key = value` or `key: value` (split at the
/// first `=` or `:`, spaces around trimmed), whole-line comments starting with `#` or `;`
/// (no inline comments: `#` inside a value is part of it), values in matching quotes
/// unquoted, indented lines continuing the previous value (joined with a newline), and
/// every occurrence of a repeated key kept in order.
public struct INIFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        /// 1-based line of the key.
        public var line: Int
        /// True when indented continuation lines were joined into the value.
        public var continued: Bool
    }
    public struct Section: Sendable {
        public var name: String
        public var line: Int
        public var entries: [Entry]
        /// All values of `key` in file order.
        public func all(_ key: String) -> [Entry] { entries.filter { $0.key == key } }
        /// The effective value of a single-valued option: the last occurrence, as oslo does.
        public func last(_ key: String) -> Entry? { entries.last { $0.key == key } }
    }
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Sections in file order; a section that appears twice is merged, as oslo does.
    public private(set) var sections: [Section] = []

    public subscript(name: String) -> Section? { sections.first { $0.name == name } }

    public init(text: String) throws {
        var current: Int? = nil
        var lastEntry: (Int, Int)? = nil  // (section index, entry index)
        var lineNo = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {  // CRLF is one Character
            lineNo += 1
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            let stripped = line.trimmingWhitespace()
            if stripped.isEmpty { lastEntry = nil; continue }
            if stripped.hasPrefix("#") || stripped.hasPrefix(";") { continue }
            if let f = line.first, f == " " || f == "\t", let (s, e) = lastEntry {
                sections[s].entries[e].value += "\n" + stripped
                sections[s].entries[e].continued = true
                continue
            }
            if stripped.hasPrefix("[") {
                guard stripped.hasSuffix("]") else {
                    throw ParseError(line: lineNo, message: "section header without closing ']': '\(stripped)'")
                }
                let name = String(stripped.dropFirst().dropLast()).trimmingWhitespace()
                guard !name.isEmpty else { throw ParseError(line: lineNo, message: "empty section name") }
                if let i = sections.firstIndex(where: { $0.name == name }) {
                    current = i
                } else {
                    sections.append(Section(name: name, line: lineNo, entries: []))
                    current = sections.count - 1
                }
                lastEntry = nil
                continue
            }
            guard let sec = current else {
                throw ParseError(line: lineNo, message: "'\(stripped)' comes before any [section] header")
            }
            guard let sep = stripped.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ParseError(line: lineNo, message: "expected 'key = value', found '\(stripped)'")
            }
            let key = String(stripped[..<sep]).trimmingWhitespace()
            guard !key.isEmpty else { throw ParseError(line: lineNo, message: "a value without a key: '\(stripped)'") }
            var value = String(stripped[stripped.index(after: sep)...]).trimmingWhitespace()
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                value = String(value.dropFirst().dropLast())
            }
            sections[sec].entries.append(Entry(key: key, value: value, line: lineNo, continued: false))
            lastEntry = (sec, sections[sec].entries.count - 1)
        }
    }
}

/// oslo.config's boolean parsing (`types.Boolean`): case-insensitive
/// `1 t true on y yes` and `0 f false off n no`; anything else is an error.
public func osloBool(_ s: String) -> Bool? {
    switch s.trimmingWhitespace().lowercased() {
    case "1", "t", "true", "on", "y", "yes": return true
    case "0", "f", "false", "off", "n", "no": return false
    default: return nil
    }
}
