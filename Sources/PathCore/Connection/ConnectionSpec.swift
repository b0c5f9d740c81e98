/// How a LUN number from the array becomes the LUN the Linux SCSI midlayer scans
/// (os-brick's `addressing_mode`, Cinder's `SCSI_ADDRESSING_*`).
public enum SCSIAddressingMode: String, Sendable, Codable, CaseIterable {
    /// Leave the LUN as is (default).
    case transparent
    /// Leave the LUN as is.
    case sam = "SAM"
    /// Peripheral device addressing below 256, flat space addressing (LUN + 16384) from 256 up.
    case sam2 = "SAM2"
    /// Flat space addressing for every LUN (LUN + 16384).
    case sam3Flat = "SAM3-flat"

    /// Flat space addressing carries a 14-bit LUN.
    public static let flatSpaceOffset: UInt64 = 16384

    /// The LUN to scan for array LUN `lun`; throws `.invalidValue` naming `key` when the
    /// LUN cannot be expressed (flat space holds 0-16383) or exceeds what a scan accepts.
    public func kernelLUN(for lun: UInt64, key: String) throws -> UInt64 {
        let flat: Bool
        switch self {
        case .transparent, .sam: return try ConnectionValidators.kernelLUN(lun, key: key)
        case .sam2: flat = lun >= 256
        case .sam3Flat: flat = true
        }
        guard flat else { return lun }
        guard lun < Self.flatSpaceOffset else {
            throw PathCoreError(
                .invalidValue, "\(key) \(lun) does not fit flat space addressing (\(rawValue) allows 0-16383)", key: key)
        }
        return lun + Self.flatSpaceOffset
    }

    /// Parses `addressing_mode`; null or absent is `.transparent`, anything else unknown is an error.
    public init(json: JSONValue?, key: String = "addressing_mode") throws {
        guard let json, !json.isNull else { self = .transparent; return }
        guard let s = json.stringValue else {
            throw PathCoreError(.invalidValue, "\(key) must be a string, got a \(json.typeName)", key: key)
        }
        guard let m = SCSIAddressingMode(rawValue: s) else {
            throw PathCoreError(
                .invalidValue,
                "\(key) \(ConnectionValidators.quoted(s)) is not one of SAM, transparent, SAM2, SAM3-flat", key: key)
        }
        self = m
    }
}

public enum AccessMode: String, Sendable, Codable {
    case rw, ro
}

/// CHAP user name and secret. `description`, `debugDescription` and `redacted()` never
/// show the secret; only `password` itself does (hand it to iscsiadm, nothing else).
public struct CHAPCredentials: Sendable, Equatable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
    public var description: String { "CHAP(user: \(username), password: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["username": username, "password": "<redacted>"]) }
    /// A copy whose password is the redaction marker.
    public func redacted() -> CHAPCredentials { CHAPCredentials(username: username, password: JSONValue.redactedMarker) }
}

/// One iSCSI path of a volume: a (portal, target, LUN) triple.
public struct ISCSITargetPath: Hashable, Sendable, Codable, CustomStringConvertible {
    public var portal: ISCSIPortal
    public var iqn: String
    /// The LUN as the array numbers it (`target_lun(s)`).
    public var lun: UInt64
    /// The LUN to scan and to expect in H:C:T:L, after `addressing_mode`.
    public var scsiLUN: UInt64
    public init(portal: ISCSIPortal, iqn: String, lun: UInt64, scsiLUN: UInt64) {
        self.portal = portal
        self.iqn = iqn
        self.lun = lun
        self.scsiLUN = scsiLUN
    }
    public var description: String { "\(portal) \(iqn) lun \(lun)" }
}

/// Validated iSCSI connection properties.
public struct ISCSIConnectionSpec: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// One entry per path, in the caller's order, duplicates removed.
    public var paths: [ISCSITargetPath]
    /// Session CHAP (`auth_method: CHAP`), nil when no auth.
    public var auth: CHAPCredentials?
    /// Discovery (SendTargets) CHAP, nil when no auth.
    public var discoveryAuth: CHAPCredentials?
    public var targetDiscovered: Bool
    public var addressingMode: SCSIAddressingMode
    public var accessMode: AccessMode
    public var encrypted: Bool
    public var discard: Bool
    /// `qos_specs` kept as given (object) when present and not null.
    public var qosSpecs: JSONValue?
    /// The volume WWN (`wwn`, which Pure adds): what every path must show.
    public var wwn: WWN?
    /// `volume_id` when given (Cinder adds it; used in messages only).
    public var volumeID: String?
    /// True when the plural keys were used.
    public var usedPluralKeys: Bool

    public var description: String {
        "iSCSI(\(paths.count) paths, wwn: \(wwn?.value ?? "none"), auth: \(auth.map { $0.description } ?? "none"), addressing: \(addressingMode.rawValue))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["paths": paths, "auth": auth?.redacted() as Any, "discoveryAuth": discoveryAuth?.redacted() as Any, "wwn": wwn as Any])
    }
    /// A copy with both CHAP secrets replaced by the redaction marker.
    public func redacted() -> ISCSIConnectionSpec {
        var c = self
        c.auth = auth?.redacted()
        c.discoveryAuth = discoveryAuth?.redacted()
        return c
    }
}

/// One FC target port and the LUN to find behind it.
public struct FCTarget: Hashable, Sendable, Codable {
    public var wwpn: WWPN
    public var lun: UInt64
    public var scsiLUN: UInt64
    public init(wwpn: WWPN, lun: UInt64, scsiLUN: UInt64) {
        self.wwpn = wwpn
        self.lun = lun
        self.scsiLUN = scsiLUN
    }
}

/// Validated Fibre Channel connection properties.
public struct FCConnectionSpec: Sendable, Equatable {
    /// Target ports with their LUN, in the caller's order, duplicates removed.
    public var targets: [FCTarget]
    /// Initiator WWPN -> target WWPNs, normalized; empty when the caller gave no map.
    public var initiatorTargetMap: [WWPN: [WWPN]]
    /// Whether a wildcard `- - lun` scan is allowed on a host where no known target port
    /// is present. Defaults to false (os-brick defaults to true; we do not wildcard-scan
    /// unless told to).
    public var enableWildcardScan: Bool
    public var targetDiscovered: Bool
    public var addressingMode: SCSIAddressingMode
    public var accessMode: AccessMode
    public var discard: Bool
    public var wwn: WWN?
    public var volumeID: String?
}

// MARK: - parsing

/// Parses os-brick connection properties (the `data` dict of Cinder's connection_info)
/// into validated specs. Unknown keys are ignored (Cinder adds `volume_id`, `qos_specs`,
/// `cacheable`...); known keys are type- and value-checked, and every error names its key
/// and never contains a secret.
public enum ConnectionProperties {
    /// Parses JSON text, then `iscsi(_:)`.
    public static func iscsi(json text: String) throws -> ISCSIConnectionSpec {
        try iscsi(try JSONValue.parse(text))
    }
    public static func fc(json text: String) throws -> FCConnectionSpec {
        try fc(try JSONValue.parse(text))
    }

    /// Accepts either the bare properties or a whole `connection_info`
    /// (`{"driver_volume_type": ..., "data": {...}}`).
    static func unwrap(_ value: JSONValue) throws -> Reader {
        guard value.objectMembers != nil else {
            throw PathCoreError(.invalidValue, "connection properties must be a JSON object, got a \(value.typeName)", key: "connection_properties")
        }
        if value["driver_volume_type"] != nil, let data = value["data"], data.objectMembers != nil {
            return Reader(data)
        }
        return Reader(value)
    }

    /// Registers every secret of `value` with `SecretRegistry.shared` first (so log lines
    /// never show it), then parses.
    public static func iscsi(_ value: JSONValue) throws -> ISCSIConnectionSpec {
        SecretRegistry.shared.register(value.secretValues)
        do { return try iscsiUnscrubbed(value) } catch let e as PathCoreError { throw e.scrubbing(value.secretValues) }
    }

    static func iscsiUnscrubbed(_ value: JSONValue) throws -> ISCSIConnectionSpec {
        let r = try unwrap(value)
        let addressing = try SCSIAddressingMode(json: r.present("addressing_mode"))

        var triples: [(portalKey: String, portal: String, iqnKey: String, iqn: String, lunKey: String, lun: UInt64)] = []
        let plural: Bool
        if let portals = try r.stringList("target_portals"), let iqns = try r.stringList("target_iqns") {
            plural = true
            guard !portals.isEmpty else { throw PathCoreError(.invalidValue, "target_portals is empty", key: "target_portals") }
            guard portals.count == iqns.count else {
                throw PathCoreError(
                    .invalidValue, "target_portals has \(portals.count) entries but target_iqns has \(iqns.count)",
                    key: "target_iqns")
            }
            var luns: [(String, UInt64)]
            if let lunList = try r.list("target_luns") {
                guard lunList.count == portals.count else {
                    throw PathCoreError(
                        .invalidValue, "target_portals has \(portals.count) entries but target_luns has \(lunList.count)",
                        key: "target_luns")
                }
                luns = try lunList.enumerated().map { i, v in
                    ("target_luns[\(i)]", try ConnectionValidators.lun(v, key: "target_luns[\(i)]"))
                }
            } else if let one = r.present("target_lun") {
                let l = try ConnectionValidators.lun(one, key: "target_lun")
                luns = Array(repeating: ("target_lun", l), count: portals.count)
            } else {
                throw PathCoreError(.missing, "missing target_luns (or target_lun) for the target_portals list", key: "target_luns")
            }
            for i in portals.indices {
                triples.append(("target_portals[\(i)]", portals[i], "target_iqns[\(i)]", iqns[i], luns[i].0, luns[i].1))
            }
        } else {
            plural = false
            let portal = try r.requiredString("target_portal", hint: "target_portal (or the target_portals and target_iqns lists)")
            let iqn = try r.requiredString("target_iqn", hint: "target_iqn (or the target_portals and target_iqns lists)")
            guard let lunValue = r.present("target_lun") else {
                throw PathCoreError(.missing, "missing target_lun", key: "target_lun")
            }
            triples.append(("target_portal", portal, "target_iqn", iqn, "target_lun", try ConnectionValidators.lun(lunValue, key: "target_lun")))
        }

        var paths: [ISCSITargetPath] = []
        var seen = Set<ISCSITargetPath>()
        for t in triples {
            let portal = try ConnectionValidators.portal(t.portal, key: t.portalKey)
            let iqn = try ConnectionValidators.iscsiName(t.iqn, key: t.iqnKey)
            let scsiLUN = try addressing.kernelLUN(for: t.lun, key: t.lunKey)
            let p = ISCSITargetPath(portal: portal, iqn: iqn, lun: t.lun, scsiLUN: scsiLUN)
            if seen.insert(p).inserted { paths.append(p) }
        }

        let auth = try r.chap(method: "auth_method", user: "auth_username", password: "auth_password")
        let discoveryAuth = try r.chap(
            method: "discovery_auth_method", user: "discovery_auth_username", password: "discovery_auth_password")

        var qos: JSONValue? = nil
        if let q = r.present("qos_specs") {
            guard q.objectMembers != nil else {
                throw PathCoreError(.invalidValue, "qos_specs must be an object, got a \(q.typeName)", key: "qos_specs")
            }
            qos = q
        }
        return ISCSIConnectionSpec(
            paths: paths, auth: auth, discoveryAuth: discoveryAuth,
            targetDiscovered: try r.bool("target_discovered") ?? false,
            addressingMode: addressing,
            accessMode: try r.accessMode(),
            encrypted: try r.bool("encrypted") ?? false,
            discard: try r.bool("discard") ?? false,
            qosSpecs: qos,
            wwn: try r.wwn(),
            volumeID: try r.optionalString("volume_id"),
            usedPluralKeys: plural)
    }

    /// Registers every secret of `value` with `SecretRegistry.shared` first, then parses.
    public static func fc(_ value: JSONValue) throws -> FCConnectionSpec {
        SecretRegistry.shared.register(value.secretValues)
        do { return try fcUnscrubbed(value) } catch let e as PathCoreError { throw e.scrubbing(value.secretValues) }
    }

    static func fcUnscrubbed(_ value: JSONValue) throws -> FCConnectionSpec {
        let r = try unwrap(value)
        let addressing = try SCSIAddressingMode(json: r.present("addressing_mode"))

        // initiator_target_map
        var itm: [WWPN: [WWPN]] = [:]
        if let mapValue = r.present("initiator_target_map") {
            guard let members = mapValue.objectMembers else {
                throw PathCoreError(
                    .invalidValue, "initiator_target_map must be an object, got a \(mapValue.typeName)", key: "initiator_target_map")
            }
            for (k, v) in members {
                let initiator = try ConnectionValidators.wwpn(k, key: "initiator_target_map")
                let key = "initiator_target_map.\(initiator.value)"
                let list: [JSONValue]
                if let a = v.arrayValue { list = a } else if v.stringValue != nil { list = [v] } else {
                    throw PathCoreError(.invalidValue, "\(key) must be a list of target WWPNs, got a \(v.typeName)", key: key)
                }
                var targets: [WWPN] = []
                for (i, t) in list.enumerated() {
                    guard let s = t.stringValue else {
                        throw PathCoreError(.invalidValue, "\(key)[\(i)] must be a string, got a \(t.typeName)", key: "\(key)[\(i)]")
                    }
                    let w = try ConnectionValidators.wwpn(s, key: "\(key)[\(i)]")
                    if !targets.contains(w) { targets.append(w) }
                }
                guard itm[initiator] == nil else {
                    throw PathCoreError(.invalidValue, "initiator_target_map lists initiator \(initiator) twice", key: key)
                }
                itm[initiator] = targets
            }
        }

        // target WWPNs: target_wwns (list) or target_wwn (string or list); both must agree.
        let wwns = try r.wwpnList("target_wwns", allowString: false)
        let wwn1 = try r.wwpnList("target_wwn", allowString: true)
        if let a = wwns, let b = wwn1, Set(a) != Set(b) {
            throw PathCoreError(.conflict, "target_wwn and target_wwns name different target ports", key: "target_wwn")
        }
        let wwnKey = wwns != nil ? "target_wwns" : "target_wwn"
        var targetWWPNs = wwns ?? wwn1 ?? []
        if targetWWPNs.isEmpty {
            // os-brick falls back to the map's targets.
            for t in itm.keys.sorted().flatMap({ itm[$0]! }) where !targetWWPNs.contains(t) { targetWWPNs.append(t) }
        }
        guard !targetWWPNs.isEmpty else {
            throw PathCoreError(.missing, "missing target_wwn (or target_wwns or initiator_target_map)", key: "target_wwn")
        }

        var luns: [(String, UInt64)]
        if let lunList = try r.list("target_luns"), wwns != nil || wwn1 != nil {
            guard lunList.count == targetWWPNs.count else {
                throw PathCoreError(
                    .invalidValue, "\(wwnKey) has \(targetWWPNs.count) entries but target_luns has \(lunList.count)", key: "target_luns")
            }
            luns = try lunList.enumerated().map { i, v in ("target_luns[\(i)]", try ConnectionValidators.lun(v, key: "target_luns[\(i)]")) }
        } else if let one = r.present("target_lun") {
            let l = try ConnectionValidators.lun(one, key: "target_lun")
            luns = Array(repeating: ("target_lun", l), count: targetWWPNs.count)
        } else if let lunList = try r.list("target_luns"), let first = lunList.first {
            let l = try ConnectionValidators.lun(first, key: "target_luns[0]")
            luns = Array(repeating: ("target_luns[0]", l), count: targetWWPNs.count)
        } else {
            throw PathCoreError(.missing, "missing target_lun (or target_luns)", key: "target_lun")
        }
        var targets: [FCTarget] = []
        for (i, w) in targetWWPNs.enumerated() {
            let t = FCTarget(wwpn: w, lun: luns[i].1, scsiLUN: try addressing.kernelLUN(for: luns[i].1, key: luns[i].0))
            if !targets.contains(t) { targets.append(t) }
        }

        return FCConnectionSpec(
            targets: targets, initiatorTargetMap: itm,
            enableWildcardScan: try r.bool("enable_wildcard_scan") ?? false,
            targetDiscovered: try r.bool("target_discovered") ?? false,
            addressingMode: addressing,
            accessMode: try r.accessMode(),
            discard: try r.bool("discard") ?? false,
            wwn: try r.wwn(),
            volumeID: try r.optionalString("volume_id"))
    }
}

/// Typed access to one properties object; every error names its key.
struct Reader {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    /// The value of `key` unless absent or null.
    func present(_ key: String) -> JSONValue? {
        guard let v = value[key], !v.isNull else { return nil }
        return v
    }

    func optionalString(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v.stringValue else {
            throw PathCoreError(.invalidValue, "\(key) must be a string, got a \(v.typeName)", key: key)
        }
        try ConnectionValidators.argvSafe(s, key: key)
        return s
    }

    func requiredString(_ key: String, hint: String) throws -> String {
        guard let s = try optionalString(key) else {
            throw PathCoreError(.missing, "missing \(hint)", key: key)
        }
        return s
    }

    func list(_ key: String) throws -> [JSONValue]? {
        guard let v = present(key) else { return nil }
        guard let a = v.arrayValue else {
            throw PathCoreError(.invalidValue, "\(key) must be a list, got a \(v.typeName)", key: key)
        }
        return a
    }

    func stringList(_ key: String) throws -> [String]? {
        guard let a = try list(key) else { return nil }
        return try a.enumerated().map { i, v in
            guard let s = v.stringValue else {
                throw PathCoreError(.invalidValue, "\(key)[\(i)] must be a string, got a \(v.typeName)", key: "\(key)[\(i)]")
            }
            return s
        }
    }

    func wwpnList(_ key: String, allowString: Bool) throws -> [WWPN]? {
        guard let v = present(key) else { return nil }
        if allowString, let s = v.stringValue { return [try ConnectionValidators.wwpn(s, key: key)] }
        guard let strings = try stringList(key) else { return nil }
        var out: [WWPN] = []
        for (i, s) in strings.enumerated() {
            let w = try ConnectionValidators.wwpn(s, key: "\(key)[\(i)]")
            if !out.contains(w) { out.append(w) }
        }
        guard !out.isEmpty else { throw PathCoreError(.invalidValue, "\(key) is empty", key: key) }
        return out
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard let b = v.boolValue else {
            throw PathCoreError(.invalidValue, "\(key) must be true or false, got a \(v.typeName)", key: key)
        }
        return b
    }

    func accessMode() throws -> AccessMode {
        guard let s = try optionalString("access_mode") else { return .rw }
        guard let m = AccessMode(rawValue: s) else {
            throw PathCoreError(.invalidValue, "access_mode \(ConnectionValidators.quoted(s)) is not rw or ro", key: "access_mode")
        }
        return m
    }

    func wwn() throws -> WWN? {
        guard let s = try optionalString("wwn") else { return nil }
        do {
            return try WWN(s)
        } catch var e as PathCoreError {
            e.key = "wwn"
            e.message = "wwn: " + e.message
            throw e
        }
    }

    /// CHAP settings: `method` absent/null/empty/"None" = none; "CHAP" (any case) needs
    /// user and password. A password without CHAP is refused. Secrets are never quoted.
    func chap(method: String, user: String, password: String) throws -> CHAPCredentials? {
        let m = try optionalString(method)
        let isCHAP: Bool
        switch m?.uppercased() {
        case nil, "", "NONE": isCHAP = false
        case "CHAP": isCHAP = true
        default:
            throw PathCoreError(.invalidValue, "\(method) \(ConnectionValidators.quoted(m!)) is not CHAP or None", key: method)
        }
        guard let pv = present(password) else {
            if isCHAP { throw PathCoreError(.missing, "\(method) is CHAP but \(password) is missing", key: password) }
            return nil
        }
        guard let pw = pv.stringValue else {
            throw PathCoreError(.invalidValue, "\(password) must be a string, got a \(pv.typeName)", key: password)
        }
        SecretRegistry.shared.register(pw)
        guard isCHAP else {
            if pw.isEmpty { return nil }
            throw PathCoreError(.invalidValue, "\(password) is set but \(method) is not CHAP", key: password)
        }
        guard !pw.isEmpty else { throw PathCoreError(.invalidValue, "\(password) is empty", key: password) }
        try ConnectionValidators.argvSafe(pw, key: password)
        guard pw.utf8.count <= 256 else {
            throw PathCoreError(.invalidValue, "\(password) is longer than 256 bytes (open-iscsi's limit)", key: password)
        }
        guard let u = try optionalString(user), !u.isEmpty else {
            throw PathCoreError(.missing, "\(method) is CHAP but \(user) is missing", key: user)
        }
        guard u.utf8.count <= 256 else {
            throw PathCoreError(.invalidValue, "\(user) is longer than 256 bytes (open-iscsi's limit)", key: user)
        }
        guard u != pw else {
            throw PathCoreError(.invalidValue, "\(user) equals the password; refusing to use a secret as a user name", key: user)
        }
        return CHAPCredentials(username: u, password: pw)
    }
}
