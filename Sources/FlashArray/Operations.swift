import Foundation
import NIOCore
import NIOHTTP1
import PathCore

/// The operations the data path needs, in REST 2.x terms.
extension FlashArrayClient {
    static func names(_ n: [String]) -> (String, String) { ("names", n.joined(separator: ",")) }

    // MARK: array

    public func arrays() async throws -> [ArrayInfo] { try await list("arrays", ArrayInfo.self) }

    public func arraySpace() async throws -> ArraySpace {
        guard let s = try await list("arrays/space", ArraySpace.self).first else {
            throw FlashArrayError(.malformed, "arrays/space returned no item")
        }
        return s
    }

    public func controllers() async throws -> [Controller] { try await list("controllers", Controller.self) }
    public func ports() async throws -> [ArrayPort] { try await list("ports", ArrayPort.self) }
    public func networkInterfaces() async throws -> [NetworkInterface] { try await list("network-interfaces", NetworkInterface.self) }

    /// Ports of every ready controller, as Cinder's `_get_valid_ports` picks them.
    public func portsOfReadyControllers() async throws -> [ArrayPort] {
        let ready = Set(try await controllers().filter(\.isReady).compactMap(\.name))
        guard !ready.isEmpty else { throw FlashArrayError(.unsupported, "no controller of the array is ready") }
        return try await ports().filter { p in p.controllerName.map(ready.contains) ?? false }
    }

    // MARK: hosts

    public func hosts(names: [String]? = nil) async throws -> [ArrayHost] {
        try await list("hosts", ArrayHost.self, query: names.map { [Self.names($0)] } ?? [])
    }

    /// The local host object that holds this initiator (iSCSI name, FC WWPN or NVMe NQN),
    /// or nil. The initiator is validated before it goes into the `filter` (see
    /// `hostFilter(initiator:)`), and the array's answer is checked again here.
    public func host(initiator: String) async throws -> ArrayHost? {
        let lookup = try Self.hostFilter(initiator: initiator)
        let found = try await list("hosts", ArrayHost.self, query: [("filter", lookup.filter)])
        return found.first { h in
            switch lookup.kind {
            case .iscsi: (h.iqns ?? []).contains { $0.lowercased() == lookup.normalized }
            case .fc: (h.wwns ?? []).contains { Self.plainWWN($0) == lookup.normalized }
            case .nvme: (h.nqns ?? []).contains { $0 == lookup.normalized }
            }
        }
    }

    public enum InitiatorKind: Sendable { case iscsi, fc, nvme }

    /// The `filter` of a host lookup by initiator: `iqns='<iqn>'`, `wwns='<AABB..>'` or
    /// `nqns='<nqn>'`. The initiator must pass PathCore's validators first (iSCSI names are
    /// letters, digits, `-`, `.`, `:`; WWPNs 16 hex digits; NQNs have no blank or control
    /// character), so it carries nothing the filter syntax interprets; `PurityFilter`
    /// refuses the rest. `normalized` is the form to compare the answer with.
    public static func hostFilter(initiator: String) throws -> (filter: String, kind: InitiatorKind, normalized: String) {
        let lower = initiator.lowercased()
        do {
            if lower.hasPrefix("iqn.") || lower.hasPrefix("eui.") || lower.hasPrefix("naa.") {
                let name = try ConnectionValidators.iscsiName(initiator, key: "initiator")
                return (try PurityFilter.equals("iqns", name), .iscsi, name.lowercased())
            }
            if lower.hasPrefix("nqn.") {
                let name = try ConnectionValidators.nvmeQualifiedName(initiator, key: "initiator")
                return (try PurityFilter.equals("nqns", name), .nvme, name)
            }
            let wwpn = try ConnectionValidators.wwpn(initiator, key: "initiator")
            return (try PurityFilter.equals("wwns", fcWWN(wwpn.value)), .fc, wwpn.value)
        } catch let e as PathCoreError {
            throw FlashArrayError(.invalidArgument, "host lookup: \(e.message) (expected an iSCSI IQN/EUI/NAA name, an FC WWPN or an NVMe NQN)")
        }
    }

    /// The array's view of a host's paths (`port_connectivity`).
    public func hostPortConnectivity(host name: String) async throws -> HostPortConnectivity? {
        guard let h = try await hosts(names: [name]).first else {
            throw FlashArrayError(.notFound, "host '\(name)' does not exist on the array")
        }
        return h.portConnectivity
    }

    @discardableResult
    public func createHost(name: String, _ spec: HostPost) async throws -> ArrayHost {
        let items = try await write(.POST, "hosts", ArrayHost.self, query: [Self.names([name])], body: try Self.encode(spec))
        guard let h = items.first else { throw FlashArrayError(.malformed, "POST hosts returned no item") }
        return h
    }

    @discardableResult
    public func updateHost(name: String, _ spec: HostPost) async throws -> ArrayHost? {
        try await write(.PATCH, "hosts", ArrayHost.self, query: [Self.names([name])], body: try Self.encode(spec)).first
    }

    public func deleteHost(name: String) async throws {
        _ = try await request(.DELETE, "hosts", query: [Self.names([name])])
    }

    // MARK: volumes

    public func volumes(names: [String]? = nil) async throws -> [Volume] {
        try await list("volumes", Volume.self, query: names.map { [Self.names($0)] } ?? [])
    }

    public func volume(named name: String) async throws -> Volume {
        do {
            guard let v = try await volumes(names: [name]).first else {
                throw FlashArrayError(.notFound, "volume '\(name)' does not exist on the array")
            }
            return v
        } catch let e as FlashArrayError where e.status == 400 && e.code == .notFound {
            throw FlashArrayError(.notFound, "volume '\(name)' does not exist on the array", status: e.status, arrayMessages: e.arrayMessages)
        }
    }

    @discardableResult
    public func createVolume(name: String, provisionedBytes: Int64) async throws -> Volume {
        let items = try await write(.POST, "volumes", Volume.self, query: [Self.names([name])],
                                    body: try Self.encode(VolumePatch(provisioned: provisionedBytes)))
        guard let v = items.first else { throw FlashArrayError(.malformed, "POST volumes returned no item") }
        return v
    }

    @discardableResult
    public func resizeVolume(name: String, provisionedBytes: Int64) async throws -> Volume? {
        try await write(.PATCH, "volumes", Volume.self, query: [Self.names([name])],
                        body: try Self.encode(VolumePatch(provisioned: provisionedBytes))).first
    }

    /// Destroys a volume (recoverable for 24 h); with `eradicate` (Cinder's
    /// `pure_eradicate_on_delete`) also eradicates it at once.
    public func destroyVolume(name: String, eradicate: Bool) async throws {
        _ = try await write(.PATCH, "volumes", Volume.self, query: [Self.names([name])], body: try Self.encode(VolumePatch(destroyed: true)))
        if eradicate { _ = try await request(.DELETE, "volumes", query: [Self.names([name])]) }
    }

    /// The volume's SCSI WWN: `3624a9370` + serial.
    public func wwn(volume name: String) async throws -> WWN {
        let v = try await volume(named: name)
        guard let serial = v.serial else { throw FlashArrayError(.malformed, "volume '\(name)' has no serial") }
        do { return try WWN.pure(serial: serial) } catch {
            throw FlashArrayError(.malformed, "volume '\(name)': \(error)")
        }
    }

    // MARK: connections

    public func connections(host: String? = nil, volume: String? = nil) async throws -> [Connection] {
        var q: [(String, String)] = []
        if let host { q.append(("host_names", host)) }
        if let volume { q.append(("volume_names", volume)) }
        return try await list("connections", Connection.self, query: q)
    }

    /// Connects a volume to a host and returns the LUN. An existing connection is reused
    /// (as Cinder treats "already exists" as success).
    public func connect(volume: String, host: String) async throws -> Int {
        do {
            let items = try await write(.POST, "connections", Connection.self,
                                        query: [("host_names", host), ("volume_names", volume)], body: nil)
            if let lun = items.first?.lun { return lun }
        } catch let e as FlashArrayError where e.arrayMessages.contains(where: { $0.contains("already exists") }) {
            // fall through to look it up
        }
        guard let lun = try await connections(host: host, volume: volume).first?.lun else {
            throw FlashArrayError(.malformed, "connected volume '\(volume)' to host '\(host)' but the array reports no LUN")
        }
        return lun
    }

    public func disconnect(volume: String, host: String) async throws {
        do {
            _ = try await request(.DELETE, "connections", query: [("host_names", host), ("volume_names", volume)])
        } catch let e as FlashArrayError where e.arrayMessages.contains(where: { $0.contains("is not connected") || $0.contains("does not exist") }) {
            return
        }
    }

    // MARK: host tags (path-health summaries)

    public func hostTags(host: String, namespace: String) async throws -> [Tag] {
        try await requireHostTags()
        return try await list("hosts/tags", Tag.self, query: [("resource_names", host), ("namespaces", namespace)])
    }

    public func putHostTags(host: String, _ tags: [Tag]) async throws {
        try await requireHostTags()
        _ = try await write(.PUT, "hosts/tags/batch", Tag.self, query: [("resource_names", host)], body: try Self.encode(tags))
    }

    private func requireHostTags() async throws {
        let minor = try await apiMinor()
        guard minor >= Self.hostTagsMinimumMinor else {
            throw FlashArrayError(.unsupported, "host tags need REST 2.\(Self.hostTagsMinimumMinor) or later; the array speaks 2.\(minor)")
        }
    }

    // MARK: WWN spellings

    /// `21:00:00:24:ff:4c:a0:01` / `21000024FF4CA001` -> `21000024ff4ca001`.
    public static func plainWWN(_ s: String) -> String {
        s.lowercased().filter { $0 != ":" && $0 != "-" }.replacingOccurrences(of: "0x", with: "")
    }
    /// The form a FlashArray keeps host WWNs in: upper-case hex without colons,
    /// `21000024FF4CA001` (what the Cinder driver's `wwns='...'` filter looks for).
    public static func fcWWN(_ s: String) -> String {
        plainWWN(s).uppercased()
    }
}
