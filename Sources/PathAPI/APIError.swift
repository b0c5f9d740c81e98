public import PathCore

/// The API's one error shape:
/// `{"error": {"code": "bad_request.missing_key", "message": "...", "key": "target_iqns"}}`.
public struct APIErrorResponse: Sendable, Equatable, Codable, Error {
    public var error: APIErrorBody
    public init(error: APIErrorBody) { self.error = error }

    /// From a PathCore error; `secrets` (e.g. `VolumeRequestBase.secrets`) are scrubbed
    /// from the message and detail as a second line of defence.
    public init(_ e: PathCoreError, scrubbing secrets: [String] = []) {
        error = APIErrorBody(e, scrubbing: secrets)
    }
    public var httpStatus: Int { error.code.httpStatus }
}

public struct APIErrorBody: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Stable, dotted error codes. Clients match on these, never on messages.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
        public var description: String { rawValue }

        /// The body is not JSON (or not the request's shape).
        public static let malformedJSON = Code(rawValue: "bad_request.malformed_json")
        /// A required key is missing (`key` names it).
        public static let missingKey = Code(rawValue: "bad_request.missing_key")
        /// A value is not well formed or out of range (`key` names it).
        public static let invalidValue = Code(rawValue: "bad_request.invalid_value")
        /// Two inputs disagree (`target_wwn` vs `target_wwns`, `wwn` vs `scsi_wwn`), or a
        /// device shows another volume's WWN.
        public static let conflict = Code(rawValue: "conflict")
        /// No such route, device or volume.
        public static let notFound = Code(rawValue: "not_found")
        /// The host or device cannot do what was asked.
        public static let unsupported = Code(rawValue: "unsupported")
        /// A step did not finish before its deadline.
        public static let timeout = Code(rawValue: "timeout")
        /// A device answered with bytes that do not parse.
        public static let deviceError = Code(rawValue: "device_error")
        /// A host tool or the kernel failed (iscsiadm exit code, errno in detail).
        public static let hostError = Code(rawValue: "host_error")
        public static let `internal` = Code(rawValue: "internal")
        /// The caller's uid is neither root nor in the API group (SO_PEERCRED).
        public static let forbidden = Code(rawValue: "forbidden")
        /// The route exists but not with this HTTP method (`Allow` lists the right one).
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        /// The request body is larger than the daemon accepts.
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        /// The daemon is shutting down or a dependency is not ready.
        public static let unavailable = Code(rawValue: "unavailable")

        public var httpStatus: Int {
            switch self {
            case .malformedJSON, .missingKey, .invalidValue: 400
            case .notFound: 404
            case .forbidden: 403
            case .methodNotAllowed: 405
            case .payloadTooLarge: 413
            case .unavailable: 503
            case .conflict: 409
            case .unsupported: 422
            case .timeout: 504
            case .deviceError, .hostError: 502
            default: 500
            }
        }

        /// The API code for a PathCore error code.
        public init(_ code: PathCoreError.Code) {
            switch code {
            case .malformed: self = .malformedJSON
            case .missing: self = .missingKey
            case .invalidValue: self = .invalidValue
            case .conflict: self = .conflict
            case .unsupported: self = .unsupported
            case .truncated: self = .deviceError
            default: self = .internal
            }
        }
    }

    public var code: Code
    public var message: String
    public var key: String?
    public var detail: String?

    public init(code: Code, message: String, key: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.key = key
        self.detail = detail
    }

    public init(_ error: PathCoreError, scrubbing secrets: [String] = []) {
        let e = error.scrubbing(secrets)
        self.init(code: Code(e.code), message: e.message, key: e.key, detail: e.detail)
    }

    public var description: String {
        "\(code.rawValue): \(message)\(key.map { " [key \($0)]" } ?? "")\(detail.map { " (\($0))" } ?? "")"
    }
}
