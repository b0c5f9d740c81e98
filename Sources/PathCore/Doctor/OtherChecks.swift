/// A minimal reader for oslo.config INI files (nova.conf): `[section]`, `key = value`
/// (or `key: value`), `#`/`;` comment lines; the last value of a key wins. Enough for the
/// doctor's nova.conf check; the FlashArray module owns the full cinder.conf reader.
public struct OsloINI: Sendable {
    public var values: [String: [String: (value: String, line: Int)]]

    public init(_ text: String) {
        values = [:]
        var section = "DEFAULT"
        var n = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {  // CRLF is one Character
            n += 1
            let l = raw.trimmingWhitespace()
            if l.isEmpty || l.hasPrefix("#") || l.hasPrefix(";") { continue }
            if l.hasPrefix("[") && l.hasSuffix("]") {
                section = String(l.dropFirst().dropLast()).trimmingWhitespace()
                continue
            }
            guard let sep = l.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = String(l[..<sep]).trimmingWhitespace()
            values[section, default: [:]][key] = (String(l[l.index(after: sep)...]).trimmingWhitespace(), n)
        }
    }

    public func value(_ section: String, _ key: String) -> (value: String, line: Int)? { values[section]?[key] }

    /// oslo.config's BoolType: true for 1/yes/true/on, false for 0/no/false/off (any case); nil otherwise.
    public static func bool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "1", "yes", "true", "on": true
        case "0", "no", "false", "off": false
        default: nil
        }
    }
}

/// nova.conf: `[libvirt] volume_use_multipath = True` on computes that use iSCSI, or Nova
/// attaches a single path and a controller failover takes the instance's disk away.
/// Finding id: `nova.volume_use_multipath`.
public struct NovaConfCheck: DoctorCheck {
    public init() {}
    public var name: String { "nova" }
    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        let id = "nova.volume_use_multipath"
        let rec = "[libvirt] volume_use_multipath = True (Nova then asks os-brick for a multipath device)"
        guard let conf = facts.novaConf else {
            return [DoctorFinding(id: id, severity: .info, found: "no nova.conf found (not a Nova compute node, or pass --nova-conf FILE)", recommended: rec)]
        }
        guard let text = conf.text else {
            return [DoctorFinding(id: id, severity: .warning, found: "\(conf.path): \(conf.error ?? "does not exist")", recommended: rec, subjects: [conf.path])]
        }
        let ini = OsloINI(text)
        let got = ini.value("libvirt", "volume_use_multipath")
        let on = got.flatMap { OsloINI.bool($0.value) } ?? false
        if on {
            return [DoctorFinding(id: id, severity: .ok, found: "volume_use_multipath = \(got!.value) at \(conf.path):\(got!.line)", recommended: rec, subjects: [conf.path])]
        }
        let found = got.map { "[libvirt] volume_use_multipath = \($0.value) at \(conf.path):\($0.line)" }
            ?? "[libvirt] volume_use_multipath is not set in \(conf.path) (default False)"
        return [DoctorFinding(
            id: id, severity: facts.usesISCSI ? .warning : .info,
            found: found + (facts.usesISCSI ? "; this host uses iSCSI" : "; no iSCSI in use on this host"),
            recommended: rec, fix: "set volume_use_multipath = True in the [libvirt] section of \(conf.path) and restart nova-compute",
            subjects: [conf.path])]
    }
}

/// Time synchronization. The FlashArray REST API rejects requests from a client whose
/// clock is skewed (session tokens and API-token logins fail with HTTP 401), which shows
/// up as authentication errors, not as a clock problem. Finding id: `time.sync`.
public struct TimeSyncCheck: DoctorCheck {
    public init() {}
    public var name: String { "time" }

    static let why = "the FlashArray REST API answers 401 Unauthorized when the client clock is skewed, so an unsynchronized clock looks like a bad API token"

    /// What one source says: synchronized or not, and the evidence.
    public struct Verdict: Sendable, Equatable {
        public var synchronized: Bool
        public var evidence: String
    }

    /// `chronyc tracking`: `Leap status     : Normal` when synchronized, `Not synchronised` otherwise.
    public static func chrony(_ out: CommandOutput) -> Verdict? {
        guard out.status == 0 else { return Verdict(synchronized: false, evidence: "chronyc tracking exited \(out.status) (chronyd not running?)") }
        for line in out.stdout.split(separator: "\n") where line.hasPrefix("Leap status") {
            let v = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingWhitespace() } ?? ""
            let ref = out.stdout.split(separator: "\n").first { $0.hasPrefix("Reference ID") }.map { $0.trimmingWhitespace() }
            return Verdict(synchronized: v != "Not synchronised", evidence: "chronyc tracking: Leap status \(v)" + (ref.map { "; \($0)" } ?? ""))
        }
        return nil
    }

    /// `ntpq -c rv`: the system status word names `leap_alarm` when ntpd is not synchronized
    /// (`leap_none` and `sync_ntp` when it is).
    public static func ntpq(_ out: CommandOutput) -> Verdict? {
        guard out.status == 0 else { return Verdict(synchronized: false, evidence: "ntpq -c rv exited \(out.status) (ntpd not running?)") }
        let s = out.stdout
        if s.contains("leap_alarm") || s.contains("sync_unspec") { return Verdict(synchronized: false, evidence: "ntpq -c rv: leap_alarm (not synchronized)") }
        if s.contains("leap_none") || s.contains("sync_ntp") { return Verdict(synchronized: true, evidence: "ntpq -c rv: leap_none, sync_ntp") }
        return nil
    }

    /// `timedatectl show`: `NTPSynchronized=yes|no` (the kernel's synchronized flag).
    public static func timedatectl(_ out: CommandOutput) -> Verdict? {
        guard out.status == 0 else { return nil }
        for line in out.stdout.split(separator: "\n") where line.hasPrefix("NTPSynchronized=") {
            let v = line.dropFirst("NTPSynchronized=".count)
            return Verdict(synchronized: v == "yes", evidence: "timedatectl: NTPSynchronized=\(v)")
        }
        return nil
    }

    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        let t = facts.timeSync
        let rec = "a running time daemon (chrony, ntpd or systemd-timesyncd) synchronized to the same NTP sources as the array"
        var verdicts: [Verdict] = []
        if t.timesyncdSynchronizedFile { verdicts.append(Verdict(synchronized: true, evidence: "/run/systemd/timesync/synchronized exists (systemd-timesyncd synchronized)")) }
        if let c = t.chronycTracking, let v = Self.chrony(c) { verdicts.append(v) }
        if let n = t.ntpqReadvar, let v = Self.ntpq(n) { verdicts.append(v) }
        if let d = t.timedatectlShow, let v = Self.timedatectl(d) { verdicts.append(v) }
        if let good = verdicts.first(where: \.synchronized) {
            return [DoctorFinding(id: "time.sync", severity: .ok, found: "clock synchronized (\(good.evidence))", recommended: rec)]
        }
        if !verdicts.isEmpty {
            return [DoctorFinding(
                id: "time.sync", severity: .error,
                found: "clock not synchronized: " + verdicts.map(\.evidence).joined(separator: "; ") + ". Why it matters: " + Self.why,
                recommended: rec, fix: "check the daemon's sources (chronyc sources / ntpq -p / timedatectl timesync-status) and that UDP 123 is reachable")]
        }
        let daemons = t.daemons.isEmpty ? "no time daemon installed" : "installed: \(t.daemons.joined(separator: ", ")), but no synchronization state could be read"
        return [DoctorFinding(
            id: "time.sync", severity: .warning, found: "\(daemons). Why it matters: " + Self.why,
            recommended: rec, fix: t.daemons.isEmpty ? "apt-get install chrony" : "start the daemon and check `timedatectl show`")]
    }
}

/// The discard (UNMAP) chain of every Pure volume: each sd path's `provisioning_mode` is
/// `unmap` and its `queue/discard_max_bytes` > 0, and the dm map's `queue/discard_max_bytes`
/// > 0; otherwise blkdiscard/fstrim on the map never reaches the array and freed space is
/// not reclaimed. Finding ids: `discard.provisioning_mode`, `discard.path_max_bytes`,
/// `discard.map_max_bytes`.
public struct DiscardChainCheck: DoctorCheck {
    public init() {}
    public var name: String { "discard" }
    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        let vols = facts.pureVolumes
        let paths = vols.flatMap(\.paths).filter { $0.device != nil }
        let fixPath = "the LUN must report thin provisioning (Block Limits / Logical Block Provisioning VPD pages); check with `sg_vpd -p lbpv /dev/sdX`; rescan the device (echo 1 > /sys/block/sdX/device/rescan) after changing the LUN"
        var out: [DoctorFinding] = []
        out.append(HostChecks.compare(
            id: "discard.provisioning_mode", setting: "scsi_disk provisioning_mode", want: "unmap",
            seen: paths.map { ($0.device!, $0.provisioningMode ?? "unreadable") }, fix: fixPath))
        out.append(positive(id: "discard.path_max_bytes", setting: "queue/discard_max_bytes",
                            seen: paths.map { ($0.device!, $0.queue?.discardMaxBytes) }, fix: fixPath))
        var mapSeen: [(String, UInt64?)] = []
        for v in vols {
            guard let m = v.map else { continue }
            mapSeen.append(("\(m.device) (\(v.wwn))", facts.mapQueues[m.device]?.discardMaxBytes))
        }
        out.append(positive(id: "discard.map_max_bytes", setting: "dm map queue/discard_max_bytes", seen: mapSeen,
                            fix: "a dm-multipath map supports discard only when every path does: fix the paths, then reload the map (pathctl or dmsetup reload)"))
        return out
    }

    func positive(id: String, setting: String, seen: [(String, UInt64?)], fix: String) -> DoctorFinding {
        if seen.isEmpty { return DoctorFinding(id: id, severity: .info, found: "no Pure device to check", recommended: "\(setting) > 0") }
        let bad = seen.filter { ($0.1 ?? 0) == 0 }
        if bad.isEmpty {
            return DoctorFinding(id: id, severity: .ok, found: "\(setting) > 0 on all \(seen.count)", recommended: "\(setting) > 0", subjects: seen.map(\.0))
        }
        return DoctorFinding(id: id, severity: .warning,
                             found: "discard is off (\(setting) = 0 or unreadable) on \(bad.count) of \(seen.count): " + bad.map { "\($0.0)=\($0.1.map(String.init) ?? "unreadable")" }.joined(separator: ", "),
                             recommended: "\(setting) > 0 so discards reach the array", fix: fix, subjects: bad.map(\.0))
    }
}
