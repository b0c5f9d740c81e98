import Foundation
import HostStorage
import PathAPI
@testable import PathAgentCore
import PathCore
import SimulatedHost
import Testing

/// ALUA grouping on the simulated host: the attach reads each path's `access_state`, the
/// map groups optimized paths first when the paths disagree (multibus when they agree), and
/// the monitor regroups the agent's own maps when the states change, never a foreign map.
@Suite("ALUA grouping on the simulated host")
struct ALUATests {
    func vol(_ w: World, _ name: String) -> SimVolume { w.volumes.first { $0.name == name }! }

    /// The disk of volume `v` behind `portal`, and its dm device number.
    func disk(_ w: World, _ v: SimVolume, portal: String) -> SimDisk {
        w.sim.read { s in
            let host = s.sessions.values.first { $0.iqn == v.array && $0.portal.argument == portal }!.host
            return s.disks.values.first { $0.hctl.host == host && $0.hctl.lun == v.lun }!
        }
    }

    func table(_ w: World, _ name: String) throws -> String {
        try #require(try w.sim.dm.table(name).first).params
    }

    func reloads(_ w: World, _ name: String) -> Int {
        w.sim.read { $0.effects.filter { $0 == .mapReloaded(name) }.count }
    }

    /// Portal 0 of array A active/optimized, portal 1 active/non-optimized (an ActiveCluster
    /// volume whose second portal is the remote array's).
    func mixedWorld() throws -> World {
        let w = try World()
        w.sim.mutate { s in
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/optimized")
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[1], "active/non-optimized")
        }
        return w
    }

    @Test func attachGroupsTheOptimizedPathFirstWhenPathsDisagree() async throws {
        let w = try mixedWorld()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let opt = disk(w, a1, portal: World.portalsA[0]), non = disk(w, a1, portal: World.portalsA[1])
        #expect(opt.accessState == "active/optimized" && non.accessState == "active/non-optimized")
        #expect(try table(w, a1.wwn.value)
            == "0 1 alua 2 1 queue-length 0 1 1 \(opt.devNumber) 1 queue-length 0 1 1 \(non.devNumber) 1")
        // the same with the optimized port behind the other portal: order follows the state
        let w2 = try World()
        defer { Task { await w2.shutdown() } }
        w2.sim.mutate { s in
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/non-optimized")
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[1], "active/optimized")
        }
        _ = try await w2.connect(a1)
        let opt2 = disk(w2, a1, portal: World.portalsA[1]), non2 = disk(w2, a1, portal: World.portalsA[0])
        #expect(try table(w2, a1.wwn.value)
            == "0 1 alua 2 1 queue-length 0 1 1 \(opt2.devNumber) 1 queue-length 0 1 1 \(non2.devNumber) 1")
    }

    @Test func attachStaysMultibusWhenPathsAgree() async throws {
        let w = try World()
        defer { Task { await w.shutdown() } }
        w.sim.mutate { s in
            for p in World.portalsA { s.setPortALUA(iqn: World.iqnA, portal: p, "active/optimized") }
        }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let d0 = disk(w, a1, portal: World.portalsA[0]), d1 = disk(w, a1, portal: World.portalsA[1])
        let devs = [d0, d1].map(\.devNumber).sorted { try! DeviceNumber($0) < DeviceNumber($1) }
        #expect(try table(w, a1.wwn.value) == "0 0 1 1 queue-length 0 2 1 \(devs[0]) 1 \(devs[1]) 1")
    }

    @Test func monitorRegroupsAnOwnedMapWhenTheStatesSwap() async throws {
        let w = try mixedWorld()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let p0 = disk(w, a1, portal: World.portalsA[0]), p1 = disk(w, a1, portal: World.portalsA[1])
        let name = a1.wwn.value
        await w.monitor.startForTests()
        await w.monitor.refresh()
        // the states the map was built for: nothing to do
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 0)
        // the array swaps the port groups' states
        w.sim.mutate { s in
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/non-optimized")
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[1], "active/optimized")
        }
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 1)
        #expect(try table(w, name)
            == "0 1 alua 2 1 queue-length 0 1 1 \(p1.devNumber) 1 queue-length 0 1 1 \(p0.devNumber) 1")
        // seen once: the next polls do not reload again
        await w.monitor.pollALUA()
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 1)
        // both optimized: back to one multibus group
        w.sim.mutate { s in s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/optimized") }
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 2)
        let devs = [p0, p1].map(\.devNumber).sorted { try! DeviceNumber($0) < DeviceNumber($1) }
        #expect(try table(w, name) == "0 0 1 1 queue-length 0 2 1 \(devs[0]) 1 \(devs[1]) 1")
    }

    /// A path the kernel or the checker failed stays failed across the regroup (the kernel
    /// starts every path of a reloaded table active).
    @Test func regroupKeepsAFailedPathFailed() async throws {
        let w = try mixedWorld()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let p1 = disk(w, a1, portal: World.portalsA[1])
        let name = a1.wwn.value
        _ = try w.sim.dm.message(name, "fail_path \(p1.devNumber)")
        await w.monitor.startForTests()
        await w.monitor.refresh()
        await w.monitor.pollALUA()
        w.sim.mutate { s in
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/non-optimized")
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[1], "active/optimized")
        }
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 1)
        let messages = w.sim.read { s in s.effects.compactMap { if case .mapMessaged(name, let t) = $0 { return t } else { return nil } } }
        #expect(messages.last == "fail_path \(p1.devNumber)", "\(messages)")
        #expect(w.sim.read { $0.maps[name]!.pathStates[p1.devNumber] } == false)
    }

    /// While a port group is in transition the map is left as it is; once it settles, one
    /// reload.
    @Test func aTransitionIsWaitedOut() async throws {
        let w = try mixedWorld()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let name = a1.wwn.value
        await w.monitor.startForTests()
        await w.monitor.refresh()
        await w.monitor.pollALUA()
        w.sim.mutate { s in s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "transitioning") }
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 0)
        w.sim.mutate { s in
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/non-optimized")
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[1], "active/optimized")
        }
        await w.monitor.pollALUA()
        #expect(reloads(w, name) == 1)
    }

    /// The foreign map (multipathd's, over a non-Pure disk) is never reloaded or messaged,
    /// whatever its path's ALUA state does; asking the engine directly is refused too.
    @Test func aForeignMapIsNeverRegrouped() async throws {
        let w = try mixedWorld()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        let foreignDisk = w.sim.read { s in s.disks.values.first { $0.vendor == "LIO-ORG" }!.hctl }
        await w.monitor.startForTests()
        await w.monitor.refresh()
        await w.monitor.pollALUA()
        w.sim.mutate { s in s.setAccessState(foreignDisk, "active/optimized") }
        await w.monitor.pollALUA()
        w.sim.mutate { s in s.setAccessState(foreignDisk, "active/non-optimized") }
        await w.monitor.pollALUA()
        #expect(await w.engine.regroup(map: w.foreignMapName, cause: "test") == false)
        let touched = w.sim.read { s in
            s.effects.filter {
                switch $0 {
                case .mapReloaded(let n), .mapMessaged(let n, _), .mapRemoved(let n, _): return n == w.foreignMapName
                default: return false
                }
            }
        }
        #expect(touched.isEmpty, "\(touched)")
        #expect(reloads(w, a1.wwn.value) == 0)
    }

    /// `pathctl maps`: each group of the live table with its paths' ALUA states, and why;
    /// a live table the states no longer match says so until the regroup.
    @Test func mapsViewShowsGroupsTheirALUAStatesAndWhy() async throws {
        let w = try mixedWorld()
        defer { Task { await w.shutdown() } }
        let a1 = vol(w, "A1")
        _ = try await w.connect(a1)
        await w.monitor.startForTests()
        await w.monitor.refresh()
        func view() async throws -> MapsResponse.Map {
            let r = MapsResponse.build(monitored: await w.monitor.snapshot(), topology: TopologyScanner(sysfs: w.sim.kernel.sysfs).scan(),
                                       dm: w.sim.dm, owned: try w.journal.ownedMaps())
            return try #require(r.maps.first { $0.name == a1.wwn.value })
        }
        let opt = disk(w, a1, portal: World.portalsA[0]), non = disk(w, a1, portal: World.portalsA[1])
        var m = try await view()
        #expect(m.groups.map { $0.paths.map(\.device) } == [[opt.devNumber], [non.devNumber]])
        #expect(m.groups.map { $0.paths.map(\.alua) } == [["active/optimized"], ["active/non-optimized"]])
        #expect(m.groups[0].state == "active" && m.groups[0].paths[0].name == opt.name)
        #expect(m.grouping == "group_by_prio (rule: paths show different ALUA states): active/optimized paths first, then active/non-optimized")
        #expect(m.settings.contains { $0.key == "path_grouping_policy" && $0.value == "group_by_prio" && $0.origin.hasPrefix("rule:") })
        w.sim.mutate { s in
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[0], "active/non-optimized")
            s.setPortALUA(iqn: World.iqnA, portal: World.portalsA[1], "active/optimized")
        }
        m = try await view()
        #expect(m.grouping?.hasSuffix("the live table is grouped otherwise (a regroup is pending or failed: see the daemon's log)") == true)
        await w.monitor.pollALUA()
        m = try await view()
        #expect(m.groups.map { $0.paths.map(\.device) } == [[non.devNumber], [opt.devNumber]])
        #expect(m.groups.map { $0.paths.map(\.alua) } == [["active/optimized"], ["active/non-optimized"]])
        #expect(m.grouping?.contains("grouped otherwise") == false)
        let foreign = MapsResponse.build(monitored: await w.monitor.snapshot(), topology: TopologyScanner(sysfs: w.sim.kernel.sysfs).scan(),
                                         dm: w.sim.dm, owned: try w.journal.ownedMaps()).maps.first { $0.name == w.foreignMapName }
        #expect(foreign?.owner == .foreign && foreign?.grouping == nil && foreign?.groups.count == 1)
    }
}
