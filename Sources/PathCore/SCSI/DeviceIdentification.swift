/// VPD page 0x83: Device Identification (SPC-4 7.8.6), every designation descriptor.
public struct DeviceIdentification: Sendable, Equatable, Codable {
    public enum CodeSet: String, Sendable, Codable {
        case binary, ascii, utf8, reserved
    }

    /// What the designator names: the logical unit, the target port the command came
    /// through, or the SCSI target device.
    public enum Association: String, Sendable, Codable {
        case logicalUnit = "logical_unit"
        case targetPort = "target_port"
        case targetDevice = "target_device"
        case reserved
    }

    public enum DesignatorType: String, Sendable, Codable {
        case vendorSpecific = "vendor_specific"
        case t10VendorID = "t10_vendor_id"
        case eui64 = "eui64"
        case naa
        case relativeTargetPort = "relative_target_port"
        case targetPortGroup = "target_port_group"
        case logicalUnitGroup = "logical_unit_group"
        case md5LogicalUnitID = "md5_logical_unit_id"
        case scsiNameString = "scsi_name_string"
        case protocolSpecificPort = "protocol_specific_port"
        case uuid
        case reserved
    }

    public struct Designator: Sendable, Equatable, Codable {
        /// PROTOCOL IDENTIFIER (meaningful when `protocolIdentifierValid`): 0 FC, 5 iSCSI, 6 SAS.
        public var protocolIdentifier: UInt8
        public var protocolName: String
        public var codeSet: CodeSet
        /// PIV
        public var protocolIdentifierValid: Bool
        public var association: Association
        public var type: DesignatorType
        /// DESIGNATOR TYPE as sent (for reserved types).
        public var typeCode: UInt8
        public var designator: [UInt8]

        /// Lower-case hex of the designator bytes.
        public var hex: String { designator.hex }
        /// For ASCII / UTF-8 code sets, the text with trailing NULs and spaces removed.
        public var text: String? {
            guard codeSet == .ascii || codeSet == .utf8 else { return nil }
            let cut = designator.prefix { $0 != 0 }
            return String(decoding: cut, as: UTF8.self).trimmingWhitespace()
        }
        /// NAA field (top nibble of the first byte) for NAA designators: 2, 3, 5 or 6.
        public var naaType: UInt8? {
            guard type == .naa, let b = designator.first else { return nil }
            return b >> 4
        }
        /// RELATIVE TARGET PORT IDENTIFIER, TARGET PORT GROUP or LOGICAL UNIT GROUP value
        /// (the low 16 bits of the 4-byte designator).
        public var portOrGroupNumber: UInt16? {
            guard type == .relativeTargetPort || type == .targetPortGroup || type == .logicalUnitGroup,
                designator.count >= 4
            else { return nil }
            return UInt16(designator[2]) << 8 | UInt16(designator[3])
        }
    }

    public var designators: [Designator]
    /// PERIPHERAL QUALIFIER (byte 0, bits 7-5) of the page: 0 when a device of
    /// `deviceType` answers at this LUN; 3 when the target has no logical unit there.
    public var peripheralQualifier: UInt8
    /// PERIPHERAL DEVICE TYPE (byte 0, bits 4-0): 0 for a disk.
    public var deviceType: UInt8

    /// Whether a disk answered (qualifier 0 and a device type `sd` binds: 0x00 direct
    /// access, 0x07 optical memory, 0x0e simplified direct access, 0x14 zoned). A target
    /// that has no LU at the address may still answer the page with qualifier 3 (byte 0
    /// 0x7f, SPC), and tgt does so with its LUN 0
    /// controller's NAA designator (seen in the lab). Such a page names no disk at all:
    /// its designator is not the identity of what the disk was.
    public var answersAsDisk: Bool { peripheralQualifier == 0 && [0x00, 0x07, 0x0E, 0x14].contains(deviceType) }

    public init(_ data: [UInt8]) throws {
        let page = try VPDPage(data, expecting: 0x83)
        peripheralQualifier = page.peripheralQualifierBits
        deviceType = page.deviceType
        let v = ByteView(page.payload)
        var out = [Designator]()
        var at = 0
        while at < page.pageLength {
            let b0 = try v.u8(at, "designation descriptor header")
            let b1 = try v.u8(at + 1, "designation descriptor header")
            let length = Int(try v.u8(at + 3, "DESIGNATOR LENGTH"))
            let bytes = try v.slice(at + 4, length, "designator at page offset \(at + 4)")
            let typeCode = b1 & 0x0F
            let type = Self.designatorType(typeCode)
            if type == .naa, let first = bytes.first {
                let expected = (first >> 4) == 6 ? 16 : 8
                guard bytes.count == expected else {
                    throw PathCoreError(
                        .invalidValue, "NAA \(first >> 4) designator must be \(expected) bytes, got \(bytes.count)")
                }
            }
            let codeSet: CodeSet
            switch b0 & 0x0F {
            case 1: codeSet = .binary
            case 2: codeSet = .ascii
            case 3: codeSet = .utf8
            default: codeSet = .reserved
            }
            let association: Association
            switch (b1 >> 4) & 0x3 {
            case 0: association = .logicalUnit
            case 1: association = .targetPort
            case 2: association = .targetDevice
            default: association = .reserved
            }
            out.append(
                Designator(
                    protocolIdentifier: b0 >> 4, protocolName: Self.protocolName(b0 >> 4),
                    codeSet: codeSet, protocolIdentifierValid: b1 & 0x80 != 0,
                    association: association, type: type, typeCode: typeCode, designator: bytes))
            at += 4 + length
        }
        designators = out
    }

    static func designatorType(_ t: UInt8) -> DesignatorType {
        switch t {
        case 0: return .vendorSpecific
        case 1: return .t10VendorID
        case 2: return .eui64
        case 3: return .naa
        case 4: return .relativeTargetPort
        case 5: return .targetPortGroup
        case 6: return .logicalUnitGroup
        case 7: return .md5LogicalUnitID
        case 8: return .scsiNameString
        case 9: return .protocolSpecificPort
        case 0xA: return .uuid
        default: return .reserved
        }
    }

    static func protocolName(_ p: UInt8) -> String {
        switch p {
        case 0: return "fc"
        case 1: return "spi"
        case 2: return "ssa"
        case 3: return "sbp"
        case 4: return "srp"
        case 5: return "iscsi"
        case 6: return "sas"
        case 7: return "adt"
        case 8: return "ata"
        case 9: return "uas"
        case 0xA: return "sop"
        default: return "protocol \(p)"
        }
    }

    /// Designators naming the logical unit.
    public var logicalUnitDesignators: [Designator] { designators.filter { $0.association == .logicalUnit } }

    /// RELATIVE TARGET PORT IDENTIFIER of the port that answered.
    public var relativeTargetPortID: UInt16? {
        designators.first { $0.type == .relativeTargetPort && $0.association == .targetPort }?.portOrGroupNumber
    }

    /// TARGET PORT GROUP the answering port belongs to (matches REPORT TARGET PORT GROUPS).
    public var targetPortGroupID: UInt16? {
        designators.first { $0.type == .targetPortGroup && $0.association == .targetPort }?.portOrGroupNumber
    }

    /// The LU's world-wide name as multipath names maps, from the best LU designator:
    /// NAA 6, then NAA 5, then other NAA (2, 3 locally assigned: scsi_debug, tgt),
    /// EUI-64, then a SCSI name string in `naa.`/`eui.` form. T10 vendor-id designators
    /// and other name strings are text, not a WWN: see `logicalUnitIdentifier`.
    /// nil when the page names the LU by none of these.
    public var logicalUnitWWN: WWN? {
        let lu = logicalUnitDesignators
        let naa = lu.filter { $0.type == .naa }
        for want: UInt8 in [6, 5] {
            if let d = naa.first(where: { $0.naaType == want }), let w = try? WWN("3" + d.hex) { return w }
        }
        if let d = naa.first, let w = try? WWN("3" + d.hex) { return w }
        if let d = lu.first(where: { $0.type == .eui64 && [8, 12, 16].contains($0.designator.count) }),
            let w = try? WWN("2" + d.hex)
        {
            return w
        }
        for d in lu where d.type == .scsiNameString {
            guard let t = d.text?.lowercased() else { continue }
            if t.hasPrefix("naa.") || t.hasPrefix("eui."), let w = try? WWN(t) { return w }
        }
        return nil
    }

    /// A printable LU identity for any device, in the kernel's sysfs `wwid` style:
    /// `naa.<hex>`, `eui.<hex>`, the SCSI name string, or `t10.<vendor id text>`.
    public var logicalUnitIdentifier: String? {
        if let w = logicalUnitWWN {
            switch w.value.first {
            case "3": return "naa." + w.value.dropFirst()
            case "2": return "eui." + w.value.dropFirst()
            default: return w.value
            }
        }
        let lu = logicalUnitDesignators
        if let d = lu.first(where: { $0.type == .scsiNameString }), let t = d.text { return t }
        if let d = lu.first(where: { $0.type == .t10VendorID }) {
            return "t10." + (d.text ?? d.hex)
        }
        return nil
    }
}
