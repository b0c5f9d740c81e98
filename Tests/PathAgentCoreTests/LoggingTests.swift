import Foundation
import HostStorage
import Logging
import PathAPI
@testable import PathAgentCore
import PathCore
import FlashArray
import Synchronization
import Testing

/// Runs `body` with file descriptor 2 redirected into a temporary file and returns what was
/// written there: the log handlers the executables install write to stderr, and this
/// reads them as they are, without a test double in between. Whatever else the process
/// writes to stderr meanwhile (other tests, Swift Testing's own progress lines) lands in the
/// file too and is not shown: keep the window short; only marker lines are looked at.
func capturingStandardError(_ body: () async throws -> Void) async rethrows -> String {
    let path = tempDir("stderr") + "/err"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(fd >= 0)
    fflush(nil)
    let saved = dup(2)
    dup2(fd, 2)
    do {
        try await body()
    } catch {
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        close(fd)
        throw error
    }
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    close(fd)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// An iscsiadm whose failure message quotes the CHAP secret (as a careless tool or a
/// future code path might): the password must still not reach a log line.
struct EchoingAdmin: ISCSIAdmin {
    func prepareNode(_ login: ISCSINodeLogin) throws {
        throw HostStorageError(.toolFailed, "iscsiadm: node.session.auth.password \(login.auth?.password ?? "-") rejected for \(login.portal)")
    }
    func login(portal: ISCSIPortal, iqn: String) throws {}
    func logout(portal: ISCSIPortal, iqn: String) throws {}
    func deleteNode(portal: ISCSIPortal, iqn: String) throws {}
}

/// The handler the executables install (`ProcessLogging`, through `Agent.bootstrapLogging`,
/// `PathCtl.bootstrapLogging` and engine-probe's main) scrubs every secret the process
/// parsed, wherever it appears in a line.
@Suite(.serialized) struct InstalledLoggingTests {
    /// Connection properties with a CHAP password no other test uses.
    static func chapProperties(_ password: String) throws -> JSONValue {
        var text = try String(contentsOfFile: Fixtures.path("props/pure_iscsi_chap.json"), encoding: .utf8)
        text = text.replacingOccurrences(of: Fixtures.chapPassword, with: password)
        return try JSONValue.parse(text)
    }

    @Test func anEngineErrorQuotingTheCHAPPasswordIsLoggedWithoutIt() async throws {
        let password = "pw-" + UUID().uuidString.prefix(12)
        let marker = "engine-" + UUID().uuidString.prefix(8)
        let request = ConnectVolumeRequest(connectionProperties: try Self.chapProperties(password), protocol: .iscsi)
        let text = try await capturingStandardError {
            let logger = Logger(label: "pathagent.\(marker)") { label in ProcessLogging.handler(label: label, level: .info) }
            let engine = VolumeEngine(settings: EngineSettings(useMultipath: false), admin: EchoingAdmin(), workers: BlockingWorkers(count: 2), logger: logger)
            _ = try? await engine.connect(request)
        }
        let lines = text.split(separator: "\n").filter { $0.contains(marker) }
        #expect(lines.contains { $0.contains("iSCSI login failed") }, "no engine log line: \(text)")
        #expect(lines.contains { $0.contains("rejected for 10.0.1.11:3260") }, "\(lines)")
        for l in lines { #expect(!l.contains(password), "password logged: \(l)") }
    }

    @Test func theInstalledHandlerIsTheRedactingOne() async throws {
        let h = ProcessLogging.handler(label: "x", level: .notice)
        #expect(h is JournalLogHandler)
        #expect(h.logLevel == .notice)
    }
}

/// Every secret is registered where it is parsed, before any validation can fail, so the
/// installed handler can redact it.
@Suite struct SecretRegistrationTests {
    static func fresh(_ tag: String) -> String { "\(tag)-" + UUID().uuidString.prefix(13) }

    @Test func connectionPropertiesRegisterEveryPasswordEvenWhenInvalid() throws {
        let (auth, discovery) = (Self.fresh("auth"), Self.fresh("disc"))
        var props = try InstalledLoggingTests.chapProperties(auth)
        guard case .object(var members) = props else { Issue.record("not an object"); return }
        members += [("discovery_auth_method", .string("CHAP")), ("discovery_auth_username", .string("d")),
                    ("discovery_auth_password", .string(discovery))]
        props = .object(members)
        _ = try ConnectionProperties.iscsi(props)
        #expect(SecretRegistry.shared.contains(auth) && SecretRegistry.shared.contains(discovery))
        // a request refused by validation still registers its secret first
        let refused = Self.fresh("refused")
        #expect(throws: PathCoreError.self) {
            _ = try ConnectionProperties.iscsi(.object([("target_portal", .string("not a portal")), ("auth_password", .string(refused))]))
        }
        #expect(SecretRegistry.shared.contains(refused))
        // FC properties with a secret-looking key, and the API request envelope
        let fc = Self.fresh("fc")
        _ = try? ConnectionProperties.fc(.object([("auth_password", .string(fc))]))
        #expect(SecretRegistry.shared.contains(fc))
        let body = Self.fresh("body")
        _ = try? ConnectVolumeRequest.parse("{\"connection_properties\": {\"auth_password\": \"\(body)\"}, \"protocol\": \"nvme\"}")
        #expect(SecretRegistry.shared.contains(body))
    }

    @Test func cinderConfRegistersTheAPITokensAndTheHandlerRedactsThem() throws {
        let (token, replica) = (Self.fresh("token"), Self.fresh("replica"))
        let marker = "fa-" + UUID().uuidString.prefix(8)
        let conf = CinderConf(text: """
            [DEFAULT]
            enabled_backends = pure-1
            [pure-1]
            volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
            san_ip = 10.0.0.5
            pure_api_token = \(token)
            replication_device = backend_id:pure-2,san_ip:10.0.0.6,api_token:\(replica),type:sync
            """)
        #expect(conf.errors.isEmpty, "\(conf.errors)")
        #expect(SecretRegistry.shared.contains(token) && SecretRegistry.shared.contains(replica))
        // the installed handler's type with the process-wide registry (the engine test above
        // reads the installed factory's real stderr)
        let captured = Mutex<[String]>([])
        let logger = Logger(label: "pathagent.\(marker)") { label in
            JournalLogHandler(label: label, secrets: .shared, priorityPrefix: false) { l in captured.withLock { $0.append(l) } }
        }
        logger.error("login failed with token \(token)", metadata: ["detail": "replica \(replica)"])
        let lines = captured.withLock { $0 }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.allSatisfy { !$0.contains(token) && !$0.contains(replica) && $0.contains("<redacted>") }, "\(lines)")
    }
}
