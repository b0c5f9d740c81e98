import Foundation
import HostStorage
import PathCore
import Synchronization

/// A model of what the kernel and open-iscsi show and do, behind the same seams the agent
/// uses on a real host (`KernelControl`, `ISCSIAdmin`, `DeviceMapperControl`), so the real
/// engine, monitor and reconciler run on it in-process.
///
/// It behaves like the kernel where the agent's decisions depend on it:
/// - arrays present LUNs (WWN, size) on iSCSI targets (portals) and FC target ports;
///   a LUN number can be re-mapped to another volume while a host's disk for it exists
///   (the disk's sysfs `wwid` keeps what was read at scan time; a fresh VPD 0x83 read
///   through the device answers with what the array presents now);
/// - a login makes a session and a SCSI host; a logout removes them and their disks;
/// - a write to `scan` makes the disks appear a little later (asynchronously, with a
///   kernel event), a write to `delete` removes the disk, `rescan` re-reads size and VPD;
/// - dm create/reload/remove/messages change maps with tables, holders, per-path states
///   and event counters; a map that is open refuses a plain remove;
/// - faults on request: logins that fail, scans that bring nothing, a target that is
///   unreachable, a crash at the k-th kernel write (then every seam is dead, as in a
///   killed process, until `restart()`).
///
/// Every write the agent makes is logged (`effects`) so invariants can be checked after
/// every step.
public final class SimHost: Sendable {
    public let state: Mutex<SimState>
    public init(seed: UInt64 = 1) {
        state = Mutex(SimState(seed: seed))
    }

    public var kernel: SimKernel { SimKernel(host: self) }
    public var admin: SimISCSIAdmin { SimISCSIAdmin(host: self) }
    public var dm: SimDM { SimDM(host: self) }
    public var discovery: SimISCSIDiscovery { SimISCSIDiscovery(host: self) }

    /// Runs `body` on the state, then (if it changed anything) invalidates the sysfs
    /// rendering and wakes event watchers.
    @discardableResult
    public func mutate<T>(_ body: (inout SimState) throws -> T) rethrows -> T {
        let (r, watchers) = try state.withLock { s -> (T, [@Sendable () -> Void]) in
            let before = s.version
            let r = try body(&s)
            if s.version != before { s.rendered = nil }
            return (r, s.version != before ? Array(s.watchers.values) : [])
        }
        for w in watchers { w() }
        return r
    }

    public func read<T>(_ body: (SimState) throws -> T) rethrows -> T { try state.withLock { try body($0) } }

    /// Applies appearances that are due (the campaign calls this to let "a little later"
    /// happen; the async appearance task calls it too).
    public func settle() { mutate { $0.applyPending() } }

    /// Arms a crash at the k-th kernel-changing call from now (0 = off).
    public func crash(afterWrites k: Int, onCrash: (@Sendable () -> Void)? = nil) {
        mutate { s in
            s.crashCountdown = k
            s.onCrash = onCrash
        }
    }

    /// The agent process restarted: its held descriptors are gone, the seams work again.
    public func restart() {
        mutate { s in
            s.crashed = false
            s.crashCountdown = 0
            for k in s.disks.keys { s.disks[k]!.heldByAgent = 0 }
            s.version += 1
        }
    }
}

public struct SimCrash: Error, CustomStringConvertible {
    public var description: String { "simulated crash: the agent process is dead" }
}

// MARK: - the model

public struct SimLUN: Sendable, Hashable {
    public var wwn: WWN
    public var sizeSectors: UInt64
    public var vendor: String
    public var model: String
    public init(wwn: WWN, sizeSectors: UInt64, vendor: String = "PURE", model: String = "FlashArray") {
        self.wwn = wwn
        self.sizeSectors = sizeSectors
        self.vendor = vendor
        self.model = model
    }
}

public struct SimISCSITarget: Sendable {
    public var iqn: String
    public var portals: [ISCSIPortal]
    public var luns: [UInt64: SimLUN]
    public var chap: (user: String, password: String)?
    public var reachable = true
    /// The ALUA state of the target port group behind each portal (portal argument ->
    /// the kernel's `access_state` name); a portal without one has no ALUA (no handler).
    public var portALUA: [String: String] = [:]
    /// What answers an INQUIRY at a LUN the target does not have: nil when nothing does
    /// (the command fails, as an array answers LOGICAL UNIT NOT SUPPORTED); tgt answers as
    /// qualifier 3 (byte 0 0x7f) and its LUN 0 controller's NAA WWN (seen in the lab).
    public var missingLUNAnswer: SimMissingLUNAnswer? = nil
    public init(iqn: String, portals: [ISCSIPortal], luns: [UInt64: SimLUN]) {
        self.iqn = iqn
        self.portals = portals
        self.luns = luns
    }
}

public struct SimMissingLUNAnswer: Sendable {
    public var wwn: WWN
    /// PERIPHERAL QUALIFIER and DEVICE TYPE byte of the pages it answers with.
    public var peripheralByte: UInt8
    public init(wwn: WWN, peripheralByte: UInt8) {
        self.wwn = wwn
        self.peripheralByte = peripheralByte
    }
    /// tgt: byte 0 0x7f (no LU at this LUN) with its LUN 0 controller's designator.
    public static func tgtController(_ wwn: WWN) -> Self { Self(wwn: wwn, peripheralByte: 0x7f) }
}

public struct SimFCTarget: Sendable {
    public var wwpn: WWPN
    public var luns: [UInt64: SimLUN]
    public var reachable = true
    public init(wwpn: WWPN, luns: [UInt64: SimLUN]) {
        self.wwpn = wwpn
        self.luns = luns
    }
}

public struct SimSession: Sendable {
    public var sid: Int
    public var iqn: String
    public var portal: ISCSIPortal
    public var host: Int
    public var state = "LOGGED_IN"
    public var recoveryTmo = 120
    /// Created by the test's set-up or a third party, not by the agent.
    public var foreign: Bool
}

public struct SimRPort: Sendable {
    public var name: String
    public var host: Int
    public var number: Int
    public var wwpn: WWPN
    public var targetID: Int
    public var state = "Online"
}

public struct SimDisk: Sendable {
    public var hctl: HCTL
    public var name: String
    public var minor: UInt32
    /// What sysfs `wwid` shows: read when the disk appeared (or at rescan).
    public var cachedWWN: WWN
    /// Byte 0 of the cached VPD 0x83 page (0: a disk answered when it was read).
    public var cachedPeripheralByte: UInt8 = 0
    public var sizeSectors: UInt64
    public var vendor: String
    public var model: String
    public var state = "running"
    /// The disk existed before the campaign step started (set-up or another volume's).
    public var foreign: Bool
    public var mounted: String? = nil
    /// An md array or another holder not made by the agent.
    public var extraHolder: String? = nil
    public var heldByAgent = 0
    /// Opens of the block node that still fail with ENXIO: the kernel shows a new disk in
    /// sysfs (`block/sdX`, `dev`) a little before its block device is registered
    /// (`device_add_disk` adds the sysfs entry, then `bdev_add`).
    public var opensRefused = 0
    public var attrs: [String: String] = [:]
    /// What scsi_dh_alua shows in sysfs `access_state` (nil: no handler, no attribute), set
    /// from the target port's state when the disk appears and on `setAccessState`.
    public var accessState: String? = nil
    /// sysfs `preferred_path` (shown with `accessState`).
    public var preferredPath = false
    public var devNumber: String { "8:\(minor)" }
}

public struct SimMap: Sendable {
    public var name: String
    public var uuid: String
    public var minor: UInt32
    public var table: DMTable
    public var pathStates: [String: Bool] = [:]   // devnum -> active
    public var failCounts: [String: Int] = [:]
    public var queueIfNoPath = false
    public var eventNumber: UInt32 = 0
    public var openCount: Int32 = 0
    public var deferredRemove = false
    /// Made by multipathd, by hand or by the test's set-up: not the agent's.
    public var foreign: Bool
    public var devNumber: String { "253:\(minor)" }
}

/// One thing the agent did to the kernel (for the invariants).
public enum SimEffect: Sendable, Equatable {
    case deletedDisk(HCTL, name: String, wwn: WWN)
    case scanned(host: Int, line: String)
    case loggedIn(sid: Int, iqn: String, portal: String)
    case loggedOut(sid: Int, iqn: String, portal: String, disksLeft: Int)
    case mapCreated(String)
    case mapReloaded(String)
    case mapRemoved(String, deferred: Bool)
    case mapMessaged(String, String)
    case attributeWritten(String, String)
    /// A SendTargets discovery session to this portal (no kernel state changes).
    case discovered(portal: String)
}

public struct SimState: Sendable {
    public var version = 0
    var rendered: SimSysfsTree? = nil
    var watchers: [Int: @Sendable () -> Void] = [:]
    var nextWatcher = 0
    public var rng: SimRNG

    public var iscsiTargets: [String: SimISCSITarget] = [:]
    public var fcTargets: [WWPN: SimFCTarget] = [:]
    public var sessions: [Int: SimSession] = [:]
    public var scsiHosts: [Int: String] = [:]   // host -> "iscsi"|"fc:<wwpn>"
    public var rports: [SimRPort] = []
    public var disks: [HCTL: SimDisk] = [:]
    public var maps: [String: SimMap] = [:]
    public var nodes: Set<String> = []
    public var pending: [(HCTL, SimDisk)] = []
    /// Reads of sysfs left before pending disks appear.
    var pendingReads = 0
    public var effects: [SimEffect] = []
    public var nextSID = 1
    public var nextHost = 10
    public var nextDiskMinor: UInt32 = 0
    public var nextMapMinor: UInt32 = 0
    /// Character devices and other nodes under /dev that are not disks.
    public var charDevices: Set<String> = ["watchdog", "null"]

    // faults
    public var failLogins: Set<String> = []       // portal arguments whose login fails
    public var failDiscovery: Set<String> = []    // portal arguments whose SendTargets fails
    public var scansBringNothing = false
    /// Opens refused (ENXIO) on each disk a scan makes appear, before its block device
    /// is registered.
    public var opensRefusedAfterScan = 0
    public var crashCountdown = 0
    public var crashed = false
    var onCrash: (@Sendable () -> Void)? = nil

    init(seed: UInt64) { rng = SimRNG(seed: seed) }

    // MARK: set-up helpers

    public mutating func addISCSITarget(_ t: SimISCSITarget) {
        iscsiTargets[t.iqn] = t
        version += 1
    }

    public mutating func addFCHost(wwpn: WWPN) -> Int {
        let h = nextHost
        nextHost += 1
        scsiHosts[h] = "fc:\(wwpn.value)"
        version += 1
        return h
    }

    public mutating func addFCTarget(_ t: SimFCTarget, reachableFrom hosts: [Int]) {
        fcTargets[t.wwpn] = t
        for h in hosts {
            let n = rports.filter { $0.host == h }.count
            rports.append(SimRPort(name: "rport-\(h):0-\(n)", host: h, number: n, wwpn: t.wwpn, targetID: n))
        }
        version += 1
    }

    /// A session made outside the agent (already logged in when the agent starts).
    public mutating func foreignLogin(iqn: String, portal: ISCSIPortal) throws -> Int {
        try login(iqn: iqn, portal: portal, foreign: true)
    }

    /// A disk present before the step (set-up, another tool, a stale disk).
    public mutating func foreignScan(host: Int, channel: Int = 0, target: Int = 0, lun: UInt64) {
        guard let lunv = lunBehind(host: host, channel: channel, target: target, lun: lun) else { return }
        let hctl = HCTL(host: host, channel: channel, target: target, lun: lun)
        guard disks[hctl] == nil else { return }
        disks[hctl] = makeDisk(hctl, lunv, foreign: true)
        version += 1
    }

    public mutating func foreignMap(name: String, uuid: String, over devs: [String]) {
        let paths = devs.map { DMTable.Path(device: try! DeviceNumber($0), args: ["1"]) }
        let size = disks.values.first { devs.contains($0.devNumber) }?.sizeSectors ?? 2048
        let table = DMTable(length: size, groups: [DMTable.Group(selector: "service-time", selectorArgs: ["0"], pathArgCount: 1, paths: paths)])
        let m = SimMap(name: name, uuid: uuid, minor: nextMapMinor, table: table,
                       pathStates: Dictionary(uniqueKeysWithValues: devs.map { ($0, true) }), foreign: true)
        nextMapMinor += 1
        maps[name] = m
        version += 1
    }

    // MARK: kernel behaviour

    public func lunBehind(host: Int, channel: Int, target: Int, lun: UInt64) -> SimLUN? {
        if let s = sessions.values.first(where: { $0.host == host }) {
            guard channel == 0, target == 0, let t = iscsiTargets[s.iqn], t.reachable, s.state == "LOGGED_IN" else { return nil }
            return t.luns[lun]
        }
        if let r = rports.first(where: { $0.host == host && $0.targetID == target && channel == 0 }), r.state == "Online",
            let t = fcTargets[r.wwpn], t.reachable {
            return t.luns[lun]
        }
        return nil
    }

    /// The LUNs the target behind an I_T nexus reports (REPORT LUNS) now; nil when nothing
    /// answers there (no logged-in session or online rport, target unreachable).
    public func reportedLUNs(host: Int, channel: Int, target: Int) -> [UInt64]? {
        if let s = sessions.values.first(where: { $0.host == host }) {
            guard channel == 0, target == 0, let t = iscsiTargets[s.iqn], t.reachable, s.state == "LOGGED_IN" else { return nil }
            return Array(t.luns.keys)
        }
        if let r = rports.first(where: { $0.host == host && $0.targetID == target && channel == 0 }), r.state == "Online",
            let t = fcTargets[r.wwpn], t.reachable {
            return Array(t.luns.keys)
        }
        return nil
    }

    /// What answers VPD 0x83 at `hctl` now: the LUN (a disk, byte 0 = 0), what the target
    /// answers for a LUN it does not have, or nothing (no session, target unreachable).
    public func identityAnswer(_ hctl: HCTL) -> (wwn: WWN, peripheralByte: UInt8)? {
        if let l = lunBehind(host: hctl.host, channel: hctl.channel, target: hctl.target, lun: hctl.lun) { return (l.wwn, 0) }
        guard let ss = sessions.values.first(where: { $0.host == hctl.host }), ss.state == "LOGGED_IN",
            let t = iscsiTargets[ss.iqn], t.reachable, let a = t.missingLUNAnswer
        else { return nil }
        return (a.wwn, a.peripheralByte)
    }

    /// The kernel re-reads a disk's identity and capacity (a rescan, or its state set
    /// back to running): it caches whatever answers at the address then.
    public mutating func rereadIdentity(_ hctl: HCTL) {
        guard disks[hctl] != nil, let id = identityAnswer(hctl) else { return }
        disks[hctl]!.cachedWWN = id.wwn
        disks[hctl]!.cachedPeripheralByte = id.peripheralByte
        disks[hctl]!.sizeSectors = lunBehind(host: hctl.host, channel: hctl.channel, target: hctl.target, lun: hctl.lun)?.sizeSectors ?? 0
        version += 1
    }

    /// Whether I/O to the disk at `hctl` reaches its LUN now.
    public func reachable(_ hctl: HCTL) -> Bool {
        guard let d = disks[hctl], d.state == "running" else { return false }
        return lunBehind(host: hctl.host, channel: hctl.channel, target: hctl.target, lun: hctl.lun) != nil
    }

    mutating func makeDisk(_ hctl: HCTL, _ l: SimLUN, foreign: Bool) -> SimDisk {
        let minor = nextDiskMinor
        nextDiskMinor += 16
        var d = SimDisk(hctl: hctl, name: Self.sdName(Int(minor / 16)), minor: minor, cachedWWN: l.wwn, sizeSectors: l.sizeSectors,
                        vendor: l.vendor, model: l.model, foreign: foreign)
        // scsi_dh_alua attaches at scan time and reads the port group's state (RTPG)
        if let ss = sessions.values.first(where: { $0.host == hctl.host }) {
            d.accessState = iscsiTargets[ss.iqn]?.portALUA[ss.portal.argument]
        }
        return d
    }

    /// The kernel's view of a disk's ALUA state changes (scsi_dh_alua re-read REPORT TARGET
    /// PORT GROUPS after a unit attention): sysfs `access_state`/`preferred_path`.
    public mutating func setAccessState(_ hctl: HCTL, _ state: String?, preferred: Bool = false) {
        guard disks[hctl] != nil else { return }
        disks[hctl]!.accessState = state
        disks[hctl]!.preferredPath = preferred
        version += 1
    }

    /// The array moves the target port group behind `portal` to `state`, and the kernel's
    /// view of every disk behind that portal follows (as after the unit attention).
    public mutating func setPortALUA(iqn: String, portal: String, _ state: String?) {
        iscsiTargets[iqn]?.portALUA[portal] = state
        for ss in sessions.values where ss.iqn == iqn && ss.portal.argument == portal {
            for h in disks.keys where h.host == ss.host { disks[h]!.accessState = state }
        }
        version += 1
    }

    static func sdName(_ i: Int) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        var n = i
        var s = ""
        repeat {
            s = String(letters[n % 26]) + s
            n = n / 26 - 1
        } while n >= 0
        return "sd" + s
    }

    mutating func login(iqn: String, portal: ISCSIPortal, foreign: Bool) throws -> Int {
        if let s = sessions.values.first(where: { $0.iqn == iqn && $0.portal.sameEndpoint(as: portal) }) { return s.sid }
        guard let t = iscsiTargets[iqn], t.portals.contains(where: { $0.sameEndpoint(as: portal) }) else {
            throw HostStorageError(.toolFailed, "iscsiadm: no records found / login to \(portal) \(iqn) failed (target not found)")
        }
        guard t.reachable, !failLogins.contains(portal.argument) else {
            throw HostStorageError(.toolFailed, "iscsiadm: login to \(portal) \(iqn) failed: connection timed out")
        }
        let sid = nextSID
        nextSID += 1
        let host = nextHost
        nextHost += 1
        scsiHosts[host] = "iscsi"
        sessions[sid] = SimSession(sid: sid, iqn: iqn, portal: portal, host: host, foreign: foreign)
        version += 1
        return sid
    }

    mutating func logout(iqn: String, portal: ISCSIPortal) {
        guard let s = sessions.values.first(where: { $0.iqn == iqn && $0.portal.sameEndpoint(as: portal) }) else { return }
        let gone = disks.keys.filter { $0.host == s.host }
        effects.append(.loggedOut(sid: s.sid, iqn: iqn, portal: portal.argument, disksLeft: gone.count))
        for h in gone { removeDisk(h) }
        sessions[s.sid] = nil
        scsiHosts[s.host] = nil
        version += 1
    }

    mutating func removeDisk(_ hctl: HCTL) {
        guard let d = disks.removeValue(forKey: hctl) else { return }
        // the kernel fails the path in any map above it
        for (n, var m) in maps where m.pathStates[d.devNumber] == true {
            m.pathStates[d.devNumber] = false
            m.eventNumber += 1
            maps[n] = m
        }
        version += 1
    }

    mutating func scan(host: Int, line: String) throws {
        let f = line.split(separator: " ").map(String.init)
        guard f.count == 3, let lun = UInt64(f[2]) else { throw HostStorageError(.invalidArgument, "bad scan line \(line)") }
        guard scsiHosts[host] != nil else { throw HostStorageError(.notFound, "no scsi host \(host)") }
        effects.append(.scanned(host: host, line: line))
        if scansBringNothing { return }
        var candidates: [(Int, Int)] = []
        if scsiHosts[host] == "iscsi" {
            candidates = [(0, 0)]
        } else {
            for r in rports where r.host == host {
                if (f[0] == "-" || f[0] == "0") && (f[1] == "-" || Int(f[1]) == r.targetID) { candidates.append((0, r.targetID)) }
            }
        }
        for (c, t) in candidates {
            let hctl = HCTL(host: host, channel: c, target: t, lun: lun)
            guard disks[hctl] == nil, !pending.contains(where: { $0.0 == hctl }),
                let l = lunBehind(host: host, channel: c, target: t, lun: lun) else { continue }
            var d = makeDisk(hctl, l, foreign: false)
            d.opensRefused = opensRefusedAfterScan
            pending.append((hctl, d))
            pendingReads = Int(rng.next() % 4) + 1
        }
        version += 1
    }

    mutating func applyPending() {
        guard !pending.isEmpty else { return }
        for (h, d) in pending where disks[h] == nil { disks[h] = d }
        pending = []
        version += 1
    }

    /// The array re-maps a LUN number to another volume (or removes it: `nil`).
    public mutating func remapLUN(iqn: String, lun: UInt64, to l: SimLUN?) {
        iscsiTargets[iqn]?.luns[lun] = l
        version += 1
    }

    public mutating func remapFCLUN(wwpn: WWPN, lun: UInt64, to l: SimLUN?) {
        fcTargets[wwpn]?.luns[lun] = l
        version += 1
    }

    /// A third party (an operator, another tool) logs a session out.
    public mutating func thirdPartyLogout(sid: Int) {
        guard let s = sessions[sid] else { return }
        let gone = disks.keys.filter { $0.host == s.host }
        for h in gone { removeDisk(h) }
        sessions[sid] = nil
        scsiHosts[s.host] = nil
        version += 1
    }

    /// A third party deletes a disk (`echo 1 > /sys/block/sdX/device/delete`).
    public mutating func thirdPartyDelete(_ hctl: HCTL) { removeDisk(hctl) }

    public mutating func setTargetReachable(_ iqn: String, _ up: Bool) {
        iscsiTargets[iqn]?.reachable = up
        for (sid, s) in sessions where s.iqn == iqn { sessions[sid]!.state = up ? "LOGGED_IN" : "FAILED" }
        version += 1
    }

    public mutating func setDiskState(_ hctl: HCTL, _ st: String) {
        disks[hctl]?.state = st
        version += 1
    }

    public func holders(of d: SimDisk) -> [String] {
        var h = maps.values.filter { m in m.table.groups.contains { g in g.paths.contains { $0.device.description == d.devNumber } } }
            .map { "dm-\($0.minor)" }
        if let x = d.extraHolder { h.append(x) }
        return h.sorted()
    }
}

/// A small deterministic generator (SplitMix64) for the model's own choices.
public struct SimRNG: Sendable, RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
