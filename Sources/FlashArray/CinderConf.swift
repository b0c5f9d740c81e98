import Foundation
import PathCore

/// One finding of the cinder.conf checker: the file line, the rule it breaks, and what to do.
public struct ConfDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    /// 1-based line in the file (nil when the finding is about something missing).
    public var line: Int?
    public var section: String?
    public var key: String?
    /// Stable rule id, e.g. `replication-device-format`.
    public var rule: String
    public var message: String
    public var description: String {
        let at = line.map { "line \($0)" } ?? "file"
        let where_ = section.map { " [\($0)]" } ?? ""
        return "\(severity.rawValue): \(at)\(where_): \(message) (rule \(rule))"
    }
}

public enum StorageProtocol: String, Sendable, Codable { case iscsi, fc }

public enum ReplicationType: String, Sendable, Codable { case sync, async }

/// One `replication_device` line.
public struct ReplicationDevice: Sendable, CustomStringConvertible {
    public var backendID: String
    public var sanIP: String
    public var apiToken: Secret
    public var type: ReplicationType
    public var uniform: Bool
    public var sslCertVerify: Bool?
    public var sslCertPath: String?
    public var description: String {
        "replication_device(backend_id=\(backendID), san_ip=\(sanIP), api_token=<redacted>, type=\(type.rawValue), uniform=\(uniform))"
    }
    public var endpoint: FlashArrayEndpoint {
        FlashArrayEndpoint(address: sanIP, apiToken: apiToken, tls: tlsVerification(explicit: sslCertVerify, path: sslCertPath))
    }
}

/// TLS policy from `driver_ssl_cert_verify` / `driver_ssl_cert_path`. Cinder's default for
/// `driver_ssl_cert_verify` is False; pathagent verifies unless the option is explicitly
/// False (and then the client logs a loud warning).
func tlsVerification(explicit verify: Bool?, path: String?) -> TLSVerification {
    if verify == false { return .insecure }
    return .verify(caPath: (path?.isEmpty ?? true) ? nil : path)
}

/// The effective options of one Pure backend stanza, every default applied.
public struct PureBackendConfig: Sendable, CustomStringConvertible {
    public var name: String
    public var volumeDriver: String
    public var storageProtocol: StorageProtocol
    public var volumeBackendName: String?
    public var sanIP: String
    public var apiToken: Secret
    public var useChapAuth = false
    public var useMultipathForImageXfer = false
    public var reservedPercentage = 0
    /// `"auto"` or a ratio >= 1 (Cinder default "20.0").
    public var maxOverSubscriptionRatio = "20.0"
    public var pureAutomaticMaxOversubscriptionRatio = true
    /// nil when not set (Cinder's default is False; pathagent then still verifies).
    public var driverSSLCertVerify: Bool?
    public var driverSSLCertPath: String?
    public var imageVolumeCacheEnabled = false
    public var imageVolumeCacheMaxSizeGB = 0
    public var imageVolumeCacheMaxCount = 0
    public var replicationDevices: [ReplicationDevice] = []
    public var pureReplicaIntervalDefault = 3600
    public var pureReplicaRetentionShortTermDefault = 14400
    public var pureReplicaRetentionLongTermPerDayDefault = 3
    public var pureReplicaRetentionLongTermDefault = 7
    public var pureReplicationPGName = "cinder-group"
    public var pureReplicationPodName = "cinder-pod"
    public var pureEradicateOnDelete = false
    public var pureISCSICIDR = "0.0.0.0/0"
    /// `pure_iscsi_cidr_list`: when set, replaces `pure_iscsi_cidr`.
    public var pureISCSICIDRList: [String]?
    public var pureHostPersonality: String?

    /// The CIDRs that filter iSCSI portals.
    public var iscsiCIDRs: [String] { pureISCSICIDRList ?? [pureISCSICIDR] }

    public var tls: TLSVerification { tlsVerification(explicit: driverSSLCertVerify, path: driverSSLCertPath) }

    public var endpoint: FlashArrayEndpoint { FlashArrayEndpoint(address: sanIP, apiToken: apiToken, tls: tls) }

    /// Replication targets whose paths the host also sees (ActiveCluster, uniform access).
    public var uniformSyncTargets: [ReplicationDevice] { replicationDevices.filter { $0.type == .sync && $0.uniform } }

    public var description: String {
        "backend [\(name)] \(storageProtocol.rawValue) san_ip=\(sanIP) pure_api_token=<redacted> chap=\(useChapAuth) replication_devices=\(replicationDevices.count)"
    }
}

/// cinder.conf as pathagent reads it: the Pure backend stanzas named by `enabled_backends`.
public struct CinderConf: Sendable {
    public static let iscsiDriver = "cinder.volume.drivers.pure.PureISCSIDriver"
    public static let fcDriver = "cinder.volume.drivers.pure.PureFCDriver"

    /// Options that belong in a backend stanza (or `[backend_defaults]`), never `[DEFAULT]`.
    public static let backendOptions: Set<String> = [
        "volume_driver", "volume_backend_name", "san_ip", "pure_api_token", "use_chap_auth",
        "use_multipath_for_image_xfer", "reserved_percentage", "max_over_subscription_ratio",
        "pure_automatic_max_oversubscription_ratio", "driver_ssl_cert_verify", "driver_ssl_cert_path",
        "image_volume_cache_enabled", "image_volume_cache_max_size_gb", "image_volume_cache_max_count",
        "replication_device", "pure_replica_interval_default", "pure_replica_retention_short_term_default",
        "pure_replica_retention_long_term_per_day_default", "pure_replica_retention_long_term_default",
        "pure_replication_pg_name", "pure_replication_pod_name", "pure_eradicate_on_delete", "pure_iscsi_cidr",
        "pure_iscsi_cidr_list", "pure_host_personality",
    ]
    public static let replicationKeys: Set<String> = [
        "backend_id", "san_ip", "api_token", "type", "uniform", "ssl_cert_verify", "ssl_cert_path",
    ]
    public static let personalities: Set<String> = ["aix", "esxi", "hitachi-vsp", "hpux", "oracle-vm-server", "solaris", "vms"]

    public var enabledBackends: [String] = []
    public var zoningMode: String?
    public var backends: [String: PureBackendConfig] = [:]
    public var diagnostics: [ConfDiagnostic] = []
    public var errors: [ConfDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [ConfDiagnostic] { diagnostics.filter { $0.severity == .warning } }

    public static func load(path: String) throws -> CinderConf {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw FlashArrayError(.configuration, "cannot read \(path)")
        }
        return CinderConf(text: text)
    }

    /// The named Pure backend, or an error listing what is wrong with it.
    public func backend(_ name: String) throws -> PureBackendConfig {
        let own = errors.filter { $0.section == name || $0.section == nil || $0.section == "DEFAULT" }
        if let b = backends[name], own.isEmpty { return b }
        if !own.isEmpty {
            throw FlashArrayError(.configuration, "backend '\(name)' is not usable: " + own.map(\.description).joined(separator: "; "))
        }
        throw FlashArrayError(.configuration, "no Pure backend stanza [\(name)] enabled in cinder.conf (enabled_backends = \(enabledBackends.joined(separator: ",")))")
    }

    /// Parses and validates; never throws: every problem is a diagnostic with its line.
    public init(text: String) {
        let ini: INIFile
        do { ini = try INIFile(text: text) } catch let e as INIFile.ParseError {
            diagnostics.append(.init(severity: .error, line: e.line, section: nil, key: nil, rule: "ini-syntax", message: e.message))
            return
        } catch {
            diagnostics.append(.init(severity: .error, line: nil, section: nil, key: nil, rule: "ini-syntax", message: "\(error)"))
            return
        }
        // every secret-looking option (pure_api_token, any *_password) of every section, and
        // each replication_device api_token (in replicationDevice), is registered before
        // anything is validated: log lines never show them
        for sec in ini.sections {
            for e in sec.entries where JSONValue.isSecretKey(e.key) { SecretRegistry.shared.register(e.value) }
        }
        var v = Validator(ini: ini)
        v.run()
        enabledBackends = v.enabled
        zoningMode = v.zoningMode
        backends = v.backends
        diagnostics = v.diags
    }
}

/// The checks, one rule id each.
struct Validator {
    let ini: INIFile
    var diags: [ConfDiagnostic] = []
    var enabled: [String] = []
    var zoningMode: String?
    var backends: [String: PureBackendConfig] = [:]

    init(ini: INIFile) { self.ini = ini }

    mutating func err(_ line: Int?, _ sec: String?, _ key: String?, _ rule: String, _ msg: String) {
        diags.append(.init(severity: .error, line: line, section: sec, key: key, rule: rule, message: msg))
    }
    mutating func warn(_ line: Int?, _ sec: String?, _ key: String?, _ rule: String, _ msg: String) {
        diags.append(.init(severity: .warning, line: line, section: sec, key: key, rule: rule, message: msg))
    }

    mutating func run() {
        let def = ini["DEFAULT"]
        // backend options in [DEFAULT]
        for e in def?.entries ?? [] where CinderConf.backendOptions.contains(e.key) {
            err(e.line, "DEFAULT", e.key, "backend-option-in-default",
                "\(e.key) is a backend option: in [DEFAULT] it is not applied to backends (deprecated, and it errors); move it into the backend stanza or [backend_defaults]")
        }
        guard let eb = def?.last("enabled_backends") else {
            err(nil, "DEFAULT", "enabled_backends", "enabled-backends-missing", "[DEFAULT] enabled_backends is not set: no backend stanza is used")
            return
        }
        enabled = eb.value.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        if enabled.isEmpty { err(eb.line, "DEFAULT", "enabled_backends", "enabled-backends-missing", "enabled_backends is empty") }
        for n in enabled where ini[n] == nil {
            err(eb.line, "DEFAULT", "enabled_backends", "enabled-backends-stanza", "enabled_backends names '\(n)' but there is no [\(n)] stanza")
        }
        if Set(enabled).count != enabled.count {
            err(eb.line, "DEFAULT", "enabled_backends", "enabled-backends-duplicate", "enabled_backends names a stanza twice")
        }
        zoningMode = def?.last("zoning_mode")?.value
        let projectID = def?.last("cinder_internal_tenant_project_id")?.value
        let userID = def?.last("cinder_internal_tenant_user_id")?.value
        let defaults = ini["backend_defaults"]

        for name in enabled {
            guard let sec = ini[name] else { continue }
            if let b = backend(sec, defaults: defaults) {
                if b.storageProtocol == .fc, zoningMode != "fabric" {
                    warn(def?.last("zoning_mode")?.line, "DEFAULT", "zoning_mode", "fc-zoning-mode",
                         "backend [\(name)] uses the FC driver: set zoning_mode = fabric in [DEFAULT] so the zone manager builds zones")
                }
                if b.imageVolumeCacheEnabled, (projectID ?? "").isEmpty || (userID ?? "").isEmpty {
                    warn(lookup("image_volume_cache_enabled", sec, defaults)?.line, name, "image_volume_cache_enabled", "image-cache-internal-tenant",
                         "the image volume cache needs cinder_internal_tenant_project_id and cinder_internal_tenant_user_id in [DEFAULT]")
                }
                backends[name] = b
            }
        }
    }

    func lookup(_ key: String, _ sec: INIFile.Section, _ defaults: INIFile.Section?) -> INIFile.Entry? {
        sec.last(key) ?? defaults?.last(key)
    }

    mutating func backend(_ sec: INIFile.Section, defaults: INIFile.Section?) -> PureBackendConfig? {
        let n = sec.name
        let before = diags.filter { $0.severity == .error }.count
        // single-valued options set twice
        var seen: [String: Int] = [:]
        for e in sec.entries where e.key != "replication_device" {
            if let first = seen[e.key] {
                warn(e.line, n, e.key, "duplicate-option", "\(e.key) is set again (first on line \(first)); the last value wins")
            }
            seen[e.key] = e.line
        }
        guard let drv = lookup("volume_driver", sec, defaults) else {
            err(sec.line, n, "volume_driver", "volume-driver-missing", "backend stanza has no volume_driver")
            return nil
        }
        let proto: StorageProtocol
        switch drv.value {
        case CinderConf.iscsiDriver: proto = .iscsi
        case CinderConf.fcDriver: proto = .fc
        default:
            if drv.value.contains("drivers.pure.") {
                err(drv.line, n, "volume_driver", "volume-driver-pure", "'\(drv.value)' is not a Pure driver pathagent knows (PureISCSIDriver or PureFCDriver)")
            }
            return nil  // another vendor's stanza: not ours
        }
        for e in sec.entries where e.key.hasPrefix("pure_") && !CinderConf.backendOptions.contains(e.key) {
            warn(e.line, n, e.key, "unknown-pure-option", "unknown Pure option '\(e.key)' (typo?)")
        }
        func str(_ k: String) -> INIFile.Entry? { lookup(k, sec, defaults) }
        func bool(_ k: String, _ d: Bool) -> Bool {
            guard let e = str(k) else { return d }
            guard let b = osloBool(e.value) else {
                err(e.line, n, k, "boolean", "\(k) = '\(e.value)' is not a boolean (true/false, yes/no, on/off, 1/0, t/f, y/n)")
                return d
            }
            return b
        }
        func int(_ k: String, _ d: Int, min: Int? = nil, max: Int? = nil) -> Int {
            guard let e = str(k) else { return d }
            guard let i = Int(e.value) else {
                err(e.line, n, k, "integer", "\(k) = '\(e.value)' is not an integer"); return d
            }
            if let min, i < min { err(e.line, n, k, "range", "\(k) = \(i) is below the minimum \(min)"); return d }
            if let max, i > max { err(e.line, n, k, "range", "\(k) = \(i) is above the maximum \(max)"); return d }
            return i
        }

        let sanIP = str("san_ip")
        if (sanIP?.value ?? "").isEmpty { err(sanIP?.line ?? sec.line, n, "san_ip", "san-ip-missing", "san_ip (the array's management address) is not set") }
        let token = str("pure_api_token")
        if (token?.value ?? "").isEmpty { err(token?.line ?? sec.line, n, "pure_api_token", "api-token-missing", "pure_api_token is not set") }

        var b = PureBackendConfig(name: n, volumeDriver: drv.value, storageProtocol: proto,
                                  volumeBackendName: str("volume_backend_name")?.value,
                                  sanIP: sanIP?.value ?? "", apiToken: Secret(token?.value ?? ""))
        b.useChapAuth = bool("use_chap_auth", false)
        if b.useChapAuth, proto == .fc {
            warn(str("use_chap_auth")?.line, n, "use_chap_auth", "chap-fc", "use_chap_auth has no effect with the FC driver")
        }
        b.useMultipathForImageXfer = bool("use_multipath_for_image_xfer", false)
        if !b.useMultipathForImageXfer {
            warn(str("use_multipath_for_image_xfer")?.line ?? sec.line, n, "use_multipath_for_image_xfer", "multipath-image-xfer",
                 "use_multipath_for_image_xfer should be True for Pure backends (image transfers otherwise use a single path)")
        }
        b.reservedPercentage = int("reserved_percentage", 0, min: 0, max: 100)
        if b.reservedPercentage != 0 {
            warn(str("reserved_percentage")?.line, n, "reserved_percentage", "reserved-percentage",
                 "reserved_percentage = \(b.reservedPercentage): Pure recommends 0 (the array's data reduction makes a fixed reserve misleading)")
        }
        if let e = str("max_over_subscription_ratio") {
            let val = e.value
            let isNumber = val.range(of: #"^(\d*\.\d+|\d+)$"#, options: .regularExpression) != nil
            if val == "auto" || isNumber {
                if isNumber, let d = Double(val), d < 1 {
                    err(e.line, n, e.key, "oversubscription-ratio", "max_over_subscription_ratio = \(val) must be at least 1.0 (or auto)")
                } else { b.maxOverSubscriptionRatio = val }
            } else {
                err(e.line, n, e.key, "oversubscription-ratio", "max_over_subscription_ratio = '\(val)' must be 'auto' or a number")
            }
        }
        b.pureAutomaticMaxOversubscriptionRatio = bool("pure_automatic_max_oversubscription_ratio", true)
        if let e = str("driver_ssl_cert_verify") {
            b.driverSSLCertVerify = bool("driver_ssl_cert_verify", false)
            if b.driverSSLCertVerify == false {
                warn(e.line, n, e.key, "tls-verify-off",
                     "driver_ssl_cert_verify = False: the array's certificate is not checked and the API token can be stolen by anyone on the path")
            }
        }
        if let e = str("driver_ssl_cert_path"), !e.value.isEmpty {
            b.driverSSLCertPath = e.value
            if b.driverSSLCertVerify != true {
                warn(e.line, n, e.key, "tls-cert-path-unused", "driver_ssl_cert_path is set but driver_ssl_cert_verify is not True: Cinder ignores the path")
            }
        }
        b.imageVolumeCacheEnabled = bool("image_volume_cache_enabled", false)
        b.imageVolumeCacheMaxSizeGB = int("image_volume_cache_max_size_gb", 0, min: 0)
        b.imageVolumeCacheMaxCount = int("image_volume_cache_max_count", 0, min: 0)
        b.pureReplicaIntervalDefault = int("pure_replica_interval_default", 3600, min: 0)
        b.pureReplicaRetentionShortTermDefault = int("pure_replica_retention_short_term_default", 14400, min: 0)
        b.pureReplicaRetentionLongTermPerDayDefault = int("pure_replica_retention_long_term_per_day_default", 3, min: 0)
        b.pureReplicaRetentionLongTermDefault = int("pure_replica_retention_long_term_default", 7, min: 0)
        if let e = str("pure_replication_pg_name") { b.pureReplicationPGName = e.value }
        if let e = str("pure_replication_pod_name") { b.pureReplicationPodName = e.value }
        b.pureEradicateOnDelete = bool("pure_eradicate_on_delete", false)
        if let e = str("pure_iscsi_cidr") {
            if CIDR(e.value) == nil { err(e.line, n, e.key, "cidr", "pure_iscsi_cidr = '\(e.value)' is not an IPv4 or IPv6 CIDR") } else { b.pureISCSICIDR = e.value }
        }
        if let e = str("pure_iscsi_cidr_list") {
            let items = e.value.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            for i in items where CIDR(i) == nil { err(e.line, n, e.key, "cidr", "pure_iscsi_cidr_list entry '\(i)' is not a CIDR") }
            if !items.isEmpty { b.pureISCSICIDRList = items }
            if str("pure_iscsi_cidr") != nil {
                warn(e.line, n, e.key, "cidr-list-overrides", "pure_iscsi_cidr is ignored because pure_iscsi_cidr_list is set")
            }
        }
        if let e = str("pure_host_personality") {
            if CinderConf.personalities.contains(e.value) { b.pureHostPersonality = e.value } else {
                err(e.line, n, e.key, "host-personality", "pure_host_personality = '\(e.value)' is not one of \(CinderConf.personalities.sorted().joined(separator: ", "))")
            }
        }
        let repl = sec.all("replication_device") + (sec.all("replication_device").isEmpty ? (defaults?.all("replication_device") ?? []) : [])
        for e in repl {
            if let d = replicationDevice(e, n) { b.replicationDevices.append(d) }
        }
        let ids = b.replicationDevices.map(\.backendID)
        if Set(ids).count != ids.count {
            err(repl.first?.line, n, "replication_device", "replication-device-duplicate", "two replication_device lines use the same backend_id")
        }
        let after = diags.filter { $0.severity == .error }.count
        return after == before ? b : nil
    }

    mutating func replicationDevice(_ e: INIFile.Entry, _ n: String) -> ReplicationDevice? {
        let rule = "replication-device-format"
        if e.continued {
            err(e.line, n, e.key, rule, "replication_device must be one line of key:value pairs (continuation lines are not allowed)")
            return nil
        }
        var kv: [String: String] = [:]
        for (i, pair) in e.value.split(separator: ",").enumerated() {
            let p = pair.trimmingWhitespace()
            guard let c = p.firstIndex(of: ":") else {
                // the item itself is not echoed (and is registered as a secret): it could be part of a token
                SecretRegistry.shared.register(String(p))
                err(e.line, n, e.key, rule, "replication_device item \(i + 1) is not key:value"); return nil
            }
            let k = String(p[..<c]).trimmingWhitespace()
            let v = String(p[p.index(after: c)...]).trimmingWhitespace()
            if k == "api_token" { SecretRegistry.shared.register(v) }
            guard CinderConf.replicationKeys.contains(k) else {
                err(e.line, n, e.key, rule, "replication_device has unknown key '\(k)' (known: \(CinderConf.replicationKeys.sorted().joined(separator: ", ")))"); return nil
            }
            if kv[k] != nil { err(e.line, n, e.key, rule, "replication_device repeats key '\(k)'"); return nil }
            kv[k] = v
        }
        for req in ["backend_id", "san_ip", "api_token"] where (kv[req] ?? "").isEmpty {
            err(e.line, n, e.key, rule, "replication_device lacks \(req)"); return nil
        }
        let type: ReplicationType
        switch kv["type"] ?? "async" {
        case "sync": type = .sync
        case "async": type = .async
        default:
            err(e.line, n, e.key, "replication-device-type", "replication_device type '\(kv["type"]!)' must be sync or async"); return nil
        }
        var uniform = false
        if let u = kv["uniform"] {
            guard let b = osloBool(u) else { err(e.line, n, e.key, rule, "replication_device uniform '\(u)' is not a boolean"); return nil }
            uniform = b
        }
        if uniform, type != .sync {
            warn(e.line, n, e.key, "replication-uniform-async", "uniform:true only matters with type:sync (ActiveCluster)")
        }
        var verify: Bool? = nil
        if let s = kv["ssl_cert_verify"] {
            guard let b = osloBool(s) else { err(e.line, n, e.key, rule, "replication_device ssl_cert_verify '\(s)' is not a boolean"); return nil }
            verify = b
        }
        return ReplicationDevice(backendID: kv["backend_id"]!, sanIP: kv["san_ip"]!, apiToken: Secret(kv["api_token"]!),
                                 type: type, uniform: uniform, sslCertVerify: verify, sslCertPath: kv["ssl_cert_path"])
    }
}
