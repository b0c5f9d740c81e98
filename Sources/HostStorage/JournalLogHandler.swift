import Glibc
import Logging
import PathCore

/// A swift-log handler for services under systemd: one line per event on stderr,
///
///     <3>error pathagent.attach: login failed iscsi.portal=10.0.0.1:3260 volume.wwn=3624a937...
///
/// level, label, message, then metadata as `key=value` sorted by key (values with blanks
/// or quotes are double-quoted; newlines are escaped so an event stays one line). When
/// stderr goes to the journal (`JOURNAL_STREAM` is set) each line starts with the
/// sd-daemon(3) priority prefix `<N>` so journald records the level.
///
/// Secrets never leave it: a metadata value whose key contains `password`, `secret` or
/// `token` (any case: `auth_password`, `chap.password`, `api_token`) is written as
/// `<redacted>`, and every value registered in the `SecretRegistry` (PathCore; the parsers
/// register what they read) is replaced wherever it appears (message or metadata).
/// `ProcessLogging` installs it in every executable.
public struct JournalLogHandler: LogHandler {
    public static let redacted = SecretRegistry.redacted
    /// Substrings of metadata keys whose values are always redacted.
    public static let secretKeyParts = ["password", "secret", "token", "passwd", "credential"]

    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let secrets: SecretRegistry
    /// Prefix lines with `<N>` for journald.
    public var priorityPrefix: Bool
    private let sink: @Sendable (String) -> Void

    /// Writes to stderr (fd 2). `priorityPrefix` defaults to whether `JOURNAL_STREAM` is set.
    public init(label: String, secrets: SecretRegistry = .shared, priorityPrefix: Bool? = nil,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(label: label, secrets: secrets, priorityPrefix: priorityPrefix ?? (getenv("JOURNAL_STREAM") != nil),
                  metadataProvider: metadataProvider, sink: { line in Self.writeStderr(line) })
    }

    /// Writes each line (without the newline) to `sink`: for tests and other destinations.
    public init(label: String, secrets: SecretRegistry = .shared, priorityPrefix: Bool,
                metadataProvider: Logger.MetadataProvider? = nil, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.secrets = secrets
        self.priorityPrefix = priorityPrefix
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let p = metadataProvider { all.merge(p.get(), uniquingKeysWith: { _, new in new }) }
        if let m = event.metadata { all.merge(m, uniquingKeysWith: { _, new in new }) }
        sink(format(level: event.level, message: event.message.description, metadata: all))
    }

    /// The line for one event (without newline).
    public func format(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = priorityPrefix ? "<\(Self.syslogPriority(level))>" : ""
        line += "\(level) \(label): \(Self.oneLine(secrets.scrub(message)))"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(Self.quote(render(key: key, metadata[key]!)))"
        }
        return line
    }

    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return secretKeyParts.contains { k.contains($0) }
    }

    func render(key: String, _ value: Logger.Metadata.Value) -> String {
        if Self.isSecretKey(key) { return Self.redacted }
        switch value {
        case .string(let s): return secrets.scrub(s)
        case .stringConvertible(let c): return secrets.scrub(c.description)
        case .array(let a): return "[" + a.map { render(key: key, $0) }.joined(separator: ",") + "]"
        case .dictionary(let d):
            return "{" + d.keys.sorted().map { "\($0):\(render(key: $0, d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// sd-daemon(3) priorities: trace/debug 7, info 6, notice 5, warning 4, error 3, critical 2.
    public static func syslogPriority(_ l: Logger.Level) -> Int {
        switch l {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func oneLine(_ s: String) -> String {
        guard s.contains(where: { $0 == "\n" || $0 == "\r" }) else { return s }
        return s.replacing("\r", with: "\\r").replacing("\n", with: "\\n")
    }

    static func quote(_ s: String) -> String {
        let esc = oneLine(s)
        guard esc.isEmpty || esc.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\t" }) else { return esc }
        return "\"" + esc.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    static func writeStderr(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            off += n
        }
    }
}
