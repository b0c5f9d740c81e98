import Foundation
import Logging
@testable import FlashArray

enum Fixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func text(_ path: String) throws -> String {
        try String(contentsOf: dir.appendingPathComponent(path), encoding: .utf8)
    }
    static func data(_ path: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(path)) }
    static func list<T: Codable & Sendable>(_ path: String, _ t: T.Type) throws -> [T] {
        try JSONDecoder().decode(ListResponse<T>.self, from: data(path)).items
    }
}

/// A log handler that keeps every rendered line (message + metadata) in memory.
final class MemoryLog: @unchecked Sendable {
    let lock = NSLock()
    var lines: [String] = []
    func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: String { lock.lock(); defer { lock.unlock() }; return lines.joined(separator: "\n") }
    func logger(_ label: String = "test") -> Logger {
        var l = Logger(label: label) { _ in MemoryLogHandler(sink: self) }
        l.logLevel = .trace
        return l
    }
}

struct MemoryLogHandler: LogHandler {
    let sink: MemoryLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let md = self.metadata.merging(event.metadata ?? [:]) { _, b in b }
        sink.append("\(event.level) \(event.message) \(md.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
    }
}
