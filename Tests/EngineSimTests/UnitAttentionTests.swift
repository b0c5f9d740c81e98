import Foundation
import HostStorage
import PathAPI
@testable import PathAgentCore
import PathCore
import SimulatedHost
import Testing

/// Unit attentions on the paths of the agent's maps, as the kernel reports them in
/// `SDEV_UA` change uevents of the scsi_device: CAPACITY DATA HAS CHANGED grows the map
/// (every path rescanned first, all of them agreeing) with no API call; REPORTED LUNS DATA
/// HAS CHANGED re-reads the target's LUN inventory (REPORT LUNS through the path) and
/// reports vanished LUNs of the agent's volumes and LUNs this host has no disk for,
/// never scanning, attaching or removing anything.
@Suite("Unit attentions on the simulated host")
struct UnitAttentionTests {
    func vol(_ w: World, _ name: String) -> SimVolume { w.volumes.first { $0.name == name }! }
    func effects(_ w: World, since n: Int) -> [SimEffect] { w.sim.read { Array($0.effects[n...]) } }
    func disks(_ w: World, _ v: SimVolume) -> [SimDisk] {
        w.sim.read { $0.disks.values.filter { $0.cachedWWN == v.wwn }.sorted { $0.name < $1.name } }
    }
    func mapLength(_ w: World, _ v: SimVolume) -> UInt64? { w.sim.read { $0.maps[v.wwn.value]?.table.length } }
    func grow(_ w: World, iqn: String, lun: UInt64, to sectors: UInt64) {
        w.sim.mutate { s in s.iscsiTargets[iqn]!.luns[lun]!.sizeSectors = sectors }
    }

    /// A world with the named volumes attached and the monitor, run step by step by hand,
    /// watching their maps.
    func attached(_ names: String...) async throws -> (World, [SimVolume]) {
        let w = try World()
        let vs = names.map { vol(w, $0) }
        for v in vs { _ = try await w.connect(v) }
        await w.monitor.startForTests()
        await w.monitor.refresh()
        return (w, vs)
    }

    @Test func capacityChangeGrowsTheMapOnceEveryPathIsRescanned() async throws {
        let (w, v) = try await attached("A1", "A2")
        defer { Task { await w.shutdown() } }
        let a1 = v[0], a2 = v[1]
        #expect(mapLength(w, a1) == 2_097_152)
        // the array grows A1 (LUN 1); the kernel has not re-read either path yet
        grow(w, iqn: World.iqnA, lun: 1, to: 4_194_304)
        let n = w.sim.read(\.effects.count)
        let first = disks(w, a1)[0]
        let outcome = await w.monitor.unitAttention(hctl: first.hctl.description, sdevUA: "CAPACITY_DATA_HAS_CHANGED")
        #expect(outcome == .resized(.grown(fromSectors: 2_097_152, toSectors: 4_194_304)), "\(outcome)")
        #expect(mapLength(w, a1) == 4_194_304)
        // both paths were re-read, not only the one that reported the unit attention
        #expect(disks(w, a1).map(\.sizeSectors) == [4_194_304, 4_194_304])
        for e in effects(w, since: n) {
            switch e {
            case .deletedDisk, .loggedOut, .loggedIn, .mapRemoved, .mapCreated, .scanned: Issue.record("a resize did \(e)")
            case .mapReloaded(let m), .mapMessaged(let m, _): #expect(m == a1.wwn.value, "\(e)")
            default: break
            }
        }
        #expect(mapLength(w, a2) == 2_097_152)
        let text = w.metrics.render()
        #expect(text.contains("pathagent_map_resizes_total{result=\"grown\"} 1"), "\(text)")
        #expect(text.contains("pathagent_unit_attentions_total{kind=\"capacity_data_has_changed\"} 1"), "\(text)")
        // the second path reports the same unit attention: nothing more to do
        let m = w.sim.read(\.effects.count)
        let again = await w.monitor.unitAttention(hctl: disks(w, a1)[1].hctl.description, sdevUA: "CAPACITY_DATA_HAS_CHANGED")
        #expect(again == .resized(.unchanged))
        #expect(!effects(w, since: m).contains { if case .mapReloaded = $0 { true } else { false } })
    }

    @Test func aFailedPathStaysFailedAcrossTheResize() async throws {
        let (w, v) = try await attached("A1")
        defer { Task { await w.shutdown() } }
        let a1 = v[0]
        let failed = disks(w, a1)[1]
        _ = try w.sim.dm.message(a1.wwn.value, "fail_path \(failed.devNumber)")
        grow(w, iqn: World.iqnA, lun: 1, to: 3_000_000)
        let outcome = await w.monitor.unitAttention(hctl: disks(w, a1)[0].hctl.description, sdevUA: "CAPACITY_DATA_HAS_CHANGED")
        #expect(outcome == .resized(.grown(fromSectors: 2_097_152, toSectors: 3_000_000)), "\(outcome)")
        #expect(w.sim.read { $0.maps[a1.wwn.value]!.pathStates[failed.devNumber] } == false)
    }

    @Test func extendKeepsAFailedPathFailed() async throws {
        let w = try World()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let failed = disks(w, a1)[1]
        _ = try w.sim.dm.message(a1.wwn.value, "fail_path \(failed.devNumber)")
        grow(w, iqn: World.iqnA, lun: 1, to: 3_000_000)
        let r = try await w.engine.extend(ExtendVolumeRequest(connectionProperties: a1.properties, protocol: .iscsi))
        #expect(r.newSize == 3_000_000 * 512)
        #expect(mapLength(w, a1) == 3_000_000)
        #expect(w.sim.read { $0.maps[a1.wwn.value]!.pathStates[failed.devNumber] } == false)
    }

    @Test func aPathThatCannotBeRescannedMakesTheResizeWait() async throws {
        let (w, v) = try await attached("A1")
        defer { Task { await w.shutdown() } }
        let a1 = v[0]
        let down = disks(w, a1)[1]
        // the session behind one path is recovering: its disk is blocked, a rescan would
        // wait for the session; the other path would read the new size alone
        w.sim.mutate { $0.setDiskState(down.hctl, "transport-offline") }
        grow(w, iqn: World.iqnA, lun: 1, to: 4_194_304)
        let n = w.sim.read(\.effects.count)
        let outcome = await w.monitor.unitAttention(hctl: disks(w, a1)[0].hctl.description, sdevUA: "CAPACITY_DATA_HAS_CHANGED")
        guard case .resized(.waiting(let why)) = outcome else {
            Issue.record("expected the resize to wait, got \(outcome)")
            return
        }
        #expect(why.contains(down.name), "\(why)")
        #expect(mapLength(w, a1) == 2_097_152)
        #expect(!effects(w, since: n).contains { if case .mapReloaded = $0 { true } else { false } })
        // still waiting while the path is down; grown at the first checker round after
        await w.monitor.retryResizes()
        #expect(mapLength(w, a1) == 2_097_152)
        w.sim.mutate { $0.setDiskState(down.hctl, "running") }
        await w.monitor.retryResizes()
        #expect(mapLength(w, a1) == 4_194_304)
        #expect(disks(w, a1).map(\.sizeSectors) == [4_194_304, 4_194_304])
        // nothing left to retry
        let m = w.sim.read(\.effects.count)
        await w.monitor.retryResizes()
        #expect(effects(w, since: m).isEmpty)
    }

    @Test func aSmallerVolumeIsNeverShrunkUnderItsUser() async throws {
        let (w, v) = try await attached("A1")
        defer { Task { await w.shutdown() } }
        let a1 = v[0]
        grow(w, iqn: World.iqnA, lun: 1, to: 1_048_576)
        let outcome = await w.monitor.unitAttention(hctl: disks(w, a1)[0].hctl.description, sdevUA: "CAPACITY_DATA_HAS_CHANGED")
        guard case .resized(.refused(let why)) = outcome else {
            Issue.record("expected a refusal, got \(outcome)")
            return
        }
        #expect(why.contains("1048576") || why.contains("536870912"), "\(why)")
        #expect(mapLength(w, a1) == 2_097_152)
    }

    @Test func aUnitAttentionOnADiskOfNoAgentMapChangesNothing() async throws {
        let (w, v) = try await attached("A1")
        defer { Task { await w.shutdown() } }
        let a1 = v[0]
        let foreign = try WWN(w.foreignMapName)
        let fd = w.sim.read { $0.disks.values.first { $0.cachedWWN == foreign }! }
        w.sim.mutate { s in
            for k in s.iscsiTargets[World.iqnOther]!.luns.keys { s.iscsiTargets[World.iqnOther]!.luns[k]!.sizeSectors = 8192 }
        }
        let n = w.sim.read(\.effects.count)
        for ua in ["CAPACITY_DATA_HAS_CHANGED", "REPORTED_LUNS_DATA_HAS_CHANGED"] {
            let outcome = await w.monitor.unitAttention(hctl: fd.hctl.description, sdevUA: ua)
            #expect(outcome == .notAgentPath, "\(ua): \(outcome)")
        }
        #expect(effects(w, since: n).isEmpty)
        #expect(w.sim.read { $0.disks[fd.hctl]!.sizeSectors } == 4096)
    }

    @Test func reportedLUNsChangedReportsVanishedAndUnattachedLUNsAndTouchesNothing() async throws {
        let (w, v) = try await attached("A1", "A2")
        defer { Task { await w.shutdown() } }
        let a1 = v[0], a2 = v[1]
        // the array unmaps A2's LUN and maps a new volume at LUN 7 for this host
        w.sim.mutate { s in
            s.remapLUN(iqn: World.iqnA, lun: 2, to: nil)
            s.remapLUN(iqn: World.iqnA, lun: 7, to: SimLUN(wwn: World.pureWWN(0, 7), sizeSectors: 2048))
        }
        let n = w.sim.read(\.effects.count)
        let path = disks(w, a1)[0]
        let outcome = await w.monitor.unitAttention(hctl: path.hctl.description, sdevUA: "REPORTED_LUNS_DATA_HAS_CHANGED")
        guard case .lunInventory(let change) = outcome else {
            Issue.record("expected a LUN inventory, got \(outcome)")
            return
        }
        #expect(change.nexus == "\(path.hctl.host):\(path.hctl.channel):\(path.hctl.target)")
        #expect(change.reported == [1, 3, 7])
        #expect(change.vanished == [LUNInventoryChange.Owned(lun: 2, map: a2.wwn.value)])
        // LUN 3 (A3) and LUN 7 are the target's, with no disk here: reported, not scanned
        #expect(change.unattached == [3, 7])
        #expect(effects(w, since: n).isEmpty, "\(effects(w, since: n))")
        #expect(disks(w, a2).count == 2)
        let text = w.metrics.render()
        #expect(text.contains("pathagent_lun_inventory_findings_total{finding=\"vanished\"} 1"), "\(text)")
        #expect(text.contains("pathagent_lun_inventory_findings_total{finding=\"unattached\"} 2"), "\(text)")
    }

    @Test func lunInventoryComparison() throws {
        let c = LUNInventoryChange.compare(
            nexus: "3:0:0", reported: [0, 1, 2, 16640], disks: [1, 5], owned: [1: "m1", 5: "m5", 16640: "m256"])
        #expect(c.reported == [0, 1, 2, 16640])
        #expect(c.vanished == [.init(lun: 5, map: "m5")])
        #expect(c.unattached == [0, 2, 16640])
        #expect(c.summary.contains("LUN 5 of m5"), "\(c.summary)")
        let none = LUNInventoryChange.compare(nexus: "3:0:0", reported: [1], disks: [1], owned: [1: "m1"])
        #expect(none.vanished.isEmpty && none.unattached.isEmpty)
    }
}
