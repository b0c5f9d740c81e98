import Foundation
import Testing
@testable import HostStorage
import PathCore

@Suite("tgt tier: libiscsi transport", .serialized, .enabled(if: TgtLab.available, "needs root and tgt; scripts/test --tier tgt requires it"))
struct ISCSITransportTests {
    @Test func inquiryOverBothPortals() throws {
        let lab = try TgtLab.require()
        for portal in [lab.portal1, lab.portal2] {
            let t = try ISCSITransport(url: ISCSIURL(lab.url(portal: portal)), initiator: TgtLab.initiator)
            let r = try t.send(SCSIRequest(cdb: [0x12, 0, 0, 0, 96, 0], direction: .fromDevice(96)))
            #expect(r.isGood)
            #expect(r.data.count >= 36)
            #expect(String(decoding: r.data[8..<16], as: UTF8.self) == "IET     ")
            #expect(String(decoding: r.data[16..<32], as: UTF8.self).hasPrefix("VIRTUAL-DISK"))
        }
    }

    @Test func testUnitReadyIsGood() throws {
        let lab = try TgtLab.require()
        let t = try ISCSITransport(url: ISCSIURL(lab.url()), initiator: TgtLab.initiator)
        let r = try t.send(SCSIRequest(cdb: [0, 0, 0, 0, 0, 0]))
        #expect(r.status == 0)
        #expect(r.sense.isEmpty)
    }

    @Test func unsupportedOpcodeGivesIllegalRequestSense() throws {
        let lab = try TgtLab.require()
        let t = try ISCSITransport(url: ISCSIURL(lab.url()), initiator: TgtLab.initiator)
        // 0xC9 is vendor specific and unknown to tgt
        let r = try t.send(SCSIRequest(cdb: [0xC9, 0, 0, 0, 0, 0]))
        #expect(r.status == 2)
        #expect(r.senseTriple?.key == 5)  // ILLEGAL REQUEST; exact ASC varies with tgt
    }

    @Test func initiatorNotInACLIsRefusedClearly() throws {
        let lab = try TgtLab.require()
        do {
            _ = try ISCSITransport(url: ISCSIURL(lab.url()), initiator: TgtLab.otherInitiator)
            Issue.record("login with an initiator outside the ACL succeeded")
        } catch let e as HostStorageError {
            #expect(e.code == .loginRefused || e.code == .notFound)
            #expect(e.description.contains(lab.portal1))
        }
    }

    @Test func wrongCHAPPasswordIsAuthFailureWithoutSecret() throws {
        let lab = try TgtLab.require()
        let bad = "wrong-Secret-123"
        do {
            _ = try ISCSITransport(url: ISCSIURL(lab.url(target: TgtLab.chapTarget, user: TgtLab.chapUser, password: bad)),
                                   initiator: TgtLab.initiator)
            Issue.record("login with a wrong CHAP password succeeded")
        } catch let e as HostStorageError {
            #expect(e.code == .authFailed)
            #expect(!e.description.contains(bad))
        }
        let ok = try ISCSITransport(url: ISCSIURL(lab.url(target: TgtLab.chapTarget, user: TgtLab.chapUser, password: TgtLab.chapSecret)),
                                    initiator: TgtLab.initiator)
        #expect(try ok.send(SCSIRequest(cdb: [0, 0, 0, 0, 0, 0])).isGood)
        #expect(!ok.endpoint.contains(TgtLab.chapSecret))
    }

    /// SendTargets over a libiscsi discovery session (the engine's discovery for singular
    /// properties). tgt answers with the address the discovery connection came in on only
    /// (its target_list_build adds that one TargetAddress), so each portal names itself;
    /// LIO names every portal of the target's portal group (the lab's sendtargets scenario).
    @Test func sendTargetsNamesTheTargetAtTheAskedPortal() throws {
        let lab = try TgtLab.require()
        for portal in [lab.portal1, lab.portal2] {
            let raw = try LibISCSIDiscovery().sendTargets(portal: try ISCSIPortal(portal), initiator: TgtLab.initiator, auth: nil,
                                                          timeoutSeconds: 5)
            let (targets, notes) = SendTargets.parse(raw)
            #expect(notes.isEmpty, "\(notes)")
            let mine = try #require(targets.first { $0.iqn == TgtLab.target }, "\(raw)")
            #expect(mine.portals.map(\.argument) == [portal], "\(raw)")
            // the CHAP target is visible to every initiator (bound to ALL)
            #expect(targets.contains { $0.iqn == TgtLab.chapTarget }, "\(raw)")
        }
        // nothing was written for open-iscsi (no discovery record)
        #expect(!FileManager.default.fileExists(atPath: "/etc/iscsi/send_targets/\(lab.portal1.replacingOccurrences(of: ":", with: ","))"))
    }

    @Test func sendTargetsToAPortalThatIsNotThereIsATransportError() throws {
        _ = try TgtLab.require()
        do {
            _ = try LibISCSIDiscovery().sendTargets(portal: try ISCSIPortal("127.0.0.1:1"), initiator: TgtLab.initiator, auth: nil,
                                                    timeoutSeconds: 2)
            Issue.record("discovery at a closed port succeeded")
        } catch let e as HostStorageError {
            #expect(e.code == .transport, "\(e)")
            #expect(e.description.contains("127.0.0.1:1"))
        }
    }

    @Test func refusedConnectionIsTransportError() throws {
        _ = try TgtLab.require()
        #expect(throws: HostStorageError.self) {
            _ = try ISCSITransport(url: ISCSIURL("iscsi://127.0.0.1:1/iqn.2024-01.x:none/1"), initiator: TgtLab.initiator, timeoutSeconds: 2)
        }
    }
}
