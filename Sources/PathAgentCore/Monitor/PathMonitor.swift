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

/// Watches the paths of every multipath map the agent owns (dm uuid `mpath-*`):
/// - dm events (DM_DEVICE_WAITEVENT, one waiting thread per map): the kernel failed a path
///   on an I/O error → the state is updated at once (well under 1 s);
/// - udev events: an sd path removed or a unit attention → fail/check at once;
/// - the SCSI device state in sysfs (`device/state`), read every `state_poll_ms` (250):
///   the kernel sends no uevent when it sets a device offline or transport-offline, and a
///   path without I/O would otherwise stay active until the next checker run; reading a
///   short attribute per path costs no I/O to the device;
/// - a TEST UNIT READY checker over SG_IO every `polling_interval` seconds (Pure: 10):
///   fails paths that stopped answering and reinstates paths that recovered.
public actor PathMonitor {
    public let roots: HostRoots
    let dm: any DeviceMapperControl
    let logger: Logger
    let pollingInterval: Double
    let statePollMillis: Int
    let turTimeout: Int
    private var maps: [String: MonitoredMap] = [:]
    private var checkers: [String: PathChecker] = [:]        // key map/devnum
    private var waiters: [String: Thread] = [:]
    private var changes: [PathChange] = []
    private var changeListeners: [UUID: AsyncStream<PathChange>.Continuation] = [:]
    private var udev: UdevMonitor?
    private var running = false

    public init(roots: HostRoots = .live, dm: any DeviceMapperControl = LibDeviceMapper(), pollingInterval: Double = 10,
                statePollMillis: Int = 250, turTimeoutSeconds: Int = 5, logger: Logger = Logger(label: "pathagent.monitor")) {
        self.roots = roots
        self.dm = dm
        self.pollingInterval = pollingInterval
        self.statePollMillis = statePollMillis
        self.turTimeout = turTimeoutSeconds
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
        guard roots.isLive else { return }
        running = true
        refresh()
        if let m = try? UdevMonitor(source: .kernel, subsystems: ["block", "scsi"]) {
            udev = m
            Task { [weak self] in
                for await ev in m { await self?.handle(ev) }
            }
        } else {
            logger.warning("cannot listen to kernel uevents; relying on dm events and the TUR checker")
        }
        let statePoll: Task<Void, Never>? = statePollMillis > 0 ? Task { [weak self, statePollMillis] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(statePollMillis) * 1_000_000)
                guard let self, await self.pollDeviceStates() else { break }
            }
        } : nil
        defer { statePoll?.cancel() }
        while !Task.isCancelled {
            await checkAll()
            try? await Task.sleep(nanoseconds: UInt64(pollingInterval * 1e9))
            refresh()
        }
        stop()
    }

    public func stop() {
        running = false
        udev?.stop()
        udev = nil
        for c in changeListeners.values { c.finish() }
        changeListeners = [:]
    }

    /// Re-reads which maps exist (call after an attach or detach; also done every poll).
    /// Reads only the dm devices and their slaves, not every SCSI path of the host: an
    /// idle agent on a host with 1024 paths spent 14% of a CPU rescanning them every poll.
    public func refresh() {
        let sysfs = DiskSysfs(root: roots.sys)
        let managed = TopologyScanner(sysfs: sysfs).scanMaps().filter { $0.uuid.hasPrefix("mpath-") }
        let names = Set(managed.map(\.name))
        for gone in maps.keys where !names.contains(gone) {
            maps[gone] = nil
            waiters[gone] = nil
            checkers = checkers.filter { !$0.key.hasPrefix(gone + "/") }
        }
        for m in managed {
            var sdByDev: [String: String?] = [:]
            for slave in m.slaves {
                if let dev = sysfs.attribute("class/block/\(slave)/dev") { sdByDev[dev] = slave }
            }
            updateFromStatus(m.name, device: m.device, names: sdByDev, cause: "status")
            if waiters[m.name] == nil { startEventWaiter(m.name) }
        }
    }

    /// One thread per map blocks in DM_DEVICE_WAITEVENT and reports each event.
    private func startEventWaiter(_ map: String) {
        let dm = self.dm
        let t = Thread { [weak self] in
            var after: UInt32 = (try? dm.info(map))?.eventNumber ?? 0
            while true {
                guard let n = try? dm.waitEvent(map, after: after) else { break }  // map removed
                after = n
                guard let self else { break }
                let done = DispatchSemaphore(value: 0)
                let keep = Mutex(true)
                Task {
                    let k = await self.dmEvent(map)
                    keep.withLock { $0 = k }
                    done.signal()
                }
                done.wait()
                if !keep.withLock({ $0 }) { break }
            }
        }
        t.name = "dm-events \(map)"
        waiters[map] = t
        t.start()
    }

    private func dmEvent(_ map: String) -> Bool {
        guard running, maps[map] != nil else { return false }
        updateFromStatus(map, device: maps[map]?.device ?? "", names: [:], cause: "dm event (kernel failed or reinstated a path)")
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
            // scsi device events carry no dev number: SDEV_UA and state changes → check its disk now
            if ev.subsystem == "scsi", let ua = ev["SDEV_UA"] {
                logger.info("unit attention", metadata: ["scsi.hctl": "\(ev.sysname)", "scsi.ua": "\(ua)"])
                Task { await checkAll() }
            }
            return
        }
        for (name, m) in maps where m.paths.contains(where: { $0.device == dev.description }) {
            var reactions: [PathEventReaction] = []
            if ev.action == "remove" { reactions = PathEventPolicy.react(to: .udevRemove(dev)) }
            for r in reactions {
                if case .failPath(let d) = r { fail(map: name, device: d, cause: "udev remove of the path") }
            }
        }
    }

    /// Reads `device/state` of every active path and reacts by `PathEventPolicy` (offline,
    /// transport-offline, cancel, deleted: fail the path now). Returns false once stopped.
    @discardableResult
    public func pollDeviceStates() -> Bool {
        guard running else { return false }
        let sys = DiskSysfs(root: roots.sys)
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

    private func fail(map: String, device: DeviceNumber, cause: String) {
        guard let m = maps[map], let p = m.paths.first(where: { $0.device == device.description }), p.dmState == "active" else { return }
        do {
            try dm.message(map, DMMessage.failPath(device).text)
        } catch {
            logger.warning("fail_path refused", metadata: ["dm.map": "\(map)", "path.dev": "\(device)", "error": "\(error)"])
        }
        updateFromStatus(map, device: m.device, names: [:], cause: cause)
    }

    /// One TUR round over every path of every map; fails or reinstates by the checker's rules.
    public func checkAll() async {
        for (name, m) in maps {
            for p in m.paths {
                guard let dev = try? DeviceNumber(p.device) else { continue }
                let key = "\(name)/\(p.device)"
                var checker = checkers[key] ?? PathChecker(device: dev)
                let node = p.name.map { roots.dev + "/" + $0 }
                let timeout = turTimeout
                var step: PathChecker.Step = .retryNow
                let dmState: DMStatus.PathState = p.dmState == "active" ? .active : .failed
                var attempts = 0
                while case .retryNow = step, attempts < 6 {
                    attempts += 1
                    let result: TURResult = await Self.testUnitReady(node: node, timeout: timeout)
                    step = checker.record(result, dmState: dmState)
                }
                checkers[key] = checker
                guard case .checked(let state, let action) = step else { continue }
                if var mm = maps[name], let i = mm.paths.firstIndex(where: { $0.device == p.device }) {
                    mm.paths[i].checker = state.rawValue
                    maps[name] = mm
                }
                if let msg = action.message {
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

    /// TEST UNIT READY through SG_IO on the path's block node.
    static func testUnitReady(node: String?, timeout: Int) async -> TURResult {
        guard let node else { return .ioctlFailed(errno: 2) }
        return await withCheckedContinuation { c in
            DispatchQueue.global().async {
                do {
                    let t = try SGIOTransport(device: node, readOnly: true)
                    let r = try t.send(SCSIRequest(cdb: [0, 0, 0, 0, 0, 0], timeoutSeconds: timeout))
                    switch r.status {
                    case 0: c.resume(returning: .good)
                    case 2:
                        let s = r.senseTriple
                        c.resume(returning: .checkCondition(senseKey: s?.key ?? 0, asc: s?.asc ?? 0, ascq: s?.ascq ?? 0))
                    case 0x08: c.resume(returning: .busy)
                    case 0x18: c.resume(returning: .reservationConflict)
                    case 0x28: c.resume(returning: .taskSetFull)
                    default: c.resume(returning: .hostError(hostByte: 0x01))
                    }
                } catch let e as HostStorageError {
                    switch e.code {
                    case .timeout: c.resume(returning: .timeout)
                    case .transport: c.resume(returning: .hostError(hostByte: 0x01))
                    default: c.resume(returning: .ioctlFailed(errno: e.errno ?? 5))
                    }
                } catch {
                    c.resume(returning: .ioctlFailed(errno: 5))
                }
            }
        }
    }
}
