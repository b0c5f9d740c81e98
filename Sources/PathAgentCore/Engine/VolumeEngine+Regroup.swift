import HostStorage
import Logging
import PathAPI
import PathCore

/// Regrouping a map when its paths' ALUA states change (the path monitor asks).
public protocol MapRegrouping: Sendable {
    /// Re-plans the agent's map `name` from its paths' ALUA states as the kernel shows them
    /// now and reloads it when the path groups differ. True when the map is grouped for
    /// those states (reloaded, or already so); false when it is not the agent's, is gone,
    /// its paths changed (attach and detach own that), or the reload failed.
    func regroup(map name: String, cause: String) async -> Bool
}

extension VolumeEngine: MapRegrouping {
    /// Under the volume's lock (so it never interleaves with an attach, detach or extend of
    /// the same volume): the map must exist and be claimed by this agent with its uuid; a
    /// foreign map is never reloaded. The new table has exactly the live table's paths and
    /// length, only their grouping changes; it is loaded the way attach reloads a map
    /// (DM_TABLE_LOAD, then resume: the kernel suspends the map, lets in-flight I/O finish
    /// and swaps the table; the map has no queue_if_no_path, so nothing waits on a path).
    /// The kernel starts every path of a new table active: paths that were failed before
    /// the reload, or that the plan says are down, are failed again at once.
    public func regroup(map name: String, cause: String) async -> Bool {
        guard kernel.acceptsWrites, let wwn = try? WWN(name) else { return false }
        do {
            return try await locks.withLock(keys: [volumeKey(wwn, fallback: name)]) { [self] in
                try await workers.run { [self] in try regroupLocked(name, wwn: wwn, cause: cause) }
            }
        } catch {
            logger.error("cannot regroup the map for its paths' ALUA states", metadata: [
                "dm.map": "\(name)", "regroup.cause": "\(cause)", "error": "\(error)",
            ])
            return false
        }
    }

    func regroupLocked(_ name: String, wwn: WWN, cause: String) throws -> Bool {
        guard let st = try dm.info(name) else { return false }
        guard ownership.owns(map: name, uuid: st.uuid) else {
            logger.warning("not regrouping a map this agent did not create", metadata: ["dm.map": "\(name)", "dm.uuid": "\(st.uuid)"])
            return false
        }
        guard let line = try dm.table(name).first, line.type == "multipath" else { return false }
        let current = try DMTable.parse(params: line.params, start: line.start, length: line.length)
        let paths = mapPaths(kernelName: st.kernelName)
        let have = Set(paths.compactMap { $0.devNumber.flatMap { try? DeviceNumber($0) } })
        let missing = current.devices.filter { !have.contains($0) }
        guard missing.isEmpty else {
            logger.info("not regrouped: a path of the map has no SCSI device now", metadata: [
                "dm.map": "\(name)", "path.dev": "\(missing.map(\.description).joined(separator: ","))",
            ])
            return false
        }
        // the live length stays: a regroup never resizes (extend does)
        let infos = try paths.filter { $0.devNumber.flatMap { try? DeviceNumber($0) }.map(current.devices.contains) ?? false }
            .map { p -> MultipathPathInfo in
                var i = try MultipathPathInfo(path: p)
                i.sizeSectors = nil
                return i
            }
        guard let first = paths.first, !infos.isEmpty else { return false }
        let plan = try mapPlan(wwn: wwn, vendor: first.vendor, product: first.model, sizeSectors: current.length, infos: infos)
        let diff = MultipathMapPlanner.reload(current: current, desired: plan.table)
        guard diff.addedPaths.isEmpty, diff.removedPaths.isEmpty, diff.resize == .unchanged else { return false }
        guard diff.needsReload else { return true }
        let failNow = try reloadFailingAgain(name, plan: plan, after: "regroup")
        let states = infos.sorted { $0.device < $1.device }
            .map { "\($0.name)=\($0.aluaState?.rawValue ?? "none")\($0.preferred ? "(preferred)" : "")" }.joined(separator: ",")
        logger.notice("map regrouped for its paths' ALUA states", metadata: [
            "dm.map": "\(name)", "regroup.cause": "\(cause)", "path.alua": "\(states)",
            "dm.table.before": "\(current)", "dm.table.after": "\(plan.table)",
            "regroup.reason": "\(PathGrouping.reason(plan.settings, paths: infos))",
            "path.failed_again": "\(failNow.map(\.description).joined(separator: ","))",
        ])
        return true
    }

    /// Loads `plan`'s table into the map and fails again, at once, the paths of the new
    /// table that were failed before and those the plan says are down: the kernel starts
    /// every path of a new table active. Returns the paths failed again (blocking: run on
    /// the pool).
    func reloadFailingAgain(_ name: String, plan: MultipathMapPlan, after what: String) throws -> [DeviceNumber] {
        let down = plan.messagesAfterLoad.compactMap { m -> DeviceNumber? in if case .failPath(let d) = m { d } else { nil } }
        return try reloadFailingAgain(name, table: plan.table, alsoFail: down, after: what)
    }

    /// Loads `table` into the map (the regroup, healing, resize and extend reloads) and
    /// fails again the paths of it that were failed before, and `alsoFail`.
    func reloadFailingAgain(_ name: String, table: DMTable, alsoFail: [DeviceNumber] = [], after what: String) throws -> [DeviceNumber] {
        let failedBefore = (try? dm.status(name).first).flatMap { try? DMStatus.parse(params: $0.params, start: $0.start, length: $0.length) }?
            .failedDevices ?? []
        try dm.reload(name, targets: [DMTargetLine(start: 0, length: table.length, type: "multipath", params: try table.renderedParams())])
        let failNow = Set(failedBefore.filter(table.devices.contains)).union(alsoFail)
        for d in failNow.sorted() {
            do { try dm.message(name, DMMessage.failPath(d).text) } catch {
                logger.warning("fail_path after the \(what) refused", metadata: ["dm.map": "\(name)", "path.dev": "\(d)", "error": "\(error)"])
            }
        }
        return failNow.sorted()
    }

    /// The SCSI paths under a dm device (its `slaves`), read from sysfs only for those disks.
    func mapPaths(kernelName: String) -> [ScsiPath] {
        let sysfs = kernel.sysfs
        let scanner = TopologyScanner(sysfs: sysfs)
        let names = sysfs.entries("class/block/\(kernelName)/slaves").compactMap { sysfs.diskHCTL($0)?.description }
        return scanner.scanPaths(names: names, sessions: scanner.scanSessions(), fcHosts: scanner.scanFCHosts())
    }
}
