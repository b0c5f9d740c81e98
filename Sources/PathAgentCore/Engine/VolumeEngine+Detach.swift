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
    /// For in-process callers: validates the properties, then `disconnect(_:)` of the result.
    public func disconnect(_ request: DisconnectVolumeRequest) async throws -> DisconnectVolumeResponse {
        try await disconnect(try request.validated())
    }

    public func disconnect(_ v: Validated<DisconnectVolumeRequest>) async throws -> DisconnectVolumeResponse {
        try requireLiveRoots()
        let request = v.request
        let wwn = try request.volumeWWN(spec: v.spec)
        return try await locks.withLock(keys: [volumeKey(wwn, fallback: "")]) { [self] in
            var timer = StepTimer()
            let waiter = DeviceWaiter(kernel: kernel)
            let topo = topology()
            // singular properties of an attach that discovered its portals: every session to
            // the volume's target is a candidate (deletes still check the WWN; logouts only
            // take idle sessions)
            var spec = v.spec
            if case .iscsi(let s) = spec, SendTargets.applies(to: s, useMultipath: settings.useMultipath) {
                spec = .iscsi(SendTargets.widenForDetach(s, sessions: topo.sessionInfos))
            }
            let options = DetachOptions(force: request.force, skipMismatched: request.skipMismatched)
            let devices = await withFreshIdentities(topo.deviceInfos, judged: volumeDisks(spec, wwn: wwn, topo: topo))
            let plan: DetachPlan
            switch spec {
            case .iscsi(let s):
                // every logout happens after the deletes, in `logOutIdleSessions`, under the portal locks
                var p = try ISCSIPlanner.detach(s, volumeWWN: wwn, sessions: topo.sessionInfos, devices: devices,
                                                maps: topo.mapInfos, busySessions: inFlight.busy(topo.sessionInfos), options: options)
                p.steps.removeAll { if case .logout = $0 { return true } else { return false } }
                p.kept.removeAll { $0.hasPrefix("session ") }
                plan = p
            case .fc(let s):
                plan = try FCPlanner.detach(s, volumeWWN: wwn, hosts: topo.fcHostInfos, remotePorts: topo.remotePortInfos,
                                            devices: devices, maps: topo.mapInfos, options: options)
            }
            timer.mark("plan")
            try refuseIfInUse(plan, topo: topo, force: request.force)
            // the caller wants the volume gone: whatever of it stays is never healed back
            expectedPaths.detaching(wwn.value)
            let intent = try journal?.begin(IntentRecord(
                id: Self.newIntentID(), kind: .detach, transport: spec.transportProtocol, volumeWWN: wwn,
                propertiesHash: ConnectionPropertiesHash.of(request.connectionProperties), iscsiTargets: spec.iscsiTargets))
            // A detach that fails returns its error to the caller, who decides (retry, force):
            // its intent is closed, so a restart does not finish on its own a detach that
            // was refused (the journal replays only what a crash interrupted).
            let result: (removed: [String], removedMap: String?, loggedOut: [Int], kept: [String], ignored: [APIErrorBody])
            do {
                result = try await detachSteps(plan, spec: spec, request: request, intent: intent, wwn: wwn, waiter: waiter, timer: &timer)
            } catch {
                if !(error is CancellationError) { try? intent?.finish() }
                throw error
            }
            let (removed, removedMap, loggedOut, kept, ignored) = result
            try intent?.finish()
            logger.info("volume detached", metadata: [
                "volume.wwn": "\(wwn)", "volume.removed": "\(removed.joined(separator: ","))", "volume.ms": "\(timer.totalMillis)",
            ])
            return DisconnectVolumeResponse(removedDevices: removed, removedMap: removedMap, loggedOutSessions: loggedOut,
                                            kept: kept, ignoredErrors: ignored, timings: timer.timings)
        }
    }

    /// The disks a detach judges: at the volume's address, and below its map.
    func volumeDisks(_ spec: ConnectionSpec, wwn: WWN, topo: Topology) -> Set<HCTL> {
        var out: Set<HCTL>
        switch spec {
        case .iscsi(let s): out = Set(ISCSIPlanner.devices(of: s, sessions: topo.sessionInfos, devices: topo.deviceInfos).map(\.hctl))
        case .fc(let s):
            out = Set(FCPlanner.devices(of: s, hosts: topo.fcHostInfos, remotePorts: topo.remotePortInfos, devices: topo.deviceInfos).map(\.hctl))
        }
        return out.union(volumeDisks(ofMap: wwn, topo: topo))
    }

    /// The disks below the volume's map (named or uuid'd by its WWN).
    func volumeDisks(ofMap wwn: WWN, topo: Topology) -> Set<HCTL> {
        let slaves = Set(topo.mapInfos.filter { $0.name == wwn.value || $0.uuid == "mpath-" + wwn.value }.flatMap(\.slaves))
        return Set(topo.deviceInfos.filter { d in d.name.map(slaves.contains) ?? false }.map(\.hctl))
    }

    /// `devices` with the WWN the `judged` ones answer now (VPD 0x83 through the held
    /// device): the kernel's cached one (sysfs `wwid`, read when the disk appeared or was
    /// last rescanned) is stale after the array re-mapped the LUN, or when it was re-read
    /// while the LUN was gone from the target. A disk that cannot be read now keeps the
    /// cached one (the delete re-reads it again, and refuses what it cannot read). A disk
    /// at whose address no disk answers (read now, or the kernel's cached page says so)
    /// has no WWN: its LUN is gone, and what answers for it (tgt: its LUN 0 controller's designator) is
    /// no volume; a detach refuses it, a forced one removes it.
    func withFreshIdentities(_ devices: [SCSIDeviceInfo], judged: Set<HCTL>) async -> [SCSIDeviceInfo] {
        let kernel = self.kernel
        // a disk that is not running (blocked in a session recovery, offline) is not read
        // here: a read could wait out the recovery, and the delete reads it anyway
        let work = devices.filter { judged.contains($0.hctl) && $0.name != nil }
        guard !work.isEmpty else { return devices }
        enum Seen: Sendable { case wwn(WWN), noDisk(String) }
        let fresh: [HCTL: Seen] = (try? await workers.run {
            var out: [HCTL: Seen] = [:]
            for d in work {
                if (d.state ?? "running") == "running", let held = try? kernel.openBlock(d.name!) {
                    defer { held.close() }
                    do {
                        out[d.hctl] = .wwn(try kernel.currentWWN(held))
                        continue
                    } catch let e as HostStorageError where e.code == .noLogicalUnit {
                        out[d.hctl] = .noDisk(e.message)
                        continue
                    } catch {}
                }
                // not read now: the kernel's cached page may say that no disk answered
                if let page = kernel.sysfs.binary("bus/scsi/devices/\(d.hctl)/vpd_pg83") {
                    do { _ = try type(of: kernel).diskWWN(page, of: "\(d.hctl) (the kernel's cached page)") } catch let e as HostStorageError where e.code == .noLogicalUnit {
                        out[d.hctl] = .noDisk(e.message)
                    } catch {}
                }
            }
            return out
        }) ?? [:]
        return devices.map { d in
            var d = d
            switch fresh[d.hctl] {
            case .wwn(let w)?:
                if d.wwn != w {
                    logger.notice("a disk answers with another WWN than the kernel's cached one; the fresh one decides", metadata: [
                        "path.name": "\(d.name ?? "?")", "path.hctl": "\(d.hctl)", "path.cached_wwn": "\(d.wwn?.value ?? "none")", "path.wwn": "\(w)",
                    ])
                }
                d.wwn = w
            case .noDisk(let why)?:
                logger.notice("no disk answers at a disk's address (its LUN is gone from the target): its identity is unknown", metadata: [
                    "path.name": "\(d.name ?? "?")", "path.hctl": "\(d.hctl)", "path.cached_wwn": "\(d.wwn?.value ?? "none")", "why": "\(why)",
                ])
                d.wwn = nil
            case nil: break
            }
            return d
        }
    }

    /// The steps of a planned detach, the wait for the kernel to remove the disks, and the
    /// logout of the sessions left idle.
    func detachSteps(_ plan: DetachPlan, spec: ConnectionSpec, request: DisconnectVolumeRequest, intent: IntentHandle?, wwn: WWN,
                     waiter: DeviceWaiter, timer: inout StepTimer) async throws
        -> (removed: [String], removedMap: String?, loggedOut: [Int], kept: [String], ignored: [APIErrorBody])
    {
            let done = try await workers.run { [self] in
                try execute(plan.steps, force: request.force, ignoreErrors: request.ignoreErrors, intent: intent, wwn: wwn)
            }
            var loggedOut = done.loggedOut
            var ignored = done.ignored
            var kept = plan.kept
            timer.mark("steps")
            // the kernel removes devices asynchronously: wait until the deleted ones are gone
            let gone = Set(done.deleted)
            do {
                _ = try await waiter.wait("removal of \(gone.count) device(s)", timeoutSeconds: settings.scanTimeoutSeconds) { () -> Bool? in
                    // only the deleted addresses are looked at, not the whole host
                    let sysfs = kernel.sysfs
                    return gone.contains { sysfs.link("bus/scsi/devices/\($0)") != nil } ? nil : true
                }
            } catch {
                guard request.ignoreErrors else { throw error }
                let still = gone.filter { kernel.sysfs.link("bus/scsi/devices/\($0)") != nil }.sorted()
                logger.warning("devices not gone yet, continuing (ignore_errors)", metadata: ["volume.wwn": "\(wwn)", "error": "\(error)"])
                ignored.append(APIErrorBody(code: .timeout, message: "still present after delete: \(still.map(\.description).joined(separator: ", ")): \(error)"))
            }
            timer.mark("wait_removed")
            if case .iscsi(let s) = spec {
                let r = try await logOutIdleSessions(s, intent: intent, force: request.force, ignoreErrors: request.ignoreErrors, wwn: wwn)
                loggedOut += r.loggedOut
                kept += r.kept
                ignored += r.ignored
                timer.mark("logout")
            }
            return (done.removed, done.removedMap, loggedOut, kept, ignored)
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
            try await workers.run { [self] in
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
        /// Devices whose delete the kernel accepted (by name, else address).
        var removed: [String] = []
        var deleted: [HCTL] = []
        var removedMap: String? = nil
        var loggedOut: [Int] = []
        var ignored: [APIErrorBody] = []
    }

    /// Executes detach steps in order (used by disconnect, by attach roll-back and by
    /// start-up reconciliation). Each step is journaled before it is done; the answer
    /// lists only what was done, and every step given up (`ignore_errors`, or a flush under
    /// `force`) is in `ignored`.
    func execute(_ steps: [DetachStep], force: Bool, ignoreErrors: Bool, intent: IntentHandle?, wwn: WWN?) throws -> StepsDone {
        var done = StepsDone()
        /// dm-N of the maps removed here: under force a busy map is removed deferred and
        /// still holds its disks while they are deleted.
        var ownMapDevices: Set<String> = []
        func attempt(_ step: DetachStep, _ record: IntentStep?, _ body: () throws -> Void) throws -> Bool {
            do {
                if let intent, let record { try intent.step(record, body) } else { try body() }
                return true
            } catch {
                let e = APIErrorBody(code: .hostError, message: "\(step): \(error)")
                if ignoreErrors || (force && step.isGivenUpUnderForce) {
                    logger.warning("detach step failed, continuing", metadata: ["volume.wwn": "\(wwn?.value ?? "unknown")", "step": "\(step)", "error": "\(error)"])
                    done.ignored.append(e)
                    return false
                }
                throw error
            }
        }
        for step in steps {
            switch step {
            case .failIfNoPath(let map):
                _ = try attempt(step, nil) { try dm.message(map, DMMessage.failIfNoPath.text) }
            case .flushMap(let map):
                _ = try attempt(step, nil) {
                    guard let st = try dm.info(map) else { return }
                    try kernel.flushBuffers(st.kernelName)
                }
            case .flushDevice(let name):
                _ = try attempt(step, nil) { try kernel.flushBuffers(name) }
            case .removeMap(let map):
                if let st = try? dm.info(map) { ownMapDevices.insert(st.kernelName) }
                if try attempt(step, .mapRemoved(name: map), { try removeMap(map, force: force) }) {
                    done.removedMap = map
                    try? ownership.release(map: map)
                }
            case .deleteDevice(let name, let hctl, let expected):
                let ok = try attempt(step, .devicesDeleted([hctl])) {
                    try kernel.deleteDisk(name: name, hctl: hctl, expected: expected, allowHolders: force ? ownMapDevices : [])
                }
                if ok {
                    done.removed.append(name ?? hctl.description)
                    done.deleted.append(hctl)
                }
            case .logout(let sid, let portal, let iqn):
                // the plan assumed its deletes would succeed: a session that still carries a
                // LUN now (a delete was refused or given up) is never logged out
                let left = disksOnSession(sid)
                if !left.isEmpty {
                    done.ignored.append(APIErrorBody(
                        code: .conflict, message: "session \(sid) (\(portal) \(iqn)) kept: still carries \(left.map(\.description).joined(separator: ", "))"))
                    continue
                }
                let ok = try attempt(step, .loggedOut(sessionID: sid)) {
                    try admin.logout(portal: portal, iqn: iqn)
                    try admin.deleteNode(portal: portal, iqn: iqn)
                }
                if ok { done.loggedOut.append(sid) }
            }
        }
        return done
    }

    /// The SCSI devices on the session's host now (read from sysfs at the moment).
    func disksOnSession(_ sid: Int) -> [HCTL] {
        let sysfs = kernel.sysfs
        guard let host = TopologyScanner(sysfs: sysfs).scanSessions().first(where: { $0.sid == sid })?.host else { return [] }
        return sysfs.entries("bus/scsi/devices").compactMap { n in
            guard n.first?.isNumber == true, let h = try? HCTL(n), h.host == host else { return nil }
            return h
        }
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
