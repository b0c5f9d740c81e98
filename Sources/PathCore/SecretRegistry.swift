import Synchronization

/// Secret values to scrub from every log line (CHAP passwords, API and session tokens),
/// shared by the log handlers of a process. Parsers register a secret as soon as they read
/// it (connection properties, cinder.conf, pathctl's CHAP password), so it is redacted
/// wherever it later appears, an error text quoted in a log line included. Values shorter
/// than 4 bytes are ignored (they would redact innocent text).
///
/// A registered value stays for the life of the process (a host has few distinct CHAP
/// secrets; FlashArray session tokens are unregistered at logout).
public final class SecretRegistry: Sendable {
    private let secrets = Mutex<Set<String>>([])
    public init() {}

    /// The process-wide registry the parsers fill and `JournalLogHandler` reads by default.
    public static let shared = SecretRegistry()

    /// What a registered secret becomes in a scrubbed text.
    public static let redacted = "<redacted>"

    public func register(_ secret: String) {
        guard secret.utf8.count >= 4, secret != Self.redacted else { return }
        _ = secrets.withLock { $0.insert(secret) }
    }

    public func register(_ secrets: [String]) { for s in secrets { register(s) } }

    public func unregister(_ secret: String) { _ = secrets.withLock { $0.remove(secret) } }

    /// Whether `secret` is registered.
    public func contains(_ secret: String) -> Bool { secrets.withLock { $0.contains(secret) } }

    /// `text` with every registered secret replaced by `<redacted>` (longest first, so a
    /// secret that contains another is removed whole).
    public func scrub(_ text: String) -> String {
        let current = secrets.withLock { $0 }
        var out = text
        for s in current.sorted(by: { $0.utf8.count > $1.utf8.count }) where out.contains(s) {
            out = out.replacing(s, with: Self.redacted)
        }
        return out
    }
}
