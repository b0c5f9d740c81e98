import Foundation
import HostStorage
import PathAPI
@testable import PathAgentCore
import PathCore
import SimulatedHost
import Testing

/// SendTargets discovery (os-brick's rule: singular properties and multipath on) against
/// the simulated host: the attach asks the given portal for its targets and logs in to
/// every portal of the volume's own target, and to nothing else.
@Suite("SendTargets discovery on the simulated host")
struct SendTargetsTests {
    static let neighbour = "iqn.2010-06.com.purestorage:flasharray.neighbour"

    /// Volume A1's properties in the singular form (one portal, `target_iqn`, `target_lun`).
    func singular(_ w: World, portal: String = World.portalsA[0]) -> JSONValue {
        let v = w.volumes.first { $0.name == "A1" }!
        return World.json([
            "target_discovered": false, "discard": true, "target_portal": portal, "target_iqn": World.iqnA,
            "target_lun": Int(v.lun), "wwn": v.wwn.value,
        ])
    }

    func attach(_ w: World, _ p: JSONValue) async throws -> ConnectVolumeResponse {
        try await w.engine.connect(ConnectVolumeRequest(connectionProperties: p, protocol: .iscsi))
    }

    func detach(_ w: World, _ p: JSONValue) async throws -> DisconnectVolumeResponse {
        try await w.engine.disconnect(DisconnectVolumeRequest(connectionProperties: p, protocol: .iscsi))
    }

    func loginPortals(_ w: World) -> [String] {
        w.sim.read { $0.effects }.compactMap { if case .loggedIn(_, _, let p) = $0 { return p } else { return nil } }.sorted()
    }

    @Test func singularPropertiesGiveEveryPortalOfTheVolumesTargetAndNoOtherTarget() async throws {
        let w = try World()
        // another target (another volume) listening on the same portals
        let other = World.pureWWN(0, 9)
        w.sim.mutate { s in
            s.addISCSITarget(SimISCSITarget(iqn: Self.neighbour, portals: World.portalsA.map { try! ISCSIPortal($0) },
                                            luns: [1: SimLUN(wwn: other, sizeSectors: 2_097_152)]))
        }
        let r = try await attach(w, singular(w))
        #expect(r.paths.count == 2, "\(r.paths)")
        #expect(!r.degraded)
        #expect(loginPortals(w) == World.portalsA.sorted())
        #expect(w.sim.read { $0.effects }.contains(.discovered(portal: World.portalsA[0])))
        // nothing of the neighbour target: no session, no disk of its LUN
        #expect(!w.sim.read { $0.sessions.values.contains { $0.iqn == Self.neighbour } })
        #expect(w.remains(of: other).disks.isEmpty)

        // the detach, with the same singular properties, removes both paths and both sessions
        let d = try await detach(w, singular(w))
        #expect(d.ignoredErrors.isEmpty)
        let left = w.remains(of: w.volumes.first { $0.name == "A1" }!.wwn)
        #expect(left.disks.isEmpty && !left.map, "\(left)")
        #expect(w.sim.read { $0.sessions.values.filter { $0.iqn == World.iqnA } }.isEmpty)
        #expect(try w.journal.unfinished().isEmpty)
        await w.shutdown()
    }

    /// os-brick's fallback: a portal that does not answer SendTargets still serves the
    /// volume through itself (one path, no error).
    @Test func aFailedDiscoveryAttachesThroughTheGivenPortal() async throws {
        let w = try World()
        w.sim.mutate { s in s.failDiscovery = [World.portalsA[0]] }
        let r = try await attach(w, singular(w))
        #expect(r.paths.count == 1, "\(r.paths)")
        #expect(loginPortals(w) == [World.portalsA[0]])
        #expect(w.sim.read { $0.effects }.contains(.discovered(portal: World.portalsA[0])))
        _ = try await detach(w, singular(w))
        #expect(w.sim.read { $0.sessions.values.filter { $0.iqn == World.iqnA } }.isEmpty)
        await w.shutdown()
    }

    /// A reply that names the volume's target at a portal whose login fails: the attach
    /// goes on with the paths that work and says it is degraded.
    @Test func aDiscoveredPortalThatRefusesTheLoginLeavesADegradedAttach() async throws {
        let w = try World()
        w.sim.mutate { s in s.failLogins = [World.portalsA[1]] }
        let r = try await attach(w, singular(w))
        #expect(r.paths.count == 1 && r.degraded, "\(r.paths)")
        #expect(w.sim.read { $0.nodes } == ["\(World.iqnA) \(World.portalsA[0])"])
        w.sim.mutate { s in s.failLogins = [] }
        _ = try await detach(w, singular(w))
        #expect(try w.journal.unfinished().isEmpty)
        await w.shutdown()
    }

    @Test func pluralPropertiesNeverDiscover() async throws {
        let w = try World()
        let v = w.volumes.first { $0.name == "A1" }!
        _ = try await w.connect(v)
        #expect(!w.sim.read { $0.effects }.contains { if case .discovered = $0 { return true } else { return false } })
        _ = try await w.disconnect(v)
        await w.shutdown()
    }

    @Test func multipathOffNeverDiscovers() async throws {
        let w = try World(useMultipath: false)
        let r = try await attach(w, singular(w))
        #expect(r.paths.count == 1)
        #expect(!w.sim.read { $0.effects }.contains { if case .discovered = $0 { return true } else { return false } })
        _ = try await detach(w, singular(w))
        await w.shutdown()
    }
}
