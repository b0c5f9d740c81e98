/// Checks of the host's kernel settings for Pure volumes: queue settings and SCSI command
/// timeout of every Pure path and map (Pure's udev rules, `udev/60-pathagent-pure.rules`),
/// the iSCSI replacement timeout and initiator name, and the FC remote-port timeouts.
///
/// Finding ids: `host.queue.scheduler`, `host.queue.add_random`, `host.queue.rq_affinity`,
/// `host.queue.max_sectors_kb`, `host.device_timeout`, `host.iscsi.replacement_timeout`
/// (iscsid.conf), `host.iscsi.recovery_tmo` (live sessions), `host.iscsi.initiator_name`,
/// `host.fc.fast_io_fail_tmo`, `host.fc.dev_loss_tmo`.
public struct HostChecks: DoctorCheck {
    public init() {}
    public var name: String { "host" }

    static let udevFix = "install udev/60-pathagent-pure.rules (scripts/install does) and apply it: udevadm control --reload && udevadm trigger --action=change --subsystem-match=block"

    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        var out: [DoctorFinding] = []
        let x = facts.expected
        let paths = facts.pureVolumes.flatMap(\.paths).filter { $0.device != nil }
        let maps = facts.pureMaps

        // queue settings on paths and maps
        func queueCheck(_ key: String, want: String?, path: (ScsiPath) -> String?, map: (QueueSettings) -> String?) {
            let id = "host.queue.\(key)"
            guard let want else { return }
            var seen: [(String, String)] = []
            for p in paths { seen.append((p.device!, path(p) ?? "unreadable")) }
            for m in maps { seen.append((m.device, facts.mapQueues[m.device].flatMap(map) ?? "unreadable")) }
            out.append(Self.compare(id: id, setting: "queue/\(key)", want: want, seen: seen, fix: Self.udevFix))
        }
        queueCheck("scheduler", want: x.scheduler.value, path: { $0.queue?.scheduler }, map: { $0.scheduler })
        queueCheck("add_random", want: x.addRandom.value.map(String.init), path: { $0.queue?.addRandom.map(String.init) }, map: { $0.addRandom.map(String.init) })
        queueCheck("rq_affinity", want: x.rqAffinity.value.map(String.init), path: { $0.queue?.rqAffinity.map(String.init) }, map: { $0.rqAffinity.map(String.init) })
        queueCheck("max_sectors_kb", want: x.maxSectorsKB.value.map(String.init), path: { $0.queue?.maxSectorsKB.map(String.init) }, map: { $0.maxSectorsKB.map(String.init) })
        if let t = x.deviceTimeout.value {
            let seen = paths.map { ($0.device!, $0.timeoutSeconds.map(String.init) ?? "unreadable") }
            out.append(Self.compare(id: "host.device_timeout", setting: "device/timeout (SCSI command timeout, s)", want: String(t), seen: seen, fix: Self.udevFix))
        }

        // iSCSI
        let wantRecovery = x.iscsiRecoveryTmo.value.map(String.init) ?? "off"
        let iscsid = facts.iscsidConf
        if let text = iscsid.text {
            let kv = Self.iscsidValues(text)
            let key = "node.session.timeo.replacement_timeout"
            let got = kv[key]
            let ok = got?.value == wantRecovery
            out.append(DoctorFinding(
                id: "host.iscsi.replacement_timeout", severity: ok ? .ok : .warning,
                found: got.map { "\(key) = \($0.value) at \(iscsid.path):\($0.line)" } ?? "\(key) not set in \(iscsid.path) (open-iscsi default 120)",
                recommended: "\(key) = \(wantRecovery): with multipath, fail I/O over to the other paths after \(wantRecovery) s instead of queueing it",
                fix: ok ? nil : "set `\(key) = \(wantRecovery)` in \(iscsid.path) (applies to new node records; update existing ones with iscsiadm -m node -o update -n \(key) -v \(wantRecovery))",
                subjects: [iscsid.path]))
        } else if facts.usesISCSI {
            out.append(DoctorFinding(id: "host.iscsi.replacement_timeout", severity: .warning,
                                     found: "iSCSI sessions exist but \(iscsid.path) is missing", recommended: "an iscsid.conf with node.session.timeo.replacement_timeout = \(wantRecovery)",
                                     fix: "reinstall open-iscsi's iscsid.conf and set the timeout", subjects: [iscsid.path]))
        } else {
            out.append(DoctorFinding(id: "host.iscsi.replacement_timeout", severity: .info,
                                     found: "no \(iscsid.path) and no iSCSI sessions: iSCSI not used", recommended: "node.session.timeo.replacement_timeout = \(wantRecovery) when iSCSI is used"))
        }
        if !facts.topology.sessions.isEmpty {
            let seen = facts.topology.sessions.map { ("\($0.name) (\($0.target) \($0.portals.joined(separator: ",")))", $0.recoveryTmo.map(String.init) ?? "unreadable") }
            out.append(Self.compare(id: "host.iscsi.recovery_tmo", setting: "session recovery_tmo", want: wantRecovery, seen: seen,
                                    fix: "iscsiadm -m node -T <target> -p <portal> -o update -n node.session.timeo.replacement_timeout -v \(wantRecovery), then log the session out and in (or write recovery_tmo in /sys/class/iscsi_session/<session>/)"))
        }
        out.append(initiatorName(facts))

        // FC remote ports of Pure arrays (target WWPNs 52:4a:93:7x:...)
        let rports = facts.topology.fcHosts.flatMap(\.remotePorts).filter { $0.isTarget && $0.portName.hasPrefix("524a937") }
        if rports.isEmpty {
            out.append(DoctorFinding(id: "host.fc.fast_io_fail_tmo", severity: .info, found: "no FC remote ports of a Pure array",
                                     recommended: "fast_io_fail_tmo \(x.fastIOFailTmo.value.map(String.init) ?? "off") on Pure FC remote ports"))
            out.append(DoctorFinding(id: "host.fc.dev_loss_tmo", severity: .info, found: "no FC remote ports of a Pure array",
                                     recommended: "dev_loss_tmo \(x.devLossTmo.value.map(String.init) ?? "infinity") on Pure FC remote ports"))
        } else {
            let fio = x.fastIOFailTmo.value.map(String.init) ?? "off"
            out.append(Self.compare(id: "host.fc.fast_io_fail_tmo", setting: "fc_remote_ports fast_io_fail_tmo", want: fio,
                                    seen: rports.map { ("\($0.name) (\($0.portName))", $0.fastIOFailTmo ?? "unreadable") },
                                    fix: "pathagent sets it when it builds the map; by hand: echo \(fio) > /sys/class/fc_remote_ports/<rport>/fast_io_fail_tmo"))
            if let dl = x.devLossTmo.value {
                out.append(Self.compare(id: "host.fc.dev_loss_tmo", setting: "fc_remote_ports dev_loss_tmo", want: String(dl),
                                        seen: rports.map { ("\($0.name) (\($0.portName))", $0.devLossTmo.map(String.init) ?? "unreadable") },
                                        fix: "pathagent sets it when it builds the map; by hand: echo \(dl) > /sys/class/fc_remote_ports/<rport>/dev_loss_tmo"))
            }
        }
        return out
    }

    func initiatorName(_ facts: HostFacts) -> DoctorFinding {
        let f = facts.initiatorName
        let id = "host.iscsi.initiator_name"
        let missingSeverity: DoctorSeverity = facts.usesISCSI ? .error : .info
        guard let text = f.text else {
            return DoctorFinding(id: id, severity: missingSeverity, found: "\(f.path) is missing" + (facts.usesISCSI ? "" : " (iSCSI not used)"),
                                 recommended: "InitiatorName=iqn.YYYY-MM.reversed.domain:host, unique per host (Cinder registers it on the array)",
                                 fix: "generate one: echo \"InitiatorName=$(iscsi-iname)\" > \(f.path); restart iscsid", subjects: [f.path])
        }
        var name: String? = nil
        for line in text.split(separator: "\n") {
            let l = line.trimmingWhitespace()
            if l.hasPrefix("#") { continue }
            if l.hasPrefix("InitiatorName=") { name = String(l.dropFirst("InitiatorName=".count)).trimmingWhitespace() }
        }
        guard let name else {
            return DoctorFinding(id: id, severity: missingSeverity, found: "\(f.path) has no InitiatorName= line",
                                 recommended: "InitiatorName=iqn.YYYY-MM.reversed.domain:host",
                                 fix: "echo \"InitiatorName=$(iscsi-iname)\" > \(f.path); restart iscsid", subjects: [f.path])
        }
        do {
            try ConnectionValidators.iscsiName(name, key: "InitiatorName")
            return DoctorFinding(id: id, severity: .ok, found: "InitiatorName=\(name)", recommended: "a well-formed iSCSI name", subjects: [f.path])
        } catch {
            return DoctorFinding(id: id, severity: .error, found: "\(f.path): \((error as? PathCoreError)?.message ?? "\(error)")",
                                 recommended: "InitiatorName=iqn.YYYY-MM.reversed.domain:host (RFC 3720 3.2.6)",
                                 fix: "echo \"InitiatorName=$(iscsi-iname)\" > \(f.path); restart iscsid; update the host's IQN on the array", subjects: [f.path])
        }
    }

    /// `key = value` lines of iscsid.conf (last one wins, `#` comments), with line numbers.
    public static func iscsidValues(_ text: String) -> [String: (value: String, line: Int)] {
        var out: [String: (value: String, line: Int)] = [:]
        var n = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {  // CRLF is one Character
            n += 1
            let l = raw.trimmingWhitespace()
            if l.isEmpty || l.hasPrefix("#") { continue }
            guard let eq = l.firstIndex(of: "=") else { continue }
            out[String(l[..<eq]).trimmingWhitespace()] = (String(l[l.index(after: eq)...]).trimmingWhitespace(), n)
        }
        return out
    }

    /// One finding for one setting across subjects: ok when all match, warning listing the
    /// ones that do not, info when there is nothing to check.
    static func compare(id: String, setting: String, want: String, seen: [(String, String)], fix: String) -> DoctorFinding {
        if seen.isEmpty {
            return DoctorFinding(id: id, severity: .info, found: "no Pure device to check", recommended: "\(setting) \(want)")
        }
        let bad = seen.filter { $0.1 != want }
        if bad.isEmpty {
            return DoctorFinding(id: id, severity: .ok, found: "\(setting) is \(want) on all \(seen.count)",
                                 recommended: "\(setting) \(want)", subjects: seen.map(\.0))
        }
        return DoctorFinding(id: id, severity: .warning,
                             found: "\(setting) differs on \(bad.count) of \(seen.count): " + bad.map { "\($0.0)=\($0.1)" }.joined(separator: ", "),
                             recommended: "\(setting) \(want)", fix: fix, subjects: bad.map(\.0))
    }
}
