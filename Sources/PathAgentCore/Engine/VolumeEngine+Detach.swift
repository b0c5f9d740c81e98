import HostStorage
import Logging
import PathAPI
import PathCore

extension VolumeEngine {
    // MARK: disconnect

    /// Removes exactly the volume's devices: fail_if_no_path, flush, remove the map,
    /// delete each sd after re-checking its WWN (with an fd held), log out only sessions
    /// no other LUN uses. `force` goes past a failing flush or a busy map (deferred
    /// remove) and says what it gave up; `ignore_errors` reports instead of failing.
    public func disconnect(_ request: DisconnectVolumeRequest) async throws -> DisconnectVolumeResponse {
        try requireLiveRoots()
        let spec = try request.spec()
        let wwn = try request.volumeWWN(spec: spec)
        return try await locks.withLock(keys: [volumeKey(wwn, fallback: "")]) { [self] in
            var timer = StepTimer()
            let waiter = DeviceWaiter()
            let topo = topology()
            let options = DetachOptions(force: request.force, skipMismatched: request.skipMismatched)
            let plan: DetachPlan
            switch spec {
            case .iscsi(let s):
                // every logout happens after the deletes, in `logOutIdleSessions`, under the portal locks
                var p = try ISCSIPlanner.detach(s, volumeWWN: wwn, sessions: topo.sessionInfos, devices: topo.deviceInfos,
                                                maps: topo.mapInfos, busySessions: inFlight.busy(topo.sessionInfos), options: options)
                p.steps.removeAll { if case .logout = $0 { return true } else { return false } }
                p.kept.removeAll { $0.hasPrefix("session ") }
                plan = p
            case .fc(let s):
                plan = try FCPlanner.detach(s, volumeWWN: wwn, hosts: topo.fcHostInfos, remotePorts: topo.remotePortInfos,
                                            devices: topo.deviceInfos, maps: topo.mapInfos, options: options)
            }
            timer.mark("plan")
            try refuseIfInUse(plan, topo: topo, force: request.force)
            let intent = try journal?.begin(IntentRecord(
                id: Self.newIntentID(), kind: .detach, transport: spec.transportProtocol, volumeWWN: wwn,
                propertiesHash: ConnectionPropertiesHash.of(request.connectionProperties), iscsiTargets: spec.iscsiTargets))
            let done = try await Blocking.run { [self] in
                try execute(plan.steps, force: request.force, ignoreErrors: request.ignoreErrors, intent: intent, wwn: wwn)
            }
            let removed = done.removed
            let removedMap = done.removedMap
            var loggedOut = done.loggedOut
            var ignored = done.ignored
            var kept = plan.kept
            timer.mark("steps")
            // the kernel removes devices asynchronously: wait until they are gone
            let gone = Set(plan.devicesToDelete)
            _ = try await waiter.wait("removal of \(gone.count) device(s)", timeoutSeconds: settings.scanTimeoutSeconds) { () -> Bool? in
                // only the deleted addresses are looked at, not the whole host
                let sysfs = DiskSysfs(root: settings.roots.sys)
                return gone.contains { sysfs.link("bus/scsi/devices/\($0)") != nil } ? nil : true
            }
            timer.mark("wait_removed")
            if case .iscsi(let s) = spec {
                let r = try await logOutIdleSessions(s, intent: intent, force: request.force, ignoreErrors: request.ignoreErrors, wwn: wwn)
                loggedOut += r.loggedOut
                kept += r.kept
                ignored += r.ignored
                timer.mark("logout")
            }
            try intent?.finish()
            logger.info("volume detached", metadata: [
                "volume.wwn": "\(wwn)", "volume.removed": "\(removed.joined(separator: ","))", "volume.ms": "\(timer.totalMillis)",
            ])
            return DisconnectVolumeResponse(removedDevices: removed, removedMap: removedMap, loggedOutSessions: loggedOut,
                                            kept: kept, ignoredErrors: ignored, timings: timer.timings)
        }
    }

    /// Logs out the volume's sessions that nothing uses any more, deciding under the
    /// portal locks (the locks attaches log in under) from the kernel's state after this
    /// detach's deletes: of several detaches of a target's last LUNs running at once, the
    /// last to get here logs the sessions out. A session an attach in flight will reuse
    /// is kept.
    func logOutIdleSessions(_ spec: ISCSIConnectionSpec, intent: IntentHandle?, force: Bool, ignoreErrors: Bool, wwn: WWN) async throws
        -> (loggedOut: [Int], kept: [String], ignored: [APIErrorBody])
    {
        let portals = Array(Set(spec.paths.map { "portal:\($0.portal.argument)" }))
        return try await locks.withLock(keys: portals) { [self] in
            try await Blocking.run { [self] in
                let topo = topology()
                let busy = inFlight.busy(topo.sessionInfos)
                let idle = ISCSIPlanner.idleSessions(spec, sessions: topo.sessionInfos, devices: topo.deviceInfos, busySessions: busy,
                                                     includeRecovering: force)
                var out: (loggedOut: [Int], kept: [String], ignored: [APIErrorBody]) = ([], [], [])
                for s in topo.sessionInfos where spec.paths.contains(where: { s.matches(portal: $0.portal, iqn: $0.iqn) }) && !idle.contains(s) {
                    let why = busy.contains(s.sessionID) ? "an attach in flight uses its target"
                        : s.state != .loggedIn ? "not logged in (recovering); not logging out during an outage"
                        : s.hostNumber == nil ? "its SCSI host is not known"
                        : "still used by other LUN device(s)"
                    out.kept.append("session \(s.sessionID) (\(s.portal) \(s.targetIQN)): \(why)")
                }
                for s in idle {
                    do {
                        let body = { [admin] in
                            try admin.logout(portal: s.portal, iqn: s.targetIQN)
                            try admin.deleteNode(portal: s.portal, iqn: s.targetIQN)
                        }
                        if let intent { try intent.step(.loggedOut(sessionID: s.sessionID), body) } else { try body() }
                        out.loggedOut.append(s.sessionID)
                    } catch {
                        guard ignoreErrors || force else { throw error }
                        logger.warning("logout failed, continuing", metadata: ["volume.wwn": "\(wwn)", "iscsi.sid": "\(s.sessionID)", "error": "\(error)"])
                        out.ignored.append(APIErrorBody(code: .hostError, message: "logout of session \(s.sessionID): \(error)"))
                    }
                }
                return out
            }
        }
    }

    struct StepsDone {
        var removed: [String] = []
        var removedMap: String? = nil
        var loggedOut: [Int] = []
        var ignored: [APIErrorBody] = []
    }

    /// Executes detach steps in order (used by disconnect, by attach roll-back and by
    /// start-up reconciliation). Each step is journaled before it is done.
    func execute(_ steps: [DetachStep], force: Bool, ignoreErrors: Bool, intent: IntentHandle?, wwn: WWN) throws -> StepsDone {
        var done = StepsDone()
        func attempt(_ step: DetachStep, _ record: IntentStep?, _ body: () throws -> Void) throws {
            do {
                if let intent, let record { try intent.step(record, body) } else { try body() }
            } catch {
                let e = APIErrorBody(code: .hostError, message: "\(step): \(error)")
                if ignoreErrors || (force && step.isGivenUpUnderForce) {
                    logger.warning("detach step failed, continuing", metadata: ["volume.wwn": "\(wwn)", "step": "\(step)", "error": "\(error)"])
                    done.ignored.append(e)
                } else {
                    throw error
                }
            }
        }
        for step in steps {
            switch step {
            case .failIfNoPath(let map):
                try attempt(step, nil) { try dm.message(map, DMMessage.failIfNoPath.text) }
            case .flushMap(let map):
                try attempt(step, nil) {
                    guard let st = try dm.info(map) else { return }
                    try kernel.flushBuffers(st.kernelName)
                }
            case .flushDevice(let name):
                try attempt(step, nil) { try kernel.flushBuffers(name) }
            case .removeMap(let map):
                try attempt(step, .mapRemoved(name: map)) { try removeMap(map, force: force) }
                done.removedMap = map
            case .deleteDevice(let name, let hctl, let expected):
                try attempt(step, .devicesDeleted([hctl])) { try kernel.deleteDevice(name: name, hctl: hctl, expected: expected) }
                done.removed.append(name ?? hctl.description)
            case .logout(let sid, let portal, let iqn):
                try attempt(step, .loggedOut(sessionID: sid)) {
                    try admin.logout(portal: portal, iqn: iqn)
                    try admin.deleteNode(portal: portal, iqn: iqn)
                }
                done.loggedOut.append(sid)
            }
        }
        return done
    }

    /// Start-up reconciliation: finishes half-done detaches and rolls back half-done
    /// attaches recorded in the journal, touching only what those intents created.
    public func reconcile() async throws -> [IntentResolution] {
        guard let journal, settings.roots.isLive else { return [] }
        let open = try journal.unfinished()
        guard !open.isEmpty else { return [] }
        let topo = topology()
        let plan = IntentReconciler.plan(
            unfinished: open, kernel: KernelSnapshot(sessions: topo.sessionInfos, devices: topo.deviceInfos, maps: topo.mapInfos))
        for r in plan {
            guard let record = open.first(where: { $0.id == r.intentID }) else { continue }
            logger.info("reconciling journal intent", metadata: [
                "intent.id": "\(r.intentID)", "intent.outcome": "\(r.outcome.rawValue)", "intent.steps": "\(r.steps.count)",
                "volume.wwn": "\(record.volumeWWN)",
            ])
            let handle = IntentHandle(store: journal, id: r.intentID)
            _ = try await Blocking.run { [self] in
                try execute(r.steps, force: true, ignoreErrors: true, intent: handle, wwn: record.volumeWWN)
            }
            try journal.finish(id: r.intentID)
        }
        return plan
    }

    /// A map or disk that is mounted or held by another block device is refused without
    /// `force`, naming the holder.
    func refuseIfInUse(_ plan: DetachPlan, topo: Topology, force: Bool) throws {
        guard !force else { return }
        for step in plan.steps {
            var dev: String? = nil
            var own: Set<String> = []
            switch step {
            case .removeMap(let map):
                dev = topo.maps.first { $0.name == map }?.device
            case .deleteDevice(let name, _, _):
                dev = name
                own = Set(topo.maps.filter { plan.steps.contains(.removeMap(map: $0.name)) }.map(\.device))
            default: continue
            }
            guard let d = dev else { continue }
            let holders = kernel.holders(d).filter { !own.contains($0) }
            if let h = holders.first {
                throw PathCoreError(.conflict, "\(d) is in use by \(h) (another device-mapper or md device); use force to detach anyway", key: d)
            }
            if let num = topo.maps.first(where: { $0.device == d })?.devNumber ?? topo.allPaths.first(where: { $0.device == d })?.devNumber {
                let mounts = kernel.mountPoints(devNumber: num)
                if let m = mounts.first {
                    throw PathCoreError(.conflict, "\(d) is mounted on \(m); unmount it or use force", key: d)
                }
            }
        }
    }

    /// Removes a map with bounded retries; a map still open is removed deferred under force.
    func removeMap(_ map: String, force: Bool) throws {
        var lastError: (any Error)? = nil
        for attempt in 0..<3 {
            do {
                try dm.remove(map, deferred: false)
                return
            } catch let e as HostStorageError where e.code == .busy {
                lastError = e
                if attempt < 2 { _ = try? dm.message(map, DMMessage.failIfNoPath.text) }
            }
        }
        if force {
            try dm.remove(map, deferred: true)
            logger.warning("map busy; deferred removal requested", metadata: ["dm.map": "\(map)"])
            return
        }
        throw lastError ?? HostStorageError(.busy, "map \(map) is busy")
    }

    // MARK: extend, paths, checks

    /// Rescans every path, refuses if they disagree on size, resizes the map; returns the
    /// new size in bytes.
    public func extend(_ request: ExtendVolumeRequest) async throws -> ExtendVolumeResponse {
        try requireLiveRoots()
        let spec = try request.spec()
        let key = volumeKey(spec.wwn, fallback: "")
        return try await locks.withLock(keys: [key]) { [self] in
            let devices = try volumeDevices(spec, topo: topology())
            guard !devices.isEmpty else { throw PathCoreError(.missing, "the volume has no SCSI device on this host", key: "wwn") }
            try await Blocking.run { [kernel] in for d in devices { try kernel.rescan(d.hctl) } }
            let after = topology().allPaths.filter { p in devices.contains { $0.hctl == p.hctl } }
            let size = try VolumeResize.agreedSize(after.map { ($0.device ?? $0.hctl.description, $0.sizeBytes ?? 0) })
            if settings.useMultipath, let wwn = spec.wwn ?? after.first?.wwn.flatMap({ try? WWN($0) }) {
                try await Blocking.run { [dm] in
                    guard try dm.info(wwn.value) != nil, let line = try dm.table(wwn.value).first else { return }
                    guard line.length != size / 512 else { return }
                    try dm.reload(wwn.value, targets: [DMTargetLine(start: 0, length: size / 512, type: line.type, params: line.params)])
                }
            }
            logger.info("volume extended", metadata: ["volume.wwn": "\(spec.wwn?.value ?? "?")", "volume.bytes": "\(size)"])
            return ExtendVolumeResponse(newSize: size)
        }
    }

    public func volumePaths(_ request: GetVolumePathsRequest) async throws -> GetVolumePathsResponse {
        let spec = try request.spec()
        return GetVolumePathsResponse(paths: try volumeDevices(spec, topo: topology()).compactMap { $0.name.map { "/dev/\($0)" } })
    }

    func volumeDevices(_ spec: ConnectionSpec, topo: Topology) throws -> [SCSIDeviceInfo] {
        switch spec {
        case .iscsi(let s): ISCSIPlanner.devices(of: s, sessions: topo.sessionInfos, devices: topo.deviceInfos)
        case .fc(let s): FCPlanner.devices(of: s, hosts: topo.fcHostInfos, remotePorts: topo.remotePortInfos, devices: topo.deviceInfos)
        }
    }

    /// Reads the first 4 KiB of the device (as os-brick's check_valid_device does).
    public func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse {
        let path = try request.validatedPath()
        do {
            try await Blocking.run { try BlockDeviceProbe.readFirstBlock(path) }
            return CheckValidDeviceResponse(valid: true)
        } catch {
            return CheckValidDeviceResponse(valid: false, reason: "\(error)")
        }
    }
}

extension DetachStep {
    /// Steps `force` may give up on (reported in ignored_errors): flushing and failing
    /// queueing. Deleting devices and removing maps are never skipped silently.
    var isGivenUpUnderForce: Bool {
        switch self {
        case .failIfNoPath, .flushMap, .flushDevice: true
        default: false
        }
    }
}
