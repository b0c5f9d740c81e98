import PathCore

/// `pathctl doctor --cinder-conf FILE`: FlashArray's cinder.conf reader and validator as a
/// doctor check. Every `ConfDiagnostic` becomes one finding `cinder.<rule>` whose text is
/// `file:line: message`; a clean file gives one `cinder.conf` ok finding per Pure backend.
public struct CinderDoctorCheck: DoctorCheck {
    public init() {}
    public var name: String { "cinder" }

    /// What to set, and how, per rule id (the validator's messages say what is wrong).
    static let advice: [String: (recommended: String, fix: String)] = [
        "ini-syntax": ("a file oslo.config can parse", "fix the syntax on the line shown"),
        "backend-option-in-default": ("backend options only in the backend stanza or [backend_defaults]", "move the option into the backend stanza"),
        "enabled-backends-missing": ("[DEFAULT] enabled_backends = <the Pure backend stanza names>", "set enabled_backends in [DEFAULT]"),
        "enabled-backends-stanza": ("every name in enabled_backends has its own [stanza]", "add the stanza or remove the name"),
        "enabled-backends-duplicate": ("each backend named once", "remove the duplicate name from enabled_backends"),
        "fc-zoning-mode": ("zoning_mode = fabric", "set zoning_mode = fabric in [DEFAULT]"),
        "image-cache-internal-tenant": ("cinder_internal_tenant_project_id and cinder_internal_tenant_user_id set", "set both in [DEFAULT] or disable image_volume_cache_enabled"),
        "duplicate-option": ("each option set once per stanza", "remove the earlier line"),
        "volume-driver-missing": ("volume_driver = \(CinderConf.iscsiDriver) (or PureFCDriver)", "set volume_driver in the stanza"),
        "volume-driver-pure": ("volume_driver = \(CinderConf.iscsiDriver) or \(CinderConf.fcDriver)", "correct the driver path"),
        "unknown-pure-option": ("only options the Pure driver knows", "correct the option name (typo?) or remove it"),
        "boolean": ("True or False", "use an oslo.config boolean"),
        "integer": ("an integer", "use a whole number"),
        "range": ("a value within the option's range", "use a value within the range the message gives"),
        "san-ip-missing": ("san_ip = <the array's management address>", "set san_ip in the backend stanza"),
        "api-token-missing": ("pure_api_token = <the array user's API token>", "create an API token on the array (pureadmin create --api-token) and set pure_api_token"),
        "chap-fc": ("use_chap_auth only with the iSCSI driver", "remove use_chap_auth from the FC stanza"),
        "multipath-image-xfer": ("use_multipath_for_image_xfer = True", "set use_multipath_for_image_xfer = True in the backend stanza"),
        "reserved-percentage": ("reserved_percentage as the capacity plan needs (Pure: usually 0-10)", "review reserved_percentage"),
        "oversubscription-ratio": ("max_over_subscription_ratio = auto (or a number >= 1.0)", "set max_over_subscription_ratio = auto"),
        "tls-verify-off": ("driver_ssl_cert_verify = True with driver_ssl_cert_path = <CA bundle>", "turn TLS verification on and point driver_ssl_cert_path at the array's CA"),
        "tls-cert-path-unused": ("driver_ssl_cert_verify = True when driver_ssl_cert_path is set", "set driver_ssl_cert_verify = True"),
        "cidr": ("an IPv4 or IPv6 CIDR (10.0.0.0/24)", "correct the CIDR"),
        "cidr-list-overrides": ("either pure_iscsi_cidr or pure_iscsi_cidr_list", "remove pure_iscsi_cidr"),
        "host-personality": ("one of \(CinderConf.personalities.sorted().joined(separator: ", ")) or unset", "correct or remove pure_host_personality"),
        "replication-device-duplicate": ("one replication_device per backend_id", "remove the duplicate replication_device"),
        "replication-device-format": ("replication_device = backend_id:B,san_ip:IP,api_token:T[,type:sync|async][,uniform:true|false] on one line", "rewrite the replication_device line"),
        "replication-device-type": ("type:sync or type:async", "correct the replication_device type"),
        "replication-uniform-async": ("uniform:true only with type:sync", "drop uniform or use type:sync"),
    ]

    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        guard let file = facts.cinderConf else { return [] }
        guard let text = file.text else {
            return [DoctorFinding(id: "cinder.read", severity: .error,
                                  found: "\(file.path): cannot read it\(file.error.map { " (\($0))" } ?? "")",
                                  recommended: "a readable cinder.conf", fix: "check the path and its permissions", subjects: [file.path])]
        }
        return Self.findings(CinderConf(text: text), path: file.path)
    }

    /// The findings of an already parsed file (tests and `pathctl attach` use this too).
    public static func findings(_ conf: CinderConf, path: String) -> [DoctorFinding] {
        var out: [DoctorFinding] = conf.diagnostics.map { d in
            let a = advice[d.rule] ?? (recommended: "a value the rule \(d.rule) accepts", fix: "see the message")
            let at = d.line.map { "\(path):\($0)" } ?? path
            let sec = d.section.map { " [\($0)]" } ?? ""
            return DoctorFinding(id: "cinder.\(d.rule)", severity: d.severity == .error ? .error : .warning,
                                 found: "\(at):\(sec) \(d.message)", recommended: a.recommended, fix: a.fix,
                                 subjects: [at] + (d.key.map { [$0] } ?? []))
        }
        if conf.errors.isEmpty {
            if conf.backends.isEmpty {
                out.append(DoctorFinding(id: "cinder.pure-backend", severity: .info,
                                         found: "\(path): no enabled backend uses a Pure driver", recommended: "nothing to check", subjects: [path]))
            }
            for name in conf.backends.keys.sorted() {
                let b = conf.backends[name]!
                out.append(DoctorFinding(id: "cinder.conf", severity: .ok,
                                         found: "\(path): [\(name)] \(b.storageProtocol.rawValue) backend, san_ip \(b.sanIP), \(b.replicationDevices.count) replication device(s)",
                                         recommended: "a valid Pure backend stanza", subjects: [path, name]))
            }
        }
        return out
    }
}

