import HostStorage
import Logging
import PathAPI
import PathCore
import Synchronization

/// What one healing round of a map did.
public enum HealOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Every path the map is to have is in it (failed or not: failing and reinstating is
    /// the checker's work).
    case whole
    /// Missing paths were brought back (what was done; and what still waits, if anything).
    case repaired(String)
    /// Paths are missing and cannot be brought back now (why).
    case waiting(String)
    /// Not the agent's map, gone, or a detach of it started: never healed.
    case notHealed

    public var repaired: Bool { if case .repaired = self { true } else { false } }

    public var description: String {
        switch self {
        case .whole: "whole"
        case .repaired(let s): "repaired: \(s)"
        case .waiting(let s): "waiting: \(s)"
        case .notHealed: "not healed"
        }
    }
}

/// Bringing back the missing iSCSI paths of the agent's maps (the path monitor asks every
/// checker round).
public protocol MapHealing: Sendable {
    func heal(map name: String) async -> HealOutcome
}

/// One iSCSI path a map is to have: its target, portal and the LUN as H:C:T:L shows it.
struct HealPath: Hashable, Sendable, CustomStringConvertible {
    var iqn: String
    var portal: ISCSIPortal
    var scsiLUN: UInt64
    var description: String { "\(portal.argument) \(iqn) LUN \(scsiLUN)" }

    func isPath(_ p: ScsiPath) -> Bool {
        guard let i = p.iscsi, i.target == iqn, p.hctl.lun == scsiLUN, let s = i.portal, let other = try? ISCSIPortal(s) else { return false }
        return other.sameEndpoint(as: portal)
    }
}

/// The iSCSI paths each of the engine's maps is to have: every path its attaches asked
/// for, and every path seen in it since (so after a restart the paths the map had then).
/// A map whose detach started is retired until an attach of it succeeds again.
final class ExpectedPaths: Sendable {
    private struct State {
        var paths: [String: [HealPath]] = [:]
        var retired: Set<String> = []
    }
    private let state = Mutex(State())

    private static func union(_ a: [HealPath], _ b: [HealPath]) -> [HealPath] {
        var out = a
        for p in b where !out.contains(where: { $0.iqn == p.iqn && $0.scsiLUN == p.scsiLUN && $0.portal.sameEndpoint(as: p.portal) }) {
            out.append(p)
        }
        return out
    }

    func attached(_ map: String, _ paths: [HealPath]) {
        state.withLock { s in
            s.retired.remove(map)
            s.paths[map] = Self.union(s.paths[map] ?? [], paths)
        }
    }

    func detaching(_ map: String) {
        state.withLock { s in
            s.paths[map] = nil
            s.retired.insert(map)
        }
    }

    /// Adds the paths seen in the map now; nil when the map is retired.
    func learn(_ map: String, _ seen: [HealPath]) -> [HealPath]? {
        state.withLock { s in
            guard !s.retired.contains(map) else { return nil }
            let all = Self.union(s.paths[map] ?? [], seen)
            s.paths[map] = all
            return all
        }
    }

    func forget(_ map: String) {
        state.withLock { s in
            s.paths[map] = nil
            s.retired.remove(map)
        }
    }
}

extension VolumeEngine: MapHealing {
    /// One healing round of the agent's map `name`, under the volume's lock (never
    /// interleaved with an attach, detach, extend or regroup of the volume):
    /// - a path whose session is gone (logged out by someone, or given up by iscsid) is
    ///   logged in again from its node record, as the attach left it (its settings and
    ///   secrets are there; healing has none and writes none), under the portal's lock;
    /// - a session that exists but is not logged in (FAILED: the target is unreachable,
    ///   the kernel and iscsid are recovering it) is waited for: nothing is logged out;
    /// - on a logged-in session without a disk at the volume's LUN, that one address is
    ///   scanned;
    /// - a disk that appeared is added to the map only when a fresh VPD 0x83 read through
    ///   the held device shows the volume's WWN and no other map holds it; the reload
    ///   keeps the live length and drops the device numbers of deleted disks;
    /// - nothing is ever deleted or logged out.
    public func heal(map name: String) async -> HealOutcome {
        guard kernel.acceptsWrites, settings.useMultipath, let wwn = try? WWN(name) else { return .notHealed }
        do {
            return try await locks.withLock(keys: [volumeKey(wwn, fallback: name)]) { [self] in try await healLocked(name, wwn: wwn) }
        } catch {
            logger.error("healing a map failed", metadata: ["dm.map": "\(name)", "error": "\(error)"])
            return .waiting("\(error)")
        }
    }

    func healLocked(_ name: String, wwn: WWN) async throws -> HealOutcome {
        let dm = self.dm
        let read: (DMDeviceState, DMTable)? = try await workers.run {
            guard let st = try dm.info(name), let line = try dm.table(name).first, line.type == "multipath" else { return nil }
            return (st, try DMTable.parse(params: line.params, start: line.start, length: line.length))
        }
        guard let (st, table) = read else {
            expectedPaths.forget(name)
            return .notHealed
        }
        guard ownership.owns(map: name, uuid: st.uuid) else { return .notHealed }
        let inTable = Set(table.devices)
        let present = mapPaths(kernelName: st.kernelName).filter { p in
            p.devNumber.flatMap { try? DeviceNumber($0) }.map(inTable.contains) ?? false
        }
        let seen = present.compactMap { p -> HealPath? in
            guard let i = p.iscsi, let s = i.portal, let portal = try? ISCSIPortal(s) else { return nil }
            return HealPath(iqn: i.target, portal: portal, scsiLUN: p.hctl.lun)
        }
        guard let want = expectedPaths.learn(name, seen) else { return .notHealed }
        let missing = want.filter { w in !present.contains(where: w.isPath) }
        guard !missing.isEmpty else { return .whole }

        var done: [String] = []
        var waiting: [String] = []
        var scanned: [(host: Int, path: HealPath)] = []
        for p in missing {
            var session = topology().sessionInfos.first { $0.matches(portal: p.portal, iqn: p.iqn) }
            if session == nil {
                do {
                    let loggedInNow = try await locks.withLock(keys: ["portal:\(p.portal.argument)"]) { [self] () -> Bool in
                        if loggedIn(portal: p.portal, iqn: p.iqn) { return false }
                        try await workers.run { [admin] in try admin.login(portal: p.portal, iqn: p.iqn) }
                        return true
                    }
                    if loggedInNow { done.append("logged in to \(p.portal.argument) \(p.iqn)") }
                } catch {
                    waiting.append("login to \(p.portal.argument) \(p.iqn) failed: \(error)")
                    continue
                }
                session = topology().sessionInfos.first { $0.matches(portal: p.portal, iqn: p.iqn) }
            }
            guard let s = session, s.state == .loggedIn, let host = s.hostNumber else {
                let what = session.map { "session \($0.sessionID) to \(p.portal.argument) is \($0.state)" } ?? "no session to \(p.portal.argument)"
                waiting.append("\(what): left to the kernel and iscsid to recover")
                continue
            }
            let sessions = topology().sessions
            if devicesAt([(host, p.scsiLUN)], sessions: sessions).isEmpty {
                let req = SCSIScanRequest(host: host, channel: s.channel ?? 0, target: s.targetID ?? 0, lun: p.scsiLUN)
                try await workers.run { [kernel] in try kernel.scan(req) }
                done.append("scanned \(p)")
            }
            scanned.append((host, p))
        }

        var added: [ScsiPath] = []
        if !scanned.isEmpty {
            let want = scanned
            let sessions = topology().sessions
            func ready() -> [ScsiPath] {
                let paths = devicesAt(want.map { ($0.host, $0.path.scsiLUN) }, sessions: sessions)
                return want.compactMap { e in
                    paths.first { $0.hctl.host == e.host && $0.hctl.lun == e.path.scsiLUN && $0.device != nil && $0.devNumber != nil && $0.sizeBytes != nil }
                }
            }
            let found = (try? await DeviceWaiter(kernel: kernel).wait("\(want.count) healed path(s) of \(name)", timeoutSeconds: settings.scanTimeoutSeconds) {
                let r = ready()
                return r.count == want.count ? r : nil
            }) ?? ready()
            for e in want where !found.contains(where: { $0.hctl.host == e.host && $0.hctl.lun == e.path.scsiLUN }) {
                waiting.append("\(e.path): no disk appeared within \(settings.scanTimeoutSeconds) s")
            }
            let kernel = self.kernel
            let ownKernelName = st.kernelName
            let judged: [(ScsiPath, Result<WWN, any Error>, [String])] = try await workers.run {
                found.map { d in
                    let r = Result { () throws -> WWN in
                        let held = try kernel.openBlock(d.device!)
                        defer { held.close() }
                        return try kernel.currentWWN(held)
                    }
                    return (d, r, kernel.holders(d.device!).filter { $0 != ownKernelName })
                }
            }
            for (d, r, others) in judged {
                let label = "\(d.device ?? "?") (\(d.hctl))"
                switch r {
                case .failure(let e): waiting.append("\(label): its WWN cannot be read (\(e)): not added")
                case .success(let w) where w != wwn: waiting.append("\(label) answers as \(w), not \(wwn): not added")
                case .success where !others.isEmpty: waiting.append("\(label) is held by \(others.joined(separator: ",")): not added")
                case .success where (d.sizeBytes ?? 0) / 512 < table.length:
                    waiting.append("\(label) is smaller (\(d.sizeBytes ?? 0) bytes) than the map: not added")
                case .success:
                    if inTable.contains(where: { $0.description == d.devNumber }) { continue }
                    added.append(d)
                    if d.wwn.flatMap({ try? WWN($0) }) != wwn { await refreshKernelIdentity([d], wwn: wwn) }
                }
            }
        }

        if !added.isEmpty {
            if settings.tunePaths { tune(added) }
            let vanished = inTable.subtracting(present.compactMap { $0.devNumber.flatMap { try? DeviceNumber($0) } })
            let paths = present + added
            let infos = try paths.map { p -> MultipathPathInfo in
                var i = try MultipathPathInfo(path: p)
                i.sizeSectors = nil
                return i
            }
            // the live length stays: healing never resizes (extend does)
            let plan = try mapPlan(wwn: wwn, vendor: paths[0].vendor, product: paths[0].model, sizeSectors: table.length, infos: infos)
            let failedAgain = try await workers.run { [self] in try reloadFailingAgain(name, plan: plan, after: "healing reload") }
            done.append("map reloaded with \(added.map { "\($0.device ?? "?") (\($0.hctl))" }.joined(separator: ", "))"
                        + (vanished.isEmpty ? "" : ", without deleted \(vanished.sorted().map(\.description).joined(separator: ","))"))
            logger.notice("map healed", metadata: [
                "dm.map": "\(name)", "heal.done": "\(done.joined(separator: "; "))", "heal.waiting": "\(waiting.joined(separator: "; "))",
                "dm.table.before": "\(table)", "dm.table.after": "\(plan.table)",
                "path.failed_again": "\(failedAgain.map(\.description).joined(separator: ","))",
            ])
            return .repaired((done + waiting).joined(separator: "; "))
        }
        let why = (done + waiting).joined(separator: "; ")
        logger.info("map not healed yet", metadata: ["dm.map": "\(name)", "heal.missing": "\(missing.map(\.description).joined(separator: "; "))",
                                                     "heal.why": "\(why)"])
        return .waiting(why)
    }
}
