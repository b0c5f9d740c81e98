import Glibc

/// The one error type of the OS-boundary module: a stable code, an operator-facing
/// message, and the underlying cause (errno, libiscsi/libdevmapper text, exit status).
public struct HostStorageError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let notFound = Code(rawValue: "not_found")
        public static let permission = Code(rawValue: "permission")
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        public static let transport = Code(rawValue: "transport")
        public static let timeout = Code(rawValue: "timeout")
        public static let loginRefused = Code(rawValue: "login_refused")
        public static let authFailed = Code(rawValue: "auth_failed")
        public static let deviceMapper = Code(rawValue: "device_mapper")
        public static let udev = Code(rawValue: "udev")
        public static let busy = Code(rawValue: "busy")
        public static let toolFailed = Code(rawValue: "tool_failed")
        public static let io = Code(rawValue: "io")
        /// A device was read and no disk answers at its address (its LUN is gone from the target).
        public static let noLogicalUnit = Code(rawValue: "no_logical_unit")
    }

    public var code: Code
    public var message: String
    public var errno: Int32?
    public var cause: String?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.cause = cause
    }

    /// An open that failed because the device node, or the block device behind it, does
    /// not exist (ENOENT, ENXIO): also what a disk shows for a moment after it appears.
    public var isNoSuchDevice: Bool { code == .notFound && (errno == ENXIO || errno == ENOENT) }

    /// From the current `errno`, naming the operation and the object.
    static func posix(_ what: String, _ object: String, _ e: Int32 = Glibc.errno) -> HostStorageError {
        let code: Code
        switch e {
        case ENOENT, ENXIO, ENODEV: code = .notFound
        case EACCES, EPERM: code = .permission
        case EBUSY: code = .busy
        case ETIMEDOUT: code = .timeout
        case EINVAL: code = .invalidArgument
        default: code = .io
        }
        return HostStorageError(code, "\(what) \(object): \(String(cString: strerror(e)))", errno: e)
    }

    public var description: String {
        if let cause, !message.contains(cause) { return "\(message) (\(cause))" }
        return message
    }
}
