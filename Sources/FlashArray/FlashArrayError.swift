import PathCore

/// The one error type of the FlashArray control-plane module.
///
/// `code` is stable; `message` is written for an operator. `status` is the HTTP status
/// when the array answered, and `arrayMessages` carries the array's own `errors[].message`
/// texts. No field ever holds a secret (API token, session token, CHAP secret).
public struct FlashArrayError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The array refused the credentials (401 after one re-login).
        public static let authentication = Code(rawValue: "authentication")
        /// The array answered 4xx with `errors[]` (bad request, not found, conflict).
        public static let array = Code(rawValue: "array")
        /// The array answered 5xx after the bounded retries.
        public static let server = Code(rawValue: "server")
        /// TLS handshake or certificate verification failed.
        public static let tls = Code(rawValue: "tls")
        /// Could not reach the array, or it timed out.
        public static let transport = Code(rawValue: "transport")
        /// The response did not have the documented REST 2.x shape.
        public static let malformed = Code(rawValue: "malformed")
        /// cinder.conf or a backend stanza is invalid.
        public static let configuration = Code(rawValue: "configuration")
        /// The array lacks what was asked (no ready controller, no iSCSI port, old REST version).
        public static let unsupported = Code(rawValue: "unsupported")
        /// A named object does not exist.
        public static let notFound = Code(rawValue: "not_found")
        /// A value given to the module is not valid (an initiator name that is no IQN, WWPN or NQN).
        public static let invalidArgument = Code(rawValue: "invalid_argument")
    }

    public var code: Code
    public var message: String
    /// HTTP status when the array answered.
    public var status: Int?
    /// The array's own `errors[].message` texts.
    public var arrayMessages: [String]

    public init(_ code: Code, _ message: String, status: Int? = nil, arrayMessages: [String] = []) {
        self.code = code
        self.message = message
        self.status = status
        self.arrayMessages = arrayMessages
    }

    public var description: String {
        var s = message
        if let status { s += " (HTTP \(status))" }
        if !arrayMessages.isEmpty { s += ": " + arrayMessages.joined(separator: "; ") }
        return s
    }
}

/// A secret string (API token, CHAP password). Its `description`, `debugDescription` and
/// mirror are redacted, so string interpolation, `print`, `dump` and log metadata never show
/// it. Encoding writes the real value (os-brick needs `auth_password`); read it explicitly
/// with `reveal()` only where it must go on the wire.
public struct Secret: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable, ExpressibleByStringLiteral
{
    private let value: String
    /// Registers the value with `SecretRegistry.shared` (log lines never show it).
    public init(_ value: String) {
        self.value = value
        SecretRegistry.shared.register(value)
    }
    public init(stringLiteral value: String) { self.init(value) }
    public func reveal() -> String { value }
    public var isEmpty: Bool { value.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
