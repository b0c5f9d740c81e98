import CISCSI
import Glibc
import PathCore
import Synchronization

/// A parsed `iscsi://[user[%password]@]host[:port]/target-iqn/lun` URL (libiscsi's form).
/// The password never appears in `redacted` or `description`.
public struct ISCSIURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var target: String
    public var lun: Int
    public var user: String?
    public var password: String?

    public init(_ text: String) throws {
        guard text.hasPrefix("iscsi://") else {
            throw HostStorageError(.invalidArgument, "not an iSCSI URL (expected iscsi://host[:port]/iqn/lun)")
        }
        var rest = Substring(text.dropFirst("iscsi://".count))
        var user: String? = nil
        var password: String? = nil
        if let at = rest.lastIndex(of: "@") {
            let cred = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let pct = cred.firstIndex(of: "%") {
                user = String(cred[..<pct])
                password = String(cred[cred.index(after: pct)...])
            } else {
                user = String(cred)
            }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, let lun = Int(parts[2]), lun >= 0, lun < 65536 else {
            throw HostStorageError(.invalidArgument, "malformed iSCSI URL \(Self.redact(text)): expected iscsi://host[:port]/iqn/lun")
        }
        let hostPort = parts[0]
        var host = String(hostPort)
        var port = 3260
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw HostStorageError(.invalidArgument, "malformed IPv6 portal in \(Self.redact(text))")
            }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw HostStorageError(.invalidArgument, "bad port in \(Self.redact(text))")
                }
                port = p
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw HostStorageError(.invalidArgument, "bad port in \(Self.redact(text))")
            }
            port = p
        }
        let target = String(parts[1])
        guard target.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw HostStorageError(.invalidArgument, "target name must be ASCII without spaces: '\(target)'")
        }
        self.host = host
        self.port = port
        self.target = target
        self.lun = lun
        self.user = user
        self.password = password
        if let password { SecretRegistry.shared.register(password) }
    }

    public var portal: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The URL with the password removed (safe for logs and errors).
    public var redacted: String {
        let cred = user.map { $0 + (password == nil ? "" : "%***") + "@" } ?? ""
        return "iscsi://\(cred)\(portal)/\(target)/\(lun)"
    }
    public var description: String { redacted }

    static func redact(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let pct = text[..<at].firstIndex(of: "%") else { return text }
        return String(text[..<pct]) + "%***" + String(text[at...])
    }
}

/// SCSI commands to a network iSCSI target over a libiscsi session (userspace
/// initiator: no kernel session, no sd device). The corresponding C functions are
/// `iscsi_full_connect_sync` and `iscsi_scsi_command_sync`.
///
/// libiscsi keeps only the decoded sense key and ASC/ASCQ of a CHECK CONDITION, not the
/// raw bytes; `send` rebuilds fixed-format (0x70) sense from them so decoders above see
/// one format.
public final class ISCSITransport: SCSITransport {
    public let endpoint: String
    public let url: ISCSIURL
    private let context: Mutex<OpaquePointer?>

    /// Logs in. `initiator` is the IQN presented to the target (ACLs match on it).
    public init(url: ISCSIURL, initiator: String, timeoutSeconds: Int = 10) throws {
        self.url = url
        self.endpoint = url.redacted
        guard let ctx = iscsi_create_context(initiator) else {
            throw HostStorageError(.invalidArgument, "libiscsi refused the initiator name '\(initiator)'")
        }
        func fail(_ code: HostStorageError.Code, _ what: String) -> HostStorageError {
            let raw = String(cString: iscsi_get_error(ctx))
            iscsi_destroy_context(ctx)
            return HostStorageError(code, "\(what) \(url.redacted)", cause: Self.scrub(raw, url))
        }
        iscsi_set_targetname(ctx, url.target)
        iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL)
        iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C)
        iscsi_set_timeout(ctx, Int32(timeoutSeconds))
        if let user = url.user {
            let pw = url.password ?? ""
            if iscsi_set_initiator_username_pwd(ctx, user, pw) != 0 {
                throw fail(.invalidArgument, "libiscsi refused the CHAP credentials for")
            }
        }
        if iscsi_full_connect_sync(ctx, url.portal, Int32(url.lun)) != 0 {
            let raw = String(cString: iscsi_get_error(ctx))
            let code: HostStorageError.Code
            let what: String
            if raw.contains("Authentication failure") {
                (code, what) = (.authFailed, "CHAP authentication failed at")
            } else if raw.contains("Authorization failure") {
                (code, what) = (.loginRefused, "login refused (initiator \(initiator) not allowed by the target's ACL) at")
            } else if raw.contains("not found") || raw.contains("Target not found") {
                (code, what) = (.notFound, "target not found at")
            } else if raw.contains("onnect") || raw.contains("refused") || raw.contains("timed out") {
                (code, what) = (.transport, "cannot connect to")
            } else {
                (code, what) = (.loginRefused, "iSCSI login failed at")
            }
            throw fail(code, what)
        }
        self.context = Mutex(ctx)
    }

    deinit {
        context.withLock { ctx in
            if let c = ctx {
                _ = iscsi_logout_sync(c)
                iscsi_destroy_context(c)
                ctx = nil
            }
        }
    }

    public func send(_ request: SCSIRequest) throws -> SCSIResponse {
        try context.withLock { ctx in
            guard let ctx else { throw HostStorageError(.transport, "session to \(endpoint) is closed") }
            return try execute(ctx, request)
        }
    }

    private func execute(_ ctx: OpaquePointer, _ request: SCSIRequest) throws -> SCSIResponse {
        var cdb = request.cdb
        let dir: Int32
        let expected: Int32
        switch request.direction {
        case .none: (dir, expected) = (Int32(SCSI_XFER_NONE.rawValue), 0)
        case .fromDevice(let n): (dir, expected) = (Int32(SCSI_XFER_READ.rawValue), Int32(n))
        case .toDevice(let b): (dir, expected) = (Int32(SCSI_XFER_WRITE.rawValue), Int32(b.count))
        }
        guard let task = cdb.withUnsafeMutableBufferPointer({ scsi_create_task(Int32($0.count), $0.baseAddress, dir, expected) }) else {
            throw HostStorageError(.io, "out of memory building a SCSI task for \(endpoint)")
        }
        var done: UnsafeMutablePointer<scsi_task>? = nil
        iscsi_set_timeout(ctx, Int32(request.timeoutSeconds))
        if case .toDevice(var bytes) = request.direction {
            done = bytes.withUnsafeMutableBufferPointer { bp in
                var d = iscsi_data(size: bp.count, data: bp.baseAddress)
                return iscsi_scsi_command_sync(ctx, Int32(url.lun), task, &d)
            }
        } else {
            done = iscsi_scsi_command_sync(ctx, Int32(url.lun), task, nil)
        }
        defer { scsi_free_scsi_task(task) }
        guard let t = done else {
            let raw = String(cString: iscsi_get_error(ctx))
            throw HostStorageError(.transport, "SCSI command 0x\(String(request.cdb.first ?? 0, radix: 16)) to \(endpoint) failed", cause: Self.scrub(raw, url))
        }
        let status = t.pointee.status
        if status == Int32(bitPattern: UInt32(SCSI_STATUS_TIMEOUT.rawValue)) {
            throw HostStorageError(.timeout, "SCSI command 0x\(String(request.cdb.first ?? 0, radix: 16)) to \(endpoint) timed out after \(request.timeoutSeconds) s")
        }
        if status == Int32(bitPattern: UInt32(SCSI_STATUS_ERROR.rawValue)) || status == Int32(bitPattern: UInt32(SCSI_STATUS_CANCELLED.rawValue)) {
            let raw = String(cString: iscsi_get_error(ctx))
            throw HostStorageError(.transport, "SCSI command 0x\(String(request.cdb.first ?? 0, radix: 16)) to \(endpoint) failed", cause: Self.scrub(raw, url))
        }
        var data: [UInt8] = []
        if case .fromDevice = request.direction, let p = t.pointee.datain.data, t.pointee.datain.size > 0 {
            data = Array(UnsafeBufferPointer(start: p, count: Int(t.pointee.datain.size)))
        }
        var sense: [UInt8] = []
        if status == 2 {
            let s = t.pointee.sense
            let asc = UInt8(truncatingIfNeeded: s.ascq >> 8)
            let ascq = UInt8(truncatingIfNeeded: s.ascq)
            sense = [0x70, 0, UInt8(truncatingIfNeeded: s.key.rawValue) & 0x0f, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0]
        }
        return SCSIResponse(status: UInt8(truncatingIfNeeded: status), data: data, sense: sense)
    }

    /// libiscsi error strings can quote the URL; make sure a password never passes through.
    static func scrub(_ text: String, _ url: ISCSIURL) -> String {
        let oneLine = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ").trimmingWhitespace()
        guard let pw = url.password, !pw.isEmpty else { return oneLine }
        return oneLine.replacingAll(pw, with: "***")
    }
}

extension String {
    func replacingAll(_ needle: String, with replacement: String) -> String {
        guard !needle.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: needle) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
