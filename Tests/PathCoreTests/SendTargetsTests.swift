import PathCore
import Testing

@Suite("SendTargets reply and expansion")
struct SendTargetsParseTests {
    let iqn = "iqn.2010-06.com.purestorage:flasharray.1"

    @Test func portalsLoseTheirGroupTagAndBadEntriesAreDropped() throws {
        let (t, notes) = SendTargets.parse([
            (iqn, ["10.0.0.1:3260,1", "[fe80::1]:3260,2", "10.0.0.1:3260,1", "10.0.0.2", "bad portal;rm,3"]),
            ("not an iqn", ["10.0.0.9:3260,1"]),
            (iqn, ["10.0.0.3:3261,4"]),
        ])
        #expect(t.count == 1)
        #expect(t[0].portals.map(\.argument) == ["10.0.0.1:3260", "[fe80::1]:3260", "10.0.0.2:3260", "10.0.0.3:3261"])
        #expect(notes.count == 2, "\(notes)")
        #expect(notes.contains { $0.contains("invalid name") })
    }

    @Test func expansionKeepsTheGivenPortalFirstAndOnlyTheVolumesTarget() throws {
        let spec = try ConnectionProperties.iscsi(json: """
            {"target_portal": "10.0.0.2:3260", "target_iqn": "\(iqn)", "target_lun": 7, "addressing_mode": "SAM2"}
            """)
        #expect(SendTargets.applies(to: spec, useMultipath: true))
        #expect(!SendTargets.applies(to: spec, useMultipath: false))
        let reply = [
            DiscoveredTarget(iqn: "iqn.2010-06.com.purestorage:flasharray.other", portals: [try ISCSIPortal("10.0.0.9:3260")]),
            DiscoveredTarget(iqn: iqn, portals: [try ISCSIPortal("10.0.0.1:3260"), try ISCSIPortal("10.0.0.2:3260")]),
        ]
        let (out, added) = SendTargets.expand(spec, with: reply)
        #expect(added == 1)
        #expect(out.paths.map(\.portal.argument) == ["10.0.0.2:3260", "10.0.0.1:3260"])
        #expect(out.paths.allSatisfy { $0.iqn == iqn && $0.lun == 7 && $0.scsiLUN == spec.paths[0].scsiLUN })
        // plural properties are never expanded
        let plural = try ConnectionProperties.iscsi(json: """
            {"target_portals": ["10.0.0.2:3260"], "target_iqns": ["\(iqn)"], "target_luns": [7]}
            """)
        #expect(!SendTargets.applies(to: plural, useMultipath: true))
    }

    @Test func detachWideningTakesEverySessionOfTheTarget() throws {
        let spec = try ConnectionProperties.iscsi(json: """
            {"target_portal": "10.0.0.2:3260", "target_iqn": "\(iqn)", "target_lun": 7}
            """)
        let sessions = [
            ISCSISessionInfo(sessionID: 1, targetIQN: iqn, portal: try ISCSIPortal("10.0.0.1:3260"), hostNumber: 3, state: .loggedIn),
            ISCSISessionInfo(sessionID: 2, targetIQN: iqn, portal: try ISCSIPortal("10.0.0.2:3260"), hostNumber: 4, state: .loggedIn),
            ISCSISessionInfo(sessionID: 3, targetIQN: "iqn.2003-01.org.other:t", portal: try ISCSIPortal("10.0.0.1:3260"), hostNumber: 5, state: .loggedIn),
        ]
        let out = SendTargets.widenForDetach(spec, sessions: sessions)
        #expect(out.paths.map(\.portal.argument) == ["10.0.0.2:3260", "10.0.0.1:3260"])
    }
}
