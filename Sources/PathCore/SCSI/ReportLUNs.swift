/// An 8-byte SCSI LUN (SAM-5 4.7) and its Linux integer form.
///
/// Linux packs the LUN two bytes at a time, first level in the low 16 bits
/// (`scsilun_to_int` in drivers/scsi/scsi_common.c): peripheral LUN 5 (`00 05 ...`) is 5,
/// flat-space LUN 300 (`41 2c ...`) is 0x412c = 16684 = 300 + 16384, which is why os-brick's
/// SAM2 addressing adds 16384 from LUN 256 up.
public struct SCSILUN: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public enum AddressMethod: String, Sendable, Codable {
        /// 00b: peripheral device addressing (bus identifier + 8-bit LUN).
        case peripheral
        /// 01b: flat space addressing (14-bit LUN).
        case flat
        /// 10b: logical unit addressing (target/bus/LUN).
        case logicalUnit = "logical_unit"
        /// 11b: extended logical unit addressing (well-known LUNs such as REPORT LUNS 0xC101).
        case extended
    }

    public var bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 8 else { throw PathCoreError(.invalidValue, "a SCSI LUN is 8 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// `int_to_scsilun`: the kernel's integer LUN back to 8 bytes.
    public init(linux lun: UInt64) {
        var b = [UInt8](repeating: 0, count: 8)
        var l = lun
        for i in stride(from: 0, to: 8, by: 2) {
            b[i] = UInt8((l >> 8) & 0xFF)
            b[i + 1] = UInt8(l & 0xFF)
            l >>= 16
        }
        bytes = b
    }

    /// `scsilun_to_int`: the number Linux shows in H:C:T:L.
    public var linuxNumber: UInt64 {
        var lun: UInt64 = 0
        for i in stride(from: 0, to: 8, by: 2) {
            lun |= (UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])) << UInt64(i * 8)
        }
        return lun
    }

    public var addressMethod: AddressMethod {
        switch bytes[0] >> 6 {
        case 0: return .peripheral
        case 1: return .flat
        case 2: return .logicalUnit
        default: return .extended
        }
    }

    /// The first-level LUN as the array numbers it (peripheral: byte 1; flat: 14 bits).
    public var firstLevelLUN: UInt16? {
        switch addressMethod {
        case .peripheral: return UInt16(bytes[1])
        case .flat: return UInt16(bytes[0] & 0x3F) << 8 | UInt16(bytes[1])
        case .logicalUnit: return UInt16(bytes[1] & 0x1F)
        case .extended: return nil
        }
    }

    /// SAM2 addressing as os-brick applies it: peripheral below 256, flat space from 256 up
    /// (to 16383).
    public static func sam2(_ lun: UInt64) throws -> SCSILUN {
        if lun < 256 { return SCSILUN(linux: lun) }
        guard lun < 16384 else { throw PathCoreError(.invalidValue, "LUN \(lun) does not fit flat space addressing (0...16383)") }
        return SCSILUN(linux: lun + 16384)
    }

    public var description: String { "\(linuxNumber)" }
}

/// REPORT LUNS parameter data (SPC-4 6.33.2): LUN LIST LENGTH, 4 reserved, 8-byte LUNs.
public struct ReportLUNs: Sendable, Equatable, Codable {
    public var luns: [SCSILUN]
    /// LUN LIST LENGTH / 8: how many the device has (more than `luns.count` when the
    /// allocation length cut the list: ask again with `requiredAllocationLength`).
    public var reportedCount: Int
    public var complete: Bool { luns.count == reportedCount }
    public var requiredAllocationLength: Int { 8 + 8 * reportedCount }

    public init(_ data: [UInt8]) throws {
        let v = ByteView(data)
        let listLength = Int(try v.u32(0, "LUN LIST LENGTH"))
        _ = try v.slice(4, 4, "REPORT LUNS header")
        guard listLength % 8 == 0 else {
            throw PathCoreError(.invalidValue, "LUN LIST LENGTH \(listLength) is not a multiple of 8")
        }
        reportedCount = listLength / 8
        let present = min(reportedCount, (data.count - 8) / 8)
        if present < reportedCount && (data.count - 8) % 8 != 0 {
            _ = try v.slice(8 + 8 * present, 8, "LUN \(present) of \(reportedCount)")
        }
        var out = [SCSILUN]()
        for i in 0..<present { out.append(try SCSILUN(bytes: try v.slice(8 + 8 * i, 8, "LUN"))) }
        luns = out
    }
}
