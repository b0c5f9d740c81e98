/// `pathctl inquiry`'s view of one logical unit: the decoded report, which pages the
/// device did not support, and the derived identity.
public struct InquiryReport: Sendable, Equatable, Codable {
    public var endpoint: String
    public var report: SCSIDeviceReport
    /// Pages or commands the device does not support, e.g. `VPD 0xb2: not in the supported
    /// pages list`, `REPORT TARGET PORT GROUPS: not asked (TPGS=0)`. Not errors.
    public var unsupported: [String]
    public var wwn: String?
    public var aluaState: ALUAState?
    public var unmap: UnmapCapabilities?
    /// Commands issued (INQUIRY retries with a longer allocation length included).
    public var commands: Int

    public init(endpoint: String, report: SCSIDeviceReport, unsupported: [String], commands: Int) {
        self.endpoint = endpoint
        self.report = report
        self.unsupported = unsupported
        self.wwn = report.wwn?.value
        self.aluaState = report.aluaState
        self.unmap = report.unmapCapabilities
        self.commands = commands
    }
}

/// Collects standard INQUIRY, VPD 0x00/0x80/0x83/0xB0/0xB2, READ CAPACITY(16) and, when
/// TPGS is non-zero, REPORT TARGET PORT GROUPS through any transport, re-asking with the
/// length a response's header announces when the first answer was cut short. A CHECK
/// CONDITION on an optional page marks it unsupported; transport failures propagate.
public enum SCSIDeviceProbe {
    public static let vpdPages: [UInt8] = [0x80, 0x83, 0xB0, 0xB2]

    public static func inquire(_ transport: any SCSITransport, timeout: Int = 10) throws -> InquiryReport {
        var commands = 0
        var unsupported: [String] = []
        func send(_ c: SCSICommand) throws -> SCSIResponse {
            commands += 1
            return try transport.send(c.request(timeout: timeout))
        }
        func senseText(_ r: SCSIResponse) -> String {
            if let s = try? SenseData(r.sense) { return s.description }
            return SCSIStatus(rawValue: r.status).name
        }

        // standard INQUIRY
        var inq = try send(try SCSICommands.inquiry(allocationLength: 96))
        guard inq.isGood else {
            throw PathCoreError(.unsupported, "standard INQUIRY failed on \(transport.endpoint): \(senseText(inq))")
        }
        if inq.data.count >= 5 {
            let want = Int(inq.data[4]) + 5
            if want > inq.data.count, want > 96 {
                let again = try send(try SCSICommands.inquiry(allocationLength: want))
                if again.isGood { inq = again }
            }
        }

        // VPD pages; 0x00 first to know what is supported
        var vpd: [UInt8: [UInt8]] = [:]
        func page(_ code: UInt8) throws -> [UInt8]? {
            let r = try send(try SCSICommands.inquiry(vpdPage: code, allocationLength: 252))
            guard r.isGood else {
                unsupported.append("VPD 0x\(SCSIWire.hex2(code)): \(senseText(r))")
                return nil
            }
            guard r.data.count >= 4 else { return r.data }
            let need = (try? VPDPage.requiredLength(r.data)) ?? r.data.count
            if need > r.data.count, need <= 0xFFFF {
                let again = try send(try SCSICommands.inquiry(vpdPage: code, allocationLength: need))
                if again.isGood { return again.data }
            }
            return r.data
        }
        var supported: [UInt8]? = nil
        if let p0 = try page(0x00) {
            vpd[0x00] = p0
            supported = try? SupportedVPDPages(p0).pages
        }
        for code in vpdPages {
            if let s = supported, !s.contains(code) {
                unsupported.append("VPD 0x\(SCSIWire.hex2(code)): not in the supported pages list")
                continue
            }
            if let d = try page(code) { vpd[code] = d }
        }

        // READ CAPACITY(16)
        var capacity: [UInt8]? = nil
        let rc = try send(try SCSICommands.readCapacity16(allocationLength: 32))
        if rc.isGood { capacity = rc.data } else { unsupported.append("READ CAPACITY(16): \(senseText(rc))") }

        // REPORT TARGET PORT GROUPS when the LU claims ALUA
        var rtpg: [UInt8]? = nil
        let tpgs = inq.data.count > 5 ? (inq.data[5] >> 4) & 0x3 : 0
        if tpgs != 0 {
            let r = try send(try SCSICommands.reportTargetPortGroups(allocationLength: 1024))
            if r.isGood {
                rtpg = r.data
                if r.data.count >= 4 {
                    let need = 4 + (Int(r.data[0]) << 24 | Int(r.data[1]) << 16 | Int(r.data[2]) << 8 | Int(r.data[3]))
                    if need > r.data.count, need <= 1 << 20 {
                        let again = try send(try SCSICommands.reportTargetPortGroups(allocationLength: need))
                        if again.isGood { rtpg = again.data }
                    }
                }
            } else {
                unsupported.append("REPORT TARGET PORT GROUPS: \(senseText(r))")
            }
        } else {
            unsupported.append("REPORT TARGET PORT GROUPS: not asked (TPGS=0, no ALUA)")
        }

        let report = try SCSIDeviceReport(inquiry: inq.data, vpd: vpd, readCapacity16: capacity, reportTargetPortGroups: rtpg)
        return InquiryReport(endpoint: transport.endpoint, report: report, unsupported: unsupported, commands: commands)
    }

    /// READ CAPACITY(16), VPD 0xB0 and 0xB2 only: what the UNMAP planner needs.
    public static func unmapCapabilities(_ transport: any SCSITransport, timeout: Int = 10) throws -> UnmapCapabilities {
        let rc = try transport.send(try SCSICommands.readCapacity16().request(timeout: timeout))
        guard rc.isGood else {
            let why = (try? SenseData(rc.sense).description) ?? SCSIStatus(rawValue: rc.status).name
            throw PathCoreError(.unsupported, "READ CAPACITY(16) failed on \(transport.endpoint): \(why)")
        }
        let capacity = try ReadCapacity16(rc.data)
        func vpd(_ code: UInt8) throws -> [UInt8]? {
            let r = try transport.send(try SCSICommands.inquiry(vpdPage: code, allocationLength: 252).request(timeout: timeout))
            guard r.isGood else { return nil }
            if let need = try? VPDPage.requiredLength(r.data), need > r.data.count {
                let again = try transport.send(try SCSICommands.inquiry(vpdPage: code, allocationLength: need).request(timeout: timeout))
                return again.isGood ? again.data : nil
            }
            return r.data
        }
        let limits = try vpd(0xB0).flatMap { try? BlockLimits($0) }
        let provisioning = try vpd(0xB2).flatMap { try? LogicalBlockProvisioning($0) }
        return UnmapCapabilities(capacity: capacity, provisioning: provisioning, limits: limits)
    }
}
