import Foundation
import Testing
@testable import PathCore

@Suite struct DeviceReportTests {
    @Test func tgtReport() throws {
        let r = try SCSIDeviceReport(
            inquiry: try SCSIFixture.bytes("tgt-inquiry.hex"),
            vpd: [
                0x00: try SCSIFixture.bytes("tgt-vpd00.hex"), 0x80: try SCSIFixture.bytes("tgt-vpd80.hex"),
                0x83: try SCSIFixture.bytes("tgt-vpd83.hex"), 0xB0: try SCSIFixture.bytes("tgt-vpdb0.hex"),
                0xB2: Array(try SCSIFixture.bytes("tgt-vpdb2.hex").prefix(6)),  // cut short on purpose
            ],
            readCapacity16: try SCSIFixture.bytes("tgt-read-capacity16.hex"))
        #expect(r.wwn == (try WWN("360000000000000000e00000000010001")))
        #expect(r.unitSerialNumber == "beaf11")
        #expect(r.provisioning == nil)
        #expect(r.problems.count == 1 && r.problems[0].hasPrefix("VPD 0xb2: response too short"))
        // without B2 the planner refuses: no evidence of UNMAP support
        let caps = try #require(r.unmapCapabilities)
        #expect(!caps.unmapSupported && caps.provisioningEnabled)
        // JSON for pathctl inquiry --json round-trips
        let json = try JSONEncoder().encode(r)
        #expect(try JSONDecoder().decode(SCSIDeviceReport.self, from: json) == r)
    }

    @Test func pureReport() throws {
        let r = try SCSIDeviceReport(
            inquiry: try SCSIFixture.bytes("pure-inquiry-36.hex"),
            vpd: [0x80: try SCSIFixture.bytes("pure-vpd80.hex"), 0x83: try SCSIFixture.bytes("pure-vpd83.hex")],
            reportTargetPortGroups: try SCSIFixture.bytes("pure-rtpg.hex"))
        #expect(r.wwn?.pureSerial == "9714B5CB91634C470002B2C8")
        #expect(r.aluaState == .activeOptimized)
        #expect(r.problems.isEmpty)
        // serial-only fallback for a Pure LU
        let noID = try SCSIDeviceReport(
            inquiry: try SCSIFixture.bytes("pure-inquiry-36.hex"), vpd: [0x80: try SCSIFixture.bytes("pure-vpd80.hex")])
        #expect(noID.wwn == (try WWN("3624a93709714b5cb91634c470002b2c8")))
    }
}
