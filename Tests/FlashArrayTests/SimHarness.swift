import Foundation
import Testing
@testable import FlashArray

/// Test PKI made at test time with the openssl CLI (no private key is committed).
struct TestPKI: Sendable {
    let dir: String
    var caPEM: String { dir + "/ca.pem" }
    var caDir: String { dir + "/ca-dir" }
    var wrongCAPEM: String { dir + "/wrong-ca.pem" }
    var serverPEM: String { dir + "/server.pem" }
    var serverKey: String { dir + "/server.key" }

    static let shared: Result<TestPKI, any Error> = Result { try TestPKI.make() }
    static func get() throws -> TestPKI { try shared.get() }

    static func openssl(_ args: [String], in dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FlashArrayError(.configuration, "openssl \(args.first ?? "") failed: \(String(decoding: e, as: UTF8.self))")
        }
    }

    static func make() throws -> TestPKI {
        let dir = NSTemporaryDirectory() + "fa-pki-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/ca-dir", withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for (name, cn) in [("ca", "pathagent test CA"), ("wrong-ca", "some other CA")] {
            try openssl(["req", "-x509"] + ec + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=\(cn)",
                         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: dir)
        }
        try openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=fa-sim"], in: dir)
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"], in: dir)
        // a CA directory: the CA plus unrelated files, as /etc/ssl/certs holds
        try FileManager.default.copyItem(atPath: dir + "/ca.pem", toPath: dir + "/ca-dir/pathagent-test-ca.pem")
        try FileManager.default.copyItem(atPath: dir + "/wrong-ca.pem", toPath: dir + "/ca-dir/other.pem")
        try "not a certificate\n".write(toFile: dir + "/ca-dir/README", atomically: true, encoding: .utf8)
        return TestPKI(dir: dir)
    }
}

/// One running `fa-sim` on loopback.
final class Simulator: @unchecked Sendable {
    let process: Process
    let port: Int
    let token: String
    let pki: TestPKI
    let stdin = Pipe()

    static func binary() throws -> String {
        if let p = ProcessInfo.processInfo.environment["FA_SIM"] { return p }
        let dir = Bundle.main.executableURL?.deletingLastPathComponent().path
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for candidate in [dir + "/fa-sim", dir + "/../fa-sim"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw FlashArrayError(.configuration, "fa-sim executable not found next to the test bundle (\(dir)); build it or set FA_SIM")
    }

    init(token: String = "sim-token-" + UUID().uuidString, extra: [String] = []) throws {
        pki = try TestPKI.get()
        self.token = token
        let tokenFile = pki.dir + "/token-" + UUID().uuidString
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = ["--cert", pki.serverPEM, "--key", pki.serverKey, "--api-token-file", tokenFile, "--port", "0", "--stdin-eof"] + extra
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = stdin
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while !text.contains("\n"), Date() < deadline {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            text += String(decoding: d, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first, line.hasPrefix("fa-sim listening on "),
              let p = Int(line.split(separator: " ").last ?? "") else {
            process.terminate()
            throw FlashArrayError(.transport, "fa-sim did not start: '\(text)'")
        }
        port = p
    }

    var address: String { "127.0.0.1:\(port)" }

    /// A cinder.conf with one Pure iSCSI backend stanza pointing at this simulator (TLS
    /// verified with the simulator's CA unless `caPath` names another); `extra` lines end it.
    func cinderConf(backend: String = "pure-1", extra: String = "", caPath: String? = nil) -> String {
        """
        [DEFAULT]
        enabled_backends = \(backend)

        [\(backend)]
        volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
        san_ip = \(address)
        pure_api_token = \(token)
        driver_ssl_cert_verify = True
        driver_ssl_cert_path = \(caPath ?? pki.caPEM)
        use_multipath_for_image_xfer = True
        \(extra)
        """
    }

    func endpoint(tls: TLSVerification? = nil, token: String? = nil, retries: Int = 3, connectTimeout: Duration = .seconds(5)) -> FlashArrayEndpoint {
        FlashArrayEndpoint(address: address, apiToken: Secret(token ?? self.token), tls: tls ?? .verify(caPath: pki.caPEM),
                           timeout: .seconds(10), connectTimeout: connectTimeout, maxRetries: retries, retryBackoff: .milliseconds(20))
    }

    /// Calls a `/sim/` test hook (no auth) with curl-free Foundation networking avoided: via our own client's raw path.
    func hook(_ pathAndQuery: String) async throws {
        let c = try FlashArrayClient(endpoint: endpoint())
        let parts = pathAndQuery.split(separator: "?", maxSplits: 1)
        var q: [(String, String)] = []
        if parts.count == 2 {
            for kv in parts[1].split(separator: "&") {
                let x = kv.split(separator: "=", maxSplits: 1)
                q.append((String(x[0]), x.count > 1 ? String(x[1]).replacingOccurrences(of: "+", with: " ") : ""))
            }
        }
        let r = try await c.raw(.POST, String(parts[0]), query: q, body: nil, headers: [])
        try await c.shutdown()
        guard r.status == 200 else { throw FlashArrayError(.array, "hook \(pathAndQuery) failed", status: r.status) }
    }

    /// The simulator's request log: `METHOD /path` (plus ` filter=<decoded filter>`).
    func requests() async throws -> [String] {
        let c = try FlashArrayClient(endpoint: endpoint())
        let r = try await c.raw(.GET, "/sim/requests", query: [], body: nil, headers: [])
        try await c.shutdown()
        let o = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]
        return o?["requests"] as? [String] ?? []
    }

    /// `STATUS METHOD /path<TAB>User-Agent` of every REST request the simulator answered.
    func responses() async throws -> [String] {
        let c = try FlashArrayClient(endpoint: endpoint())
        let r = try await c.raw(.GET, "/sim/requests", query: [], body: nil, headers: [])
        try await c.shutdown()
        let o = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]
        return o?["responses"] as? [String] ?? []
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// Runs `body` with a fresh simulator, stopping it afterwards.
func withSimulator<T>(extra: [String] = [], _ body: (Simulator) async throws -> T) async throws -> T {
    let sim = try Simulator(extra: extra)
    defer { sim.stop() }
    return try await body(sim)
}

/// Runs `body` with a private tgtd in the foreground on control port `control`, its first
/// iSCSI portal `portals[0]` and the others added with tgtadm; stops it afterwards (tgtd
/// ignores SIGTERM in the foreground: it is asked to exit, then killed if it does not).
func withTgtd<T>(control: Int, portals: [String], _ body: () async throws -> T) async throws -> T {
    let run = SimulatorTgtTierTests.run
    let tgtd = Process()
    tgtd.executableURL = URL(fileURLWithPath: "/usr/sbin/tgtd")
    tgtd.arguments = ["-f", "-C", "\(control)", "--iscsi", "portal=\(portals[0])"]
    tgtd.standardOutput = FileHandle.nullDevice; tgtd.standardError = FileHandle.nullDevice
    try tgtd.run()
    defer {
        _ = try? run("/usr/sbin/tgtadm", ["-C", "\(control)", "--op", "delete", "--mode", "system"])
        for _ in 0..<100 where tgtd.isRunning { usleep(20_000) }
        if tgtd.isRunning { _ = try? run("/bin/kill", ["-9", "\(tgtd.processIdentifier)"]) }
        tgtd.waitUntilExit()
    }
    var up = false
    for _ in 0..<50 where !up {
        up = (try run("/usr/sbin/tgtadm", ["-C", "\(control)", "--lld", "iscsi", "--op", "show", "--mode", "target"])).0 == 0
        if !up { try await Task.sleep(for: .milliseconds(20)) }
    }
    try #require(up, "tgtd did not come up")
    for p in portals.dropFirst() {
        let (rc, out) = try run("/usr/sbin/tgtadm", ["-C", "\(control)", "--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", "portal=\(p)"])
        try #require(rc == 0, "portal \(p): \(out)")
    }
    return try await body()
}
