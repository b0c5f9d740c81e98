import Testing
@testable import PathCore

@Suite struct SCSICommandTests {
    @Test func testUnitReady() throws {
        let c = SCSICommands.testUnitReady()
        #expect(c.cdb == (try SCSIFixture.bytes("cdb-test-unit-ready.hex")))
        #expect(c.direction == .none)
        #expect(c.allocationLength == 0)
    }

    @Test func inquiry() throws {
        let std = try SCSICommands.inquiry(allocationLength: 96)
        #expect(std.cdb == (try SCSIFixture.bytes("cdb-inquiry-standard.hex")))
        #expect(std.direction == .fromDevice && std.allocationLength == 96)
        let vpd = try SCSICommands.inquiry(vpdPage: 0x83, allocationLength: 4096)
        #expect(vpd.cdb == (try SCSIFixture.bytes("cdb-inquiry-vpd83.hex")))
        #expect(vpd.name == "INQUIRY VPD 0x83")
        #expect(throws: PathCoreError.self) { try SCSICommands.inquiry(allocationLength: 0x10000) }
    }

    @Test func readCapacity16() throws {
        let c = try SCSICommands.readCapacity16()
        #expect(c.cdb == (try SCSIFixture.bytes("cdb-read-capacity16.hex")))
        #expect(c.cdb.count == 16 && c.allocationLength == 32)
    }

    @Test func getLBAStatus() throws {
        let c = try SCSICommands.getLBAStatus(startingLBA: 0x1234_5678, allocationLength: 4096)
        #expect(c.cdb == (try SCSIFixture.bytes("cdb-get-lba-status.hex")))
        #expect(throws: PathCoreError.self) { try SCSICommands.getLBAStatus(startingLBA: 0, allocationLength: 8) }
    }

    @Test func reportTargetPortGroups() throws {
        #expect((try SCSICommands.reportTargetPortGroups()).cdb == (try SCSIFixture.bytes("cdb-report-target-port-groups.hex")))
        #expect(
            (try SCSICommands.reportTargetPortGroups(allocationLength: 1024, extendedHeader: true)).cdb
                == (try SCSIFixture.bytes("cdb-report-target-port-groups-extended.hex")))
    }

    @Test func reportLUNs() throws {
        #expect((try SCSICommands.reportLUNs()).cdb == (try SCSIFixture.bytes("cdb-report-luns.hex")))
        #expect(throws: PathCoreError.self) { try SCSICommands.reportLUNs(allocationLength: 15) }
    }

    @Test func unmapCDBAndParameterList() throws {
        let c = try SCSICommands.unmap([.init(lba: 2048, count: 65536), .init(lba: 0x1_0000_0000, count: 8)])
        #expect(c.cdb == (try SCSIFixture.bytes("cdb-unmap.hex")))
        #expect(c.dataOut == (try SCSIFixture.bytes("unmap-parameter-list.hex")))
        #expect(c.direction == .toDevice)
        #expect(throws: PathCoreError.self) { try SCSICommands.unmap([]) }
        #expect(throws: PathCoreError.self) { try SCSICommands.unmap([.init(lba: 0, count: 0x1_0000_0000)]) }
        #expect(throws: PathCoreError.self) { try SCSICommands.unmap([.init(lba: 0, count: 0)]) }
    }

    @Test func writeSame16Unmap() throws {
        let c = try SCSICommands.writeSame16Unmap(.init(lba: 4096, count: 8192), blockLength: 512)
        #expect(c.cdb == (try SCSIFixture.bytes("cdb-write-same16-unmap.hex")))
        #expect(c.dataOut == [UInt8](repeating: 0, count: 512))
        #expect(throws: PathCoreError.self) { try SCSICommands.writeSame16Unmap(.init(lba: 0, count: 0), blockLength: 512) }
    }
}
