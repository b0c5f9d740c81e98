import ArgumentParser
import Foundation
import HostStorage
import PathAPI
import PathCore

/// Options of every command that talks to the daemon.
public struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "pathagent's Unix socket.",
        discussion: "Default: api.socket from --config, else /run/pathagent/pathagent.sock.", valueName: "PATH"))
    public var socket: String?

    @Option(name: .long, help: ArgumentHelp(
        "pathagent's configuration file, read only for api.socket.",
        discussion: "Default: /etc/pathagent/pathagent.conf when it exists.", valueName: "FILE"))
    public var config: String?

    @Flag(name: .long, help: "Print the daemon's JSON answer instead of text.")
    public var json = false

    public init() {}

    public static let defaultConfigFile = "/etc/pathagent/pathagent.conf"

    /// --socket, else api.socket of the config file, else the built-in default.
    public func socketPath() throws -> String {
        if let socket { return socket }
        let file = config ?? Self.defaultConfigFile
        guard let text = HostFiles.readText(file) else {
            if config != nil { throw CLIError("--config \(file): cannot read it") }
            return AgentConfig().socketPath
        }
        do {
            return try AgentConfig.parse(text, file: file).socketPath
        } catch {
            throw CLIError("\(error)")
        }
    }

    public func client() throws -> AgentClient { AgentClient(socketPath: try socketPath()) }
}

/// A connection-properties file: os-brick's bare properties dict, or Cinder's
/// connection_info (`{"driver_volume_type": ..., "data": {...}}`).
struct PropertiesFile {
    var properties: JSONValue
    var `protocol`: VolumeProtocol

    static func load(_ path: String, protocol explicit: VolumeProtocol?) throws -> PropertiesFile {
        guard let text = HostFiles.readText(path, limit: 1 << 20) else { throw CLIError("\(path): cannot read it") }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw CLIError("\(path): \(describe(error))") }
        guard json.objectMembers != nil else { throw CLIError("\(path): expected a JSON object") }
        var props = json
        var proto = explicit
        if let data = json["data"], data.objectMembers != nil, let kind = json["driver_volume_type"]?.stringValue {
            props = data
            if proto == nil { proto = try? VolumeProtocol(text: kind) }
        }
        if proto == nil {
            let fcKeys = ["target_wwn", "target_wwns", "initiator_target_map"]
            proto = fcKeys.contains(where: { props[$0] != nil }) ? .fc : .iscsi
        }
        return PropertiesFile(properties: props, protocol: proto!)
    }
}

extension VolumeProtocol: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(text: argument) }
}

/// Runs a client call and turns its errors into one-line messages and exit codes.
func callDaemon<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as AgentClientError {
        FileHandle.standardError.write(Data("pathctl: \(e.description)\n".utf8))
        throw ExitCode(ExitStatus.failed)
    }
}

struct ConnectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Attach a volume through pathagent (os-brick connect_volume).",
        discussion: """
            PROPS.json holds the connection properties Cinder's driver returned: either the \
            bare dict (target_portals, target_iqns, target_luns, wwn, auth_*...) or the whole \
            connection_info {"driver_volume_type": "iscsi", "data": {...}}. The daemon logs in \
            or scans, verifies the WWN of every disk that appears, builds the multipath map and \
            prints the device (keep the --json output: disconnect takes it as --device-info).

            With --plan nothing is done and no daemon is needed: pathctl prints what the \
            attach would do on this host (or on the tree given with --root): which node \
            records it would create and log in to (CHAP passwords shown as <redacted>), which \
            sessions it would reuse, which targeted scans it would write, and the WWN every \
            new disk must show.

            Exit status: 0 attached (or planned); 1 failed, or with --plan the attach could do \
            nothing on this host (no login and no scan: no local port reaches the targets); 2 attached but degraded (fewer paths than \
            planned); 1 failed (the daemon's error is printed as code: message (key)).
            """)

    @Argument(help: ArgumentHelp("Connection properties (JSON).", valueName: "PROPS.json"))
    var properties: String

    @Flag(name: .long, help: "Print the attach plan (logins, session reuse, scans, expected WWN) and do nothing.")
    var plan = false

    @Option(name: .long, help: ArgumentHelp("With --plan: read sys/ and etc/ below DIR instead of /.", valueName: "DIR"))
    var root: String?

    @Option(name: .customLong("protocol"), help: ArgumentHelp(
        "iscsi or fc.", discussion: "Default: driver_volume_type of a connection_info file, else fc when the properties have target_wwn(s) or initiator_target_map, else iscsi."))
    var volumeProtocol: VolumeProtocol?

    @OptionGroup var client: ClientOptions

    func run() throws {
        let f = try PropertiesFile.load(properties, protocol: volumeProtocol)
        if plan {
            let roots = root.map { HostRoots(under: $0) } ?? .live
            let r = try AttachPlanText.render(request: ConnectVolumeRequest(connectionProperties: f.properties, protocol: f.protocol),
                                              topology: Inventory.scan(roots: roots), json: client.json)
            Output.line(r.text)
            if let why = r.nothingToDo {
                FileHandle.standardError.write(Data("pathctl: \(why)\n".utf8))
                throw ExitCode(ExitStatus.failed)
            }
            return
        }
        let c = try client.client()
        let r = try callDaemon { try c.connect(ConnectVolumeRequest(connectionProperties: f.properties, protocol: f.protocol)) }
        if client.json {
            try Output.json(r)
        } else {
            let active = r.paths.filter { $0.state == "active" }.count
            Output.line("\(r.deviceInfo.path) wwn \(r.deviceInfo.scsiWWN ?? "?")\(r.deviceInfo.multipathID.map { " map \($0)" } ?? "") paths \(active)/\(r.paths.count)\(r.degraded ? " DEGRADED" : "")")
            for p in r.paths {
                Output.line("  \(p.hctl) \(p.device ?? "-") \(p.transport) \(p.portal ?? p.targetWWPN ?? "") \(p.state)")
            }
        }
        if r.degraded { throw ExitCode(ExitStatus.degradedOrErrors) }
    }
}

struct DisconnectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disconnect",
        abstract: "Detach a volume through pathagent (os-brick disconnect_volume).",
        discussion: """
            Removes the volume's multipath map and exactly the disks that show its WWN; logs \
            out iSCSI sessions only when no other LUN uses them. The WWN comes from the \
            properties' wwn, else from --device-info's scsi_wwn; disks showing another WWN are \
            never removed.

            Exit status: 0 detached; 1 failed (printed as code: message (key)).
            """)

    @Argument(help: ArgumentHelp("Connection properties (JSON), as for connect.", valueName: "PROPS.json"))
    var properties: String

    @Option(name: .customLong("protocol"), help: "iscsi or fc (default as for connect).")
    var volumeProtocol: VolumeProtocol?

    @Option(name: .customLong("device-info"), help: ArgumentHelp(
        "The device_info connect returned (connect --json output works as is).", valueName: "FILE"))
    var deviceInfo: String?

    @Flag(name: .long, help: "Remove devices whose WWN cannot be read, leave (never delete) ones that show another WWN, and keep going when a flush fails (data in flight may be lost).")
    var force = false

    @Flag(name: .customLong("ignore-errors"), help: "Report errors in the answer instead of failing the call (os-brick ignore_errors).")
    var ignoreErrors = false

    @Flag(name: .customLong("skip-mismatched"), help: "Leave a disk of the volume that now shows another WWN (never deleted) and detach the rest (implied by --force).")
    var skipMismatched = false

    @OptionGroup var client: ClientOptions

    func run() throws {
        let f = try PropertiesFile.load(properties, protocol: volumeProtocol)
        var info: DeviceInfo? = nil
        if let deviceInfo {
            guard let text = HostFiles.readText(deviceInfo) else { throw CLIError("\(deviceInfo): cannot read it") }
            do {
                info = try DeviceInfo(json: try JSONValue.parse(text))
            } catch {
                throw CLIError("\(deviceInfo): \(describe(error))")
            }
        }
        let c = try client.client()
        let r = try callDaemon {
            try c.disconnect(DisconnectVolumeRequest(
                connectionProperties: f.properties, protocol: f.protocol, deviceInfo: info, force: force, ignoreErrors: ignoreErrors,
                skipMismatched: skipMismatched))
        }
        if client.json {
            try Output.json(r)
            return
        }
        Output.line("removed devices: \(r.removedDevices.isEmpty ? "none" : r.removedDevices.joined(separator: " "))")
        if let m = r.removedMap { Output.line("removed map: \(m)") }
        if !r.loggedOutSessions.isEmpty { Output.line("logged out sessions: \(r.loggedOutSessions.map(String.init).joined(separator: " "))") }
        for k in r.kept { Output.line("kept: \(k)") }
        for e in r.ignoredErrors { Output.line("ignored: \(e.code.rawValue): \(e.message)\(e.key.map { " (\($0))" } ?? "")") }
    }
}

struct ExtendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend",
        abstract: "Pick up a grown volume: rescan every path and resize the map (os-brick extend_volume).",
        discussion: "Prints the new size in bytes. The daemon refuses when paths disagree on the size. Exit status: 0 done, 1 failed.")

    @Argument(help: ArgumentHelp("Connection properties (JSON), as for connect.", valueName: "PROPS.json"))
    var properties: String

    @Option(name: .customLong("protocol"), help: "iscsi or fc (default as for connect).")
    var volumeProtocol: VolumeProtocol?

    @OptionGroup var client: ClientOptions

    func run() throws {
        let f = try PropertiesFile.load(properties, protocol: volumeProtocol)
        let c = try client.client()
        let r = try callDaemon { try c.extend(VolumeRequestBase(connectionProperties: f.properties, protocol: f.protocol)) }
        if client.json { try Output.json(r) } else { Output.line("new size \(r.newSize) bytes (\(Output.size(r.newSize)))") }
    }
}

struct VolumePathsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume-paths",
        abstract: "List the volume's disk paths (os-brick get_volume_paths).",
        discussion: "One /dev path a line. Exit status: 0 done, 1 failed.")

    @Argument(help: ArgumentHelp("Connection properties (JSON), as for connect.", valueName: "PROPS.json"))
    var properties: String

    @Option(name: .customLong("protocol"), help: "iscsi or fc (default as for connect).")
    var volumeProtocol: VolumeProtocol?

    @OptionGroup var client: ClientOptions

    func run() throws {
        let f = try PropertiesFile.load(properties, protocol: volumeProtocol)
        let c = try client.client()
        let r = try callDaemon { try c.volumePaths(VolumeRequestBase(connectionProperties: f.properties, protocol: f.protocol)) }
        if client.json { try Output.json(r) } else { for p in r.paths { Output.line(p) } }
    }
}

struct CheckValidDeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-valid-device",
        abstract: "Say whether a volume's device can do I/O (os-brick check_valid_device).",
        discussion: """
            Asks the daemon to read the first block of DEVICE (a volume's map or disk:             /dev/dm-N, /dev/sdX or /dev/mapper/<wwn>); the daemon opens only a block device             that is one of its volumes'. Prints "valid" or "invalid: <reason>".             Exit status: 0 valid, 1 invalid or the daemon could not be asked, 64 bad usage.
            """)

    @Argument(help: ArgumentHelp("The device path, as connect returned it.", valueName: "DEVICE"))
    var device: String

    @OptionGroup var client: ClientOptions

    func run() throws {
        let req = CheckValidDeviceRequest(path: device)
        do { _ = try req.validatedPath() } catch {
            FileHandle.standardError.write(Data("pathctl: \(error)\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        let c = try client.client()
        let r = try callDaemon { try c.checkValidDevice(req) }
        if client.json { try Output.json(r) } else { Output.line(r.valid ? "valid" : "invalid: \(r.reason ?? "no reason given")") }
        if !r.valid { throw ExitCode(ExitStatus.failed) }
    }
}

struct ConnectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connector",
        abstract: "Show this host's connector properties (os-brick get_connector_properties).",
        discussion: """
            What Cinder registers the host with: iSCSI initiator IQN, WWPNs/WWNNs of online FC \
            ports, host name, IP, multipath settings, platform, os_type, system uuid. \
            Exit status: 0 done, 1 failed.
            """)

    @OptionGroup var client: ClientOptions

    func run() throws {
        let c = try client.client()
        let r = try callDaemon { try c.connector() }
        if client.json {
            try Output.json(r)
            return
        }
        Output.line("initiator          \(r.initiator ?? "-")")
        Output.line("wwpns              \(r.wwpns?.joined(separator: " ") ?? "-")")
        Output.line("wwnns              \(r.wwnns?.joined(separator: " ") ?? "-")")
        Output.line("host               \(r.host)")
        Output.line("ip                 \(r.ip ?? "-")")
        Output.line("multipath          \(r.multipath)")
        Output.line("enforce_multipath  \(r.enforceMultipath)")
        Output.line("platform           \(r.platform)")
        Output.line("os_type            \(r.osType)")
        Output.line("system uuid        \(r.systemUUID ?? "-")")
    }
}

struct AgentHealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-health",
        abstract: "Show path health per volume as the daemon sees it.",
        discussion: """
            A volume is ok when all its paths are active, degraded when some are, failed when \
            none are. Exit status: 0 all ok; 2 some volume degraded or failed; 1 the daemon \
            could not be asked.
            """)

    @OptionGroup var client: ClientOptions

    func run() throws {
        let c = try client.client()
        let r = try callDaemon { try c.health() }
        if client.json {
            try Output.json(r)
        } else {
            Output.line("status \(r.status.rawValue)")
            for v in r.volumes {
                Output.line("  \(v.wwn) \(v.status.rawValue) paths \(v.pathsActive)/\(v.pathsTotal)")
            }
        }
        if r.status != .ok { throw ExitCode(ExitStatus.degradedOrErrors) }
    }
}
