import Logging
import PathCore

/// How every executable of the package (pathagent, pathctl, engine-probe) sets up
/// swift-log: one factory, installed once at start with `bootstrap(level:)`.
///
/// The handler is `JournalLogHandler` on stderr (journald's `<N>` priority prefix when
/// `JOURNAL_STREAM` is set) with the process-wide `SecretRegistry.shared`: metadata under a
/// secret-looking key is redacted, and every secret a parser registered (CHAP and discovery
/// passwords of connection properties, cinder.conf's pure_api_token and replication
/// api_token, FlashArray session tokens, pathctl's CHAP password) is replaced wherever it
/// appears in a line, an error text included.
public enum ProcessLogging {
    /// The handler the executables install for `label`.
    public static func handler(label: String, level: Logger.Level) -> any LogHandler {
        var h = JournalLogHandler(label: label, secrets: .shared)
        h.logLevel = level
        return h
    }

    /// `LoggingSystem.bootstrap` with `handler(label:level:)`. Call once, first thing.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in handler(label: label, level: level) }
    }
}
