import Foundation

/// Loads goldens from Tests/Fixtures/dm: lines `table <text>` / `status <text>` ('#' = comment).
enum DMFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dm")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// The golden lines of one kind, kernel trailing spaces kept.
    static func lines(_ name: String, kind: String) throws -> [String] {
        try text(name).split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), line.hasPrefix(kind + " ") else { return nil }
            return String(line.dropFirst(kind.count + 1))
        }
    }

    /// Drops an optional `name: ` prefix and trailing blanks (what `rendered()` should equal).
    static func canonical(_ line: String) -> String {
        var s = Substring(line)
        if let first = s.split(separator: " ").first, first.hasSuffix(":") {
            s = s.dropFirst(first.count + 1)
        }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
