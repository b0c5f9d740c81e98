import ArgumentParser
import FlashArray
import Foundation
import HostStorage
import PathAPI
import PathCore

/// The result slot of `runBlocking`, written once by the task under the lock.
private final class BlockingBox<T: Sendable>: @unchecked Sendable {
    let lock = NSLock()
    var result: Result<T, any Error>?
}

/// Runs async control-plane work from a synchronous command (pathctl's commands are sync).
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = BlockingBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        box.lock.withLock { box.result = r }
        done.signal()
    }
    done.wait()
    return try box.lock.withLock { box.result! }.get()
}

/// Options shared by the commands that act on a FlashArray backend of cinder.conf.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The Pure backend stanza of cinder.conf (an enabled_backends name).", valueName: "NAME"))
    var backend: String

    @Option(name: .customLong("cinder-conf"), help: ArgumentHelp("cinder.conf holding the backend stanza.", valueName: "FILE"))
    var cinderConf = "/etc/cinder/cinder.conf"

    @Option(name: .customLong("etc"), help: ArgumentHelp(
        "Configuration root for iscsi/initiatorname.iscsi and machine-id.", valueName: "DIR"))
    var etc = "/etc"

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Where attach records (connection properties without secrets) and generated CHAP secrets are kept.", valueName: "DIR"))
    var stateDir = "/var/lib/pathagent/attachments"

    /// The backend's effective options; every cinder.conf error of the stanza is reported with its line.
    func config() throws -> PureBackendConfig {
        guard let text = HostFiles.readText(cinderConf, limit: 4 << 20) else { throw CLIError("--cinder-conf \(cinderConf): cannot read it") }
        let conf = CinderConf(text: text)
        do {
            return try conf.backend(backend)
        } catch {
            let errs = conf.errors.filter { $0.section == backend || $0.section == nil || $0.section == "DEFAULT" }
            if errs.isEmpty { throw CLIError("\(cinderConf): \(describeFA(error))") }
            throw CLIError("\(cinderConf): backend [\(backend)] is not usable:\n" + errs.map { "  \(cinderConf):\($0.line.map(String.init) ?? "-"): \($0.message) (rule \($0.rule))" }.joined(separator: "\n"))
        }
    }

    /// This host as the array sees it: the iSCSI initiator of `<etc>/iscsi/initiatorname.iscsi`,
    /// the host name and the machine id as system uuid (stable array host name).
    func connector(_ cfg: PureBackendConfig) throws -> HostConnector {
        var initiator: String?
        if cfg.storageProtocol == .iscsi {
            let f = etc + "/iscsi/initiatorname.iscsi"
            guard let text = HostFiles.readText(f) else { throw CLIError("\(f): cannot read the iSCSI initiator name (install open-iscsi)") }
            initiator = text.split(separator: "\n").compactMap { l -> String? in
                let t = l.trimmingCharacters(in: .whitespaces)
                guard !t.hasPrefix("#"), t.hasPrefix("InitiatorName=") else { return nil }
                return String(t.dropFirst("InitiatorName=".count)).trimmingCharacters(in: .whitespaces)
            }.last
            guard let i = initiator, !i.isEmpty else { throw CLIError("\(f): no InitiatorName= line") }
        } else {
            throw CLIError("backend [\(cfg.name)] uses the FC driver: standalone attach supports iSCSI backends only")
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let mid = HostFiles.readText(etc + "/machine-id")?.trimmingCharacters(in: .whitespacesAndNewlines)
        return HostConnector(host: host, initiator: initiator, systemUUID: (mid?.count == 32) ? mid : nil)
    }

    /// CHAP credentials when use_chap_auth: user = host name, secret generated once and kept
    /// (mode 0600) in the state directory. Never printed.
    func chap(_ cfg: PureBackendConfig, _ c: HostConnector) throws -> ChapCredentials? {
        guard cfg.useChapAuth else { return nil }
        let dir = stateDir + "/" + cfg.name
        let file = dir + "/chap-secret"
        if let s = HostFiles.readText(file)?.trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty {
            return ChapCredentials(username: c.host, secret: Secret(s))
        }
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var rng = SystemRandomNumberGenerator()
        let secret = String((0..<16).map { _ in alphabet.randomElement(using: &rng)! })
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: file, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("\(file): cannot store the CHAP secret")
        }
        return ChapCredentials(username: c.host, secret: Secret(secret))
    }

    func recordPath(_ volume: String) -> String { "\(stateDir)/\(backend)/\(volume).json" }
}

/// A FlashArray error without anything secret (FlashArrayError never holds one).
func describeFA(_ error: any Error) -> String {
    if let e = error as? FlashArrayError { return e.description }
    return describe(error)
}

/// What `attach` keeps for `detach`: the properties without the CHAP password.
struct AttachRecord: Codable {
    var backend: String
    var volume: String
    var `protocol`: VolumeProtocol
    var connectionProperties: JSONValue
    var deviceInfo: DeviceInfo
    enum CodingKeys: String, CodingKey { case backend, volume, `protocol`, connectionProperties = "connection_properties", deviceInfo = "device_info" }
}

struct AttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Attach a FlashArray volume without Cinder: connect it on the array, then through pathagent.",
        discussion: """
            Reads the backend stanza of cinder.conf (san_ip, pure_api_token, TLS per \
            driver_ssl_cert_verify / driver_ssl_cert_path, use_chap_auth), registers this host \
            on the array if no host holds its initiator, connects VOLUME to it, and hands the \
            connection properties to the daemon, which logs in, verifies the WWN and builds the \
            multipath map. Prints the device. If the daemon fails, the array connection is undone.

            Exit status: 0 attached; 2 attached but degraded; 1 failed.
            """)

    @OptionGroup var backend: BackendOptions
    @Argument(help: ArgumentHelp("The array volume name.", valueName: "VOLUME"))
    var volume: String
    @OptionGroup var client: ClientOptions

    func run() throws {
        let cfg = try backend.config()
        let connector = try backend.connector(cfg)
        let chap = try backend.chap(cfg, connector)
        let agent = try client.client()
        let volume = self.volume
        let info: ConnectionInfo
        do {
            info = try runBlocking { try await PureBackend.connectionInfo(config: cfg, volume: volume, connector: connector, chap: chap) }
        } catch {
            throw CLIError("array \(cfg.sanIP): connecting \(volume) failed: \(describeFA(error))")
        }
        let proto: VolumeProtocol = info.driverVolumeType == "fibre_channel" ? .fc : .iscsi
        let props = try JSONValue.parse(String(decoding: try JSONEncoder().encode(info.data), as: UTF8.self))
        let r: ConnectVolumeResponse
        do {
            r = try agent.connect(ConnectVolumeRequest(connectionProperties: props, protocol: proto))
        } catch {
            let msg = (error as? AgentClientError)?.description ?? describe(error)
            // leave the array as it was
            let undo = Result { try runBlocking { try await PureBackend.disconnect(config: cfg, volume: volume, connector: connector) } }
            let undone = (try? undo.get()) != nil ? "the array connection was undone" : "undoing the array connection failed too"
            throw CLIError("pathagent could not attach \(volume): \(msg) (\(undone))")
        }
        var safe = info.data
        safe.authPassword = nil
        let record = AttachRecord(backend: cfg.name, volume: volume, protocol: proto,
                                  connectionProperties: try JSONValue.parse(String(decoding: try JSONEncoder().encode(safe), as: UTF8.self)),
                                  deviceInfo: r.deviceInfo)
        let file = backend.recordPath(volume)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard FileManager.default.createFile(atPath: file, contents: try enc.encode(record), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("\(file): cannot write the attach record (the volume is attached at \(r.deviceInfo.path))")
        }
        if client.json {
            try Output.json(r)
        } else {
            let active = r.paths.filter { $0.state == "active" }.count
            Output.line("\(r.deviceInfo.path) wwn \(r.deviceInfo.scsiWWN ?? info.data.wwn) volume \(volume) backend \(cfg.name) paths \(active)/\(r.paths.count)\(r.degraded ? " DEGRADED" : "")")
        }
        if r.degraded { throw ExitCode(ExitStatus.degradedOrErrors) }
    }
}

struct DetachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detach",
        abstract: "Detach a volume attached with `pathctl attach`: daemon first, then the array.",
        discussion: """
            The daemon removes the map and exactly the disks with the volume's WWN (from the \
            attach record); then the volume is disconnected from this host on the array. \
            Exit status: 0 detached; 1 failed (the array is left connected when the host side fails).
            """)

    @OptionGroup var backend: BackendOptions
    @Argument(help: ArgumentHelp("The array volume name.", valueName: "VOLUME"))
    var volume: String
    @Flag(name: .long, help: "Remove devices whose WWN cannot be read and keep going when a flush fails.")
    var force = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let cfg = try backend.config()
        let connector = try backend.connector(cfg)
        let file = backend.recordPath(volume)
        guard let text = HostFiles.readText(file, limit: 1 << 20) else {
            throw CLIError("\(file): no attach record for \(volume) on [\(cfg.name)] (was it attached with pathctl attach?)")
        }
        let record: AttachRecord
        do { record = try JSONDecoder().decode(AttachRecord.self, from: Data(text.utf8)) } catch { throw CLIError("\(file): \(describe(error))") }
        let agent = try client.client()
        let r = try callDaemon {
            try agent.disconnect(DisconnectVolumeRequest(connectionProperties: record.connectionProperties, protocol: record.protocol,
                                                         deviceInfo: record.deviceInfo, force: force, ignoreErrors: false))
        }
        let volume = self.volume
        do {
            try runBlocking { try await PureBackend.disconnect(config: cfg, volume: volume, connector: connector) }
        } catch {
            throw CLIError("host side detached, but disconnecting \(volume) on array \(cfg.sanIP) failed: \(describeFA(error))")
        }
        try? FileManager.default.removeItem(atPath: file)
        if client.json { try Output.json(r); return }
        Output.line("detached \(volume): removed devices \(r.removedDevices.isEmpty ? "none" : r.removedDevices.joined(separator: " "))\(r.removedMap.map { ", map \($0)" } ?? ""); disconnected on the array")
    }
}

struct ArrayHealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "array-health",
        abstract: "Show this host's path health as the FlashArray control plane reads it (host tags + port connectivity).",
        discussion: "Exit status: 0 ok; 2 degraded, critical or unknown (no report recorded); 1 failed.")

    @OptionGroup var backend: BackendOptions
    @Option(name: .customLong("host"), help: ArgumentHelp("Array host name (default: the host holding this initiator).", valueName: "NAME"))
    var hostName: String?
    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let cfg = try backend.config()
        let connector = try backend.connector(cfg)
        let name = hostName
        let h: HostHealth
        do {
            h = try runBlocking { try await PureBackend.hostHealth(config: cfg, host: name, connector: connector) }
        } catch {
            throw CLIError("array \(cfg.sanIP): \(describeFA(error))")
        }
        if json {
            try Output.json(h)
        } else {
            Output.line("host \(h.host) status \(h.status.rawValue)\(h.flags.isEmpty ? "" : " flags \(h.flags.map(\.rawValue).joined(separator: ","))")")
            Output.line("  volumes \(h.volumes) paths \(h.paths.active)/\(h.paths.total) failed \(h.paths.failed)")
            for (k, v) in h.perController.sorted(by: { $0.key < $1.key }) { Output.line("  controller \(k) \(v.active)/\(v.total)") }
            Output.line("  array view \(h.arrayStatus ?? "-") \(h.arrayDetails ?? "")")
        }
        if h.status != .ok { throw ExitCode(ExitStatus.degradedOrErrors) }
    }
}
