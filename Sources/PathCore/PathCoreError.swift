/// The one error type of the pure-logic module.
///
/// `code` is stable (operators and the API match on it); `message` is written for an
/// operator and names the offending value or key; `detail` carries the underlying cause
/// (a byte offset, a sysfs file, a SCSI sense triple) when there is one.
public struct PathCoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Bytes returned by a device are shorter than their own header says, or malformed.
        public static let truncated = Code(rawValue: "truncated")
        /// A value (WWN, IQN, portal, LUN, HCTL...) is not well formed.
        public static let invalidValue = Code(rawValue: "invalid_value")
        /// A required key or file is missing.
        public static let missing = Code(rawValue: "missing")
        /// The device or configuration does not support what was asked.
        public static let unsupported = Code(rawValue: "unsupported")
        /// Two sources disagree (paths of one volume with different sizes or WWNs).
        public static let conflict = Code(rawValue: "conflict")
        /// Input text is not syntactically valid (malformed JSON).
        public static let malformed = Code(rawValue: "malformed")
    }

    public var code: Code
    public var message: String
    public var detail: String?
    /// The input key the error is about (`target_iqns`, `initiator_target_map.<wwpn>`), when
    /// the error comes from validating caller input; the API echoes it as `error.key`.
    public var key: String?

    public init(_ code: Code, _ message: String, detail: String? = nil, key: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
        self.key = key
    }

    public var description: String {
        if let detail { return "\(message) (\(detail))" }
        return message
    }
}

extension PathCoreError {
    /// A copy with every occurrence of each secret (4 bytes or longer) in message, detail
    /// and key replaced by `<redacted>`: a last line of defence for errors about input
    /// that carried secrets.
    public func scrubbing(_ secrets: [String]) -> PathCoreError {
        func scrub(_ text: String) -> String {
            var out = text
            for s in secrets where s.utf8.count >= 4 {
                var result = ""
                var rest = Substring(out)
                while let r = rest.firstRange(of: s) {
                    result += rest[..<r.lowerBound]
                    result += "<redacted>"
                    rest = rest[r.upperBound...]
                }
                out = result + rest
            }
            return out
        }
        var e = self
        e.message = scrub(message)
        e.detail = detail.map(scrub)
        e.key = key.map(scrub)
        return e
    }
}
