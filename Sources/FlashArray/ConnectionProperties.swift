import PathCore

/// The os-brick connection properties (`connection_info["data"]`) exactly as Cinder's
/// Pure driver builds them; encodes to the os-brick snake_case keys and omits what is nil.
/// `auth_password` is a `Secret`: it is encoded (os-brick needs it) but never printed.
public struct ConnectionProperties: Codable, Sendable, Equatable, CustomStringConvertible {
    public var targetDiscovered: Bool
    public var targetPortals: [String]?
    public var targetIQNs: [String]?
    public var targetLUNs: [Int]?
    public var targetLUN: Int?
    /// FC: a list equal to `target_wwns` (what the Pure driver sends).
    public var targetWWN: [String]?
    public var targetWWNs: [String]?
    public var initiatorTargetMap: [String: [String]]?
    public var discard: Bool
    public var addressingMode: String
    public var wwn: String
    public var authMethod: String?
    public var authUsername: String?
    public var authPassword: Secret?

    enum CodingKeys: String, CodingKey {
        case targetDiscovered = "target_discovered", targetPortals = "target_portals", targetIQNs = "target_iqns"
        case targetLUNs = "target_luns", targetLUN = "target_lun", targetWWN = "target_wwn", targetWWNs = "target_wwns"
        case initiatorTargetMap = "initiator_target_map", discard, addressingMode = "addressing_mode", wwn
        case authMethod = "auth_method", authUsername = "auth_username", authPassword = "auth_password"
    }

    public init(targetDiscovered: Bool, discard: Bool = true, addressingMode: String = "SAM2", wwn: String) {
        self.targetDiscovered = targetDiscovered
        self.discard = discard
        self.addressingMode = addressingMode
        self.wwn = wwn
    }

    public var description: String {
        var parts = ["wwn=\(wwn)", "discovered=\(targetDiscovered)", "discard=\(discard)", "addressing=\(addressingMode)"]
        if let targetPortals, let targetIQNs, let targetLUNs {
            parts.append("paths=" + zip(zip(targetPortals, targetIQNs), targetLUNs).map { "\($0.0.0)/\($0.0.1)/\($0.1)" }.joined(separator: ","))
        }
        if let targetWWNs { parts.append("target_wwns=\(targetWWNs.joined(separator: ",")) lun=\(targetLUN.map(String.init) ?? "-")") }
        if let authMethod { parts.append("auth=\(authMethod) user=\(authUsername ?? "") password=<redacted>") }
        return "ConnectionProperties(" + parts.joined(separator: " ") + ")"
    }
}

/// `{"driver_volume_type": "iscsi"|"fibre_channel", "data": {...}}` as `initialize_connection` returns.
public struct ConnectionInfo: Codable, Sendable, Equatable, CustomStringConvertible {
    public var driverVolumeType: String
    public var data: ConnectionProperties
    enum CodingKeys: String, CodingKey { case driverVolumeType = "driver_volume_type", data }
    public var description: String { "\(driverVolumeType) \(data)" }
}

/// One array's side of a connection: the LUN it gave the volume and its usable ports.
public struct ArrayTargets: Sendable {
    public var arrayName: String
    public var lun: Int
    /// Ports of the array's ready controllers (see `FlashArrayClient.validPorts()`).
    public var ports: [ArrayPort]
    public init(arrayName: String, lun: Int, ports: [ArrayPort]) { self.arrayName = arrayName; self.lun = lun; self.ports = ports }
}

/// CHAP credentials for a host (Cinder: username = connector host, a generated secret).
public struct ChapCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var secret: Secret
    public init(username: String, secret: Secret) { self.username = username; self.secret = secret }
    public var description: String { "CHAP(user=\(username), secret=<redacted>)" }
}

/// Builds the properties from the arrays' answers, as the Pure driver's
/// `_build_connection_properties` (iSCSI) and `initialize_connection` (FC) do.
public enum ConnectionPropertiesBuilder {
    /// iSCSI: one (portal, iqn, lun) triple per iSCSI port of every ready controller of every
    /// target array whose portal IP lies in one of `cidrs`.
    public static func iscsi(targets: [ArrayTargets], cidrs: [String], wwn: WWN, chap: ChapCredentials?) throws -> ConnectionInfo {
        let nets = try cidrs.map { c -> CIDR in
            guard let n = CIDR(c) else { throw FlashArrayError(.configuration, "pure_iscsi_cidr '\(c)' is not a CIDR") }
            return n
        }
        var portals: [String] = [], iqns: [String] = [], luns: [Int] = []
        var anyISCSI = false
        for t in targets {
            for p in t.ports {
                guard let portal = p.portal, let iqn = p.iqn, !portal.isEmpty, !iqn.isEmpty else { continue }
                anyISCSI = true
                guard let ip = parseIP(portalHost(portal)) else { continue }
                if nets.contains(where: { $0.contains(ip) }) {
                    portals.append(portal); iqns.append(iqn); luns.append(t.lun)
                }
            }
        }
        guard anyISCSI else { throw FlashArrayError(.unsupported, "no iSCSI-enabled ports on the target array(s)") }
        var p = ConnectionProperties(targetDiscovered: false, wwn: wwn.value)
        guard !portals.isEmpty else {
            throw FlashArrayError(.configuration, "no iSCSI portal of the array lies in pure_iscsi_cidr \(cidrs.joined(separator: ","))")
        }
        p.targetPortals = portals
        p.targetIQNs = iqns
        p.targetLUNs = luns
        if let chap {
            p.authMethod = "CHAP"
            p.authUsername = chap.username
            p.authPassword = chap.secret
        }
        return ConnectionInfo(driverVolumeType: "iscsi", data: p)
    }

    /// FC: every FC (non-NVMe) port WWN of every ready controller; `initiator_target_map`
    /// maps each initiator WWPN to all targets unless a zone map (fabric lookup) is given.
    public static func fc(targets: [ArrayTargets], initiatorWWPNs: [String], zoneMap: [String: [String]]? = nil, wwn: WWN) throws -> ConnectionInfo {
        var wwns: [String] = [], luns: [Int] = []
        for t in targets {
            for p in t.ports {
                guard let w = p.wwn, !w.isEmpty, (p.nqn ?? "").isEmpty else { continue }
                wwns.append(FlashArrayClient.plainWWN(w)); luns.append(t.lun)
            }
        }
        guard !wwns.isEmpty, let first = luns.first else { throw FlashArrayError(.unsupported, "no FC ports on the target array(s)") }
        var p = ConnectionProperties(targetDiscovered: true, wwn: wwn.value)
        p.targetLUN = first
        p.targetLUNs = luns
        p.targetWWN = wwns
        p.targetWWNs = wwns
        let inits = initiatorWWPNs.map(FlashArrayClient.plainWWN)
        if let zoneMap {
            var m: [String: [String]] = [:]
            for (i, ts) in zoneMap { m[FlashArrayClient.plainWWN(i)] = ts.map(FlashArrayClient.plainWWN) }
            p.initiatorTargetMap = m
        } else {
            p.initiatorTargetMap = Dictionary(inits.map { ($0, wwns) }, uniquingKeysWith: { a, _ in a })
        }
        return ConnectionInfo(driverVolumeType: "fibre_channel", data: p)
    }
}
