import Foundation
import HostStorage
import PathAPI
@testable import PathAgentCore
import PathCore
import SimulatedHost
import Testing

/// Self-healing of the agent's own maps (`VolumeEngine.heal`, driven by the path monitor):
/// a path whose disk was deleted is scanned back, a session someone logged out is logged
/// in again from its node record, and while a target is down nothing is logged out or
/// deleted.
@Suite("Self-healing on the simulated host")
struct HealingTests {
    func vol(_ w: World, _ name: String) -> SimVolume { w.volumes.first { $0.name == name }! }

    /// The devices in map `name`'s table, with whether each is active.
    func mapPaths(_ w: World, _ name: String) -> [String: Bool] {
        w.sim.read { s in
            guard let m = s.maps[name] else { return [:] }
            var out: [String: Bool] = [:]
            for p in m.table.groups.flatMap(\.paths) { out[p.device.description] = m.pathStates[p.device.description] ?? false }
            return out
        }
    }

    /// Disks of volume `v` that exist, answer as `v` and are active paths of its map.
    func livePaths(_ w: World, _ v: SimVolume) -> [String] {
        let table = mapPaths(w, v.wwn.value)
        return w.sim.read { s in
            s.disks.values.filter { d in
                s.lunBehind(host: d.hctl.host, channel: d.hctl.channel, target: d.hctl.target, lun: d.hctl.lun)?.wwn == v.wwn
                    && table[d.devNumber] == true
            }.map(\.name).sorted()
        }
    }

    func effects(_ w: World, since n: Int) -> [SimEffect] { w.sim.read { Array($0.effects[n...]) } }

    @Test func aDeletedPathIsScannedBackIntoItsMap() async throws {
        let w = try World()
        let a1 = vol(w, "A1"), a2 = vol(w, "A2")
        _ = try await w.connect(a1)
        _ = try await w.connect(a2)
        #expect(livePaths(w, a1).count == 2)
        // an operator's `echo 1 > /sys/block/sdX/device/delete` on one path of A1
        let gone = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
        w.sim.mutate { $0.thirdPartyDelete(gone.hctl) }
        #expect(livePaths(w, a1).count == 1)
        let n = w.sim.read(\.effects.count)
        let outcome = await w.engine.heal(map: a1.wwn.value)
        #expect(outcome.repaired, "\(outcome)")
        #expect(livePaths(w, a1).count == 2, "\(mapPaths(w, a1.wwn.value))")
        // the deleted disk's device number is out of the table; nothing else was touched
        #expect(mapPaths(w, a1.wwn.value)[gone.devNumber] == nil)
        #expect(mapPaths(w, a1.wwn.value).count == 2)
        for e in effects(w, since: n) {
            switch e {
            case .deletedDisk, .loggedOut, .mapRemoved: Issue.record("healing did \(e)")
            case .mapReloaded(let m), .mapMessaged(let m, _): #expect(m == a1.wwn.value, "\(e)")
            default: break
            }
        }
        #expect(livePaths(w, a2).count == 2)
        // a second round has nothing to do
        #expect(await w.engine.heal(map: a1.wwn.value) == .whole)
        await w.shutdown()
    }

    @Test func aSessionSomeoneLoggedOutIsLoggedInAgain() async throws {
        let w = try World()
        let a1 = vol(w, "A1"), a2 = vol(w, "A2")
        _ = try await w.connect(a1)
        _ = try await w.connect(a2)
        let sid = w.sim.read { s in s.sessions.values.filter { $0.iqn == World.iqnA }.map(\.sid).sorted()[0] }
        w.sim.mutate { $0.thirdPartyLogout(sid: sid) }
        #expect(livePaths(w, a1).count == 1 && livePaths(w, a2).count == 1)
        for v in [a1, a2] {
            let outcome = await w.engine.heal(map: v.wwn.value)
            #expect(outcome.repaired, "\(v.name): \(outcome)")
        }
        #expect(livePaths(w, a1).count == 2 && livePaths(w, a2).count == 2)
        #expect(w.sim.read { s in s.sessions.values.filter { $0.iqn == World.iqnA }.count } == 2)
        await w.shutdown()
    }

    /// A login needs the node record the attach wrote (with its settings and secrets, which
    /// healing never has): without one the map is left degraded and the reason said.
    @Test func noNodeRecordNoLogin() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let s0 = w.sim.read { s in s.sessions.values.filter { $0.iqn == World.iqnA }.sorted { $0.sid < $1.sid }[0] }
        w.sim.mutate { s in
            s.thirdPartyLogout(sid: s0.sid)
            _ = s.nodes.remove("\(World.iqnA) \(s0.portal.argument)")
        }
        let outcome = await w.engine.heal(map: a1.wwn.value)
        guard case .waiting(let why) = outcome else { Issue.record("\(outcome)"); return }
        #expect(why.contains(s0.portal.argument), "\(why)")
        #expect(livePaths(w, a1).count == 1)
        await w.shutdown()
    }

    @Test func anOutageIsWaitedOutWithNoLogoutAndNoDelete() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        w.sim.mutate { $0.setTargetReachable(World.iqnA, false) }
        // all paths there, failed or not: nothing for healing to do
        #expect(await w.engine.heal(map: a1.wwn.value) == .whole)
        // during the outage one path's disk goes (the operator deleted it)
        let gone = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
        w.sim.mutate { $0.thirdPartyDelete(gone.hctl) }
        let disksBefore = w.sim.read { $0.disks.count }
        let n = w.sim.read(\.effects.count)
        for _ in 0..<3 {
            let outcome = await w.engine.heal(map: a1.wwn.value)
            guard case .waiting(let why) = outcome else { Issue.record("target down: \(outcome)"); break }
            #expect(why.contains("FAILED") || why.contains("failed"), "\(why)")
        }
        #expect(w.sim.read { $0.disks.count } == disksBefore)
        for e in effects(w, since: n) {
            switch e {
            case .deletedDisk, .loggedOut, .loggedIn, .mapRemoved, .mapReloaded, .scanned: Issue.record("in an outage healing did \(e)")
            default: break
            }
        }
        // the target is back: the sessions recover, the deleted path is scanned back
        w.sim.mutate { $0.setTargetReachable(World.iqnA, true) }
        #expect(await w.engine.heal(map: a1.wwn.value).repaired)
        #expect(livePaths(w, a1).count == 2)
        await w.shutdown()
    }

    /// A LUN that answers as another volume now is never added to the map.
    @Test func aRescannedPathThatShowsAnotherVolumeIsNotAdded() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let gone = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
        let sessionHost = gone.hctl.host
        w.sim.mutate { s in
            s.thirdPartyDelete(gone.hctl)
            s.remapLUN(iqn: World.iqnA, lun: a1.lun, to: SimLUN(wwn: World.pureWWN(9, 1), sizeSectors: 4096))
        }
        let outcome = await w.engine.heal(map: a1.wwn.value)
        guard case .waiting(let why) = outcome else { Issue.record("\(outcome)"); return }
        #expect(why.contains(World.pureWWN(9, 1).value), "\(why)")
        let table = mapPaths(w, a1.wwn.value)
        let inMap = w.sim.read { s in s.disks.values.filter { table[$0.devNumber] != nil }.map(\.hctl.host) }
        #expect(!inMap.contains(sessionHost) || inMap.count == 1, "\(table)")
        #expect(w.sim.read { s in s.disks.values.filter { $0.cachedWWN == World.pureWWN(9, 1) && table[$0.devNumber] != nil }.isEmpty })
        await w.shutdown()
    }

    /// A detach wants the volume gone: a map it could not remove (held open, the caller
    /// ignored the error) is never healed back.
    @Test func aMapWhoseDetachStartedIsNotHealed() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        w.sim.mutate { s in s.maps[a1.wwn.value]!.openCount = 1 }
        _ = try? await w.disconnect(a1, ignoreErrors: true)
        let left = w.remains(of: a1.wwn)
        let outcome = await w.engine.heal(map: a1.wwn.value)
        #expect(outcome == .notHealed, "\(outcome)")
        #expect(w.remains(of: a1.wwn) == left)
        await w.shutdown()
    }

    /// The monitor heals its maps every checker round, and backs off from a map whose
    /// healing keeps waiting.
    @Test func theMonitorHealsAndBacksOff() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let clock = ManualClock()
        let healer = CountingHealer(inner: w.engine)
        let m = PathMonitor(kernel: w.sim.kernel, dm: w.sim.dm, ownership: w.journal, workers: w.workers, pollingInterval: 10,
                            healer: healer, now: clock.now)
        await m.startForTests()
        await m.refresh()
        let gone = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
        w.sim.mutate { $0.thirdPartyDelete(gone.hctl) }
        await m.healAll()
        #expect(livePaths(w, a1).count == 2)
        // target down: the first round waits, the next rounds within the back-off do not call
        let other = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
        w.sim.mutate { s in
            s.setTargetReachable(World.iqnA, false)
            s.thirdPartyDelete(other.hctl)
        }
        await m.refresh()
        let calls0 = healer.calls
        await m.healAll()
        #expect(healer.calls == calls0 + 1)
        await m.healAll()
        #expect(healer.calls == calls0 + 1, "within the back-off")
        clock.advance(seconds: 11)
        await m.healAll()
        #expect(healer.calls == calls0 + 2)
        clock.advance(seconds: 11)
        await m.healAll()
        #expect(healer.calls == calls0 + 2, "the back-off doubled")
        clock.advance(seconds: 10)
        w.sim.mutate { $0.setTargetReachable(World.iqnA, true) }
        await m.healAll()
        #expect(healer.calls == calls0 + 3)
        #expect(livePaths(w, a1).count == 2)
        await w.shutdown()
    }
}

final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var nanos: UInt64 = 1_000_000_000
    func advance(seconds: Double) { lock.withLock { nanos += UInt64(seconds * 1e9) } }
    var now: @Sendable () -> UInt64 { { [self] in lock.withLock { nanos } } }
}

final class CountingHealer: MapHealing, @unchecked Sendable {
    let inner: any MapHealing
    private let lock = NSLock()
    private var n = 0
    init(inner: any MapHealing) { self.inner = inner }
    var calls: Int { lock.withLock { n } }
    func heal(map name: String) async -> HealOutcome {
        lock.withLock { n += 1 }
        return await inner.heal(map: name)
    }
}
