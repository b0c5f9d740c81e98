// MARK: - attach

/// An open-iscsi node to create and log in to (`iscsiadm -m node -T iqn -p portal
/// --op new`, then `--op update -n name -v value` for the `nodeSettings`, the
/// `authSettings` written into the node record file, then `--login`).
public struct ISCSINodeLogin: Hashable, Sendable, CustomStringConvertible {
    public var portal: ISCSIPortal
    public var iqn: String
    public var auth: CHAPCredentials?

    /// `node.*` settings to apply before login, in order: `nodeSettings`, then
    /// `authSettings`. Holds the CHAP secret when auth is set: never log it (use
    /// `redactedSettings`).
    public var settings: [(name: String, value: String)] { nodeSettings + authSettings }
    /// The settings that hold no secret (safe on an iscsiadm command line).
    public var nodeSettings: [(name: String, value: String)] {
        var s: [(String, String)] = [("node.startup", "manual"), ("node.session.scan", "manual")]
        if let recovery = recoveryTimeout { s.append(("node.session.timeo.replacement_timeout", String(recovery))) }
        if let login = loginTimeout { s.append(("node.conn[0].timeo.login_timeout", String(login))) }
        return s
    }
    /// The CHAP settings, the secret included (empty without auth): they never go on a
    /// command line (any user can read /proc/PID/cmdline).
    public var authSettings: [(name: String, value: String)] {
        guard let auth else { return [] }
        return [("node.session.auth.authmethod", "CHAP"), ("node.session.auth.username", auth.username),
                ("node.session.auth.password", auth.password)]
    }
    /// `settings` with the password replaced by `<redacted>`.
    public var redactedSettings: [(name: String, value: String)] {
        settings.map { ($0.name, JSONValue.isSecretKey($0.name) ? JSONValue.redactedMarker : $0.value) }
    }
    /// Seconds before a failed session fails I/O up (Pure: fast_io_fail_tmo 10 becomes
    /// the iSCSI recovery timeout); nil leaves open-iscsi's default.
    public var recoveryTimeout: Int?
    /// Seconds one login attempt may take (`iscsi.login_timeout`); nil leaves open-iscsi's default.
    public var loginTimeout: Int?

    public init(portal: ISCSIPortal, iqn: String, auth: CHAPCredentials?, recoveryTimeout: Int?, loginTimeout: Int? = nil) {
        self.portal = portal
        self.iqn = iqn
        self.auth = auth
        self.recoveryTimeout = recoveryTimeout
        self.loginTimeout = loginTimeout
    }

    public static func == (a: ISCSINodeLogin, b: ISCSINodeLogin) -> Bool {
        a.portal == b.portal && a.iqn == b.iqn && a.auth == b.auth && a.recoveryTimeout == b.recoveryTimeout && a.loginTimeout == b.loginTimeout
    }
    public func hash(into h: inout Hasher) {
        h.combine(portal)
        h.combine(iqn)
    }
    public var description: String { "login \(portal) \(iqn)\(auth == nil ? "" : " (CHAP user \(auth!.username))")" }
}

/// How one path gets its session.
public enum ISCSISessionAction: Hashable, Sendable {
    /// A LOGGED_IN session exists: use it.
    case reuse(ISCSISessionInfo)
    /// Log in with `logins[index]` of the plan, then scan on the new session's host.
    case login(index: Int)
    /// A session exists but is not LOGGED_IN (recovering): do not log in again (open-iscsi
    /// refuses a second session to the same node) and do not log it out; count the path
    /// as degraded and let recovery bring it back.
    case waitForRecovery(ISCSISessionInfo)
}

/// One path of the attach: the session to use and the targeted scan to do on it.
public struct ISCSIPathPlan: Hashable, Sendable {
    public var path: ISCSITargetPath
    public var session: ISCSISessionAction
    /// Channel and target id to scan; nil = `-` (known only after login, or never).
    public var scanChannel: Int?
    public var scanTarget: Int?

    /// The scan to write once the session's SCSI host number is known.
    public func scan(host: Int) -> SCSIScanRequest {
        SCSIScanRequest(host: host, channel: scanChannel, target: scanTarget, lun: path.scsiLUN)
    }
    /// The scan for a reused session (host known now); nil for login/wait.
    public var immediateScan: SCSIScanRequest? {
        guard case .reuse(let s) = session, let h = s.hostNumber else { return nil }
        return scan(host: h)
    }
}

/// What the daemon does to attach an iSCSI volume. Pure data; the daemon executes it,
/// then verifies that every device found at (host, *, *, scsiLUN) has `expectedWWN`.
public struct ISCSIAttachPlan: Sendable {
    /// New node + login, one per (portal, iqn), in path order.
    public var logins: [ISCSINodeLogin]
    /// One per (portal, iqn, lun).
    public var paths: [ISCSIPathPlan]
    /// The WWN every device must show; nil when the properties carried no `wwn` (then
    /// the first device's WWN is taken and every other path must agree).
    public var expectedWWN: WWN?
    /// Build a dm-multipath map (connector `multipath`).
    public var useMultipath: Bool
    /// Fail the attach when a multipath map cannot be built (connector `enforce_multipath`).
    public var requireMultipath: Bool
    /// Paths planned (the number of sd devices a complete attach yields).
    public var expectedPathCount: Int { paths.count }
}

public struct ISCSIAttachOptions: Sendable {
    public var useMultipath: Bool
    public var enforceMultipath: Bool
    /// See `ISCSINodeLogin.recoveryTimeout`.
    public var recoveryTimeout: Int?
    /// See `ISCSINodeLogin.loginTimeout`.
    public var loginTimeout: Int?
    public init(useMultipath: Bool = true, enforceMultipath: Bool = false, recoveryTimeout: Int? = 10, loginTimeout: Int? = nil) {
        self.useMultipath = useMultipath
        self.enforceMultipath = enforceMultipath
        self.recoveryTimeout = recoveryTimeout
        self.loginTimeout = loginTimeout
    }
}

public enum ISCSIPlanner {
    /// Plans an attach: reuse LOGGED_IN sessions, log in once per (portal, iqn)
    /// otherwise, and scan exactly (channel, target, LUN) on each session's host.
    /// With `useMultipath` false only the first path is planned (os-brick's single-path
    /// behaviour); the others are not touched.
    public static func attach(
        _ spec: ISCSIConnectionSpec, sessions: [ISCSISessionInfo], options: ISCSIAttachOptions = .init()
    ) -> ISCSIAttachPlan {
        var logins: [ISCSINodeLogin] = []
        var paths: [ISCSIPathPlan] = []
        let wanted = options.useMultipath ? spec.paths : Array(spec.paths.prefix(1))
        for p in wanted {
            let existing = sessions.filter { $0.matches(portal: p.portal, iqn: p.iqn) }
                .sorted { ($0.state == .loggedIn ? 0 : 1, $0.sessionID) < ($1.state == .loggedIn ? 0 : 1, $1.sessionID) }
            if let s = existing.first {
                let action: ISCSISessionAction = s.state == .loggedIn ? .reuse(s) : .waitForRecovery(s)
                paths.append(ISCSIPathPlan(path: p, session: action, scanChannel: s.channel, scanTarget: s.targetID))
                continue
            }
            let index: Int
            if let i = logins.firstIndex(where: { $0.portal == p.portal && $0.iqn == p.iqn }) {
                index = i
            } else {
                logins.append(ISCSINodeLogin(portal: p.portal, iqn: p.iqn, auth: spec.auth, recoveryTimeout: options.recoveryTimeout,
                                             loginTimeout: options.loginTimeout))
                index = logins.count - 1
            }
            // open-iscsi creates its one target per session as channel 0, target 0; we
            // still scan with wildcards because that id belongs to the kernel, not to us.
            paths.append(ISCSIPathPlan(path: p, session: .login(index: index), scanChannel: nil, scanTarget: nil))
        }
        return ISCSIAttachPlan(
            logins: logins, paths: paths, expectedWWN: spec.wwn, useMultipath: options.useMultipath,
            requireMultipath: options.enforceMultipath)
    }

    /// Plans a detach. `volumeWWN` is the volume's WWN (the properties' `wwn`, else
    /// device_info `scsi_wwn`). `devices` is every SCSI disk on the host; `maps` every dm
    /// map; `busySessions` the sessions the daemon holds for in-flight work elsewhere.
    ///
    /// Devices of the volume are the disks on the volume's sessions at the volume's LUN
    /// plus the disks below its map. Each is deleted only if it shows `volumeWWN`. A disk
    /// with another WWN is refused with `.conflict` naming it (with `skipMismatched` or
    /// `force` it is left alone and reported, never deleted); a disk whose WWN cannot be read is refused unless `force`
    /// (a dead path at the volume's address must not linger: the LUN number is reused).
    /// A session is logged out only if no disk is left on it afterwards and it is not busy.
    public static func detach(
        _ spec: ISCSIConnectionSpec, volumeWWN: WWN, sessions: [ISCSISessionInfo], devices: [SCSIDeviceInfo],
        maps: [DMMapInfo], busySessions: Set<Int> = [], options: DetachOptions = .init()
    ) throws -> DetachPlan {
        let (volumeSessions, candidates) = locate(spec, sessions: sessions, devices: devices)
        var plan = try DetachCore.plan(
            volumeWWN: volumeWWN, candidates: candidates, devices: devices, maps: maps, options: options)

        let deletedHCTLs = Set(plan.steps.compactMap { step -> HCTL? in
            if case .deleteDevice(_, let hctl, _) = step { return hctl }
            return nil
        })
        for s in volumeSessions {
            guard let h = s.hostNumber else { continue }
            let remaining = devices.filter { $0.hctl.host == h && !deletedHCTLs.contains($0.hctl) }
            if !remaining.isEmpty {
                plan.kept.append("session \(s.sessionID) (\(s.portal) \(s.targetIQN)): still used by \(remaining.count) other LUN device(s)")
            } else if busySessions.contains(s.sessionID) {
                plan.kept.append("session \(s.sessionID) (\(s.portal) \(s.targetIQN)): in use by another operation")
            } else if s.state != .loggedIn && !options.force {
                plan.kept.append("session \(s.sessionID) (\(s.portal) \(s.targetIQN)): not logged in (recovering); not logging out during an outage")
            } else {
                plan.steps.append(.logout(sessionID: s.sessionID, portal: s.portal, iqn: s.targetIQN))
            }
        }
        return plan
    }
}

extension ISCSIPlanner {
    /// The disks at the volume's address: on a session to one of its (portal, iqn) at its
    /// SCSI LUN, whatever WWN they show (callers check it). For get_volume_paths, extend
    /// and verification after attach.
    public static func devices(of spec: ISCSIConnectionSpec, sessions: [ISCSISessionInfo], devices: [SCSIDeviceInfo])
        -> [SCSIDeviceInfo]
    {
        locate(spec, sessions: sessions, devices: devices).devices
    }

    /// The volume's sessions to log out once its disks are gone: logged in, no disk left on
    /// the session's SCSI host, and not wanted by an attach in flight (`busySessions`);
    /// a recovering session only with `includeRecovering` (a forced detach).
    /// Detaches decide this again after their deletes, under the portal lock: when the
    /// last LUNs of a target are detached in parallel, each plan still sees the others'
    /// disks and keeps the session, and the last to finish must log it out.
    public static func idleSessions(_ spec: ISCSIConnectionSpec, sessions: [ISCSISessionInfo], devices: [SCSIDeviceInfo],
                                        busySessions: Set<Int>, includeRecovering: Bool = false) -> [ISCSISessionInfo] {
        locate(spec, sessions: sessions, devices: devices).sessions.filter { s in
            guard let h = s.hostNumber, s.state == .loggedIn || includeRecovering, !busySessions.contains(s.sessionID) else { return false }
            return !devices.contains { $0.hctl.host == h }
        }
    }

    static func locate(_ spec: ISCSIConnectionSpec, sessions: [ISCSISessionInfo], devices: [SCSIDeviceInfo])
        -> (sessions: [ISCSISessionInfo], devices: [SCSIDeviceInfo])
    {
        var volumeSessions: [ISCSISessionInfo] = []
        var found: [SCSIDeviceInfo] = []
        for p in spec.paths {
            for s in sessions where s.matches(portal: p.portal, iqn: p.iqn) {
                if !volumeSessions.contains(s) { volumeSessions.append(s) }
                guard let h = s.hostNumber else { continue }
                for d in devices where d.hctl.host == h && d.hctl.lun == p.scsiLUN && !found.contains(d) {
                    found.append(d)
                }
            }
        }
        return (volumeSessions, found.sorted { $0.hctl < $1.hctl })
    }
}

// MARK: - extend

/// The pure part of extend_volume: which disks to rescan and whether they agree.
public enum VolumeResize {
    /// Tree-relative sysfs attribute to write `1` to, to make the kernel re-read a disk's
    /// capacity (`class/scsi_device/3:0:0:1/device/rescan`).
    public static func rescanPath(_ hctl: HCTL) -> String { "class/scsi_device/\(hctl)/device/rescan" }

    /// The volume's new size in bytes once every path has been rescanned. Throws
    /// `.conflict` naming two disks when paths disagree (a path that has not seen the
    /// new size yet; the map must not be resized then), `.missing` when there is none.
    public static func agreedSize(_ sizes: [(device: String, bytes: UInt64)]) throws -> UInt64 {
        guard let first = sizes.first else {
            throw PathCoreError(.missing, "no path of the volume to read a size from", key: "device")
        }
        if let other = sizes.first(where: { $0.bytes != first.bytes }) {
            throw PathCoreError(
                .conflict,
                "paths disagree on the volume size: \(first.device) has \(first.bytes) bytes, \(other.device) has \(other.bytes)",
                key: other.device)
        }
        return first.bytes
    }
}

// MARK: - detach (shared by iSCSI and FC)

public struct DetachOptions: Sendable {
    /// os-brick `force`: delete devices whose WWN cannot be read, log out recovering
    /// sessions, and keep going when a flush fails (the daemon decides the last one).
    public var force: Bool
    /// Leave disks that show another volume's WWN alone (reported in `kept`) instead of
    /// refusing the whole detach. They are never deleted.
    public var skipMismatched: Bool
    public init(force: Bool = false, skipMismatched: Bool = false) {
        self.force = force
        self.skipMismatched = skipMismatched
    }
}

/// One step of a detach, executed in array order.
public enum DetachStep: Hashable, Sendable, CustomStringConvertible {
    /// dm message `fail_if_no_path` so a flush cannot hang on queued I/O.
    case failIfNoPath(map: String)
    /// Flush buffers of the map (BLKFLSBUF on /dev/mapper/name).
    case flushMap(map: String)
    /// Flush buffers of a single-path disk (no map).
    case flushDevice(name: String)
    /// Remove the dm map (with deferred-remove fallback if the daemon supports it).
    case removeMap(map: String)
    /// Write 1 to `class/scsi_device/<hctl>/device/delete` after re-checking, with an fd
    /// held on `/dev/<name>`, that the disk still shows `wwn`. A nil WWN means "delete
    /// without a WWN check" (only planned under `force`).
    case deleteDevice(name: String?, hctl: HCTL, wwn: WWN?)
    /// `iscsiadm -m session -r <sid> --logout` (then delete the node record).
    case logout(sessionID: Int, portal: ISCSIPortal, iqn: String)

    public var description: String {
        switch self {
        case .failIfNoPath(let m): "fail_if_no_path \(m)"
        case .flushMap(let m): "flush map \(m)"
        case .flushDevice(let n): "flush /dev/\(n)"
        case .removeMap(let m): "remove map \(m)"
        case .deleteDevice(let n, let h, let w): "delete \(n ?? "?") \(h) (wwn \(w?.value ?? "unchecked"))"
        case .logout(let s, let p, let i): "logout session \(s) \(p) \(i)"
        }
    }
}

/// What a detach will do (`steps`) and what it leaves alone on purpose (`kept`, one
/// operator-readable line per thing: another volume's disk, a shared session...).
public struct DetachPlan: Sendable, Equatable {
    public var volumeWWN: WWN
    public var steps: [DetachStep]
    public var kept: [String]
    public var devicesToDelete: [HCTL] {
        steps.compactMap { if case .deleteDevice(_, let h, _) = $0 { return h }; return nil }
    }
    public var sessionsToLogOut: [Int] {
        steps.compactMap { if case .logout(let s, _, _) = $0 { return s }; return nil }
    }
}

enum DetachCore {
    /// Map steps + device deletions for `volumeWWN` from the candidate disks and the maps.
    static func plan(
        volumeWWN: WWN, candidates: [SCSIDeviceInfo], devices: [SCSIDeviceInfo], maps: [DMMapInfo], options: DetachOptions
    ) throws -> DetachPlan {
        var steps: [DetachStep] = []
        var kept: [String] = []
        var all = candidates

        // The volume's map: named or uuid'd by its WWN. A map with the WWN's name but
        // another uuid is someone else's: refuse.
        let volumeMaps = maps.filter { $0.name == volumeWWN.value || $0.uuid == "mpath-" + volumeWWN.value }
        for m in volumeMaps {
            if let claimed = m.claimedWWN, claimed != volumeWWN {
                throw PathCoreError(
                    .conflict, "map \(m.name) has uuid \(m.uuid ?? "?") which is not volume \(volumeWWN)", key: "device_info")
            }
            for slave in m.slaves {
                if let d = devices.first(where: { $0.name == slave }), !all.contains(d) { all.append(d) }
            }
        }

        var deletions: [DetachStep] = []
        for d in all.sorted(by: { $0.hctl < $1.hctl }) {
            let label = "\(d.name ?? "?") (\(d.hctl))"
            switch d.wwn {
            case volumeWWN?:
                deletions.append(.deleteDevice(name: d.name, hctl: d.hctl, wwn: volumeWWN))
            case let other?:
                // never deleted; `force` (do what is safe, report the rest) leaves it as
                // skip_mismatched does
                guard options.skipMismatched || options.force else {
                    throw PathCoreError(
                        .conflict, "device \(label) shows WWN \(other), not the volume's \(volumeWWN); refusing to remove it",
                        detail: "pass skip_mismatched (or force) to detach the other paths and leave it", key: label)
                }
                kept.append("device \(label): shows WWN \(other), not this volume's")
            case nil:
                guard options.force else {
                    throw PathCoreError(
                        .conflict, "device \(label) at the volume's address has no readable WWN; refusing to remove it unverified",
                        detail: "use force to remove it", key: label)
                }
                deletions.append(.deleteDevice(name: d.name, hctl: d.hctl, wwn: nil))
            }
        }

        for m in volumeMaps {
            steps.append(.failIfNoPath(map: m.name))
            steps.append(.flushMap(map: m.name))
            steps.append(.removeMap(map: m.name))
        }
        if volumeMaps.isEmpty {
            for case .deleteDevice(let name?, _, _) in deletions { steps.append(.flushDevice(name: name)) }
        }
        steps += deletions
        return DetachPlan(volumeWWN: volumeWWN, steps: steps, kept: kept)
    }
}
