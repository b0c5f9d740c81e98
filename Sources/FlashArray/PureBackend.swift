import Foundation
import Logging
import PathCore

/// What the host presents (the subset of os-brick's `get_connector_properties` the array needs).
public struct HostConnector: Codable, Sendable, Equatable {
    /// ArrayHost name (Cinder's `connector["host"]`).
    public var host: String
    /// iSCSI initiator IQN.
    public var initiator: String?
    /// FC initiator WWPNs (online ports).
    public var wwpns: [String]
    /// `system uuid` (stable host id used in the array host name).
    public var systemUUID: String?
    enum CodingKeys: String, CodingKey { case host, initiator, wwpns, systemUUID = "system uuid" }
    public init(host: String, initiator: String? = nil, wwpns: [String] = [], systemUUID: String? = nil) {
        self.host = host; self.initiator = initiator; self.wwpns = wwpns; self.systemUUID = systemUUID
    }
}

/// One Pure backend stanza made live: the primary array and, with ActiveCluster uniform
/// access, the other array(s), plus the driver logic that matters to the data path.
///
/// The lead's `pathctl attach` / agent integration needs only
/// `PureBackend.connectionInfo(cinderConf:backend:volume:connector:chap:)`.
public actor PureBackend {
    public let config: PureBackendConfig
    public let primary: FlashArrayClient
    /// Clients of `replication_device` arrays with `type:sync` and `uniform:true`.
    public let uniformTargets: [FlashArrayClient]
    let logger: Logger

    public init(config: PureBackendConfig, logger: Logger = Logger(label: "pathagent.flasharray")) throws {
        self.config = config
        var log = logger
        log[metadataKey: "fa.backend"] = "\(config.name)"
        self.logger = log
        self.primary = try FlashArrayClient(endpoint: config.endpoint, logger: log)
        self.uniformTargets = try config.uniformSyncTargets.map { try FlashArrayClient(endpoint: $0.endpoint, logger: log) }
    }

    public func shutdown() async {
        try? await primary.shutdown()
        for c in uniformTargets { try? await c.shutdown() }
    }

    /// Reads cinder.conf text, connects `volume` to this host on the backend's array(s) and
    /// returns the os-brick connection info. The entry point for standalone attach.
    public static func connectionInfo(cinderConf text: String, backend name: String, volume: String,
                                      connector: HostConnector, chap: ChapCredentials? = nil,
                                      logger: Logger = Logger(label: "pathagent.flasharray")) async throws -> ConnectionInfo {
        try await connectionInfo(config: try CinderConf(text: text).backend(name), volume: volume, connector: connector,
                                 chap: chap, logger: logger)
    }

    // MARK: hosts

    /// Cinder's `_generate_purity_host_name`: first 23 chars of the host name with invalid
    /// characters replaced by `-`, then the system uuid (hex) and `-cinder`.
    public static func purityHostName(_ c: HostConnector) -> String {
        var name = String(c.host.prefix(23)).map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" ? $0 : "-" }
        while name.first == "-" { name.removeFirst() }
        let id = (c.systemUUID ?? UUID().uuidString).replacingOccurrences(of: "-", with: "").lowercased()
        return "\(String(name))-\(id)-cinder"
    }

    static func isGeneratedName(_ n: String) -> Bool {
        n.range(of: #".*-[a-f0-9]{32}-cinder$"#, options: .regularExpression) != nil
    }

    /// Finds this host on `array` by initiator, or registers it (IQN or WWPNs, personality, CHAP).
    public func ensureHost(on array: FlashArrayClient, connector: HostConnector, chap: ChapCredentials?) async throws -> String {
        let initiators: [String] = config.storageProtocol == .iscsi ? [connector.initiator].compactMap { $0 } : connector.wwpns
        guard !initiators.isEmpty else {
            throw FlashArrayError(.configuration, config.storageProtocol == .iscsi ? "the connector has no iSCSI initiator IQN" : "the connector has no FC WWPN")
        }
        for i in initiators {
            if let h = try await array.host(initiator: i), let n = h.name {
                if config.useChapAuth, config.storageProtocol == .iscsi, !Self.isGeneratedName(n) {
                    throw FlashArrayError(.configuration,
                        "array host '\(n)' holds this initiator but is not managed by Cinder/pathagent, so its CHAP credentials cannot be set: remove the initiator from that host")
                }
                logger.info("reusing array host", metadata: ["fa.host": "\(n)"])
                return n
            }
        }
        let name = Self.purityHostName(connector)
        var spec = config.storageProtocol == .iscsi ? HostPost(iqns: initiators) : HostPost(wwns: initiators.map(FlashArrayClient.fcWWN))
        spec.personality = config.pureHostPersonality
        try await array.createHost(name: name, spec)
        if config.useChapAuth, config.storageProtocol == .iscsi {
            guard let chap else { throw FlashArrayError(.configuration, "use_chap_auth is True but no CHAP credentials were given") }
            try await array.updateHost(name: name, HostPost(chap: Chap(hostUser: chap.username, hostPassword: chap.secret)))
        }
        logger.info("registered array host", metadata: ["fa.host": "\(name)"])
        return name
    }

    // MARK: connect

    /// The arrays a volume is presented from: the primary, plus uniform sync targets.
    var targetArrays: [FlashArrayClient] { [primary] + uniformTargets }

    /// Registers the host if needed, connects the volume on every target array and builds the
    /// properties as the Pure driver's `initialize_connection`.
    public func connect(volume: String, connector: HostConnector, chap: ChapCredentials? = nil) async throws -> ConnectionInfo {
        if config.useChapAuth, config.storageProtocol == .iscsi, chap == nil {
            throw FlashArrayError(.configuration, "use_chap_auth is True but no CHAP credentials were given")
        }
        let wwn = try await primary.wwn(volume: volume)
        var targets: [ArrayTargets] = []
        for (i, array) in targetArrays.enumerated() {
            do {
                let host = try await ensureHost(on: array, connector: connector, chap: chap)
                let lun = try await array.connect(volume: volume, host: host)
                let ports = try await array.validPorts()
                let name = try await array.arrays().first?.name ?? array.endpoint.host
                targets.append(ArrayTargets(arrayName: name, lun: lun, ports: ports))
            } catch where i > 0 {
                // like the driver: a secondary that fails is skipped with a warning
                logger.warning("could not connect the volume on a uniform replication target; continuing with the others",
                               metadata: ["fa.array": "\(array.endpoint.host)", "error": "\(error)"])
            }
        }
        switch config.storageProtocol {
        case .iscsi:
            return try ConnectionPropertiesBuilder.iscsi(targets: targets, cidrs: config.iscsiCIDRs, wwn: wwn,
                                                         chap: config.useChapAuth ? chap : nil)
        case .fc:
            return try ConnectionPropertiesBuilder.fc(targets: targets, initiatorWWPNs: connector.wwpns, wwn: wwn)
        }
    }

    /// Disconnects the volume from this host on every target array.
    public func disconnect(volume: String, connector: HostConnector) async throws {
        for array in targetArrays {
            let initiators = config.storageProtocol == .iscsi ? [connector.initiator].compactMap { $0 } : connector.wwpns
            for i in initiators {
                if let h = try await array.host(initiator: i), let n = h.name {
                    try await array.disconnect(volume: volume, host: n)
                    break
                }
            }
        }
    }

    /// Creates a volume of `sizeGiB` (Cinder sizes are GiB).
    @discardableResult
    public func createVolume(name: String, sizeGiB: Int) async throws -> Volume {
        try await primary.createVolume(name: name, provisionedBytes: Int64(sizeGiB) << 30)
    }

    /// Destroys (and with `pure_eradicate_on_delete` eradicates) a volume.
    public func deleteVolume(name: String) async throws {
        for c in try await primary.connections(volume: name) {
            if let h = c.host?.name { try await primary.disconnect(volume: name, host: h) }
        }
        try await primary.destroyVolume(name: name, eradicate: config.pureEradicateOnDelete)
    }

    public func extendVolume(name: String, sizeGiB: Int) async throws {
        try await primary.resizeVolume(name: name, provisionedBytes: Int64(sizeGiB) << 30)
    }

    public func capacity(method: CapacityStats.AutomaticMethod = .totalReduction) async throws -> CapacityStats {
        CapacityStats.compute(space: try await primary.arraySpace(), config: config, method: method)
    }

    // MARK: path health

    /// Compares the agent's report with the array's view of the host, records the summary
    /// as host tags (namespace `pathagent`) on every target array and returns it.
    @discardableResult
    public func recordHealth(_ report: PathHealthReport) async throws -> HostHealth {
        var views: [PathHealthAnalyzer.ArrayView] = []
        var hostNames: [String] = []
        var connectivity: HostPortConnectivity?
        for (i, array) in targetArrays.enumerated() {
            let name = try await array.arrays().first?.name ?? array.endpoint.host
            let ready = Set(try await array.controllers().filter(\.isReady).compactMap(\.name))
            let ports = try await array.ports()
            views.append(.init(name: name, ports: ports, readyControllers: ready))
            let host = try await resolveHost(report, on: array)
            hostNames.append(host.name ?? "")
            if i == 0 { connectivity = host.portConnectivity }
        }
        let health = PathHealthAnalyzer.analyze(report: report, host: hostNames[0], arrays: views,
                                                uniformPair: !uniformTargets.isEmpty, arrayConnectivity: connectivity)
        let tags = PathHealthAnalyzer.tags(health)
        for (array, host) in zip(targetArrays, hostNames) where !host.isEmpty {
            try await array.putHostTags(host: host, tags)
        }
        logger.info("recorded path health", metadata: ["fa.host": "\(health.host)", "health.status": "\(health.status.rawValue)",
                                                       "health.flags": "\(health.flags.map(\.rawValue).joined(separator: ","))"])
        return health
    }

    func resolveHost(_ r: PathHealthReport, on array: FlashArrayClient) async throws -> ArrayHost {
        if let n = r.hostName, let h = try await array.hosts(names: [n]).first { return h }
        for i in [r.initiatorIQN].compactMap({ $0 }) + r.initiatorWWPNs {
            if let h = try await array.host(initiator: i) { return h }
        }
        throw FlashArrayError(.notFound, "the reporting host is not registered on the array (no host holds its initiators)")
    }

    /// Any host's health as last recorded, with the array's current connectivity view.
    public func hostHealth(_ hostName: String) async throws -> HostHealth {
        guard let h = try await primary.hosts(names: [hostName]).first else {
            throw FlashArrayError(.notFound, "host '\(hostName)' does not exist on the array")
        }
        let tags = try await primary.hostTags(host: hostName, namespace: PathHealthAnalyzer.tagNamespace)
        return PathHealthAnalyzer.parse(host: hostName, tags: tags, arrayConnectivity: h.portConnectivity)
    }
}

extension FlashArrayClient {
    /// Cinder's `_get_valid_ports`: every port of every ready controller, plus ports named
    /// after LACP-bond / VIF network interfaces.
    public func validPorts() async throws -> [ArrayPort] {
        var ports = try await portsOfReadyControllers()
        let bonds = try await networkInterfaces().filter { ["lacp_bond", "vif"].contains($0.eth?.subtype ?? "") }.compactMap { $0.name?.uppercased() }
        if !bonds.isEmpty {
            let all = try await self.ports()
            for p in all where bonds.contains(p.name ?? "") && !ports.contains(p) { ports.append(p) }
        }
        return ports
    }
}

extension PureBackend {
    /// `connectionInfo` for an already parsed backend stanza.
    public static func connectionInfo(config: PureBackendConfig, volume: String, connector: HostConnector, chap: ChapCredentials? = nil,
                                      logger: Logger = Logger(label: "pathagent.flasharray")) async throws -> ConnectionInfo {
        let b = try PureBackend(config: config, logger: logger)
        do {
            let info = try await b.connect(volume: volume, connector: connector, chap: chap)
            await b.shutdown()
            return info
        } catch {
            await b.shutdown()
            throw error
        }
    }

    /// Disconnects `volume` from this host on the backend's array(s) (standalone detach).
    public static func disconnect(config: PureBackendConfig, volume: String, connector: HostConnector,
                                  logger: Logger = Logger(label: "pathagent.flasharray")) async throws {
        let b = try PureBackend(config: config, logger: logger)
        do {
            try await b.disconnect(volume: volume, connector: connector)
            await b.shutdown()
        } catch {
            await b.shutdown()
            throw error
        }
    }

    /// The recorded health of `host`, or of the array host holding the connector's initiator.
    public static func hostHealth(config: PureBackendConfig, host: String?, connector: HostConnector,
                                  logger: Logger = Logger(label: "pathagent.flasharray")) async throws -> HostHealth {
        let b = try PureBackend(config: config, logger: logger)
        do {
            var name = host
            if name == nil {
                for i in [connector.initiator].compactMap({ $0 }) + connector.wwpns {
                    if let h = try await b.primary.host(initiator: i) { name = h.name; break }
                }
            }
            guard let name else { throw FlashArrayError(.notFound, "no array host holds this host's initiators") }
            let h = try await b.hostHealth(name)
            await b.shutdown()
            return h
        } catch {
            await b.shutdown()
            throw error
        }
    }
}
