/// Checks of multipath-tools on the host: is multipathd there, would it claim the Pure
/// volumes pathagent manages (two managers of the same dm maps fight over them), and do its
/// Pure device settings match the table (`HardwareTable.pure`, the one source of truth).
///
/// Finding ids: `multipath.conf`, `multipath.multipathd`, `multipath.claims`,
/// `multipath.pure_device` (no PURE device section), `multipath.pure_device.<key>` for each
/// of polling_interval, path_selector, path_grouping_policy, path_checker, fast_io_fail_tmo,
/// dev_loss_tmo, no_path_retry, features; `multipath.user_friendly_names`, `multipath.detect_prio`.
public struct MultipathChecks: DoctorCheck {
    public init() {}
    public var name: String { "multipath" }

    /// A sample Pure path for the blacklist test when the host has no Pure volume yet.
    static let sampleWWN = pureWWNPrefix + "0" + "000000000000000000000000"

    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        var out: [DoctorFinding] = []
        let confPath = facts.multipathConf.path
        var conf: MultipathConfFile? = nil
        if let text = facts.multipathConf.text {
            do {
                conf = try MultipathConfFile.parse(text, path: confPath)
                out.append(DoctorFinding(id: "multipath.conf", severity: .ok, found: "\(confPath) parsed",
                                         recommended: "a valid multipath.conf", subjects: [confPath]))
            } catch {
                out.append(DoctorFinding(id: "multipath.conf", severity: .error,
                                         found: "\(confPath) cannot be parsed: \(error)",
                                         recommended: "a multipath.conf multipathd can read",
                                         fix: "fix the syntax (multipath -t prints multipathd's view of it)", subjects: [confPath]))
            }
        } else if let err = facts.multipathConf.error {
            out.append(DoctorFinding(id: "multipath.conf", severity: .warning, found: "\(confPath): \(err)",
                                     recommended: "a readable multipath.conf", subjects: [confPath]))
        } else {
            out.append(DoctorFinding(id: "multipath.conf", severity: .info, found: "no \(confPath)",
                                     recommended: "a multipath.conf that blacklists the Pure volumes pathagent manages, if multipathd is installed",
                                     subjects: [confPath]))
        }

        // multipathd presence
        let d = facts.multipathd
        let active = d.running || d.enabled
        let state: String
        switch (d.binary, d.running, d.enabled) {
        case (nil, false, false): state = "multipathd is not installed"
        case (_, true, _): state = "multipathd is running (\(d.evidence ?? "?"))" + (d.enabled ? " and enabled" : "")
        case (_, false, true): state = "multipathd is installed at \(d.binary ?? "?") and enabled, not running now"
        default: state = "multipathd is installed at \(d.binary ?? "?"), not running, not enabled"
        }
        out.append(DoctorFinding(id: "multipath.multipathd", severity: active ? .info : .ok, found: state,
                                 recommended: "pathagent manages the Pure dm-multipath maps; multipathd must not run beside it (it acts on every map whose dm uuid starts with mpath-)"))

        // would it claim pathagent's maps?
        let samples: [(String, String, String)] = {
            let vols = facts.pureVolumes
            if vols.isEmpty { return [(Self.sampleWWN, "PURE", "FlashArray")] }
            return vols.map { ($0.wwn, $0.vendor, $0.model) }
        }()
        let claimed = samples.filter { conf?.blacklistReason(wwid: $0.0, vendor: $0.1, product: $0.2) == nil }
        let blacklistFix = "add to \(confPath): blacklist { wwid \"^\(pureWWNPrefix)\" } (or device { vendor \"PURE\" product \"FlashArray\" }) and run `multipathd reconfigure`; or stop and disable multipathd (systemctl disable --now multipathd.socket multipathd.service)"
        if !active {
            out.append(DoctorFinding(id: "multipath.claims", severity: .ok,
                                     found: "multipathd is neither running nor enabled, so it claims nothing",
                                     recommended: "Pure volumes managed by one multipath manager only"))
        } else if claimed.isEmpty {
            // Seen in the lab (multipathd scenario): multipathd registers every multipath map
            // whose dm uuid starts with mpath- when the map appears, pathagent's included, and
            // with all of its paths blacklisted it removes the map about a second later.
            let why = conf?.blacklistReason(wwid: samples[0].0, vendor: samples[0].1, product: samples[0].2) ?? ""
            out.append(DoctorFinding(id: "multipath.claims", severity: .error,
                                     found: "multipathd is active and blacklists the Pure volumes (\(why)): it still registers pathagent's maps (dm uuid mpath-<wwn>) when they appear, and removes them because their paths are blacklisted",
                                     recommended: "Pure volumes managed by one multipath manager only (pathagent), with multipathd stopped",
                                     fix: "stop and disable multipathd (systemctl disable --now multipathd.socket multipathd.service); or let multipathd own the Pure maps: pathctl config multipath --mode multipathd and multipath.use_multipath = false",
                                     subjects: [confPath]))
        } else {
            out.append(DoctorFinding(id: "multipath.claims", severity: .error,
                                     found: "multipathd is active and does not blacklist Pure volumes: it would build its own maps for \(claimed.map(\.0).joined(separator: ", ")) and fight pathagent over them",
                                     recommended: "Pure volumes managed by one multipath manager only (pathagent)",
                                     fix: blacklistFix, subjects: claimed.map(\.0)))
        }

        guard let conf else { return out }

        // Pure device settings vs the table
        let pure = conf.matchingDevices(vendor: "PURE", product: "FlashArray")
        let defaults = conf.defaults
        let overrides = conf.overrides
        func lookup(_ key: String) -> (value: String, where: String)? {
            if let e = overrides?.entry(key) { return (e.value, "\(confPath):\(e.line) (overrides)") }
            if let e = pure.last(where: { $0.entry(key) != nil })?.entry(key) { return (e.value, "\(confPath):\(e.line) (PURE device)") }
            if let e = defaults?.entry(key) { return (e.value, "\(confPath):\(e.line) (defaults)") }
            return nil
        }
        let x = facts.expected
        if pure.isEmpty {
            out.append(DoctorFinding(
                id: "multipath.pure_device", severity: .info,
                found: "\(confPath) has no device section for vendor PURE product FlashArray: if multipathd ever manages these volumes, multipath-tools' built-in PURE entry applies (group_by_prio, prio alua, failback immediate)",
                recommended: "pathagent's Pure table: " + Self.expectedDeviceKeys(x).map { "\($0.key) \"\($0.value)\"" }.joined(separator: ", "),
                subjects: [confPath]))
        } else {
            for (key, want, accepted) in Self.expectedDeviceKeys(x).map({ ($0.key, $0.value, $0.accepted) }) {
                let id = "multipath.pure_device.\(key)"
                if let got = lookup(key) {
                    let ok = accepted.contains(Self.normalize(key, got.value))
                    out.append(DoctorFinding(
                        id: id, severity: ok ? .ok : .warning,
                        found: "\(key) \"\(got.value)\" at \(got.where)",
                        recommended: "\(key) \"\(want)\" (pathagent's table: \(x.pathSelector.origin))",
                        fix: ok ? nil : "set \(key) \"\(want)\" in the " + (key == "polling_interval" ? "defaults section" : "PURE device section") + " of \(confPath)",
                        subjects: [confPath]))
                } else {
                    out.append(DoctorFinding(
                        id: id, severity: .warning,
                        found: "\(key) is not set for PURE/FlashArray in \(confPath) (multipath-tools' built-in value applies)",
                        recommended: "\(key) \"\(want)\"",
                        fix: "set \(key) \"\(want)\" in the " + (key == "polling_interval" ? "defaults section" : "PURE device section") + " of \(confPath)",
                        subjects: [confPath]))
                }
            }
        }

        // user_friendly_names no (default no), detect_prio no (default yes)
        for (key, def) in [("user_friendly_names", "no"), ("detect_prio", "yes")] {
            let got = lookup(key)
            let value = got?.value ?? def
            let ok = Self.isNo(value)
            out.append(DoctorFinding(
                id: "multipath.\(key)", severity: ok ? .ok : .warning,
                found: got.map { "\(key) \($0.value) at \($0.where)" } ?? "\(key) not set (multipath-tools default: \(def))",
                recommended: "\(key) no" + (key == "user_friendly_names" ? " (map names are the WWN, as pathagent and os-brick expect)" : " (Pure's guide)"),
                fix: ok ? nil : "set `\(key) no` in the defaults section of \(confPath)", subjects: [confPath]))
        }
        return out
    }

    static func isNo(_ v: String) -> Bool { ["no", "0", "off", "false"].contains(v.lowercased()) }

    /// The device keys of Pure's table as multipath.conf would spell them, with the
    /// spellings multipathd treats as the same value.
    static func expectedDeviceKeys(_ x: MultipathSettings) -> [(key: String, value: String, accepted: Set<String>)] {
        let features = ([String(x.features.value.count)] + x.features.value).joined(separator: " ")
        let npr = x.noPathRetry.value.description
        let nprAccepted: Set<String> = x.noPathRetry.value == .fail ? ["fail", "0"] : [npr]
        let fio = x.fastIOFailTmo.value.map(String.init) ?? "off"
        let dl = x.devLossTmo.value.map(String.init) ?? "infinity"
        return [
            ("polling_interval", String(x.pollingInterval.value), [String(x.pollingInterval.value)]),
            ("path_selector", x.pathSelector.value, [x.pathSelector.value]),
            ("path_grouping_policy", x.pathGroupingPolicy.value.rawValue, [x.pathGroupingPolicy.value.rawValue]),
            ("path_checker", x.pathChecker.value, [x.pathChecker.value]),
            ("fast_io_fail_tmo", fio, [fio]),
            ("dev_loss_tmo", dl, [dl]),
            ("no_path_retry", npr == "fail" ? "0" : npr, nprAccepted),
            ("features", features, [features]),
        ]
    }

    /// Collapses runs of blanks so `"queue-length  0"` equals `"queue-length 0"`.
    static func normalize(_ key: String, _ v: String) -> String {
        v.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}
