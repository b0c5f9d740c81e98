import HostStorage
import Logging
import PathAPI
import PathCore

/// Settings of the attach/detach engine (from pathagent's config file).
public struct EngineSettings: Sendable {
    public var roots: HostRoots
    public var useMultipath: Bool
    public var enforceMultipath: Bool
    /// iSCSI session recovery timeout (the iSCSI form of fast_io_fail_tmo); the
    /// configured value wins over the multipath profile's fast_io_fail_tmo.
    public var recoveryTimeout: Int
    /// iSCSI login timeout (`node.conn[0].timeo.login_timeout`), and the bound on one
    /// iscsiadm call.
    public var loginTimeoutSeconds: Int
    /// Deadline for devices to appear after a scan, or to go away after a delete.
    public var scanTimeoutSeconds: Double
    public var multipathConfig: MultipathConfig?
    /// Apply Pure's recommended sysfs settings to new paths (timeout, queue).
    public var tunePaths: Bool

    public init(roots: HostRoots = .live, useMultipath: Bool = true, enforceMultipath: Bool = false, recoveryTimeout: Int = 10,
                loginTimeoutSeconds: Int = 15, scanTimeoutSeconds: Double = 20, multipathConfig: MultipathConfig? = nil,
                tunePaths: Bool = true) {
        self.roots = roots
        self.useMultipath = useMultipath
        self.enforceMultipath = enforceMultipath
        self.recoveryTimeout = recoveryTimeout
        self.loginTimeoutSeconds = loginTimeoutSeconds
        self.scanTimeoutSeconds = scanTimeoutSeconds
        self.multipathConfig = multipathConfig
        self.tunePaths = tunePaths
    }
}

/// The os-brick-style volume operations against the kernel: iSCSI logins through
/// open-iscsi, targeted SCSI scans, WWN checks, device-mapper multipath maps, and exact
/// detaches. Locks are per volume WWN and per portal. Every kernel read and write goes
/// through the injected seams (`KernelControl`, `ISCSIAdmin`, `DeviceMapperControl`), and
/// every blocking call runs on the one bounded pool (`BlockingWorkers`).
public final class VolumeEngine: Sendable {
    public let settings: EngineSettings
    let kernel: any KernelControl
    let admin: any ISCSIAdmin
    let dm: any DeviceMapperControl
    /// SendTargets for singular properties with multipath on (os-brick's discovery).
    let discovery: any ISCSIDiscovery
    let workers: BlockingWorkers
    let locks: KeyedLocks
    let logger: Logger
    /// Crash-safe intent journal; nil runs without one (lab probes, plan-only tools).
    let journal: IntentJournalStore?
    /// The maps this engine created (the journal database's claims, or in memory).
    public let ownership: any MapOwnership
    /// Targets that attaches in flight will use (a detach keeps their sessions).
    let inFlight = InFlightTargets()
    /// The iSCSI paths each of the maps is to have (healing brings missing ones back).
    let expectedPaths = ExpectedPaths()

    public init(settings: EngineSettings, kernel: (any KernelControl)? = nil, admin: (any ISCSIAdmin)? = nil,
                dm: any DeviceMapperControl = LibDeviceMapper(), discovery: any ISCSIDiscovery = LibISCSIDiscovery(),
                workers: BlockingWorkers, locks: KeyedLocks = KeyedLocks(),
                journal: IntentJournalStore? = nil, ownership: (any MapOwnership)? = nil,
                logger: Logger = Logger(label: "pathagent.engine")) {
        self.settings = settings
        self.journal = journal
        self.kernel = kernel ?? KernelHost(roots: settings.roots)
        // one iscsiadm call waits for the login timeout plus room for iscsid's own work
        self.admin = admin ?? OpenISCSIAdmin(timeoutSeconds: settings.loginTimeoutSeconds + 15)
        self.dm = dm
        self.discovery = discovery
        self.workers = workers
        self.locks = locks
        self.ownership = ownership ?? journal ?? InMemoryMapOwnership()
        self.logger = logger
    }

    func topology() -> Topology { Inventory.scan(sysfs: kernel.sysfs, options: .init(queueSettings: false)) }

    /// Whether a session to (portal, iqn) is logged in now (reads the iSCSI sessions only).
    func loggedIn(portal: ISCSIPortal, iqn: String) -> Bool {
        TopologyScanner(sysfs: kernel.sysfs).scanSessions().contains { s in
            guard s.target == iqn, ISCSISessionInfo.State(sysfs: s.state) == .loggedIn else { return false }
            return s.portals.contains { (try? ISCSIPortal($0))?.sameEndpoint(as: portal) == true }
        }
    }

    /// Reads only the SCSI devices at (host, *, *, lun) for each wanted pair: one
    /// directory listing plus the few devices' attributes. Waits re-check on every kernel
    /// event, so they must not rescan the whole host (16 parallel attaches would otherwise
    /// rescan every disk on every uevent).
    func devicesAt(_ want: [(host: Int, lun: UInt64)], sessions: [ISCSISession], fcHosts: [FCHost] = []) -> [ScsiPath] {
        let sysfs = kernel.sysfs
        let names = sysfs.entries("bus/scsi/devices").filter { name in
            guard name.first?.isNumber == true, let h = try? HCTL(name) else { return false }
            return want.contains { $0.host == h.host && $0.lun == h.lun }
        }
        return TopologyScanner(sysfs: sysfs).scanPaths(names: names, sessions: sessions, fcHosts: fcHosts)
    }

    // MARK: connect

    /// Attach, detach and extend change the host: they run only against the live kernel
    /// roots, never against a fixture tree given with `--root` (which is read-only).
    func requireLiveRoots() throws {
        guard kernel.acceptsWrites else {
            throw PathCoreError(
                .unsupported, "volume operations run only against the live kernel; this agent reads a fixture tree (--root \(settings.roots.sys))")
        }
    }

    /// For in-process callers: validates the properties, then `connect(_:)` of the result.
    public func connect(_ request: ConnectVolumeRequest) async throws -> ConnectVolumeResponse { try await connect(try request.validated()) }

    public func connect(_ v: Validated<ConnectVolumeRequest>) async throws -> ConnectVolumeResponse {
        try requireLiveRoots()
        let request = v.request
        switch v.spec {
        case .iscsi(let spec): return try await connectISCSI(spec, properties: request.connectionProperties)
        case .fc(let spec): return try await connectFC(spec, properties: request.connectionProperties)
        }
    }

    func volumeKey(_ wwn: WWN?, fallback: String) -> String { "volume:" + (wwn?.value ?? fallback) }

    func connectISCSI(_ given: ISCSIConnectionSpec, properties: JSONValue) async throws -> ConnectVolumeResponse {
        let key = volumeKey(given.wwn, fallback: given.paths.map { "\($0.iqn)/\($0.scsiLUN)" }.sorted().joined(separator: ","))
        return try await locks.withLock(keys: [key]) { [self] in
            // before the hold and the journal: both name every portal the attach will use
            let spec = await discoverPortals(given)
            let held = inFlight.hold(spec)
            defer { inFlight.release(held) }
            // A detach that found these targets' sessions idle before this hold existed logs
            // them out while holding their portal locks: passing through those locks once
            // makes the state read below come after any such logout (a detach that checks
            // later sees the hold and keeps the sessions).
            try await locks.withLock(keys: Array(Set(spec.paths.map { "portal:\($0.portal.argument)" }))) {}
            var timer = StepTimer()
            let waiter = DeviceWaiter(kernel: kernel)
            let before = topology()
            let existingHCTLs = Set(before.allPaths.map(\.hctl))
            let existingMaps = Set(before.maps.map(\.name))
            let intent = try journal?.begin(IntentRecord(
                id: Self.newIntentID(), kind: .attach, transport: .iscsi, volumeWWN: spec.wwn,
                propertiesHash: ConnectionPropertiesHash.of(properties),
                iscsiTargets: ConnectionSpec.iscsi(spec).iscsiTargets))
            do {
                let r = try await attachISCSISteps(spec, before: before, existingHCTLs: existingHCTLs, existingMaps: existingMaps,
                                                   intent: intent, waiter: waiter, timer: &timer)
                try intent?.finish()
                return r
            } catch {
                if let intent { await rollBack(intent, ownTargets: held) }
                throw error
            }
        }
    }

    /// os-brick's SendTargets step, narrowed to the volume's own target (see
    /// `SendTargets`): with singular properties and multipath on, the given portal is asked
    /// for its targets and the attach uses every portal of the volume's target. A portal
    /// that does not answer discovery still serves the volume through itself (os-brick's
    /// fallback), with a warning; discovery writes nothing on the host.
    func discoverPortals(_ spec: ISCSIConnectionSpec) async -> ISCSIConnectionSpec {
        guard SendTargets.applies(to: spec, useMultipath: settings.useMultipath), let given = spec.paths.first else { return spec }
        let initiator = HostFiles.readText(settings.roots.etc + "/iscsi/initiatorname.iscsi").flatMap(ConnectorPropertiesReader.initiatorName)
        let meta: Logger.Metadata = ["iscsi.portal": "\(given.portal)", "iscsi.target": "\(given.iqn)"]
        do {
            let raw = try await workers.run { [discovery, settings] in
                try discovery.sendTargets(portal: given.portal, initiator: initiator, auth: spec.discoveryAuth,
                                          timeoutSeconds: settings.loginTimeoutSeconds)
            }
            let (targets, notes) = SendTargets.parse(raw)
            for n in notes { logger.warning("SendTargets reply: \(n)", metadata: meta) }
            let (out, added) = SendTargets.expand(spec, with: targets)
            let others = targets.filter { $0.iqn != given.iqn }.count
            logger.info("SendTargets discovery", metadata: meta.merging([
                "iscsi.portals": "\(out.paths.map(\.portal.argument).joined(separator: ","))",
                "discovery.added": "\(added)", "discovery.other_targets_ignored": "\(others)",
            ]) { a, _ in a })
            return out
        } catch {
            logger.warning("SendTargets discovery failed; attaching through the given portal only",
                           metadata: meta.merging(["error": "\(error)"]) { a, _ in a })
            return spec
        }
    }

    /// Journals a scan before it is written, so a crash between the scan and the map leaves
    /// a record of the disk it made. open-iscsi's software initiator gives each session one
    /// target, channel 0 target 0, so the disk's address is known before it appears.
    func recordScan(_ intent: IntentHandle?, host: Int, _ p: ISCSIPathPlan, _ existing: Set<HCTL>) throws {
        guard let intent else { return }
        let hctl = HCTL(host: host, channel: p.scanChannel ?? 0, target: p.scanTarget ?? 0, lun: p.path.scsiLUN)
        try intent.step(.scanned(hctl: hctl, newDevice: !existing.contains(hctl))) {}
    }

    /// Undoes what a failed attach created (journaled steps only), then closes its intent.
    /// A session it logged in to is kept when another attach in flight will reuse it.
    func rollBack(_ intent: IntentHandle, ownTargets: [String] = []) async {
        do {
            guard let journal, let record = try journal.unfinished().first(where: { $0.id == intent.id }) else { return }
            let topo = topology()
            let plan = IntentReconciler.plan(
                unfinished: [record], kernel: KernelSnapshot(sessions: topo.sessionInfos, devices: topo.deviceInfos, maps: topo.mapInfos))
            let busy = inFlight.busy(topo.sessionInfos, excluding: ownTargets)
            for r in plan {
                let steps = r.steps.filter { if case .logout(let sid, _, _) = $0 { return !busy.contains(sid) } else { return true } }
                _ = try await workers.run { [self] in try execute(steps, force: true, ignoreErrors: true, intent: nil, wwn: record.wwn) }
            }
            try intent.finish()
            logger.info("failed attach rolled back", metadata: ["volume.wwn": "\(record.wwn?.value ?? "unknown")", "intent.id": "\(intent.id)"])
        } catch {
            logger.error("roll-back of a failed attach failed; the journal keeps it for the next start", metadata: ["error": "\(error)"])
        }
    }

    func attachISCSISteps(_ spec: ISCSIConnectionSpec, before: Topology, existingHCTLs: Set<HCTL>, existingMaps: Set<String>,
                          intent: IntentHandle?, waiter: DeviceWaiter, timer: inout StepTimer) async throws -> ConnectVolumeResponse {
        do {
            let plan = ISCSIPlanner.attach(
                spec, sessions: before.sessionInfos,
                options: ISCSIAttachOptions(useMultipath: settings.useMultipath, enforceMultipath: settings.enforceMultipath,
                                            recoveryTimeout: settings.recoveryTimeout, loginTimeout: settings.loginTimeoutSeconds))
            timer.mark("plan")
            // log in to every new portal in parallel (each under its portal's lock)
            var loginErrors: [Int: any Error] = [:]
            try await withThrowingTaskGroup(of: (Int, (any Error)?).self) { group in
                for (i, login) in plan.logins.enumerated() {
                    group.addTask { [self] in
                        do {
                            try await locks.withLock(keys: ["portal:\(login.portal.argument)"]) {
                                // an attach that held the lock before us may have logged in to this
                                // portal already (parallel attaches of a new target): reuse its session
                                // instead of another round of iscsiadm node updates and logins
                                if loggedIn(portal: login.portal, iqn: login.iqn) { return }
                                try intent?.step(.loggedIn(portal: login.portal, iqn: login.iqn, sessionID: nil, created: true)) {}
                                try await workers.run { [admin] in
                                    do {
                                        try admin.prepareNode(login)
                                        try admin.login(portal: login.portal, iqn: login.iqn)
                                    } catch {
                                        // a refused login (a wrong CHAP secret, an unreachable
                                        // portal) leaves no node record: it holds the settings just
                                        // written, the CHAP secret among them, and no session uses
                                        // it (there was none to this portal; iscsiadm refuses to
                                        // delete a record a session uses)
                                        try? admin.deleteNode(portal: login.portal, iqn: login.iqn)
                                        throw error
                                    }
                                }
                            }
                            return (i, nil)
                        } catch { return (i, error) }
                    }
                }
                for try await (i, e) in group { if let e { loginErrors[i] = e } }
            }
            for (i, e) in loginErrors.sorted(by: { $0.key < $1.key }) {
                logger.warning("iSCSI login failed", metadata: ["iscsi.portal": "\(plan.logins[i].portal)", "iscsi.target": "\(plan.logins[i].iqn)", "error": "\(e)"])
            }
            timer.mark("login")
            // targeted scans on every session of the volume
            let sessionsNow = topology().sessionInfos
            var expected: [(host: Int, lun: UInt64, portal: ISCSIPortal, iqn: String)] = []
            var failures: [String] = loginErrors.map { "\(plan.logins[$0.key].portal): \($0.value)" }
            for p in plan.paths {
                switch p.session {
                case .reuse(let s):
                    guard let h = s.hostNumber else { continue }
                    try recordScan(intent, host: h, p, existingHCTLs)
                    let req = p.scan(host: h)
                    // the kernel scans synchronously (INQUIRY etc. over the session): off the cooperative pool
                    try await workers.run { [kernel] in try kernel.scan(req) }
                    expected.append((h, p.path.scsiLUN, p.path.portal, p.path.iqn))
                case .login(let i):
                    guard loginErrors[i] == nil else { continue }
                    guard let s = sessionsNow.first(where: { $0.matches(portal: p.path.portal, iqn: p.path.iqn) && $0.state == .loggedIn }),
                        let h = s.hostNumber
                    else {
                        failures.append("\(p.path.portal): no session after login")
                        continue
                    }
                    try recordScan(intent, host: h, p, existingHCTLs)
                    let req = p.scan(host: h)
                    // the kernel scans synchronously (INQUIRY etc. over the session): off the cooperative pool
                    try await workers.run { [kernel] in try kernel.scan(req) }
                    expected.append((h, p.path.scsiLUN, p.path.portal, p.path.iqn))
                case .waitForRecovery(let s):
                    failures.append("\(p.path.portal): session \(s.sessionID) is recovering")
                }
            }
            guard !expected.isEmpty else {
                throw PathCoreError(.unsupported, "no iSCSI path could be set up: \(failures.joined(separator: "; "))")
            }
            timer.mark("scan")
            // wait for each expected device to appear with its block device and WWN
            let want = expected
            let sessionsForPaths = topology().sessions
            let devices: [ScsiPath] = try await waiter.wait(
                "\(want.count) SCSI device(s) LUN \(want[0].lun)", timeoutSeconds: settings.scanTimeoutSeconds
            ) {
                let paths = devicesAt(want.map { ($0.host, $0.lun) }, sessions: sessionsForPaths)
                var found: [ScsiPath] = []
                for e in want {
                    guard let d = paths.first(where: { $0.hctl.host == e.host && $0.hctl.lun == e.lun }),
                        d.device != nil, d.wwn != nil, d.devNumber != nil, d.sizeBytes != nil
                    else { return nil }
                    found.append(d)
                }
                return found
            }
            timer.mark("wait_devices")
            // devices at another address than the one journaled before the scan
            for d in devices where d.hctl.channel != 0 || d.hctl.target != 0 {
                try intent?.step(.scanned(hctl: d.hctl, newDevice: !existingHCTLs.contains(d.hctl))) {}
            }
            let (wwn, verified) = try await verifyWWN(devices, expected: spec.wwn, existing: existingHCTLs)
            if spec.wwn == nil { try intent?.step(.identified(wwn: wwn)) {} }
            timer.mark("verify_wwn")
            if settings.enforceMultipath && verified.count < 2 {
                throw PathCoreError(.unsupported, "multipath is enforced but only \(verified.count) path came up (\(failures.joined(separator: "; ")))")
            }
            if settings.tunePaths { tune(verified) }
            if settings.useMultipath && !existingMaps.contains(wwn.value) { try intent?.step(.mapCreated(name: wwn.value)) {} }
            let deviceInfo = try await buildMap(wwn: wwn, devices: verified, waiter: waiter)
            timer.mark("map")
            // every path asked for, also those that did not come up now: healing brings them
            if settings.useMultipath {
                expectedPaths.attached(wwn.value, spec.paths.map { HealPath(iqn: $0.iqn, portal: $0.portal, scsiLUN: $0.scsiLUN) })
            }
            let degraded = verified.count < spec.paths.count
            logger.info("volume attached", metadata: [
                "volume.wwn": "\(wwn)", "volume.path": "\(deviceInfo.path)", "volume.paths": "\(verified.count)/\(spec.paths.count)",
                "volume.ms": "\(timer.totalMillis)",
            ])
            return ConnectVolumeResponse(
                deviceInfo: deviceInfo,
                paths: verified.map { d in
                    PathInfo(hctl: d.hctl, device: d.device, transport: "iscsi", portal: d.iscsi?.portal, targetIQN: d.iscsi?.target,
                             state: d.apiState)
                },
                degraded: degraded, timings: timer.timings)
        }
    }

    func connectFC(_ spec: FCConnectionSpec, properties: JSONValue) async throws -> ConnectVolumeResponse {
        let key = volumeKey(spec.wwn, fallback: spec.targets.map { "\($0.wwpn)/\($0.scsiLUN)" }.sorted().joined(separator: ","))
        return try await locks.withLock(keys: [key]) { [self] in
            var timer = StepTimer()
            let waiter = DeviceWaiter(kernel: kernel)
            let topo = topology()
            let existingHCTLs = Set(topo.allPaths.map(\.hctl))
            let existingMaps = Set(topo.maps.map(\.name))
            let plan = try FCPlanner.scan(spec, hosts: topo.fcHostInfos, remotePorts: topo.remotePortInfos)
            guard !plan.scans.isEmpty else {
                throw PathCoreError(.unsupported, "no online FC remote port matches the volume's targets: \(plan.skipped.joined(separator: "; "))")
            }
            let intent = try journal?.begin(IntentRecord(
                id: Self.newIntentID(), kind: .attach, transport: .fc, volumeWWN: spec.wwn,
                propertiesHash: ConnectionPropertiesHash.of(properties)))
            do {
                for s in plan.scans {
                    if let t = s.target, let c = s.channel {
                        let hctl = HCTL(host: s.host, channel: c, target: t, lun: s.lun)
                        try intent?.step(.scanned(hctl: hctl, newDevice: !existingHCTLs.contains(hctl))) {}
                    }
                    try await workers.run { [kernel] in try kernel.scan(s) }
                }
                timer.mark("scan")
                let devices = try await waitForFCDevices(spec, plan: plan, topo: topo, waiter: waiter)
                // wildcard scans: the addresses are known only now
                for d in devices where !plan.expectedAddresses.contains(d.hctl) {
                    try intent?.step(.scanned(hctl: d.hctl, newDevice: !existingHCTLs.contains(d.hctl))) {}
                }
                timer.mark("wait_devices")
                let (wwn, verified) = try await verifyWWN(devices, expected: spec.wwn, existing: existingHCTLs)
                if spec.wwn == nil { try intent?.step(.identified(wwn: wwn)) {} }
                if settings.tunePaths { tune(verified) }
                if settings.useMultipath && !existingMaps.contains(wwn.value) { try intent?.step(.mapCreated(name: wwn.value)) {} }
                let info = try await buildMap(wwn: wwn, devices: verified, waiter: waiter)
                timer.mark("map")
                try intent?.finish()
                let minimum = plan.expectedAddresses.isEmpty ? 1 : plan.expectedAddresses.count
                return ConnectVolumeResponse(
                    deviceInfo: info,
                    paths: verified.map { PathInfo(hctl: $0.hctl, device: $0.device, transport: "fc", targetWWPN: $0.fc?.targetPortName,
                                                   initiatorWWPN: $0.fc?.hostPortName, state: $0.apiState) },
                    degraded: verified.count < minimum, timings: timer.timings)
            } catch {
                if let intent { await rollBack(intent) }
                throw error
            }
        }
    }

    /// The FC disks of the volume: exactly the planned addresses (host, the rport's
    /// channel and target id, LUN) of the remote ports named in the properties, never any
    /// other disk that happens to sit at the same LUN number behind another target port.
    /// After a wildcard scan (no known target port was online), disks at the LUN behind
    /// the host's remote ports that are among the volume's targets.
    func waitForFCDevices(_ spec: FCConnectionSpec, plan: FCScanPlan, topo: Topology, waiter: DeviceWaiter) async throws -> [ScsiPath] {
        let luns = Set(spec.targets.map(\.scsiLUN))
        let hosts = Set(plan.scans.map(\.host))
        let exact = Set(plan.expectedAddresses)
        let targetPorts = Set(spec.targets.map(\.wwpn.value) + spec.initiatorTargetMap.values.flatMap { $0.map(\.value) })
        let minimum = exact.isEmpty ? 1 : exact.count
        return try await waiter.wait("FC devices of LUN \(luns.sorted())", timeoutSeconds: settings.scanTimeoutSeconds) {
            let found = devicesAt(hosts.flatMap { h in luns.map { (h, $0) } }, sessions: [], fcHosts: topo.fcHosts).filter { d in
                guard d.transport == .fc, d.device != nil, d.wwn != nil, d.devNumber != nil else { return false }
                if !exact.isEmpty { return exact.contains(d.hctl) }
                return d.fc?.targetPortName.map { targetPorts.contains(TopologyScanner.normalizeWWPN($0)) } ?? false
            }
            return found.count >= minimum ? found : nil
        }
    }

    /// Checks every disk against the volume's WWN, reading the WWN afresh through the
    /// held block device (VPD 0x83 over SG_IO: sysfs `wwid` is what the kernel read when
    /// the disk appeared and goes stale when the array re-maps the LUN). The volume's WWN
    /// is the properties' `wwn`; without one, all disks must agree.
    ///
    /// A disk that shows another WWN is never used. If it existed before this attach (a
    /// stale disk at a reused LUN, another array's volume at the same LUN number) it is
    /// left exactly as it is and named in the error. If this attach's own scan made it
    /// appear, it is removed again, but only after the fresh read confirms the other WWN
    /// and nothing holds it. Either way the attach fails and nothing is attached.
    ///
    /// A disk a scan just made appear is in sysfs a moment before its block device is
    /// registered (the open fails with ENXIO, or ENOENT before the node exists): its read
    /// is retried for up to 3 s before the path is given up. A disk the volume's own map
    /// already holds and that answers as the volume is the volume's even when the kernel's
    /// cached identity says otherwise (re-read while the LUN was gone from the target); the
    /// kernel is asked to re-read it (`device/rescan`).
    func verifyWWN(_ devices: [ScsiPath], expected: WWN?, existing: Set<HCTL>) async throws -> (WWN, [ScsiPath]) {
        let kernel = self.kernel
        @Sendable func read(_ d: ScsiPath) -> Result<WWN, any Error> {
            Result { () throws -> WWN in
                guard let name = d.device else { throw HostStorageError(.notFound, "no block device") }
                let held = try kernel.openBlock(name)
                defer { held.close() }
                return try kernel.currentWWN(held)
            }
        }
        var fresh: [(ScsiPath, Result<WWN, any Error>)] = try await workers.run { devices.map { ($0, read($0)) } }
        let deadline = ContinuousClock.now + .seconds(3)
        while fresh.contains(where: { Self.blockNodeNotReady($0.1) }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let last = fresh
            fresh = try await workers.run { last.map { d, r in Self.blockNodeNotReady(r) ? (d, read(d)) : (d, r) } }
        }
        var unreadable: [String] = []
        var unreadablePaths: [ScsiPath] = []
        var seen: [(ScsiPath, WWN)] = []
        for (d, r) in fresh {
            switch r {
            case .success(let w): seen.append((d, w))
            case .failure(let e):
                unreadable.append("\(d.device ?? "?") (\(d.hctl)): \(e)")
                unreadablePaths.append(d)
            }
        }
        guard let target = expected ?? seen.first?.1 else {
            throw PathCoreError(.missing, "the new devices report no WWN (VPD 0x83): \(unreadable.joined(separator: "; "))")
        }
        // a disk that was there before this attach and whose LUN the array re-mapped under
        // it (the kernel's wwid, read when it appeared, differs from what the LUN answers
        // now) is a stale disk: never used, never deleted, named
        let ownMap = try? dm.info(target.value)
        let inOwnMap = { (d: ScsiPath) -> Bool in
            guard let own = ownMap?.kernelName, let name = d.device else { return false }
            return kernel.holders(name).contains(own)
        }
        let cacheStale = seen.filter { d, fresh in d.wwn.flatMap({ try? WWN($0) }).map { $0 != fresh } ?? false }
        let stale = cacheStale.filter { d, fresh in existing.contains(d.hctl) && !(fresh == target && inOwnMap(d)) }
        if !stale.isEmpty {
            let list = stale.map { d, fresh in "\(d.device ?? "?") (\(d.hctl)) appeared as \(d.wwn ?? "?") and now answers as \(fresh)" }
            throw PathCoreError(
                .conflict, "stale disk(s) at the volume's address: \(list.joined(separator: "; ")); left untouched, nothing was attached",
                detail: "the array re-mapped the LUN while this host kept its disk; detach the old volume, or delete the disk after checking nothing uses it",
                key: "wwn")
        }
        let wrong = seen.filter { $0.1 != target }
        if !wrong.isEmpty {
            var said: [String] = []
            for (d, w) in wrong {
                let label = "\(d.device ?? "?") (\(d.hctl)) shows \(w)"
                guard !existing.contains(d.hctl) else {
                    said.append("\(label), existed before this attach: left untouched")
                    continue
                }
                do {
                    try await workers.run { try kernel.deleteDisk(name: d.device, hctl: d.hctl, expected: w) }
                    said.append("\(label), appeared with this attach's scan: removed")
                } catch {
                    logger.error("cannot remove a disk this attach's scan made appear with another WWN",
                                 metadata: ["path.dev": "\(d.device ?? "?")", "error": "\(error)"])
                    said.append("\(label), appeared with this attach's scan: not removed (\(error))")
                }
            }
            throw PathCoreError(.conflict, "WWN mismatch: expected \(target), but \(said.joined(separator: "; ")); nothing was attached", key: "wwn")
        }
        // a disk that shows the volume's WWN but is held by another map (a stale disk of
        // another volume whose LUN the array re-mapped) is refused, never shared
        for (d, _) in seen {
            guard let name = d.device else { continue }
            let others = kernel.holders(name).filter { $0 != ownMap?.kernelName }
            if let h = others.first {
                throw PathCoreError(.conflict, "\(name) (\(d.hctl)) shows \(target) but is held by \(h) (another map: a stale disk of a re-mapped LUN?); nothing was attached", key: "wwn")
            }
        }
        guard !seen.isEmpty else {
            throw PathCoreError(.missing, "no disk of volume \(target) could be verified: \(unreadable.joined(separator: "; "))")
        }
        // a path the volume's own map already holds (verified when it joined) that cannot
        // be read now (offline, in recovery) stays in the map: the checker keeps it failed
        // and re-reads its WWN before it reinstates it; dropping it would leave its disk in
        // no map
        let keptUnread = unreadablePaths.filter {
            existing.contains($0.hctl) && inOwnMap($0) && $0.sizeBytes == seen[0].0.sizeBytes
        }
        for (u, d) in zip(unreadable, unreadablePaths) {
            if keptUnread.contains(where: { $0.hctl == d.hctl }) {
                logger.notice("path kept in the map unverified: its WWN cannot be re-read now", metadata: ["volume.wwn": "\(target)", "path": "\(u)"])
            } else {
                logger.warning("path not used: its WWN could not be re-read", metadata: ["volume.wwn": "\(target)", "path": "\(u)"])
            }
        }
        let good = seen.map(\.0) + keptUnread
        // the volume's own paths whose kernel identity went stale: the kernel re-reads it
        let refresh = cacheStale.filter { existing.contains($0.0.hctl) }.map(\.0)
        if !refresh.isEmpty { await refreshKernelIdentity(refresh, wwn: target) }
        return (target, good)
    }

    /// An open that failed because the disk's block device is not registered yet.
    static func blockNodeNotReady(_ r: Result<WWN, any Error>) -> Bool {
        guard case .failure(let e) = r, let h = e as? HostStorageError else { return false }
        return h.isNoSuchDevice
    }

    /// Has the kernel re-read the identity of the volume's disks whose sysfs `wwid`
    /// disagrees with what they answer now (`device/rescan`: INQUIRY and the VPD pages
    /// again, then a change uevent, so udev's by-id links follow).
    func refreshKernelIdentity(_ disks: [ScsiPath], wwn: WWN) async {
        let kernel = self.kernel
        for d in disks {
            do {
                try await workers.run { try kernel.rescan(d.hctl) }
                logger.notice("the kernel's cached identity of a path was stale: rescanned", metadata: [
                    "volume.wwn": "\(wwn)", "path.name": "\(d.device ?? "?")", "path.hctl": "\(d.hctl)", "path.cached_wwn": "\(d.wwn ?? "none")",
                ])
            } catch {
                logger.warning("cannot rescan a path whose cached identity is stale", metadata: [
                    "volume.wwn": "\(wwn)", "path.hctl": "\(d.hctl)", "error": "\(error)",
                ])
            }
        }
    }

    /// Puts new paths under the volume's settings (PathTuning: SCSI timeout, queue
    /// settings, FC rport and iSCSI session timeouts); a refused value is logged with its
    /// file and value.
    func tune(_ devices: [ScsiPath]) {
        guard let first = devices.first,
            let s = try? PropertySelection.select(vendor: first.vendor, product: first.model, config: settings.multipathConfig)
        else { return }
        let sysfs = kernel.sysfs
        for w in PathTuning.writes(for: devices, settings: s, iscsiRecoveryTmo: settings.recoveryTimeout, current: { sysfs.attribute($0) }) {
            do { try kernel.write(w.file, w.value) } catch {
                logger.warning("kernel refused a path setting", metadata: ["sysfs.file": "\(w.file)", "sysfs.value": "\(w.value)", "error": "\(error)"])
            }
        }
    }

    /// The map of a volume from its paths, with the settings of its array model (vendor
    /// profile, config file) and the ALUA rule: the one planning step attach and regroup share.
    func mapPlan(wwn: WWN, vendor: String, product: String, sizeSectors: UInt64, infos: [MultipathPathInfo]) throws -> MultipathMapPlan {
        let s = try PropertySelection.select(vendor: vendor, product: product, config: settings.multipathConfig)
        return try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: sizeSectors, paths: infos, settings: s)
    }

    /// Builds (or extends) the volume's multipath map and returns os-brick's device_info.
    func buildMap(wwn: WWN, devices: [ScsiPath], waiter: DeviceWaiter) async throws -> DeviceInfo {
        guard settings.useMultipath else {
            let d = devices[0]
            return DeviceInfo(scsiWWN: wwn.value, path: "/dev/\(d.device!)", multipathID: nil)
        }
        // each path's ALUA state as scsi_dh_alua shows it: paths that disagree are grouped
        // by priority, optimized first (PathGrouping.applyALUARule)
        let infos = try devices.map(MultipathPathInfo.init(path:))
        let sizes = devices.map { (device: $0.device!, bytes: $0.sizeBytes ?? 0) }
        let size = try VolumeResize.agreedSize(sizes)
        let plan = try mapPlan(wwn: wwn, vendor: devices[0].vendor, product: devices[0].model, sizeSectors: size / 512, infos: infos)
        let states = infos.map { "\($0.name)=\($0.aluaState?.rawValue ?? "none")" }.joined(separator: ",")
        logger.info("map planned", metadata: [
            "volume.wwn": "\(wwn)", "path.alua": "\(states)", "dm.table": "\(plan.table)",
            "map.grouping": "\(PathGrouping.reason(plan.settings, paths: infos))",
        ])
        let line = DMTargetLine(start: 0, length: plan.table.length, type: "multipath", params: try plan.table.renderedParams())
        let ownership = self.ownership
        let state: DMDeviceState = try await workers.run { [dm] in
            if let existing = try dm.info(plan.name) {
                guard existing.uuid == plan.dmUUID else {
                    throw PathCoreError(.conflict, "a device-mapper device named \(plan.name) exists with uuid '\(existing.uuid)', not \(plan.dmUUID)")
                }
                guard ownership.owns(map: plan.name, uuid: plan.dmUUID) else {
                    throw PathCoreError(
                        .conflict, "multipath map \(plan.name) exists and is not pathagent's (multipathd or another tool made it); refusing to reload it",
                        detail: "remove it (multipath -f \(plan.name)) or let multipathd own Pure volumes (pathctl config multipath --mode multipathd)")
                }
                let current = try dm.table(plan.name).first.map { try DMTable.parse(params: $0.params, start: $0.start, length: $0.length) }
                if current.map({ MultipathMapPlanner.reload(current: $0, desired: plan.table).needsReload }) ?? true {
                    try dm.reload(plan.name, targets: [line])
                }
            } else {
                try ownership.claim(map: plan.name, uuid: plan.dmUUID)
                do { try dm.create(plan.name, uuid: plan.dmUUID, targets: [line], readOnly: false) } catch {
                    if (try? dm.info(plan.name)) == nil { try? ownership.release(map: plan.name) }
                    throw error
                }
            }
            for m in plan.messagesAfterLoad { try dm.message(plan.name, m.text) }
            guard let st = try dm.info(plan.name) else {
                throw HostStorageError(.deviceMapper, "map \(plan.name) vanished right after it was created")
            }
            return st
        }
        let node = state.kernelName
        _ = try await waiter.wait("/dev/\(node)", timeoutSeconds: settings.scanTimeoutSeconds) { () -> Bool? in kernel.exists(dev: node) ? true : nil }
        return DeviceInfo(scsiWWN: wwn.value, path: "/dev/\(node)", multipathID: wwn.value)
    }
}

extension VolumeEngine {
    static func newIntentID() -> String {
        "intent-\(MonotonicClock.nanos())-\(UInt32.random(in: 0...UInt32.max))"
    }
}

extension ConnectionSpec {
    var transportProtocol: TransportProtocol {
        switch self {
        case .iscsi: .iscsi
        case .fc: .fc
        }
    }
    /// The (portal, iqn) pairs an intent touches, so reconciliation can find its sessions.
    var iscsiTargets: [ISCSITargetRef] {
        guard case .iscsi(let s) = self else { return [] }
        var out: [ISCSITargetRef] = []
        for p in s.paths where !out.contains(where: { $0.portal == p.portal && $0.iqn == p.iqn }) {
            out.append(ISCSITargetRef(portal: p.portal, iqn: p.iqn))
        }
        return out
    }
}

/// Per-step timings for responses and logs.
struct StepTimer: Sendable {
    private var last = MonotonicClock.nanos()
    private let start = MonotonicClock.nanos()
    private(set) var timings: [StepTiming] = []
    mutating func mark(_ step: String) {
        let now = MonotonicClock.nanos()
        timings.append(StepTiming(step: step, milliseconds: Double(now - last) / 1e6))
        last = now
    }
    var totalMillis: Int { Int((MonotonicClock.nanos() - start) / 1_000_000) }
}
