import Testing
@testable import PathCore

@Suite struct SenseTests {
    @Test func fixedALUATransition() throws {
        let s = try SenseData(try SCSIFixture.bytes("sense-fixed-alua-transition.hex"))
        #expect(s.format == .fixed && s.current && s.responseCode == 0x70)
        #expect(s.senseKey == .notReady && s.senseKey.name == "NOT READY")
        #expect(s.asc == 0x04 && s.ascq == 0x0A)
        #expect(s.ascDescription == "logical unit not accessible, asymmetric access state transition")
        #expect(s.information == nil && s.keySpecific == nil)
        #expect(s.isALUANotAccessible && !s.wantsRescan)
        #expect(s.description == "NOT READY asc=0x04 ascq=0x0a (logical unit not accessible, asymmetric access state transition)")
    }

    @Test func fixedDeferredWithFieldPointer() throws {
        let s = try SenseData(try SCSIFixture.bytes("sense-fixed-invalid-field.hex"))
        #expect(!s.current && s.responseCode == 0x71)
        #expect(s.senseKey == .illegalRequest && s.information == 0x1234)
        #expect(s.ascDescription == "invalid field in cdb")
        #expect(s.keySpecific == .fieldPointer(inCDB: true, byte: 2, bit: 3))
    }

    @Test func descriptorCapacityChanged() throws {
        let s = try SenseData(try SCSIFixture.bytes("sense-descriptor-capacity-changed.hex"))
        #expect(s.format == .descriptor && s.current)
        #expect(s.senseKey == .unitAttention && s.asc == 0x2A && s.ascq == 0x09)
        #expect(s.ascDescription == "capacity data has changed" && s.wantsRescan)
        #expect(s.information == 0x1F_FFFF)
        #expect(s.keySpecific == nil)  // SKSV 0
        #expect(s.descriptors.map(\.type) == [0x00, 0x02])
    }

    @Test func descriptorStandby() throws {
        let s = try SenseData(try SCSIFixture.bytes("sense-descriptor-standby.hex"))
        #expect(s.senseKey == .notReady && s.isALUANotAccessible)
        #expect(s.ascDescription == "logical unit not accessible, target port in standby state")
        #expect(s.descriptors.isEmpty && s.information == nil)
    }

    @Test func ascNames() {
        let names: [(UInt8, UInt8, String)] = [
            (0x04, 0x0C, "logical unit not accessible, target port in unavailable state"),
            (0x24, 0x00, "invalid field in cdb"),
            (0x20, 0x00, "invalid command operation code"),
            (0x25, 0x00, "logical unit not supported"),
            (0x29, 0x00, "power on, reset, or bus device reset occurred"),
            (0x29, 0x07, "i_t nexus loss occurred"),
            (0x2A, 0x06, "asymmetric access state changed"),
            (0x3F, 0x0E, "reported luns data has changed"),
            (0x3A, 0x00, "medium not present"),
            (0x21, 0x00, "logical block address out of range"),
            (0x27, 0x07, "space allocation failed write protect"),
            (0x38, 0x07, "thin provisioning soft threshold reached"),
            (0x04, 0x7E, "logical unit not ready (ascq 0x7e)"),
            (0x29, 0x7F, "power on, reset, or bus device reset occurred (ascq 0x7f)"),
            (0x99, 0x01, "asc 0x99 ascq 0x01"),
        ]
        for (asc, ascq, text) in names { #expect(AdditionalSense.describe(asc: asc, ascq: ascq) == text) }
    }

    @Test func statusNames() {
        #expect(SCSIStatus.good.name == "GOOD")
        #expect(SCSIStatus.checkCondition.name == "CHECK CONDITION")
        #expect(SCSIStatus.busy.name == "BUSY")
        #expect(SCSIStatus.reservationConflict.name == "RESERVATION CONFLICT")
        #expect(SCSIStatus.taskSetFull.name == "TASK SET FULL")
        #expect(SCSIStatus(rawValue: 0x40).name == "TASK ABORTED")
        #expect(SCSIStatus(rawValue: 0x7E).name == "status 0x7e")
        #expect(SenseKey(rawValue: 0x0B).name == "ABORTED COMMAND")
    }

    @Test func unitAttentionsThatWantRescan() throws {
        for (asc, ascq, rescan) in [(0x2A, 0x09, true), (0x3F, 0x0E, true), (0x2A, 0x06, true), (0x29, 0x00, false)] {
            let s = try SenseData([0x72, 0x06, UInt8(asc), UInt8(ascq), 0, 0, 0, 0])
            #expect(s.wantsRescan == rescan)
        }
    }

    @Test func shortFixedSenseWithoutASC() throws {
        // 8-byte fixed sense, ADDITIONAL SENSE LENGTH 0: key only
        let s = try SenseData([0x70, 0, 0x06, 0, 0, 0, 0, 0])
        #expect(s.senseKey == .unitAttention && s.asc == 0 && s.ascq == 0)
    }

    @Test func truncatedAndMalformed() throws {
        for name in ["sense-fixed-alua-transition.hex", "sense-fixed-invalid-field.hex", "sense-descriptor-capacity-changed.hex"] {
            let data = try SCSIFixture.bytes(name)
            for cut in prefixes(data, [0, 1, 2, 3, 7, 13, data.count - 1]) {
                #expect(isTruncated { _ = try SenseData(cut) }, "\(name) cut at \(cut.count)")
            }
        }
        #expect(throws: PathCoreError.self) { try SenseData([0x00, 0, 0, 0, 0, 0, 0, 0]) }
        // descriptor that runs past ADDITIONAL SENSE LENGTH
        #expect(isTruncated { _ = try SenseData([0x72, 0x05, 0x24, 0, 0, 0, 0, 4, 0x00, 0x0A, 0x80, 0]) })
    }
}
