/// Everything the agent learns about one SCSI logical unit through one path, assembled
/// from the raw responses a transport collected (`pathctl inquiry --json` prints this).
/// Pages the device did not return are nil; a page that fails to decode is recorded in
/// `problems` instead of failing the whole report.
public struct SCSIDeviceReport: Sendable, Equatable, Codable {
    public var inquiry: StandardInquiry
    public var supportedPages: [UInt8]?
    public var unitSerialNumber: String?
    public var identification: DeviceIdentification?
    public var blockLimits: BlockLimits?
    public var provisioning: LogicalBlockProvisioning?
    public var capacity: ReadCapacity16?
    public var targetPortGroups: TargetPortGroups?
    /// "VPD 0xb0: response too short for ..." style notes.
    public var problems: [String]

    /// The LU's WWN (VPD 0x83), or for a Pure volume without one, from the serial.
    public var wwn: WWN? {
        if let w = identification?.logicalUnitWWN { return w }
        if inquiry.vendor == "PURE", let s = unitSerialNumber { return try? WWN.pure(serial: s) }
        return nil
    }

    /// ALUA state of the group holding the answering port (RTPG joined with VPD 0x83).
    public var aluaState: ALUAState? {
        guard let rtpg = targetPortGroups, let id = identification else { return nil }
        if let port = id.relativeTargetPortID, let g = rtpg.group(forRelativeTargetPort: port) { return g.state }
        if let group = id.targetPortGroupID { return rtpg.group(id: group)?.state }
        return nil
    }

    /// Raw responses keyed the way a transport collects them: the standard INQUIRY is
    /// required, every other response optional.
    public init(
        inquiry: [UInt8], vpd: [UInt8: [UInt8]] = [:], readCapacity16: [UInt8]? = nil,
        reportTargetPortGroups: [UInt8]? = nil
    ) throws {
        self.inquiry = try StandardInquiry(inquiry)
        var problems = [String]()
        func decode<T>(_ what: String, _ bytes: [UInt8]?, _ f: ([UInt8]) throws -> T) -> T? {
            guard let bytes else { return nil }
            do { return try f(bytes) } catch {
                problems.append("\(what): \(error)")
                return nil
            }
        }
        supportedPages = decode("VPD 0x00", vpd[0x00]) { try SupportedVPDPages($0).pages }
        unitSerialNumber = decode("VPD 0x80", vpd[0x80]) { try UnitSerialNumber($0).serial }
        identification = decode("VPD 0x83", vpd[0x83]) { try DeviceIdentification($0) }
        blockLimits = decode("VPD 0xb0", vpd[0xB0]) { try BlockLimits($0) }
        provisioning = decode("VPD 0xb2", vpd[0xB2]) { try LogicalBlockProvisioning($0) }
        capacity = decode("READ CAPACITY(16)", readCapacity16) { try ReadCapacity16($0) }
        targetPortGroups = decode("REPORT TARGET PORT GROUPS", reportTargetPortGroups) { try TargetPortGroups($0) }
        self.problems = problems
    }

    /// UNMAP capabilities, when READ CAPACITY(16) was read.
    public var unmapCapabilities: UnmapCapabilities? {
        capacity.map { UnmapCapabilities(capacity: $0, provisioning: provisioning, limits: blockLimits) }
    }
}
