/// Whitespace-separated words of a dm table or status line, consumed left to right.
/// Positions are 1-based word numbers of the whole line, so errors can say "token 9".
struct DMTokenReader {
    let words: [Substring]
    let what: String
    private(set) var index = 0

    init(_ line: String, what: String) {
        // Split on scalars, as the kernel splits bytes: a Character can hold a blank ("\r\n",
        // or " " + a combining mark), and splitting Characters would keep it inside a word.
        self.words = line.unicodeScalars.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .map(Substring.init)
        self.what = what
    }

    var position: Int { index + 1 }
    var atEnd: Bool { index >= words.count }
    var remaining: Int { words.count - index }
    func peek(_ offset: Int = 0) -> Substring? {
        index + offset < words.count ? words[index + offset] : nil
    }

    func error(_ expected: String, at pos: Int? = nil) -> PathCoreError {
        let p = pos ?? position
        let got = p - 1 < words.count ? "'\(words[p - 1])'" : "end of line"
        return PathCoreError(.invalidValue, "\(what): token \(p): expected \(expected), got \(got)", detail: "token \(p)")
    }

    mutating func word(_ expected: String) throws -> String {
        guard let w = peek() else { throw error(expected) }
        index += 1
        return String(w)
    }

    mutating func number<T: FixedWidthInteger>(_ expected: String, as: T.Type = T.self) throws -> T {
        guard let w = peek(), let v = T(w) else { throw error(expected) }
        index += 1
        return v
    }

    /// A count followed by that many words.
    mutating func countedWords(_ expected: String) throws -> [String] {
        let n: Int = try number("number of \(expected)")
        guard n >= 0, n <= remaining else { throw error("\(n) \(expected)", at: position - 1) }
        var out: [String] = []
        for _ in 0..<n { out.append(try word(expected)) }
        return out
    }

    mutating func device() throws -> DeviceNumber {
        guard let w = peek(), let d = try? DeviceNumber(w) else { throw error("a maj:min device") }
        index += 1
        return d
    }

    func expectEnd() throws {
        if !atEnd { throw error("end of line") }
    }

    /// Skips an optional `name:` prefix (as `dmsetup table`/`status` print for all maps) and
    /// `<start> <length> multipath`. When the line has no `multipath` word at position 3 it is
    /// taken as bare target parameters (what libdevmapper's `dm_get_next_target` returns).
    mutating func header() throws -> (start: UInt64, length: UInt64, hasHeader: Bool) {
        if let first = peek(), first.hasSuffix(":"), peek(3) != nil, UInt64(peek(1) ?? "") != nil {
            index += 1  // `name:` printed by `dmsetup table|status` without a map argument
        }
        if let t = peek(2), UInt64(peek(0) ?? "") != nil, UInt64(peek(1) ?? "") != nil, UInt64(t) == nil {
            let start: UInt64 = try number("start sector")
            let length: UInt64 = try number("length in sectors")
            guard try word("target type") == "multipath" else {
                throw error("target type 'multipath'", at: position - 1)
            }
            return (start, length, true)
        }
        return (0, 0, false)
    }
}
