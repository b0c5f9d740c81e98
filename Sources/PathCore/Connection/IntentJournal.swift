/// The pure half of the crash-safe intent journal: what is recorded about an attach or
/// detach while it runs, and what to do on start with intents that never finished.
/// Storage (SQLite, fsync) belongs to the daemon; records are Codable for it.

public enum IntentKind: String, Sendable, Codable {
    case attach, detach
}

public enum TransportProtocol: String, Sendable, Codable {
    case iscsi, fc
}

/// One completed step, appended (and made durable) right after the kernel confirms it.
public enum IntentStep: Hashable, Sendable, Codable {
    /// A login was done. `created` = this intent made the session (it did not exist
    /// before), so a roll-back may log it out.
    case loggedIn(portal: ISCSIPortal, iqn: String, sessionID: Int?, created: Bool)
    /// A scan found a disk at `hctl`. `newDevice` = the disk did not exist before the scan.
    case scanned(hctl: HCTL, newDevice: Bool)
    /// A multipath map was created by this intent (not merely found).
    case mapCreated(name: String)
    case mapRemoved(name: String)
    case devicesDeleted([HCTL])
    case loggedOut(sessionID: Int)
    /// The attach learned the volume's WWN from its disks (properties without `wwn`).
    case identified(wwn: WWN)
    /// The intent's work is done; it only needs to be marked finished.
    case completed
}

/// One journal record.
public struct IntentRecord: Hashable, Sendable, Codable {
    /// Caller-chosen unique id (the daemon's request id).
    public var id: String
    public var kind: IntentKind
    public var transport: TransportProtocol
    /// The volume's WWN; nil for an attach whose properties carry no `wwn` until its
    /// disks identify it (an `identified` step).
    public var volumeWWN: WWN?
    /// `ConnectionPropertiesHash.of(_:)` of the request's properties (secrets excluded).
    public var propertiesHash: String
    /// The (portal, iqn) pairs the intent touches (iSCSI); used to find its sessions.
    public var iscsiTargets: [ISCSITargetRef]
    public var steps: [IntentStep]

    public init(
        id: String, kind: IntentKind, transport: TransportProtocol, volumeWWN: WWN?, propertiesHash: String,
        iscsiTargets: [ISCSITargetRef] = [], steps: [IntentStep] = []
    ) {
        self.id = id
        self.kind = kind
        self.transport = transport
        self.volumeWWN = volumeWWN
        self.propertiesHash = propertiesHash
        self.iscsiTargets = iscsiTargets
        self.steps = steps
    }

    public var isCompleted: Bool { steps.contains(.completed) }

    /// The WWN given at the start or identified on the way.
    public var wwn: WWN? {
        volumeWWN ?? steps.lazy.compactMap { if case .identified(let w) = $0 { return w } else { return nil } }.first
    }
}

public struct ISCSITargetRef: Hashable, Sendable, Codable {
    public var portal: ISCSIPortal
    public var iqn: String
    public init(portal: ISCSIPortal, iqn: String) {
        self.portal = portal
        self.iqn = iqn
    }
}

/// A stable hash of connection properties with every secret key removed: 16 hex digits
/// of FNV-1a 64 over the canonical (sorted-key, compact) JSON. An identity check for
/// retried requests and journal records, not a security primitive.
public enum ConnectionPropertiesHash {
    public static func of(_ properties: JSONValue) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in properties.withoutSecrets().encoded.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        let digits = Array("0123456789abcdef")
        var out = ""
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((h >> UInt64(shift)) & 0xf)]) }
        return out
    }
}

/// What the kernel shows at start-up.
public struct KernelSnapshot: Sendable {
    public var sessions: [ISCSISessionInfo]
    public var devices: [SCSIDeviceInfo]
    public var maps: [DMMapInfo]
    public init(sessions: [ISCSISessionInfo], devices: [SCSIDeviceInfo], maps: [DMMapInfo]) {
        self.sessions = sessions
        self.devices = devices
        self.maps = maps
    }
}

public enum ReconcileOutcome: String, Sendable, Codable {
    /// Detach interrupted: finish it (remove what is left of that WWN).
    case finishDetach = "finish_detach"
    /// Attach interrupted: undo what this intent created.
    case rollBackAttach = "roll_back_attach"
    /// Already completed: only mark it finished.
    case markFinished = "mark_finished"
}

/// The decision for one unfinished intent.
public struct IntentResolution: Sendable, Equatable {
    public var intentID: String
    public var outcome: ReconcileOutcome
    /// Executed in order; the same step kinds as a detach.
    public var steps: [DetachStep]
    /// Things deliberately left alone, one operator-readable line each.
    public var kept: [String]
}

public enum IntentReconciler {
    /// Decides, for each unfinished intent (in journal order), what to do now.
    ///
    /// - finish a detach: remove the map named/uuid'd by the WWN and every disk that
    ///   shows that WWN; log out sessions to the intent's targets that have no disk left
    ///   and that no other unfinished intent touches. Disks with unreadable WWNs are left
    ///   (reported), never removed unverified at start-up.
    /// - roll back an attach: remove the map only if this intent created it, the disks
    ///   this intent's scans made appear (only if they show the WWN), and log out only the
    ///   sessions this intent created and nothing else uses.
    /// Sessions not LOGGED_IN are never logged out (no logouts during an outage).
    public static func plan(unfinished intents: [IntentRecord], kernel: KernelSnapshot) -> [IntentResolution] {
        var out: [IntentResolution] = []
        // Disks removed by an earlier resolution no longer count as "in use".
        var gone = Set<HCTL>()
        for (index, intent) in intents.enumerated() {
            if intent.isCompleted {
                out.append(IntentResolution(intentID: intent.id, outcome: .markFinished, steps: [], kept: []))
                continue
            }
            let wwn = intent.wwn
            var steps: [DetachStep] = []
            var kept: [String] = []
            let maps = wwn.map { w in kernel.maps.filter { $0.name == w.value || $0.uuid == "mpath-" + w.value } } ?? []
            var remove: [SCSIDeviceInfo] = []
            var sessionCandidates: [ISCSISessionInfo] = []
            let outcome: ReconcileOutcome

            switch intent.kind {
            case .detach:
                outcome = .finishDetach
                for m in maps {
                    if let claimed = m.claimedWWN, claimed != wwn {
                        kept.append("map \(m.name): uuid \(m.uuid ?? "?") is not volume \(wwn)")
                        continue
                    }
                    steps += [.failIfNoPath(map: m.name), .flushMap(map: m.name), .removeMap(map: m.name)]
                }
                remove = wwn.map { w in kernel.devices.filter { $0.wwn == w && !gone.contains($0.hctl) } } ?? []
                for t in intent.iscsiTargets {
                    sessionCandidates += kernel.sessions.filter { $0.matches(portal: t.portal, iqn: t.iqn) }
                }
            case .attach:
                outcome = .rollBackAttach
                let createdMaps = Set(intent.steps.compactMap { if case .mapCreated(let n) = $0 { return n }; return nil })
                for m in maps {
                    guard createdMaps.contains(m.name) else {
                        kept.append("map \(m.name): existed before this attach")
                        continue
                    }
                    if let claimed = m.claimedWWN, claimed != wwn {
                        kept.append("map \(m.name): uuid \(m.uuid ?? "?") is not volume \(wwn)")
                        continue
                    }
                    steps += [.failIfNoPath(map: m.name), .flushMap(map: m.name), .removeMap(map: m.name)]
                }
                for case .scanned(let hctl, let isNew) in intent.steps {
                    guard let d = kernel.devices.first(where: { $0.hctl == hctl }), !gone.contains(hctl) else { continue }
                    guard isNew else {
                        kept.append("device \(d.name ?? "?") (\(hctl)): existed before this attach")
                        continue
                    }
                    switch (d.wwn, wwn) {
                    case (let seen?, let w?) where seen == w: remove.append(d)
                    case (let seen?, let w?): kept.append("device \(d.name ?? "?") (\(hctl)): shows WWN \(seen), not \(w)")
                    case (_, nil):
                        // the attach never learned its WWN: the disk its own scan made appear
                        // goes (unless something holds it: checked when deleting)
                        remove.append(d)
                    case (nil, _?): kept.append("device \(d.name ?? "?") (\(hctl)): WWN unreadable; not removed unverified")
                    }
                }
                for case .loggedIn(let portal, let iqn, let sid, true) in intent.steps {
                    sessionCandidates += kernel.sessions.filter {
                        $0.matches(portal: portal, iqn: iqn) && (sid == nil || $0.sessionID == sid)
                    }
                }
            }

            remove.sort { $0.hctl < $1.hctl }
            if maps.isEmpty {
                for d in remove { if let n = d.name { steps.append(.flushDevice(name: n)) } }
            }
            for d in remove { steps.append(.deleteDevice(name: d.name, hctl: d.hctl, wwn: wwn)) }
            for d in remove { gone.insert(d.hctl) }

            // Sessions touched by other unfinished intents that are NOT resolved before
            // this one stay (their resolution decides).
            let laterTargets = intents[(index + 1)...].filter { !$0.isCompleted }.flatMap { later in
                later.iscsiTargets + later.steps.compactMap {
                    if case .loggedIn(let p, let i, _, _) = $0 { return ISCSITargetRef(portal: p, iqn: i) }
                    return nil
                }
            }
            var seen = Set<Int>()
            for s in sessionCandidates where seen.insert(s.sessionID).inserted {
                let label = "session \(s.sessionID) (\(s.portal) \(s.targetIQN))"
                let left = s.hostNumber.map { h in kernel.devices.filter { $0.hctl.host == h && !gone.contains($0.hctl) } } ?? []
                if !left.isEmpty {
                    kept.append("\(label): still used by \(left.count) device(s)")
                } else if s.hostNumber == nil {
                    kept.append("\(label): SCSI host unknown; cannot tell whether other LUNs use it")
                } else if laterTargets.contains(where: { s.matches(portal: $0.portal, iqn: $0.iqn) }) {
                    kept.append("\(label): another unfinished intent uses it")
                } else if s.state != .loggedIn {
                    kept.append("\(label): not logged in; no logout during an outage")
                } else {
                    steps.append(.logout(sessionID: s.sessionID, portal: s.portal, iqn: s.targetIQN))
                }
            }
            out.append(IntentResolution(intentID: intent.id, outcome: outcome, steps: steps, kept: kept))
        }
        return out
    }
}
