import Synchronization
import Testing
@testable import PathCore

/// A logical unit that answers from byte goldens, cutting each answer to the allocation
/// length as a real device does; it counts what it was asked.
final class GoldenLU: SCSITransport, Sendable {
    let inquiry: [UInt8]
    let vpd: [UInt8: [UInt8]]
    let capacity: [UInt8]?
    let rtpg: [UInt8]?
    let asked = Mutex<[String]>([])
    var endpoint: String { "golden" }

    init(inquiry: [UInt8], vpd: [UInt8: [UInt8]], capacity: [UInt8]?, rtpg: [UInt8]? = nil) {
        self.inquiry = inquiry
        self.vpd = vpd
        self.capacity = capacity
        self.rtpg = rtpg
    }

    static let illegalRequest = SCSIResponse(status: 2, sense: [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0])

    func send(_ r: SCSIRequest) throws -> SCSIResponse {
        guard case .fromDevice(let n) = r.direction else { return SCSIResponse(status: 0) }
        func cut(_ d: [UInt8]) -> SCSIResponse { SCSIResponse(status: 0, data: Array(d.prefix(n))) }
        switch (r.cdb[0], r.cdb[1]) {
        case (0x12, 0):
            asked.withLock { $0.append("INQUIRY \(n)") }
            return cut(inquiry)
        case (0x12, 1):
            asked.withLock { $0.append("VPD \([r.cdb[2]].hex) \(n)") }
            return vpd[r.cdb[2]].map(cut) ?? Self.illegalRequest
        case (0x9E, 0x10):
            asked.withLock { $0.append("RC16") }
            return capacity.map(cut) ?? Self.illegalRequest
        case (0xA3, _):
            asked.withLock { $0.append("RTPG \(n)") }
            return rtpg.map(cut) ?? Self.illegalRequest
        default:
            return Self.illegalRequest
        }
    }

    static func tgt() throws -> GoldenLU {
        var vpd: [UInt8: [UInt8]] = [:]
        for (p, f) in [(0x00, "tgt-vpd00"), (0x80, "tgt-vpd80"), (0x83, "tgt-vpd83"), (0xB0, "tgt-vpdb0"), (0xB2, "tgt-vpdb2")] {
            vpd[UInt8(p)] = try SCSIFixture.bytes(f + ".hex")
        }
        return GoldenLU(inquiry: try SCSIFixture.bytes("tgt-inquiry.hex"), vpd: vpd, capacity: try SCSIFixture.bytes("tgt-read-capacity16.hex"))
    }
}

@Suite("inquiry: probe and text")
struct DeviceProbeTests {
    @Test func tgtGoldensDecodeCompletely() throws {
        let lu = try GoldenLU.tgt()
        let r = try SCSIDeviceProbe.inquire(lu)
        #expect(r.report.inquiry.vendor == "IET" && r.report.inquiry.product == "VIRTUAL-DISK")
        #expect(r.report.supportedPages == [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2])
        #expect(r.report.unitSerialNumber == "beaf11")
        #expect(r.wwn == "360000000000000000e00000000010001")
        #expect(r.unmap?.unmapSupported == true && r.unmap?.provisioningEnabled == true)
        #expect(r.unsupported == ["REPORT TARGET PORT GROUPS: not asked (TPGS=0, no ALUA)"])
        #expect(r.report.problems.isEmpty)
        // INQUIRY, VPD 00 80 83 b0 b2, READ CAPACITY(16): no retries needed
        #expect(r.commands == 7)
        #expect(lu.asked.withLock { $0 } == ["INQUIRY 96", "VPD 00 252", "VPD 80 252", "VPD 83 252", "VPD b0 252", "VPD b2 252", "RC16"])

        let text = InquiryText.render(r)
        for line in [
            "  Vendor identification: IET", "  Product identification: VIRTUAL-DISK", "  Product revision level: 0001",
            "  PQual=connected  PDT=0 (disk)  RMB=0  version=0x05 [SPC-3]",
            "  Version descriptors: 0x04c0 0x0960 0x0300",
            "VPD 0x80 Unit serial number: beaf11",
            "VPD 0x83 Device identification: 3 designators",
            "      0x60000000000000000e00000000010001",
            "  Unmap command supported (LBPU): 1",
            "  Thin provisioning: LBPME=1 LBPRZ=1",
            "  Last LBA: 2097151  blocks: 2097152  block length: 512 bytes",
            "Deallocation: thin, method UNMAP",
            "Not supported: REPORT TARGET PORT GROUPS: not asked (TPGS=0, no ALUA)",
        ] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "missing line: \(line)\n\(text)")
        }
    }

    @Test func longPagesAreAskedAgainWithTheAnnouncedLength() throws {
        let base = try GoldenLU.tgt()
        // a device identification page of 20 vendor-specific designators: 4 + 20 * 20 = 404 bytes
        var desc: [UInt8] = []
        for i in 0..<20 { desc += [0x02, 0x00, 0x00, 16] + Array("designator-\(i)".utf8.prefix(16)) + [UInt8](repeating: 0x20, count: max(0, 16 - "designator-\(i)".utf8.count)) }
        let page83: [UInt8] = [0x00, 0x83, UInt8(desc.count >> 8), UInt8(desc.count & 0xFF)] + desc
        var vpd = base.vpd
        vpd[0x83] = page83
        let lu = GoldenLU(inquiry: base.inquiry, vpd: vpd, capacity: base.capacity)
        let r = try SCSIDeviceProbe.inquire(lu)
        #expect(r.report.identification?.designators.count == 20)
        #expect(lu.asked.withLock { $0 }.contains("VPD 83 \(page83.count)"))
        #expect(r.commands == 8)
    }

    @Test func missingPagesAreReportedNotFatal() throws {
        let base = try GoldenLU.tgt()
        // supported list without 0xB0; 0xB2 listed but refused
        let lu = GoldenLU(inquiry: base.inquiry, vpd: [0x00: [0, 0, 0, 4, 0x00, 0x80, 0x83, 0xB2], 0x80: base.vpd[0x80]!, 0x83: base.vpd[0x83]!],
                          capacity: nil)
        let r = try SCSIDeviceProbe.inquire(lu)
        #expect(r.report.blockLimits == nil && r.report.provisioning == nil && r.report.capacity == nil)
        #expect(r.unsupported.contains("VPD 0xb0: not in the supported pages list"))
        #expect(r.unsupported.contains { $0.hasPrefix("VPD 0xb2: ILLEGAL REQUEST") })
        #expect(r.unsupported.contains { $0.hasPrefix("READ CAPACITY(16): ILLEGAL REQUEST") })
        #expect(r.unmap == nil)
        #expect(!lu.asked.withLock { $0 }.contains { $0.hasPrefix("VPD b0") })
    }

    @Test func aluaDeviceGetsRTPG() throws {
        let lu = GoldenLU(
            inquiry: try SCSIFixture.bytes("pure-inquiry-36.hex"),
            vpd: [0x00: [0, 0, 0, 3, 0x00, 0x80, 0x83], 0x80: try SCSIFixture.bytes("pure-vpd80.hex"), 0x83: try SCSIFixture.bytes("pure-vpd83.hex")],
            capacity: nil, rtpg: try SCSIFixture.bytes("pure-rtpg.hex"))
        let r = try SCSIDeviceProbe.inquire(lu)
        #expect(r.report.targetPortGroups != nil)
        #expect(r.aluaState != nil)
        #expect(r.wwn?.hasPrefix("3624a9370") == true)
        #expect(InquiryText.render(r).contains("REPORT TARGET PORT GROUPS"))
    }

    @Test func unmapCapabilitiesFromTgt() throws {
        let caps = try SCSIDeviceProbe.unmapCapabilities(try GoldenLU.tgt())
        #expect(caps.blockLength == 512 && caps.blockCount == 2097152)
        #expect(caps.provisioningEnabled && caps.unmapSupported)
        let thick = GoldenLU(inquiry: [], vpd: [:], capacity: nil)
        #expect(throws: PathCoreError.self) { _ = try SCSIDeviceProbe.unmapCapabilities(thick) }
    }
}
