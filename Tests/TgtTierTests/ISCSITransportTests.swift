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

    @Test func refusedConnectionIsTransportError() throws {
        _ = try TgtLab.require()
        #expect(throws: HostStorageError.self) {
            _ = try ISCSITransport(url: ISCSIURL("iscsi://127.0.0.1:1/iqn.2024-01.x:none/1"), initiator: TgtLab.initiator, timeoutSeconds: 2)
        }
    }
}
