/// pathagent's configuration (`/etc/pathagent/pathagent.conf`), an INI file like
/// nova.conf: `[section]` headers, `key = value` lines, `#` and `;` comments. Every option
/// has an embedded default, so the agent runs without a file. Parsing is pure: the caller
/// reads the file and passes its text and name (for `file:line:` errors).
public struct AgentConfig: Sendable, Equatable {
    // [api]
    public var socketPath = "/run/pathagent/pathagent.sock"
    public var group: String? = nil
    public var metricsPort = 0
    public var maxBodyBytes = 1 << 20
    public var shutdownGraceSeconds = 10
    // [agent]
    public var stateDir = "/var/lib/pathagent"
    public var logLevel = "info"
    public var workers = 8
    /// Directory holding sys/, dev/, etc/ (and run/); `/` is the live host.
    public var roots = "/"
    // [iscsi]
    public var recoveryTmo = 10
    public var loginTimeout = 15
    public var scanTimeout = 10
    // [multipath]
    public var enforceMultipath = false
    public var useMultipath = true
    public var pollingInterval = 10
    public var statePollMillis = 250
    /// multipath.conf-syntax file whose `defaults`/`devices`/`overrides` change the
    /// built-in Pure settings; nil = the built-in settings.
    public var multipathConfigFile: String? = nil
    // [flasharray] (off unless cinder_conf and backend are both set)
    public var flashArrayCinderConf: String? = nil
    public var flashArrayBackend: String? = nil
    public var flashArrayReportInterval = 60
    /// The path-health reporter runs only when both the file and the backend are given.
    public var flashArrayReporting: Bool { flashArrayCinderConf != nil && flashArrayBackend != nil }

    public init() {}

    /// The defaults plus what `text` sets. Errors are `file:line: key: reason`.
    public static func parse(_ text: String, file: String) throws -> AgentConfig {
        var cfg = AgentConfig()
        var section = "DEFAULT"
        var seen: [String: Int] = [:]
        var lineNo = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {  // CRLF is one Character
            lineNo += 1
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            func fail(_ key: String?, _ reason: String) -> PathCoreError {
                PathCoreError(
                    .invalidValue, "\(file):\(lineNo): \(key.map { "\($0): " } ?? "")\(reason)",
                    key: key)
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail(nil, "section header \(line) has no closing ]") }
                let name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                guard name == "DEFAULT" || Self.sections.contains(name) else {
                    throw fail(nil, "unknown section [\(name)] (known: [DEFAULT], [agent], [api], [iscsi], [multipath], [flasharray])")
                }
                section = name == "DEFAULT" ? "agent" : name
                continue
            }
            guard let eq = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw fail(nil, "expected key = value, got \(line)")
            }
            let key = String(line[..<eq]).trimmingWhitespace()
            var value = String(line[line.index(after: eq)...]).trimmingWhitespace()
            // Inline comments after whitespace, as oslo.config does not allow them but
            // operators write them: only ` #` / ` ;` start one.
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let r = value.firstRange(of: marker) { value = String(value[..<r.lowerBound]).trimmingWhitespace() }
            }
            if section == "DEFAULT" { section = "agent" }
            let full = "\(section).\(key)"
            guard let option = Self.options.first(where: { $0.name == full }) else {
                let inSection = Self.options.filter { $0.name.hasPrefix(section + ".") }.map { $0.name.split(separator: ".")[1] }
                throw fail(full, "unknown option (\(section) has: \(inSection.joined(separator: ", ")))")
            }
            if let prev = seen[full] { throw fail(full, "set twice (first on line \(prev))") }
            seen[full] = lineNo
            do {
                try option.apply(&cfg, value)
            } catch let reason as OptionReason {
                throw fail(full, reason.text)
            }
        }
        return cfg
    }

    static let sections: Set<String> = ["agent", "api", "iscsi", "multipath", "flasharray"]

    /// Every option: the one table behind parsing, validation and `pathagent --help-config`.
    public static let options: [ConfigOption] = [
        ConfigOption("api.socket", "path", "/run/pathagent/pathagent.sock",
            "Unix socket of the local API (HTTP/1.1 + JSON). Its directory is created 0755; the socket is 0600, or 0660 owned by api.group when that is set.") { c, v in
            c.socketPath = try path(v)
        },
        ConfigOption("api.group", "group name or gid", "(none)",
            "Members of this group (primary or supplementary, via getgrouplist) may use the API besides root and the agent's own user; others get 403.") { c, v in
            guard !v.isEmpty else { c.group = nil; return }
            guard v.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                throw OptionReason("\(v) is not a group name or number")
            }
            c.group = v
        },
        ConfigOption("api.metrics_port", "port", "0",
            "TCP port on 127.0.0.1 that serves only GET /metrics (Prometheus text); 0 = off (/metrics is always on the socket).") { c, v in
            c.metricsPort = try int(v, 0...65535)
        },
        ConfigOption("api.max_body_bytes", "bytes", "1048576",
            "Largest request body accepted; larger requests get 413 payload_too_large.") { c, v in
            c.maxBodyBytes = try int(v, 1024...(64 << 20))
        },
        ConfigOption("api.shutdown_grace", "seconds", "10",
            "On SIGTERM/SIGINT: stop accepting, let in-flight requests finish for this long, then cancel them.") { c, v in
            c.shutdownGraceSeconds = try int(v, 0...600)
        },
        ConfigOption("agent.state_dir", "path", "/var/lib/pathagent",
            "Directory of durable state: the intent journal journal.sqlite (SQLite, WAL).") { c, v in
            c.stateDir = try path(v)
        },
        ConfigOption("agent.log_level", "level", "info",
            "trace, debug, info, notice, warning, error or critical.") { c, v in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(v.lowercased()) else { throw OptionReason("\(v) is not one of \(levels.joined(separator: ", "))") }
            c.logLevel = v.lowercased()
        },
        ConfigOption("agent.workers", "count", "8",
            "Threads for blocking calls (iscsiadm, SG_IO, dm ioctls, sysfs scans); at most this many run at once.") { c, v in
            c.workers = try int(v, 1...256)
        },
        ConfigOption("agent.roots", "path", "/",
            "Directory holding the sys/, dev/, etc/ and run/ trees the agent reads; / is the live host (a fixture or lab tree otherwise).") { c, v in
            c.roots = try path(v)
        },
        ConfigOption("iscsi.recovery_tmo", "seconds", "10",
            "Session replacement_timeout / recovery_tmo set on iSCSI sessions (Pure: fast_io_fail_tmo 10 becomes recovery_tmo on iSCSI).") { c, v in
            c.recoveryTmo = try int(v, 1...3600)
        },
        ConfigOption("iscsi.login_timeout", "seconds", "15",
            "Deadline for one portal login.") { c, v in
            c.loginTimeout = try int(v, 1...600)
        },
        ConfigOption("iscsi.scan_timeout", "seconds", "10",
            "Deadline for the expected disks to appear after a login or targeted scan.") { c, v in
            c.scanTimeout = try int(v, 1...600)
        },
        ConfigOption("multipath.enforce", "bool", "false",
            "Fail connect when a multipath map cannot be built (os-brick enforce_multipath).") { c, v in
            c.enforceMultipath = try bool(v)
        },
        ConfigOption("multipath.use_multipath", "bool", "true",
            "Build dm-multipath maps (reported as connector property multipath).") { c, v in
            c.useMultipath = try bool(v)
        },
        ConfigOption("multipath.polling_interval", "seconds", "10",
            "The path checker (TEST UNIT READY over SG_IO) runs on every path of every map this often; it fails paths that stopped answering and reinstates recovered ones (Pure: 10, as multipathd's polling_interval).") { c, v in
            c.pollingInterval = try int(v, 1...300)
        },
        ConfigOption("multipath.state_poll_ms", "milliseconds", "250",
            "How often the monitor reads each map path's SCSI device state in sysfs (no I/O to the device); a path the kernel set offline, transport-offline or deleted is failed in the map at once instead of at the next checker run (the kernel sends no uevent for these state changes). 0 turns it off.") { c, v in
            let n = try int(v, 0...60000)
            guard n == 0 || n >= 50 else { throw OptionReason("\(n) is below 50 ms (use 0 to turn the state poll off)") }
            c.statePollMillis = n
        },
        ConfigOption("multipath.config", "path", "(none)",
            "A file in multipath.conf syntax (defaults, devices, overrides sections) whose settings change the built-in Pure ones for the maps and paths the agent builds; read and checked at start (an error names its line). pathctl maps shows where each setting came from.") { c, v in
            c.multipathConfigFile = v.isEmpty ? nil : try path(v)
        },
        ConfigOption("flasharray.cinder_conf", "path", "(none)",
            "cinder.conf holding the Pure backend stanza; with flasharray.backend it turns on the path-health reporter, which records each volume's path health on the array (host tags).") { c, v in
            c.flashArrayCinderConf = v.isEmpty ? nil : try path(v)
        },
        ConfigOption("flasharray.backend", "name", "(none)",
            "The Pure backend stanza of flasharray.cinder_conf the reporter uses (san_ip, pure_api_token, TLS).") { c, v in
            c.flashArrayBackend = v.isEmpty ? nil : v
        },
        ConfigOption("flasharray.report_interval", "seconds", "60",
            "The reporter sends a report after every path change (checked each second) and at least this often.") { c, v in
            c.flashArrayReportInterval = try int(v, 1...86400)
        },
    ]

    /// The option table as text (`pathagent --help-config`).
    public static func helpText() -> String {
        var out = ["pathagent configuration (INI; [DEFAULT] is the same as [agent]; # and ; start comments)", ""]
        let w0 = options.map(\.name.count).max() ?? 0
        let w1 = options.map(\.type.count).max() ?? 0
        let w2 = options.map(\.defaultText.count).max() ?? 0
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        out.append("\(pad("option", w0))  \(pad("type", w1))  \(pad("default", w2))  meaning")
        for o in options {
            out.append("\(pad(o.name, w0))  \(pad(o.type, w1))  \(pad(o.defaultText, w2))  \(o.meaning)")
        }
        return out.joined(separator: "\n")
    }

    static func int(_ v: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(v) else { throw OptionReason("\(v) is not an integer") }
        guard range.contains(n) else { throw OptionReason("\(n) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return n
    }
    static func bool(_ v: String) throws -> Bool {
        switch v.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw OptionReason("\(v) is not true or false")
        }
    }
    static func path(_ v: String) throws -> String {
        guard v.hasPrefix("/") else { throw OptionReason("\(v) is not an absolute path") }
        guard !v.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw OptionReason("path contains a control character")
        }
        return v
    }
}

/// One row of the option table.
public struct ConfigOption: Sendable {
    /// `section.key`.
    public let name: String
    public let type: String
    public let defaultText: String
    public let meaning: String
    let apply: @Sendable (inout AgentConfig, String) throws -> Void

    init(_ name: String, _ type: String, _ defaultText: String, _ meaning: String,
         apply: @escaping @Sendable (inout AgentConfig, String) throws -> Void) {
        self.name = name
        self.type = type
        self.defaultText = defaultText
        self.meaning = meaning
        self.apply = apply
    }
}

struct OptionReason: Error {
    var text: String
    init(_ text: String) { self.text = text }
}
