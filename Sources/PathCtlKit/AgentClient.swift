import Foundation
public import HostStorage
public import PathAPI
public import PathCore

/// A small HTTP/1.1 client of pathagent's local API over its Unix socket: one request per
/// connection, `Connection: close`, the response read to end of stream.
public struct AgentClient: Sendable {
    public var socketPath: String
    public var timeoutSeconds: Int

    public init(socketPath: String, timeoutSeconds: Int = 300) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    public struct HTTPResult: Sendable {
        public var status: Int
        /// Header names lower-cased.
        public var headers: [String: String]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends one request and returns the raw response.
    public func send(_ method: String, _ path: String, body: [UInt8]? = nil) throws -> HTTPResult {
        let conn: UnixSocketClient
        do {
            conn = try UnixSocketClient(path: socketPath, timeoutSeconds: timeoutSeconds)
        } catch let e as HostStorageError {
            switch e.errno {
            case ENOENT?, ECONNREFUSED?, ENOTDIR?:
                throw AgentClientError.notRunning(socketPath)
            case EACCES?, EPERM?:
                throw AgentClientError.permissionDenied(socketPath)
            default:
                throw AgentClientError.transport("\(e)")
            }
        }
        defer { conn.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: pathagent\r\nUser-Agent: pathctl\r\nAccept: application/json\r\nConnection: close\r\n"
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        do {
            try conn.send(Array(head.utf8) + (body ?? []))
        } catch {
            // The daemon may answer (413) and close before taking the whole body: read that answer.
        }
        let raw: [UInt8]
        do {
            raw = try conn.receiveAll()
        } catch {
            throw AgentClientError.transport("reading the answer from \(socketPath): \(error)")
        }
        return try Self.parse(raw)
    }

    /// Parses a `Connection: close` HTTP/1.1 response.
    public static func parse(_ raw: [UInt8]) throws -> HTTPResult {
        let sep: [UInt8] = [13, 10, 13, 10]
        guard let end = raw.indices.first(where: { i in i + 4 <= raw.count && Array(raw[i..<i + 4]) == sep }) else {
            throw AgentClientError.transport(raw.isEmpty ? "the daemon closed the connection without an answer" : "malformed HTTP answer")
        }
        let headText = String(decoding: raw[..<end], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw AgentClientError.transport("malformed HTTP status line")
        }
        var headers: [String: String] = [:]
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[(end + 4)...])
        if let n = headers["content-length"].flatMap({ Int($0) }), n <= body.count { body = Array(body.prefix(n)) }
        return HTTPResult(status: status, headers: headers, body: body)
    }

    /// Sends a request and decodes a 2xx answer as `T`; API errors throw `.api`.
    public func call<T: Decodable>(_ method: String, _ path: String, body: (some Encodable)? = Optional<Int>.none, as: T.Type = T.self) throws -> T {
        var bytes: [UInt8]? = nil
        if let body {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            bytes = Array(try e.encode(body))
        }
        let r = try send(method, path, body: bytes)
        guard (200..<300).contains(r.status) else {
            if let e = try? JSONDecoder().decode(APIErrorResponse.self, from: Data(r.body)) {
                throw AgentClientError.api(status: r.status, e.error)
            }
            throw AgentClientError.transport("HTTP \(r.status) without an API error body")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(r.body))
        } catch {
            throw AgentClientError.transport("answer of \(path) does not decode: \(error)")
        }
    }

    // MARK: API v1

    public func connect(_ r: ConnectVolumeRequest) throws -> ConnectVolumeResponse { try call("POST", "/v1/volumes/connect", body: r) }
    public func disconnect(_ r: DisconnectVolumeRequest) throws -> DisconnectVolumeResponse {
        try call("POST", "/v1/volumes/disconnect", body: r)
    }
    public func extend(_ r: ExtendVolumeRequest) throws -> ExtendVolumeResponse { try call("POST", "/v1/volumes/extend", body: r) }
    public func volumePaths(_ r: GetVolumePathsRequest) throws -> GetVolumePathsResponse {
        try call("POST", "/v1/volumes/paths", body: r)
    }
    public func checkValidDevice(_ r: CheckValidDeviceRequest) throws -> CheckValidDeviceResponse {
        try call("POST", "/v1/devices/check", body: r)
    }
    public func connector() throws -> ConnectorProperties { try call("GET", "/v1/connector") }
    public func health() throws -> HealthResponse { try call("GET", "/v1/health") }
    public func version() throws -> VersionResponse { try call("GET", "/v1/version") }
}

/// Why a call to the daemon failed; `description` is the one line pathctl prints.
public enum AgentClientError: Error, Equatable, CustomStringConvertible {
    case notRunning(String)
    case permissionDenied(String)
    case api(status: Int, APIErrorBody)
    case transport(String)

    public var description: String {
        switch self {
        case .notRunning(let p): "pathagent is not running (nothing listens on \(p))"
        case .permissionDenied(let p): "permission denied on \(p): run as root or as a member of pathagent's api.group"
        case .api(_, let e): "\(e.code.rawValue): \(e.message)\(e.key.map { " (\($0))" } ?? "")"
        case .transport(let m): "talking to pathagent: \(m)"
        }
    }
}
