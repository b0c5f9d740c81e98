import Foundation
import HostStorage
import Logging
import PathAPI
import PathCore
import Synchronization

/// A change the monitor saw, with the monotonic time (µs) it was seen at.
public struct PathChange: Sendable, Codable, Equatable {
    public var map: String
    public var device: String
    public var from: String
    public var to: String
    public var cause: String
    public var atMicros: UInt64
}

/// What the monitor did about a unit attention the kernel reported on a SCSI device.
public enum UnitAttentionOutcome: Sendable, Equatable {
    /// The device is no path of the agent's maps: nothing is done about it.
    case notAgentPath
    /// CAPACITY DATA HAS CHANGED: what the resize of the path's map did.
    case resized(ResizeOutcome)
    /// REPORTED LUNS DATA HAS CHANGED: the target's LUN inventory, compared with the host's.
    case lunInventory(LUNInventoryChange)
    /// The inventory could not be read (why).
    case lunInventoryUnreadable(String)
    /// Any other unit attention (or no resizer): a checker round is queued.
    case checkRound
}

/// Watches the paths of the multipath maps this agent created (`MapOwnership`: a map of the
/// same `mpath-` shape made by multipathd or by hand is foreign: never watched, messaged
/// or reloaded):
/// - dm events: each map's event counter (DM_DEVICE_INFO) is read with the state poll; a
///   new event (the kernel failed a path on an I/O error, a table was loaded) re-reads the
///   map's status at once (within `state_poll_ms`), with no thread per map;
/// - udev events: an sd path removed → fail it at once and heal the map; a unit attention
///   (the kernel's `SDEV_UA` change uevent of a path's scsi_device): CAPACITY DATA HAS
///   CHANGED resizes the map (`MapResizing`: every path rescanned, grown when they agree;
///   retried at each checker round while a path cannot be re-read), REPORTED LUNS DATA HAS
///   CHANGED re-reads the target's LUN inventory (REPORT LUNS through the path) and reports
///   vanished LUNs of the agent's volumes and LUNs with no disk here (never scanning,
///   attaching or removing anything), any other one queues a checker round;
/// - the SCSI device state in sysfs (`device/state`), read every `state_poll_ms` (250):
///   the kernel sends no uevent when it sets a device offline or transport-offline, and a
///   path without I/O would otherwise stay active until the next checker run; reading a
///   short attribute per path costs no I/O to the device;
/// - a TEST UNIT READY checker over SG_IO every `polling_interval` seconds (Pure: 10):
///   fails paths that stopped answering and reinstates paths that recovered;
/// - each path's ALUA state (`device/access_state` and `device/preferred_path`, which
///   scsi_dh_alua refreshes with REPORT TARGET PORT GROUPS on every ASYMMETRIC ACCESS STATE
///   CHANGED unit attention), read with the state poll: when a map's states differ from
///   the ones it was last grouped for (and no port group is in transition), the
///   `MapRegrouping` (the engine) re-plans and reloads it, logged with before and after.
public actor PathMonitor {
    public let roots: HostRoots
    let kernel: any KernelControl
    let dm: any DeviceMapperControl
    let ownership: any MapOwnership
    let workers: BlockingWorkers
    /// Monotonic time (ns) the monitor's loops last made progress (the watchdog reads it).
    public let heartbeat = Heartbeat()
    let logger: Logger
    let pollingInterval: Double
    let statePollMillis: Int
    let turTimeout: Int
    /// Re-groups a map whose paths' ALUA states changed (nil: the monitor never reloads).
    let regrouper: (any MapRegrouping)?
    /// Per map, the paths' ALUA states (sd name -> `access_state`, `preferred` appended) its
    /// grouping was last made for (by the attach, or by a regroup this monitor asked for).
    private var aluaGrouped: [String: [String: String]] = [:]
    /// A regroup that failed is retried no sooner than this (monotonic ns), not every poll.
    private var regroupRetryAt: [String: UInt64] = [:]
    /// Brings back the missing paths of a map (nil: the monitor never heals).
    let healer: (any MapHealing)?
    /// Resizes a map whose volume's capacity changed (nil: unit attentions only queue a
    /// checker round).
    let resizer: (any MapResizing)?
    let metrics: PathAgentMetrics?
    /// Maps whose resize waits (a path could not be re-read), with the last reason logged.
    private var resizeWaiting: [String: String] = [:]
    /// Monotonic nanoseconds (a parameter so tests can move time by hand).
    let now: @Sendable () -> UInt64
    /// A map whose healing waits (target down, login refused) is tried again no sooner
    /// than this; the wait doubles each time, from the checker interval up to 5 minutes.
    private var healRetryAt: [String: UInt64] = [:]
    private var healBackoff: [String: Double] = [:]
    private var lastHealWait: [String: String] = [:]
    private var maps: [String: MonitoredMap] = [:]
    private var checkers: [String: PathChecker] = [:]        // key map/devnum
    /// Paths (map/devnum) that answer TEST UNIT READY but show another WWN than their map's
    /// (or none): kept failed, logged once until their identity is the map's again.
    private var misidentified: Set<String> = []
    private var eventNumbers: [String: UInt32] = [:]
    /// A checker round asked for by unit attentions is queued (at most one at a time).
    private var checkPending = false
    private var changes: [PathChange] = []
    private var changeListeners: [UUID: AsyncStream<PathChange>.Continuation] = [:]
    private var udev: UdevMonitor?
    private var running = false

    public init(roots: HostRoots = .live, kernel: (any KernelControl)? = nil, dm: any DeviceMapperControl = LibDeviceMapper(),
                ownership: any MapOwnership, workers: BlockingWorkers, pollingInterval: Double = 10,
                statePollMillis: Int = 250, turTimeoutSeconds: Int = 5, regrouper: (any MapRegrouping)? = nil,
                healer: (any MapHealing)? = nil, resizer: (any MapResizing)? = nil, metrics: PathAgentMetrics? = nil,
                now: @escaping @Sendable () -> UInt64 = { MonotonicClock.nanos() },
                logger: Logger = Logger(label: "pathagent.monitor")) {
        self.roots = roots
        self.kernel = kernel ?? KernelHost(roots: roots)
        self.dm = dm
        self.ownership = ownership
        self.workers = workers
        self.pollingInterval = pollingInterval
        self.statePollMillis = statePollMillis
        self.turTimeout = turTimeoutSeconds
        self.regrouper = regrouper
        self.healer = healer
        self.resizer = resizer
        self.metrics = metrics
        self.now = now
        self.logger = logger
    }

    /// Current state of every managed map.
    public func snapshot() -> [MonitoredMap] { maps.values.sorted { $0.name < $1.name } }

    /// A stream of path state changes (for `pathctl health --watch` and tests).
    public func changesStream() -> AsyncStream<PathChange> {
        let (s, c) = AsyncStream.makeStream(of: PathChange.self, bufferingPolicy: .bufferingNewest(1024))
        let id = UUID()
        changeListeners[id] = c
        c.onTermination = { [weak self] _ in Task { await self?.dropListener(id) } }
        return s
    }
    private func dropListener(_ id: UUID) { changeListeners[id] = nil }

    /// Runs until the task is cancelled: starts the udev listener and the checker timer.
    public func run() async {
        // a fixture tree (--root) is read-only: never send dm messages or TURs for it
        guard kernel.acceptsWrites else { return }
        running = true
        refresh()
        heartbeat.beat()
        if let m = try? UdevMonitor(source: .kernel, subsystems: ["block", "scsi"]) {
            udev = m
            Task { [weak self] in
                for await ev in m { await self?.handle(ev) }
            }
        } else {
            logger.warning("cannot listen to kernel uevents; relying on dm events and the TUR checker")
        }
        let pollMillis = statePollMillis > 0 ? statePollMillis : 1000
        let statePoll = Task { [weak self, statePollMillis] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(pollMillis) * 1_000_000)
                guard let self, await self.pollEvents() else { break }
                if statePollMillis > 0 {
                    guard await self.pollDeviceStates() else { break }
                    await self.pollALUA()
                }
                self.heartbeat.beat()
            }
        }
        defer { statePoll.cancel() }
        while !Task.isCancelled {
            await checkAll()
            heartbeat.beat()
            await healAll()
            heartbeat.beat()
            await retryResizes()
            heartbeat.beat()
            try? await Task.sleep(nanoseconds: UInt64(pollingInterval * 1e9))
            refresh()
        }
        stop()
    }

    /// Lets a test drive the loops' steps (`pollEvents`, `pollDeviceStates`, `checkAll`)
    /// by hand, as `run()` would.
    func startForTests() { running = true }

    public func stop() {
        running = false
        udev?.stop()
        udev = nil
        for c in changeListeners.values { c.finish() }
        changeListeners = [:]
    }

    /// Re-reads which of the agent's maps exist (call after an attach or detach; also done
    /// every poll). Reads only the dm devices and their slaves, not every SCSI path of the
    /// host: an idle agent on a host with 1024 paths spent 14% of a CPU rescanning them
    /// every poll. Maps the agent did not create are not looked at further.
    public func refresh() {
        let sysfs = kernel.sysfs
        let owned = (try? ownership.ownedMaps()) ?? [:]
        let managed = TopologyScanner(sysfs: sysfs).scanMaps().filter { !$0.uuid.isEmpty && owned[$0.name] == $0.uuid }
        let names = Set(managed.map(\.name))
        for gone in maps.keys where !names.contains(gone) {
            maps[gone] = nil
            eventNumbers[gone] = nil
            aluaGrouped[gone] = nil
            regroupRetryAt[gone] = nil
            healRetryAt[gone] = nil
            healBackoff[gone] = nil
            lastHealWait[gone] = nil
            resizeWaiting[gone] = nil
            checkers = checkers.filter { !$0.key.hasPrefix(gone + "/") }
        }
        for m in managed {
            var sdByDev: [String: String?] = [:]
            for slave in m.slaves {
                if let dev = sysfs.attribute("class/block/\(slave)/dev") { sdByDev[dev] = slave }
            }
            if eventNumbers[m.name] == nil, let st = try? dm.info(m.name) { eventNumbers[m.name] = st.eventNumber }
            updateFromStatus(m.name, device: m.device, names: sdByDev, cause: "status")
        }
    }

    /// Reads each watched map's dm event counter; a map whose counter moved (the kernel
    /// failed or reinstated a path, a table was loaded) has its status re-read now.
    /// Returns false once stopped.
    @discardableResult
    public func pollEvents() -> Bool {
        guard running else { return false }
        for name in Array(maps.keys) {
            guard let st = try? dm.info(name) else { continue }
            if let last = eventNumbers[name], last == st.eventNumber { continue }
            eventNumbers[name] = st.eventNumber
            updateFromStatus(name, device: maps[name]?.device ?? "", names: [:], cause: "dm event (kernel failed or reinstated a path)")
        }
        return true
    }

    private func updateFromStatus(_ map: String, device: String, names: [String: String?], cause: String) {
        guard let line = try? dm.status(map).first, line.type == "multipath",
            let st = try? DMStatus.parse(params: line.params, start: line.start, length: line.length)
        else { return }
        var m = maps[map] ?? MonitoredMap(name: map, device: device, paths: [])
        let now = MonotonicClock.nanos() / 1000
        var paths: [MonitoredPath] = []
        for p in st.paths {
            let key = p.device.description
            let state = p.state == .active ? "active" : "failed"
            if var old = m.paths.first(where: { $0.device == key }) {
                if old.dmState != state {
                    record(PathChange(map: map, device: key, from: old.dmState, to: state, cause: cause, atMicros: now))
                    old.lastChangeMicros = now
                    old.reason = cause
                }
                old.dmState = state
                old.failCount = p.failCount
                if let n = names[key] { old.name = n }
                paths.append(old)
            } else {
                paths.append(MonitoredPath(device: key, name: names[key] ?? nil, dmState: state, failCount: p.failCount,
                                           checker: nil, lastChangeMicros: now, reason: nil))
            }
        }
        m.paths = paths
        if !device.isEmpty { m.device = device }
        maps[map] = m
    }

    private func record(_ c: PathChange) {
        changes.append(c)
        if changes.count > 1000 { changes.removeFirst(changes.count - 1000) }
        logger.info("path state changed", metadata: ["dm.map": "\(c.map)", "path.dev": "\(c.device)", "path.from": "\(c.from)",
                                                      "path.to": "\(c.to)", "path.cause": "\(c.cause)"])
        for l in changeListeners.values { l.yield(c) }
    }

    /// Reacts to kernel uevents without waiting for the next poll.
    private func handle(_ ev: UdevEvent) {
        guard let major = ev["MAJOR"], let minor = ev["MINOR"], let dev = try? DeviceNumber("\(major):\(minor)") else {
            // scsi_device events carry no dev number: a unit attention names its H:C:T:L
            if ev.subsystem == "scsi", let ua = ev["SDEV_UA"] {
                let hctl = ev.sysname
                Task { await self.unitAttention(hctl: hctl, sdevUA: ua) }
            }
            return
        }
        for (name, m) in maps where m.paths.contains(where: { $0.device == dev.description }) {
            var reactions: [PathEventReaction] = []
            if ev.action == "remove" { reactions = PathEventPolicy.react(to: .udevRemove(dev)) }
            for r in reactions {
                switch r {
                case .failPath(let d): fail(map: name, device: d, cause: "udev remove of the path")
                // the disk is gone: healing scans its address again and reloads the map
                // with the new disk, without the dead device number
                case .removeFromMap: Task { await self.heal(name) }
                default: break
                }
            }
        }
    }

    /// A unit attention the kernel reported on the SCSI device `hctl` (`SDEV_UA` value of its
    /// change uevent), handled by `PathEventPolicy` when the device is a path of one of the
    /// agent's maps; a device of no agent map is left alone.
    @discardableResult
    func unitAttention(hctl: String, sdevUA: String) async -> UnitAttentionOutcome {
        guard let (map, path) = agentPath(at: hctl), let dev = try? DeviceNumber(path.device) else {
            logger.debug("unit attention on a device of no agent map", metadata: ["scsi.hctl": "\(hctl)", "scsi.ua": "\(sdevUA)"])
            return .notAgentPath
        }
        let known = PathEvent.sdevUACodes[sdevUA.trimmingCharacters(in: .whitespacesAndNewlines)] != nil
        metrics?.unitAttention(kind: known ? sdevUA.lowercased() : "other")
        logger.info("unit attention", metadata: [
            "dm.map": "\(map)", "path.dev": "\(path.device)", "path.name": "\(path.name ?? "?")", "scsi.hctl": "\(hctl)", "scsi.ua": "\(sdevUA)",
        ])
        let reactions = (try? PathEvent.unitAttention(dev, sdevUA: sdevUA)).map(PathEventPolicy.react(to:)) ?? [.checkNow(dev)]
        for r in reactions {
            switch r {
            case .rescanCapacityAndResize where resizer != nil:
                return .resized(await resize(map, cause: "CAPACITY DATA HAS CHANGED on \(path.name ?? path.device) (\(hctl))"))
            case .rescanTarget:
                return await lunInventory(hctl: hctl, through: path)
            default:
                continue
            }
        }
        // a burst of unit attentions (every LUN of a target reports one after a reset)
        // makes one checker round, not one per event
        if !checkPending {
            checkPending = true
            Task { await pendingCheck() }
        }
        return .checkRound
    }

    /// The agent's map and path whose disk is the SCSI device `hctl`.
    private func agentPath(at hctl: String) -> (String, MonitoredPath)? {
        let sys = kernel.sysfs
        for (name, m) in maps {
            for p in m.paths {
                guard let sd = p.name, sys.diskHCTL(sd)?.description == hctl else { continue }
                return (name, p)
            }
        }
        return nil
    }

    private func resize(_ map: String, cause: String) async -> ResizeOutcome {
        guard let resizer else { return .notResized }
        let outcome = await resizer.capacityChanged(map: map, cause: cause)
        switch outcome {
        case .grown: metrics?.mapResized(result: "grown")
        case .unchanged: metrics?.mapResized(result: "unchanged")
        case .refused: metrics?.mapResized(result: "refused")
        case .waiting: metrics?.mapResized(result: "waiting")
        case .notResized: break
        }
        guard maps[map] != nil else { return outcome }  // detached meanwhile
        if case .waiting(let why) = outcome {
            if resizeWaiting[map] != why {
                logger.warning("the volume's capacity changed and its map cannot be resized now", metadata: [
                    "dm.map": "\(map)", "resize.why": "\(why)", "resize.retry": "every checker round",
                ])
            }
            resizeWaiting[map] = why
        } else {
            resizeWaiting[map] = nil
            if case .grown = outcome { refresh() }
        }
        return outcome
    }

    /// Tries again the resizes that waited (one try per map per checker round).
    public func retryResizes() async {
        guard running else { return }
        for map in resizeWaiting.keys.sorted() where maps[map] != nil {
            _ = await resize(map, cause: "retry: \(resizeWaiting[map] ?? "")")
        }
    }

    /// REPORT LUNS through the path `p` (the I_T nexus of `hctl`), compared with the disks this
    /// host has on that nexus and the agent's maps' LUNs there. Logged and counted; nothing is
    /// scanned, attached or removed.
    private func lunInventory(hctl: String, through p: MonitoredPath) async -> UnitAttentionOutcome {
        guard let h = try? HCTL(hctl), let sd = p.name else { return .lunInventoryUnreadable("no block device for \(hctl)") }
        let kernel = self.kernel
        let reported: [UInt64]
        do {
            reported = try await workers.run {
                let held = try kernel.openBlock(sd)
                defer { held.close() }
                return try kernel.reportedLUNs(held).luns.map(\.linuxNumber)
            }
        } catch {
            logger.warning("cannot read the target's LUN inventory after REPORTED LUNS DATA HAS CHANGED", metadata: [
                "scsi.hctl": "\(hctl)", "path.name": "\(sd)", "error": "\(error)",
            ])
            return .lunInventoryUnreadable("\(error)")
        }
        func sameNexus(_ o: HCTL) -> Bool { o.host == h.host && o.channel == h.channel && o.target == h.target }
        let sys = kernel.sysfs
        let disks = Set(sys.entries("bus/scsi/devices").compactMap { try? HCTL($0) }.filter(sameNexus).map(\.lun))
        var owned: [UInt64: String] = [:]
        for (name, m) in maps {
            for q in m.paths {
                guard let qsd = q.name, let qh = sys.diskHCTL(qsd), sameNexus(qh) else { continue }
                owned[qh.lun] = name
            }
        }
        let change = LUNInventoryChange.compare(nexus: "\(h.host):\(h.channel):\(h.target)", reported: Set(reported), disks: disks, owned: owned)
        metrics?.lunInventoryFindings(vanished: change.vanished.count, unattached: change.unattached.count)
        var meta: Logger.Metadata = [
            "scsi.nexus": "\(change.nexus)", "scsi.luns": "\(change.reported.map(String.init).joined(separator: ","))",
            "lun.inventory": "\(change.summary)",
        ]
        if change.vanished.isEmpty {
            logger.notice("target LUN inventory re-read (REPORTED LUNS DATA HAS CHANGED); nothing is scanned or attached by itself", metadata: meta)
        } else {
            meta["dm.map"] = "\(Set(change.vanished.map(\.map)).sorted().joined(separator: ","))"
            logger.error("the target no longer reports LUNs of the agent's volumes; their disks stay until they are detached", metadata: meta)
        }
        return .lunInventory(change)
    }

    /// One healing round over every watched map (`MapHealing`): maps whose healing waits
    /// are tried again after a back-off (checker interval, doubling, at most 5 minutes).
    public func healAll() async {
        guard running, healer != nil else { return }
        for name in maps.keys.sorted() {
            if let t = healRetryAt[name], now() < t { continue }
            await heal(name)
        }
    }

    private func heal(_ name: String) async {
        guard running, let healer, maps[name] != nil else { return }
        let outcome = await healer.heal(map: name)
        switch outcome {
        case .whole, .notHealed:
            healRetryAt[name] = nil
            healBackoff[name] = nil
            lastHealWait[name] = nil
        case .repaired(let what):
            logger.notice("missing paths brought back", metadata: ["dm.map": "\(name)", "heal.done": "\(what)"])
            healRetryAt[name] = nil
            healBackoff[name] = nil
            lastHealWait[name] = nil
            refresh()
        case .waiting(let why):
            let wait = min(300, (healBackoff[name] ?? pollingInterval / 2) * 2)
            healBackoff[name] = wait
            healRetryAt[name] = now() + UInt64(wait * 1e9)
            if lastHealWait[name] != why {
                logger.warning("paths of a map are missing and cannot be brought back now", metadata: [
                    "dm.map": "\(name)", "heal.why": "\(why)", "heal.retry_s": "\(Int(wait))",
                ])
                lastHealWait[name] = why
            }
        }
    }

    private func pendingCheck() async {
        checkPending = false
        await checkAll()
    }

    /// Reads `device/state` of every active path and reacts by `PathEventPolicy` (offline,
    /// transport-offline, cancel, deleted: fail the path now). Returns false once stopped.
    @discardableResult
    public func pollDeviceStates() -> Bool {
        guard running else { return false }
        let sys = kernel.sysfs
        for (name, m) in maps {
            for p in m.paths where p.dmState == "active" {
                guard let sd = p.name, let dev = try? DeviceNumber(p.device),
                    let raw = sys.attribute("block/\(sd)/device/state"),
                    let st = SCSIDeviceState(rawValue: raw.trimmingCharacters(in: .whitespacesAndNewlines))
                else { continue }
                for r in PathEventPolicy.react(to: .deviceState(dev, st)) {
                    if case .failPath(let d) = r { fail(map: name, device: d, cause: "sysfs device state \(st.rawValue)") }
                }
            }
        }
        return true
    }

    /// Reads every path's ALUA state of each watched map; a map whose states differ from
    /// those it was grouped for is handed to the regrouper (which reloads it only when the
    /// grouping those states give differs from the live table). The first read of a map
    /// also goes there: the states may have moved between the attach's read and this one,
    /// or while the agent was not running. A read that shows a port group `transitioning`
    /// waits for the array to settle.
    public func pollALUA() async {
        guard running, let regrouper else { return }
        let sys = kernel.sysfs
        for (name, m) in maps {
            var seen: [String: String] = [:]
            for p in m.paths {
                guard let sd = p.name else { continue }
                let state = sys.attribute("block/\(sd)/device/access_state")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "none"
                let pref = sys.attribute("block/\(sd)/device/preferred_path")?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
                seen[sd] = state + (pref ? " preferred" : "")
            }
            let before = aluaGrouped[name]
            guard !seen.isEmpty, seen != before, !seen.values.contains(where: { $0.hasPrefix("transitioning") }) else { continue }
            let now = MonotonicClock.nanos()
            if let t = regroupRetryAt[name], now < t { continue }
            func text(_ d: [String: String]?) -> String {
                d.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") } ?? "none"
            }
            if before != nil {
                logger.info("ALUA states of a map's paths changed", metadata: [
                    "dm.map": "\(name)", "path.alua.before": "\(text(before))", "path.alua.after": "\(text(seen))",
                ])
            }
            let cause = before == nil ? "first ALUA read: \(text(seen))" : "ALUA states \(text(before)) -> \(text(seen))"
            let grouped = await regrouper.regroup(map: name, cause: cause)
            guard maps[name] != nil else { continue }  // detached meanwhile
            if grouped {
                aluaGrouped[name] = seen
                regroupRetryAt[name] = nil
            } else {
                regroupRetryAt[name] = now + 5_000_000_000
            }
        }
    }

    private func fail(map: String, device: DeviceNumber, cause: String) {
        guard let m = maps[map], let p = m.paths.first(where: { $0.device == device.description }), p.dmState == "active" else { return }
        do {
            try dm.message(map, DMMessage.failPath(device).text)
        } catch {
            logger.warning("fail_path refused", metadata: ["dm.map": "\(map)", "path.dev": "\(device)", "error": "\(error)"])
        }
        updateFromStatus(map, device: m.device, names: [:], cause: cause)
    }

    /// One TUR round over every path of every map; fails or reinstates by the checker's
    /// rules. Each path's cached identity (sysfs `wwid`) is compared with its map first
    /// (`checkIdentity`).
    public func checkAll() async {
        for (name, m) in maps {
            for p in m.paths {
                guard let dev = try? DeviceNumber(p.device) else { continue }
                let key = "\(name)/\(p.device)"
                await checkIdentity(map: name, path: p, device: dev, key: key)
                var checker = checkers[key] ?? PathChecker(device: dev)
                let pathName = p.name
                let timeout = turTimeout
                var step: PathChecker.Step = .retryNow
                let dmState: DMStatus.PathState = p.dmState == "active" ? .active : .failed
                var attempts = 0
                while case .retryNow = step, attempts < 6 {
                    attempts += 1
                    let result: TURResult = await testUnitReady(name: pathName, timeout: timeout)
                    step = checker.record(result, dmState: dmState)
                }
                checkers[key] = checker
                guard case .checked(let state, let action) = step else { continue }
                if var mm = maps[name], let i = mm.paths.firstIndex(where: { $0.device == p.device }) {
                    mm.paths[i].checker = state.rawValue
                    maps[name] = mm
                }
                if let msg = action.message {
                    // TEST UNIT READY says the LUN answers, not which LUN it is: a path is
                    // reinstated only if VPD 0x83, read now through the held device, is still
                    // the map's WWN (the array may have put another volume at that LUN)
                    if case .reinstatePath = msg, let wwn = try? WWN(name) {
                        let (same, seen) = await identity(of: pathName, expected: wwn)
                        if !same {
                            if misidentified.insert(key).inserted {
                                logger.error("path answers again but is not the volume's: not reinstated", metadata: [
                                    "dm.map": "\(name)", "path.dev": "\(p.device)", "path.name": "\(pathName ?? "?")",
                                    "path.wwn": "\(seen)", "volume.wwn": "\(wwn)",
                                ])
                            }
                            continue
                        }
                        misidentified.remove(key)
                    }
                    do {
                        try dm.message(name, msg.text)
                    } catch {
                        logger.warning("checker dm message refused", metadata: ["dm.map": "\(name)", "dm.message": "\(msg.text)", "error": "\(error)"])
                    }
                    updateFromStatus(name, device: m.device, names: [:], cause: "checker: TUR \(state.rawValue)")
                }
            }
        }
    }

    /// The kernel re-reads a disk's identity on a rescan (by anyone) and on some unit
    /// attentions; if that happens while the LUN is briefly gone from the target, it caches
    /// what answered then. A path whose sysfs `wwid` is not its map's WWN is read afresh
    /// (VPD 0x83 through the held device): if it answers as the volume, the kernel is asked
    /// to re-read it (`device/rescan`), so sysfs and udev's by-id links name the volume
    /// again; if it answers as another volume, it is failed and kept failed (the reinstate
    /// check). Reading `wwid` costs no I/O; the fresh read happens only on a mismatch.
    func checkIdentity(map name: String, path p: MonitoredPath, device dev: DeviceNumber, key: String) async {
        guard let wwn = try? WWN(name), let sd = p.name else { return }
        let sys = kernel.sysfs
        guard let cached = sys.attribute("block/\(sd)/device/wwid").flatMap({ try? WWN($0) }), cached != wwn else { return }
        let (same, seen) = await identity(of: sd, expected: wwn)
        if same {
            guard let hctl = sys.diskHCTL(sd) else { return }
            let kernel = self.kernel
            do {
                try await workers.run { try kernel.rescan(hctl) }
                logger.notice("the kernel's cached identity of a path was stale: rescanned", metadata: [
                    "dm.map": "\(name)", "path.dev": "\(p.device)", "path.name": "\(sd)", "path.cached_wwn": "\(cached)",
                ])
            } catch {
                logger.warning("cannot rescan a path whose cached identity is stale", metadata: [
                    "dm.map": "\(name)", "path.name": "\(sd)", "error": "\(error)",
                ])
            }
        } else if (try? WWN(seen)) != nil {
            if misidentified.insert(key).inserted {
                logger.error("path answers as another volume: failed", metadata: [
                    "dm.map": "\(name)", "path.dev": "\(p.device)", "path.name": "\(sd)", "path.wwn": "\(seen)", "volume.wwn": "\(wwn)",
                ])
            }
            fail(map: name, device: dev, cause: "answers as \(seen), not the map's volume")
        }
    }

    /// Whether the path's block device shows `expected` in VPD 0x83 now (read through the
    /// held descriptor, on the blocking pool), and what it showed.
    func identity(of name: String?, expected: WWN) async -> (Bool, String) {
        guard let name else { return (false, "no block device") }
        let kernel = self.kernel
        return (try? await workers.run { () -> (Bool, String) in
            do {
                let held = try kernel.openBlock(name)
                defer { held.close() }
                let seen = try kernel.currentWWN(held)
                return (seen == expected, seen.value)
            } catch {
                return (false, "unreadable (\(error))")
            }
        }) ?? (false, "unreadable")
    }

    /// TEST UNIT READY through SG_IO on the path's block node, on the blocking pool.
    func testUnitReady(name: String?, timeout: Int) async -> TURResult {
        guard let name else { return .ioctlFailed(errno: 2) }
        let kernel = self.kernel
        return (try? await workers.run { () -> TURResult in
            do {
                let held = try kernel.openBlock(name)
                defer { held.close() }
                return held.testUnitReady(timeoutSeconds: timeout)
            } catch let e as HostStorageError {
                return .ioctlFailed(errno: e.errno ?? 5)
            }
        }) ?? .ioctlFailed(errno: 5)
    }
}

/// The last time a loop made progress (monotonic ns); the systemd watchdog is fed only
/// while it is recent.
public final class Heartbeat: Sendable {
    private let now: @Sendable () -> UInt64
    private let last: Mutex<UInt64>
    /// `now`: monotonic nanoseconds (the tests pass a clock they move by hand).
    public init(now: @escaping @Sendable () -> UInt64 = { MonotonicClock.nanos() }) {
        self.now = now
        last = Mutex(now())
    }
    public func beat() { let t = now(); last.withLock { $0 = t } }
    public var ageSeconds: Double { Double(now() &- last.withLock { $0 }) / 1e9 }
}
