import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PathCore

/// How the client verifies the array's TLS certificate.
public enum TLSVerification: Sendable, Equatable {
    /// Full verification (chain and host name/IP) against the system trust roots, or
    /// against `caPath`: a PEM CA bundle file, or a directory of PEM files (OpenSSL
    /// hashed directories included), as `driver_ssl_cert_path` allows.
    case verify(caPath: String?)
    /// No verification at all. Logged loudly at `.warning` on every client creation.
    case insecure
}

/// Where and how to reach one FlashArray.
public struct FlashArrayEndpoint: Sendable, CustomStringConvertible {
    /// Management address: `san_ip` (IP or name), optionally `host:port` or `[v6]:port`.
    public var host: String
    public var port: Int
    public var apiToken: Secret
    public var tls: TLSVerification
    /// Per-request timeout.
    public var timeout: Duration
    /// TCP+TLS connect timeout (the HTTP client retries failed connects until it expires,
    /// so a TLS verification failure is reported after this long).
    public var connectTimeout: Duration
    /// Retries on 5xx/429 and on dropped connections (not on 4xx).
    public var maxRetries: Int
    /// First retry delay; doubles on each retry.
    public var retryBackoff: Duration

    public init(address: String, apiToken: Secret, tls: TLSVerification = .verify(caPath: nil),
                timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(10), maxRetries: Int = 3,
                retryBackoff: Duration = .milliseconds(200)) {
        let (h, p) = Self.split(address)
        self.host = h
        self.port = p ?? 443
        self.apiToken = apiToken
        self.tls = tls
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxRetries = maxRetries
        self.retryBackoff = retryBackoff
    }

    static func split(_ address: String) -> (String, Int?) {
        let a = address.trimmingWhitespace()
        if a.hasPrefix("[") {
            guard let close = a.firstIndex(of: "]") else { return (a, nil) }
            let h = String(a[a.index(after: a.startIndex)..<close])
            let rest = a[a.index(after: close)...]
            if rest.hasPrefix(":"), let p = Int(rest.dropFirst()) { return (h, p) }
            return (h, nil)
        }
        let parts = a.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let p = Int(parts[1]) { return (String(parts[0]), p) }
        return (a, nil)
    }

    var baseURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "https://\(h):\(port)"
    }

    public var description: String { "FlashArray \(baseURL) (api token <redacted>)" }
}

/// A FlashArray REST 2.x client: session login with the API token, one re-login on 401,
/// bounded retries on 5xx, typed errors carrying the array's messages.
///
/// Call `shutdown()` when done (it owns an `HTTPClient`).
public actor FlashArrayClient {
    /// The REST versions whose shapes this module speaks, oldest first. The highest one the
    /// array also offers is used. ArrayHost tags (path-health summaries) need 2.34 or later.
    public static let supportedVersions: [String] = (4...36).map { "2.\($0)" }
    public static let hostTagsMinimumMinor = 34

    public nonisolated let endpoint: FlashArrayEndpoint
    private let http: HTTPClient
    private let logger: Logger
    private var sessionToken: Secret?
    private var negotiatedVersion: String?
    /// Number of successful logins (tests use it to see the re-login).
    public private(set) var loginCount = 0

    public init(endpoint: FlashArrayEndpoint, logger: Logger = Logger(label: "pathagent.flasharray")) throws {
        self.endpoint = endpoint
        var log = logger
        log[metadataKey: "fa.array"] = "\(endpoint.host):\(endpoint.port)"
        self.logger = log
        var tls = TLSConfiguration.makeClientConfiguration()
        switch endpoint.tls {
        case .insecure:
            tls.certificateVerification = .none
            log.warning(
                "TLS certificate verification of the FlashArray is OFF (driver_ssl_cert_verify = False): anyone on the path can impersonate the array and read the API token. Set driver_ssl_cert_verify = True and driver_ssl_cert_path to the array's CA.")
        case .verify(let caPath):
            tls.certificateVerification = .fullVerification
            if let caPath { tls.trustRoots = try Self.trustRoots(caPath) }
        }
        var config = HTTPClient.Configuration(tlsConfiguration: tls)
        config.timeout = .init(connect: .init(endpoint.connectTimeout), read: .init(endpoint.timeout))
        config.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// Loads a CA bundle file or every PEM certificate in a directory.
    static func trustRoots(_ path: String) throws -> NIOSSLTrustRoots {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FlashArrayError(.configuration, "driver_ssl_cert_path '\(path)' does not exist")
        }
        if !isDir.boolValue {
            do {
                let certs = try NIOSSLCertificate.fromPEMFile(path)
                guard !certs.isEmpty else { throw FlashArrayError(.configuration, "no PEM certificate in CA bundle '\(path)'") }
                return .certificates(certs)
            } catch let e as FlashArrayError { throw e } catch {
                throw FlashArrayError(.configuration, "cannot read CA bundle '\(path)': \(error)")
            }
        }
        var certs: [NIOSSLCertificate] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names.sorted() {
            let file = (path as NSString).appendingPathComponent(name)
            var sub: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &sub), !sub.boolValue else { continue }
            if let c = try? NIOSSLCertificate.fromPEMFile(file) { certs += c }
        }
        guard !certs.isEmpty else {
            throw FlashArrayError(.configuration, "no PEM certificate found in CA directory '\(path)'")
        }
        return .certificates(certs)
    }

    public func shutdown() async throws {
        if let token = sessionToken, let v = negotiatedVersion {
            _ = try? await raw(.POST, "/api/\(v)/logout", query: [], body: nil, headers: [("x-auth-token", token.reveal())])
            sessionToken = nil
            SecretRegistry.shared.unregister(token.reveal())
        }
        try await http.shutdown()
    }

    // MARK: versions and session

    /// The REST version in use (negotiated on first call).
    public func apiVersion() async throws -> String {
        if let v = negotiatedVersion { return v }
        let r = try await raw(.GET, "/api/api_version", query: [], body: nil, headers: [])
        guard r.status == 200 else { throw Self.error(from: r, "GET /api/api_version failed") }
        let offered = try Self.decode(APIVersions.self, r.body, what: "api_version").version
        guard let v = Self.supportedVersions.last(where: { offered.contains($0) }) else {
            throw FlashArrayError(.unsupported,
                "the array offers REST versions \(offered.joined(separator: ",")); this module needs one of 2.4...2.36")
        }
        negotiatedVersion = v
        logger.debug("negotiated REST version", metadata: ["fa.rest_version": "\(v)"])
        return v
    }

    /// The minor part of the negotiated version (`36` for `2.36`).
    public func apiMinor() async throws -> Int {
        Int(try await apiVersion().split(separator: ".").last ?? "0") ?? 0
    }

    /// `POST /api/<v>/login` with the `api-token` header; keeps the `x-auth-token`.
    public func login() async throws {
        let v = try await apiVersion()
        let r = try await raw(.POST, "/api/\(v)/login", query: [], body: nil, headers: [("api-token", endpoint.apiToken.reveal())])
        if r.status == 401 || r.status == 403 {
            throw FlashArrayError(.authentication,
                "the array refused the API token at login: check pure_api_token, and check that this host's clock is synchronized with the array (NTP); unsynchronized clocks show as HTTP 401",
                status: r.status, arrayMessages: Self.messages(r.body))
        }
        guard r.status == 200 else { throw Self.error(from: r, "login failed") }
        guard let tok = r.headers.first(name: "x-auth-token"), !tok.isEmpty else {
            throw FlashArrayError(.malformed, "login answered 200 without an x-auth-token header", status: r.status)
        }
        if let old = sessionToken { SecretRegistry.shared.unregister(old.reveal()) }
        sessionToken = Secret(tok)
        loginCount += 1
        logger.debug("logged in")
    }

    // MARK: requests

    struct RawResponse: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// One authenticated request against `/api/<v>/<resource>`, with one re-login on 401 and
    /// bounded retries on 5xx.
    func request(_ method: HTTPMethod, _ resource: String, query: [(String, String)] = [], body: ByteBuffer? = nil) async throws -> ByteBuffer {
        let v = try await apiVersion()
        if sessionToken == nil { try await login() }
        let path = "/api/\(v)/\(resource)"
        var relogged = false
        while true {
            let r = try await raw(method, path, query: query, body: body, headers: [("x-auth-token", sessionToken?.reveal() ?? "")])
            if r.status == 401 {
                if relogged {
                    throw FlashArrayError(.authentication,
                        "the array rejected a fresh session (HTTP 401 after re-login) on \(method) \(resource): check that this host's clock is synchronized with the array (NTP); unsynchronized clocks show as HTTP 401, and check the API token",
                        status: 401, arrayMessages: Self.messages(r.body))
                }
                logger.info("session rejected with 401; logging in again", metadata: ["http.path": "\(resource)"])
                relogged = true
                try await login()
                continue
            }
            if (200..<300).contains(r.status) { return r.body }
            throw Self.error(from: r, "\(method) \(resource) failed")
        }
    }

    /// One HTTP exchange with bounded retries on 5xx/429 and dropped connections.
    func raw(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?, headers: [(String, String)]) async throws -> RawResponse {
        var url = endpoint.baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var attempt = 0
        while true {
            var req = HTTPClientRequest(url: url)
            req.method = method
            req.headers.add(name: "Accept", value: "application/json")
            req.headers.add(name: "User-Agent", value: "pathagent-flasharray/1")
            req.headers.add(name: "x-request-id", value: UUID().uuidString.lowercased())
            for (k, val) in headers { req.headers.add(name: k, value: val) }
            if let body {
                req.headers.add(name: "Content-Type", value: "application/json")
                req.body = .bytes(body)
            }
            do {
                let resp = try await http.execute(req, timeout: .init(endpoint.timeout))
                let data = try await resp.body.collect(upTo: 64 << 20)
                let status = Int(resp.status.code)
                if (status >= 500 || status == 429), attempt < endpoint.maxRetries {
                    attempt += 1
                    logger.info("array answered a retryable status; retrying",
                                metadata: ["http.method": "\(method)", "http.path": "\(path)", "http.status": "\(status)", "retry": "\(attempt)"])
                    try await Task.sleep(for: endpoint.retryBackoff * (1 << (attempt - 1)))
                    continue
                }
                return RawResponse(status: status, headers: resp.headers, body: data)
            } catch let e as FlashArrayError {
                throw e
            } catch {
                let kind = Self.classify(error)
                // a dropped connection may have carried a write: only reads are retried
                if kind == .transport, method == .GET, attempt < endpoint.maxRetries, !(error is CancellationError) {
                    attempt += 1
                    logger.info("request to the array failed; retrying",
                                metadata: ["http.method": "\(method)", "http.path": "\(path)", "error": "\(String(describing: error))", "retry": "\(attempt)"])
                    try await Task.sleep(for: endpoint.retryBackoff * (1 << (attempt - 1)))
                    continue
                }
                let what = kind == .tls
                    ? "TLS with the array at \(endpoint.baseURL) failed (certificate not trusted by driver_ssl_cert_path, or name/IP mismatch)"
                    : "cannot reach the array at \(endpoint.baseURL)"
                throw FlashArrayError(kind, "\(what): \(String(describing: error))")
            }
        }
    }

    static func classify(_ error: any Error) -> FlashArrayError.Code {
        let s = String(reflecting: error) + " " + String(describing: type(of: error))
        if s.contains("SSL") || s.contains("TLS") || s.contains("certificate") || s.contains("handshake") { return .tls }
        return .transport
    }

    static func percentEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~,")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func messages(_ body: ByteBuffer) -> [String] {
        guard let e = try? JSONDecoder().decode(ErrorResponse.self, from: Data(body.readableBytesView)) else { return [] }
        return e.errors.compactMap { item in
            guard let m = item.message else { return nil }
            if let c = item.context, !c.isEmpty { return "\(c): \(m)" }
            return m
        }
    }

    static func error(from r: RawResponse, _ what: String) -> FlashArrayError {
        let msgs = messages(r.body)
        let code: FlashArrayError.Code
        switch r.status {
        case 401, 403: code = .authentication
        case 404: code = .notFound
        case 500...: code = .server
        default: code = msgs.contains(where: { $0.contains("does not exist") }) ? .notFound : .array
        }
        return FlashArrayError(code, what, status: r.status, arrayMessages: msgs)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw FlashArrayError(.malformed, "the array's \(what) response is not the documented REST 2.x shape: \(error)")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(value))
    }

    // MARK: typed helpers

    /// GET a list resource, following `continuation_token` until the last page.
    public func list<T: Codable & Sendable>(_ resource: String, _ type: T.Type, query: [(String, String)] = []) async throws -> [T] {
        var all: [T] = []
        var token: String?
        var pages = 0
        repeat {
            var q = query
            if let token { q.append(("continuation_token", token)) }
            let body = try await request(.GET, resource, query: q)
            let page = try Self.decode(ListResponse<T>.self, body, what: resource)
            all += page.items
            token = page.continuationToken
            pages += 1
            if pages > 10_000 { throw FlashArrayError(.malformed, "the array kept returning continuation tokens for \(resource)") }
        } while token != nil && !(token ?? "").isEmpty
        return all
    }

    /// A write whose response is a list of items.
    func write<T: Codable & Sendable>(_ method: HTTPMethod, _ resource: String, _ type: T.Type, query: [(String, String)], body: ByteBuffer?) async throws -> [T] {
        let b = try await request(method, resource, query: query, body: body)
        if b.readableBytes == 0 { return [] }
        return try Self.decode(ListResponse<T>.self, b, what: resource).items
    }
}

extension TimeAmount {
    init(_ d: Duration) {
        let c = d.components
        self = .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
