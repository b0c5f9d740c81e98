import Foundation
import HostStorage
import PathAPI
@testable import PathAgentCore
import PathCore
import SimulatedHost
import Testing

/// Each defect found when the engine was read as an adversary, as a test against the
/// simulated host (the real engine and monitor; only the kernel seams are simulated).
@Suite("Engine exactness on the simulated host")
struct FindingsTests {
    func vol(_ w: World, _ name: String) -> SimVolume { w.volumes.first { $0.name == name }! }

    @Test func attachesAndDetachesBothTransportsExactly() async throws {
        let w = try World()
        for name in ["A1", "B1", "C1", "D1"] {
            let v = vol(w, name)
            let r = try await w.connect(v)
            #expect(r.deviceInfo.scsiWWN == v.wwn.value)
            #expect(r.paths.count == 2, "\(name): \(r.paths)")
            #expect(w.remains(of: v.wwn).map)
        }
        for name in ["A1", "B1", "C1", "D1"] {
            let v = vol(w, name)
            let d = try await w.disconnect(v)
            #expect(d.ignoredErrors.isEmpty)
            let left = w.remains(of: v.wwn)
            #expect(left.disks.isEmpty && !left.map, "\(name) left \(left)")
        }
        #expect(try w.journal.unfinished().isEmpty)
        // the agent's iSCSI sessions are gone; the foreign one is not
        let sessions = w.sim.read { $0.sessions.values.map(\.iqn) }
        #expect(sessions == [World.iqnOther])
    }

    /// A refused login (a wrong CHAP secret, an unreachable portal) leaves no node record:
    /// the record holds the settings the attach just wrote, the CHAP secret among them.
    /// Found in the lab (chap scenario): the roll-back logs out only sessions, and there was
    /// none.
    @Test func refusedLoginLeavesNoNodeRecord() async throws {
        let w = try World()
        w.sim.mutate { s in s.failLogins = [World.portalsA[1]] }
        let r = try await w.connect(vol(w, "A1"))
        #expect(r.degraded && r.paths.count == 1, "\(r.paths)")
        #expect(w.sim.read { $0.nodes } == ["\(World.iqnA) \(World.portalsA[0])"])
        w.sim.mutate { s in s.failLogins = Set(World.portalsB) }
        await #expect(throws: (any Error).self) { _ = try await w.connect(vol(w, "B1")) }
        #expect(w.sim.read { $0.nodes } == ["\(World.iqnA) \(World.portalsA[0])"])
        #expect(try w.journal.unfinished().isEmpty)
    }

    /// Finding 1 (FC): two arrays give this host LUN 1. Attaching array D's LUN 1 must not
    /// touch array C's LUN 1 disks that are in use, whatever their WWN.
    @Test func fcAttachNeverDeletesAnotherArraysDiskAtTheSameLUN() async throws {
        let w = try World()
        let c1 = vol(w, "C1"), d1 = vol(w, "D1")
        _ = try await w.connect(c1)
        let before = w.remains(of: c1.wwn)
        let r = try await w.connect(d1)
        #expect(r.deviceInfo.scsiWWN == d1.wwn.value)
        #expect(w.remains(of: c1.wwn).disks == before.disks)
        let deleted = w.sim.read { $0.effects.compactMap { if case .deletedDisk(_, _, let ww) = $0 { return ww } else { return nil } } }
        #expect(deleted.isEmpty, "deleted: \(deleted)")
    }

    /// Finding 1 (iSCSI): a stale disk sits at the LUN of a reused session (the array
    /// re-mapped LUN 3 to another volume while the host kept its disks, one of them held).
    /// The attach fails naming the disk and leaves it exactly as it is.
    @Test func attachLeavesAStaleDiskAtAReusedLUNAndNamesIt() async throws {
        let w = try World()
        let a3 = vol(w, "A3")
        _ = try await w.connect(vol(w, "A1"))  // the session exists, so the next attach reuses it
        let newVolume = World.pureWWN(0, 99)
        // a disk of a volume attached by some other means, then the array re-maps LUN 3
        w.sim.mutate { s in
            for sid in s.sessions.keys where s.sessions[sid]!.iqn == World.iqnA {
                s.foreignScan(host: s.sessions[sid]!.host, lun: 3)
            }
            for k in s.disks.keys where k.lun == 3 { s.disks[k]!.mounted = "/srv/data" }
            s.remapLUN(iqn: World.iqnA, lun: 3, to: SimLUN(wwn: newVolume, sizeSectors: 2_097_152))
        }
        let b = a3.withWWN(newVolume)
        // the stale disks' sysfs wwid still says A3; the attach of the new volume must not
        // take or remove them
        await #expect(throws: PathCoreError.self) { _ = try await w.connect(b) }
        let stale = w.sim.read { $0.disks.values.filter { $0.hctl.lun == 3 }.count }
        #expect(stale == 2)
        let deleted = w.sim.read { $0.effects.filter { if case .deletedDisk = $0 { return true } else { return false } } }
        #expect(deleted.isEmpty)
        // and attaching A3 again gets no disk that now shows another volume
        await #expect(throws: PathCoreError.self) { _ = try await w.connect(a3) }
    }

    /// Finding 2: the monitor never messages, reloads or even watches a map it did not
    /// create (multipathd's map over a non-Pure disk), while it does watch its own.
    @Test func monitorLeavesForeignMapsAlone() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        // the foreign map's only path and one of A1's paths go offline
        w.sim.mutate { s in
            for k in s.disks.keys { s.disks[k]!.state = "offline" }
        }
        await w.monitor.refresh()
        let names = await w.monitor.snapshot().map(\.name)
        #expect(names == [a1.wwn.value])
        // drive the monitor's loops by hand
        await w.monitor.startForTests()
        _ = await w.monitor.pollEvents()
        _ = await w.monitor.pollDeviceStates()
        await w.monitor.checkAll()
        let touched = w.sim.read { s in
            s.effects.compactMap { e -> String? in
                switch e {
                case .mapMessaged(let m, _), .mapReloaded(let m), .mapRemoved(let m, _): return m
                default: return nil
                }
            }
        }
        #expect(!touched.contains(w.foreignMapName))
        #expect(touched.contains(a1.wwn.value), "the agent's own map had its offline paths failed")
    }

    /// Found by the lab's campaign (reinstate scenario): a failed path whose LUN vanished
    /// and came back answered TEST UNIT READY, and the checker reinstated it on that alone.
    /// If the array put another volume at that LUN, its data would go into this volume's
    /// map. The checker now re-reads VPD 0x83 through the held device before it reinstates.
    @Test func checkerReinstatesOnlyAPathThatStillShowsTheVolumesWWN() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        await w.monitor.refresh()
        await w.monitor.startForTests()
        let disk = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
        // the path goes offline: the monitor fails it in the map
        w.sim.mutate { $0.setDiskState(disk.hctl, "offline") }
        _ = await w.monitor.pollDeviceStates()
        await w.monitor.checkAll()
        let reinstates = { w.sim.read { $0.effects }.filter { if case .mapMessaged(a1.wwn.value, let m) = $0 { return m.hasPrefix("reinstate_path") } else { return false } }.count }
        let before = reinstates()
        // the array re-maps LUN 1 to another volume, and the disk comes back running
        w.sim.mutate { s in
            s.remapLUN(iqn: World.iqnA, lun: a1.lun, to: SimLUN(wwn: World.pureWWN(0, 55), sizeSectors: 2_097_152))
            s.setDiskState(disk.hctl, "running")
        }
        for _ in 0..<4 {
            _ = await w.monitor.pollDeviceStates()
            await w.monitor.checkAll()
        }
        #expect(reinstates() == before, "a path showing another volume's WWN was reinstated")
        // the array presents the volume again: now the path is reinstated
        w.sim.mutate { s in s.remapLUN(iqn: World.iqnA, lun: a1.lun, to: SimLUN(wwn: a1.wwn, sizeSectors: 2_097_152)) }
        for _ in 0..<4 {
            _ = await w.monitor.pollDeviceStates()
            await w.monitor.checkAll()
        }
        #expect(reinstates() > before, "the path that shows the volume's WWN again was not reinstated")
        await w.shutdown()
    }

    /// Finding 3: a delete re-reads the WWN through the held device, not the cached sysfs
    /// wwid: a disk whose LUN now presents another volume is refused.
    @Test func deleteRechecksTheWWNThroughTheHeldDevice() async throws {
        let w = try World()
        let a2 = vol(w, "A2")
        _ = try await w.connect(a2)
        let disk = w.sim.read { $0.disks.values.first { $0.cachedWWN == a2.wwn }! }
        w.sim.mutate { $0.remapLUN(iqn: World.iqnA, lun: 2, to: SimLUN(wwn: World.pureWWN(0, 77), sizeSectors: 2_097_152)) }
        let k = w.sim.kernel
        #expect(throws: HostStorageError.self) { try k.deleteDisk(name: disk.name, hctl: disk.hctl, expected: a2.wwn) }
        #expect(w.sim.read { $0.disks[disk.hctl] != nil })
        // and one that cannot be opened is not deleted blind
        #expect(throws: HostStorageError.self) { try k.deleteDisk(name: "sdzz", hctl: disk.hctl, expected: nil) }
    }

    /// Finding 4: check_valid_device opens only a volume's block device.
    @Test func checkValidDeviceRefusesCharacterDevicesAndStrangers() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        let r = try await w.connect(a1)
        #expect(try await w.engine.checkValidDevice(CheckValidDeviceRequest(path: r.deviceInfo.path)).valid)
        let dog = try await w.engine.checkValidDevice(CheckValidDeviceRequest(path: "/dev/watchdog"))
        #expect(!dog.valid)
        #expect(dog.reason?.contains("not a block device") == true)
        // the foreign non-Pure disk is a volume's disk (it has a WWN); a name that is no
        // volume's device is refused without being opened
        let none = try await w.engine.checkValidDevice(CheckValidDeviceRequest(path: "/dev/sdzz"))
        #expect(!none.valid)
    }

    /// Finding 8: attaches without `wwn` and FC attaches are journaled: killed mid-attach,
    /// the next start rolls them back and nothing is left.
    @Test(arguments: ["A1", "C1"]) func killedMidAttachIsRolledBack(name: String) async throws {
        for k in 1...8 {
            let w = try World()
            let v = vol(w, name)
            let snap = SnapshotBox()
            w.sim.crash(afterWrites: k) { snap.path = w.snapshotJournal() }
            let ok = (try? await w.connect(v, withoutWWN: name == "A1")) != nil
            guard !ok else { continue }  // finished before the k-th write
            let resolutions = try await w.restart(journalSnapshot: snap.path)
            #expect(!resolutions.isEmpty, "k=\(k): the attach was journaled")
            let left = w.remains(of: v.wwn)
            #expect(left.disks.isEmpty && !left.map, "k=\(k): \(left)")
            #expect(try w.journal.unfinished().isEmpty)
            let loggedOutForeign = w.sim.read { $0.sessions.values.contains { $0.iqn == World.iqnOther } }
            #expect(loggedOutForeign)
        }
    }

    /// Finding 9: under ignore_errors a step that failed is reported, never listed as
    /// done, and a removal that times out is reported instead of thrown.
    @Test func ignoreErrorsAnswersOnlyWhatWasDone() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        // an md array above one path: its delete is refused
        w.sim.mutate { s in
            let k = s.disks.keys.first { s.disks[$0]!.cachedWWN == a1.wwn }!
            s.disks[k]!.extraHolder = "md0"
        }
        let r = try await w.disconnect(a1, force: true, ignoreErrors: true)
        #expect(r.removedDevices.count == 1, "\(r.removedDevices)")
        #expect(!r.ignoredErrors.isEmpty)
        #expect(w.remains(of: a1.wwn).disks.count == 1)
    }

    /// Found in the lab (agent scenario, a CI run): a disk the attach's scan made appear
    /// was in sysfs with its `dev`, but its block node answered ENXIO for a moment (the
    /// kernel adds the sysfs entry, then registers the block device); the attach dropped
    /// that path ("its WWN could not be re-read") and answered degraded. It now retries
    /// the open for a short while.
    @Test func attachWaitsForANewDisksBlockNode() async throws {
        let w = try World()
        w.sim.mutate { $0.opensRefusedAfterScan = 3 }
        let r = try await w.connect(vol(w, "A1"))
        #expect(!r.degraded && r.paths.count == 2, "\(r.paths)")
    }

    /// Found by the lab's long campaign (seed 2083719128, cycle 190): connecting an attached
    /// volume again while one of its paths was offline (its open fails with ENXIO) reloaded
    /// the map without that path, leaving its disk in no map. A path the volume's own map
    /// holds was verified when it joined and is policed by the checker (which re-reads its
    /// WWN before it reinstates it): it stays in the map.
    @Test func connectAgainKeepsAnUnreadablePathOfItsOwnMap() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let k = w.sim.read { s in s.disks.keys.filter { s.disks[$0]!.cachedWWN == a1.wwn }.sorted()[0] }
        w.sim.mutate { s in s.disks[k]!.opensRefused = 1_000 }
        let r = try await w.connect(a1)
        #expect(r.paths.count == 2, "\(r.paths)")
        let inMap = w.sim.read { s in s.maps[a1.wwn.value]!.table.groups.flatMap(\.paths).map(\.device.description) }
        #expect(inMap.contains(w.sim.read { $0.disks[k]!.devNumber }), "the offline path left the map: \(inMap)")
    }

    /// The kernel's cached identity of a path (sysfs `wwid`) goes stale the other way
    /// round from a re-mapped LUN: it is re-read while the LUN is briefly gone from the
    /// target and caches what answered then, and the LUN comes back as the volume.
    func staleKernelIdentity(_ w: World, _ v: SimVolume) -> HCTL {
        w.sim.mutate { s in
            let k = s.disks.keys.filter { s.disks[$0]!.cachedWWN == v.wwn }.sorted()[0]
            s.disks[k]!.cachedWWN = World.pureWWN(0, 0)
            s.version += 1
            return k
        }
    }

    /// Found by the lab's campaign (seed 3894319134): the detach trusted the kernel's
    /// stale cache, refused its own path as another volume's and, forced, left the disk
    /// and its session behind. It now decides on a fresh VPD 0x83 read (as the delete
    /// itself does), and the cache only when the disk cannot be read.
    @Test func detachDecidesOnAFreshWWNNotTheKernelsCache() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        _ = staleKernelIdentity(w, a1)
        let d = try await w.disconnect(a1)
        #expect(!d.kept.contains { $0.hasPrefix("device") }, "\(d.kept)")
        let left = w.remains(of: a1.wwn)
        #expect(left.disks.isEmpty && !left.map, "\(left)")
    }

    /// Found by the lab's campaign in CI (seed 3149746793: 4 leaked disks): a forced detach
    /// whose LUN was gone from the target left the volume's disks behind. tgt answers at a
    /// LUN it does not have with qualifier 3 and its LUN 0 controller's NAA WWN, so
    /// the fresh VPD 0x83 read looked like another volume's, which a detach never deletes;
    /// when the LUN came back the disks answered as the detached volume again. A page whose
    /// peripheral byte says that no disk answers names no volume: the disk's identity is
    /// unknown (a detach refuses it, a forced one removes it), not another volume's.
    @Test func forcedDetachRemovesDisksWhoseLUNTheTargetNoLongerHas() async throws {
        let w = try World()
        w.sim.mutate { $0.iscsiTargets[World.iqnA]!.missingLUNAnswer = .tgtController(World.tgtControllerWWN) }
        let a1 = vol(w, "A1"), a2 = vol(w, "A2")
        _ = try await w.connect(a1)
        _ = try await w.connect(a2)
        let disks = w.sim.read { s in s.disks.filter { $0.value.cachedWWN == a1.wwn }.map(\.key) }.sorted()
        #expect(disks.count == 2)
        // the target drops LUN 1, and the kernel re-reads one of its disks meanwhile
        w.sim.mutate { s in
            s.remapLUN(iqn: World.iqnA, lun: a1.lun, to: nil)
            s.rereadIdentity(disks[0])
        }
        #expect(w.sim.read { $0.disks[disks[0]]!.cachedWWN } == World.tgtControllerWWN)
        // without force: refused, nothing deleted
        await #expect(throws: PathCoreError.self) { _ = try await w.disconnect(a1) }
        #expect(w.sim.read { s in disks.allSatisfy { s.disks[$0] != nil } })
        // forced: the volume's map and both its disks go; A2 keeps its disks, map and sessions
        let d = try await w.disconnect(a1, force: true)
        #expect(!d.kept.contains { $0.hasPrefix("device") }, "\(d.kept)")
        #expect(w.sim.read { s in disks.allSatisfy { s.disks[$0] == nil } }, "disks of the detached volume left")
        #expect(w.sim.read { $0.maps[a1.wwn.value] == nil })
        // LUN 1 comes back: nothing of A1 is on the host
        w.sim.mutate { $0.remapLUN(iqn: World.iqnA, lun: a1.lun, to: SimLUN(wwn: a1.wwn, sizeSectors: 2_097_152)) }
        #expect(w.remains(of: a1.wwn).disks.isEmpty)
        let a2Left = w.remains(of: a2.wwn)
        #expect(a2Left.disks.count == 2 && a2Left.map, "\(a2Left)")
        await w.shutdown()
    }

    /// Found by the lab's campaign (seed 3149746793, before the fix above): a session whose
    /// recovery timed out left its disks transport-offline, which the kernel refuses to open
    /// (ENXIO), and every detach of their volumes, forced or not, refused "cannot hold sdX
    /// open to delete it safely", so the maps and disks stayed for good. An offline disk
    /// is judged by the identity the kernel cached (it cannot have re-read one since it went
    /// offline) and deleted at its address, which must still carry it.
    @Test func detachRemovesAnOfflineDiskItCannotOpen() async throws {
        for state in ["transport-offline", "offline"] {
            let w = try World()
            let a1 = vol(w, "A1"), a2 = vol(w, "A2")
            _ = try await w.connect(a1)
            _ = try await w.connect(a2)
            let disk = w.sim.read { $0.disks.values.filter { $0.cachedWWN == a1.wwn }.sorted { $0.name < $1.name }[0] }
            w.sim.mutate { $0.setDiskState(disk.hctl, state) }
            let d = try await w.disconnect(a1)
            #expect(d.removedDevices.contains(disk.name), "\(state): \(d)")
            let left = w.remains(of: a1.wwn)
            #expect(left.disks.isEmpty && !left.map, "\(state): \(left)")
            #expect(w.remains(of: a2.wwn).disks.count == 2)
            await w.shutdown()
        }
    }

    /// A detach killed part way is finished at start-up by the same judgement: the disks
    /// of the volume are those that answer as it now (VPD 0x83 through the held device),
    /// not those the kernel's cache names. With a stale cache (re-read while the LUN was
    /// gone) the reconcile used to leave the volume's disk behind.
    @Test func killedMidDetachIsFinishedOnAFreshWWN() async throws {
        for k in 1...8 {
            let w = try World()
            let a1 = vol(w, "A1"), a2 = vol(w, "A2")
            _ = try await w.connect(a1)
            _ = try await w.connect(a2)
            _ = staleKernelIdentity(w, a1)
            let snap = SnapshotBox()
            w.sim.crash(afterWrites: k) { snap.path = w.snapshotJournal() }
            let ok = (try? await w.disconnect(a1, force: true)) != nil
            guard !ok else { continue }  // finished before the k-th write
            let resolutions = try await w.restart(journalSnapshot: snap.path)
            #expect(!resolutions.isEmpty, "k=\(k): the detach was journaled")
            let left = w.remains(of: a1.wwn)
            #expect(left.disks.isEmpty && !left.map, "k=\(k): \(left)")
            #expect(w.remains(of: a2.wwn).disks.count == 2, "k=\(k)")
            #expect(try w.journal.unfinished().isEmpty)
            await w.shutdown()
        }
    }

    /// The same campaign run: connecting the attached volume again refused its own map's
    /// path as a "stale disk". A path the volume's own map holds and that answers as the
    /// volume now is the volume's: the connect succeeds and has the kernel re-read the
    /// disk's identity, so sysfs (and udev's by-id links) name the volume again.
    @Test func connectAgainRefreshesAStaleKernelIdentityOfItsOwnPath() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let k = staleKernelIdentity(w, a1)
        let r = try await w.connect(a1)
        #expect(!r.degraded && r.paths.count == 2, "\(r.paths)")
        #expect(w.sim.read { $0.disks[k]!.cachedWWN } == a1.wwn)
    }

    /// The monitor finds the stale cache on its own: each checker round compares every
    /// path's sysfs `wwid` with its map; a path that answers as the volume is rescanned
    /// (the kernel re-reads its identity) and stays in use; one that answers as another
    /// volume is failed.
    @Test func monitorRefreshesAStaleKernelIdentityAndFailsAnImpostor() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        await w.monitor.refresh()
        await w.monitor.startForTests()
        let k = staleKernelIdentity(w, a1)
        await w.monitor.checkAll()
        #expect(w.sim.read { $0.disks[k]!.cachedWWN } == a1.wwn)
        let failed = { w.sim.read { $0.effects }.contains { if case .mapMessaged(a1.wwn.value, let m) = $0 { return m.hasPrefix("fail_path") } else { return false } } }
        #expect(!failed())
        // the kernel re-reads the identity (a rescan, an INQUIRY DATA HAS CHANGED) after the
        // array put another volume at the LUN: the path is failed
        w.sim.mutate { s in
            s.remapLUN(iqn: World.iqnA, lun: a1.lun, to: SimLUN(wwn: World.pureWWN(0, 66), sizeSectors: 2_097_152))
            s.disks[k]!.cachedWWN = World.pureWWN(0, 66)
            s.version += 1
        }
        await w.monitor.checkAll()
        #expect(failed(), "a path that answers as another volume stayed in the map")
        await w.shutdown()
    }

    /// An existing map of the volume that multipathd made is not reloaded by an attach.
    @Test func attachDoesNotReloadAForeignMapOfTheVolume() async throws {
        let w = try World()
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        // forget the claim, as if multipathd had made the map
        try w.journal.release(map: a1.wwn.value)
        await #expect(throws: PathCoreError.self) { _ = try await w.connect(a1) }
        let reloaded = w.sim.read { $0.effects.contains(.mapReloaded(a1.wwn.value)) }
        #expect(!reloaded)
    }
}

final class SnapshotBox: @unchecked Sendable {
    var path: String? = nil
}
