import PathCore
import Testing
@testable import PathAgentCore

/// Which sessions a detach or a roll-back must not log out because attaches in flight
/// will reuse them.
@Suite("InFlightTargets")
struct InFlightTargetsTests {
    static let iqn = "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873"

    static func spec(_ portals: [String], lun: UInt64) throws -> ISCSIConnectionSpec {
        let json = """
            {"target_portals": [\(portals.map { "\"\($0)\"" }.joined(separator: ","))],
             "target_iqns": [\(portals.map { _ in "\"\(iqn)\"" }.joined(separator: ","))],
             "target_luns": [\(portals.map { _ in "\(lun)" }.joined(separator: ","))]}
            """
        return try ConnectionProperties.iscsi(json: json)
    }

    static func session(_ id: Int, _ portal: String) throws -> ISCSISessionInfo {
        ISCSISessionInfo(sessionID: id, targetIQN: iqn, portal: try ISCSIPortal(portal), hostNumber: id + 2, channel: 0,
                         targetID: 0, state: .loggedIn)
    }

    @Test func holdsCountPerTargetAndReleaseEndsThem() throws {
        let t = InFlightTargets()
        let sessions = [try Self.session(1, "10.0.1.11:3260"), try Self.session(2, "10.0.1.12:3260"), try Self.session(3, "10.0.9.9:3260")]
        #expect(t.busy(sessions).isEmpty)
        let a = t.hold(try Self.spec(["10.0.1.11:3260", "10.0.1.12:3260"], lun: 1))
        let b = t.hold(try Self.spec(["10.0.1.11:3260"], lun: 2))
        #expect(t.busy(sessions) == [1, 2])
        // an attach rolling itself back does not count its own hold
        #expect(t.busy(sessions, excluding: a) == [1])
        #expect(t.busy(sessions, excluding: b) == [1, 2])
        t.release(b)
        #expect(t.busy(sessions, excluding: a).isEmpty)
        #expect(t.busy(sessions) == [1, 2])
        t.release(a)
        #expect(t.busy(sessions).isEmpty)
    }
}
