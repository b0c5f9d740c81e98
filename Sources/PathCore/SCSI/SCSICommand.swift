/// One SCSI command ready for a transport (SG_IO or libiscsi): the CDB plus what moves
/// over the data phase. A command moves data in one direction at most.
public struct SCSICommand: Sendable, Equatable, Codable {
    public enum Direction: String, Sendable, Codable {
        case none
        /// Device to host; `allocationLength` bytes at most.
        case fromDevice
        /// Host to device; `dataOut` is sent.
        case toDevice
    }

    /// What the command is, for logs (`"INQUIRY VPD 0x83"`).
    public var name: String
    public var cdb: [UInt8]
    public var direction: Direction
    /// Bytes the host is prepared to receive (0 unless `direction == .fromDevice`).
    public var allocationLength: Int
    /// Parameter data sent to the device (empty unless `direction == .toDevice`).
    public var dataOut: [UInt8]

    public init(name: String, cdb: [UInt8], direction: Direction, allocationLength: Int = 0, dataOut: [UInt8] = []) {
        self.name = name
        self.cdb = cdb
        self.direction = direction
        self.allocationLength = allocationLength
        self.dataOut = dataOut
    }
}

/// Operation codes and service actions used by the agent (SPC-4 / SBC-4 numbering).
public enum SCSIOpcode {
    public static let testUnitReady: UInt8 = 0x00
    public static let inquiry: UInt8 = 0x12
    public static let unmap: UInt8 = 0x42
    public static let writeSame16: UInt8 = 0x93
    public static let serviceActionIn16: UInt8 = 0x9E
    public static let reportLUNs: UInt8 = 0xA0
    public static let maintenanceIn: UInt8 = 0xA3
    /// SERVICE ACTION IN(16) service actions.
    public static let readCapacity16: UInt8 = 0x10
    public static let getLBAStatus: UInt8 = 0x12
    /// MAINTENANCE IN service action.
    public static let reportTargetPortGroups: UInt8 = 0x0A
}

/// Builders for the CDBs the agent issues. Each validates its arguments against the
/// width of the CDB field and throws `.invalidValue` rather than truncating silently.
public enum SCSICommands {
    /// TEST UNIT READY (SPC-4 6.37): six zero bytes.
    public static func testUnitReady() -> SCSICommand {
        SCSICommand(name: "TEST UNIT READY", cdb: [0, 0, 0, 0, 0, 0], direction: .none)
    }

    /// Standard INQUIRY (SPC-4 6.6): EVPD 0, page 0, 16-bit allocation length.
    public static func inquiry(allocationLength: Int = 96) throws -> SCSICommand {
        let len = try field(allocationLength, max: 0xFFFF, "INQUIRY allocation length")
        return SCSICommand(
            name: "INQUIRY", cdb: [SCSIOpcode.inquiry, 0x00, 0x00, UInt8(len >> 8), UInt8(len & 0xFF), 0x00],
            direction: .fromDevice, allocationLength: len)
    }

    /// INQUIRY with EVPD=1 for one vital product data page.
    public static func inquiry(vpdPage page: UInt8, allocationLength: Int = 4096) throws -> SCSICommand {
        let len = try field(allocationLength, max: 0xFFFF, "INQUIRY allocation length")
        return SCSICommand(
            name: "INQUIRY VPD 0x\(SCSIWire.hex2(page))",
            cdb: [SCSIOpcode.inquiry, 0x01, page, UInt8(len >> 8), UInt8(len & 0xFF), 0x00],
            direction: .fromDevice, allocationLength: len)
    }

    /// READ CAPACITY(16) (SBC-4 5.21): SERVICE ACTION IN(16) 0x9E / 0x10, allocation length in bytes 10-13.
    public static func readCapacity16(allocationLength: Int = 32) throws -> SCSICommand {
        let len = try field(allocationLength, max: 0xFFFF_FFFF, "READ CAPACITY(16) allocation length")
        var cdb = [UInt8](repeating: 0, count: 16)
        cdb[0] = SCSIOpcode.serviceActionIn16
        cdb[1] = SCSIOpcode.readCapacity16
        SCSIWire.put32(&cdb, 10, UInt32(len))
        return SCSICommand(name: "READ CAPACITY(16)", cdb: cdb, direction: .fromDevice, allocationLength: len)
    }

    /// GET LBA STATUS (SBC-4 5.7): SERVICE ACTION IN(16) 0x9E / 0x12, starting LBA in bytes 2-9,
    /// allocation length in bytes 10-13.
    public static func getLBAStatus(startingLBA: UInt64, allocationLength: Int = 4096) throws -> SCSICommand {
        let len = try field(allocationLength, max: 0xFFFF_FFFF, "GET LBA STATUS allocation length")
        guard len >= 24 else {
            throw PathCoreError(.invalidValue, "GET LBA STATUS needs room for the header and one descriptor (24 bytes), got \(len)")
        }
        var cdb = [UInt8](repeating: 0, count: 16)
        cdb[0] = SCSIOpcode.serviceActionIn16
        cdb[1] = SCSIOpcode.getLBAStatus
        SCSIWire.put64(&cdb, 2, startingLBA)
        SCSIWire.put32(&cdb, 10, UInt32(len))
        return SCSICommand(name: "GET LBA STATUS", cdb: cdb, direction: .fromDevice, allocationLength: len)
    }

    /// REPORT TARGET PORT GROUPS (SPC-4 6.36): MAINTENANCE IN 0xA3 / 0x0A.
    /// `extendedHeader` sets PARAMETER DATA FORMAT 001b (bits 7-5 of byte 1).
    public static func reportTargetPortGroups(allocationLength: Int = 4096, extendedHeader: Bool = false) throws -> SCSICommand {
        let len = try field(allocationLength, max: 0xFFFF_FFFF, "REPORT TARGET PORT GROUPS allocation length")
        var cdb = [UInt8](repeating: 0, count: 12)
        cdb[0] = SCSIOpcode.maintenanceIn
        cdb[1] = SCSIOpcode.reportTargetPortGroups | (extendedHeader ? 0x20 : 0x00)
        SCSIWire.put32(&cdb, 6, UInt32(len))
        return SCSICommand(name: "REPORT TARGET PORT GROUPS", cdb: cdb, direction: .fromDevice, allocationLength: len)
    }

    /// REPORT LUNS (SPC-4 6.33): SELECT REPORT in byte 2, allocation length bytes 6-9 (at least 16).
    public static func reportLUNs(selectReport: UInt8 = 0x00, allocationLength: Int = 8192) throws -> SCSICommand {
        let len = try field(allocationLength, max: 0xFFFF_FFFF, "REPORT LUNS allocation length")
        guard len >= 16 else {
            throw PathCoreError(.invalidValue, "REPORT LUNS allocation length must be at least 16, got \(len)")
        }
        var cdb = [UInt8](repeating: 0, count: 12)
        cdb[0] = SCSIOpcode.reportLUNs
        cdb[2] = selectReport
        SCSIWire.put32(&cdb, 6, UInt32(len))
        return SCSICommand(name: "REPORT LUNS", cdb: cdb, direction: .fromDevice, allocationLength: len)
    }

    /// One UNMAP block descriptor: `count` blocks from `lba`.
    public struct BlockRange: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
        public var lba: UInt64
        public var count: UInt64
        public init(lba: UInt64, count: UInt64) {
            self.lba = lba
            self.count = count
        }
        /// One past the last block.
        public var end: UInt64 { lba + count }
        public var description: String { "LBA \(lba)+\(count)" }
    }

    /// UNMAP (SBC-4 5.30) with its parameter list (5.30.2): 8-byte header (UNMAP DATA LENGTH =
    /// n-1, BLOCK DESCRIPTOR DATA LENGTH = 16 x descriptors), then 16-byte descriptors
    /// (LBA 8 bytes, NUMBER OF LOGICAL BLOCKS 4 bytes, 4 reserved).
    public static func unmap(_ ranges: [BlockRange], anchor: Bool = false) throws -> SCSICommand {
        guard !ranges.isEmpty else { throw PathCoreError(.invalidValue, "UNMAP needs at least one block descriptor") }
        // parameter list length is 16 bits: (65535 - 8) / 16 = 4095 descriptors at most
        guard ranges.count <= 4095 else {
            throw PathCoreError(.invalidValue, "UNMAP parameter list holds at most 4095 descriptors, got \(ranges.count)")
        }
        var param = [UInt8](repeating: 0, count: 8 + 16 * ranges.count)
        SCSIWire.put16(&param, 0, UInt16(param.count - 2))
        SCSIWire.put16(&param, 2, UInt16(16 * ranges.count))
        for (i, r) in ranges.enumerated() {
            guard r.count > 0, r.count <= 0xFFFF_FFFF else {
                throw PathCoreError(.invalidValue, "UNMAP descriptor count must be 1...4294967295 blocks, got \(r.count) at LBA \(r.lba)")
            }
            SCSIWire.put64(&param, 8 + 16 * i, r.lba)
            SCSIWire.put32(&param, 8 + 16 * i + 8, UInt32(r.count))
        }
        var cdb = [UInt8](repeating: 0, count: 10)
        cdb[0] = SCSIOpcode.unmap
        cdb[1] = anchor ? 0x01 : 0x00
        SCSIWire.put16(&cdb, 7, UInt16(param.count))
        return SCSICommand(name: "UNMAP", cdb: cdb, direction: .toDevice, dataOut: param)
    }

    /// WRITE SAME(16) (SBC-4 5.50) with UNMAP=1 (byte 1 bit 3): deallocates `range` where the
    /// device can, writing one block of zeros as the data-out pattern. A NUMBER OF LOGICAL
    /// BLOCKS of 0 would mean "to the end of the medium", so 0 is refused.
    public static func writeSame16Unmap(_ range: BlockRange, blockLength: Int, anchor: Bool = false) throws -> SCSICommand {
        guard range.count > 0, range.count <= 0xFFFF_FFFF else {
            throw PathCoreError(.invalidValue, "WRITE SAME(16) count must be 1...4294967295 blocks, got \(range.count)")
        }
        guard blockLength > 0, blockLength <= 1 << 20 else {
            throw PathCoreError(.invalidValue, "implausible logical block length \(blockLength)")
        }
        var cdb = [UInt8](repeating: 0, count: 16)
        cdb[0] = SCSIOpcode.writeSame16
        cdb[1] = 0x08 | (anchor ? 0x10 : 0x00)
        SCSIWire.put64(&cdb, 2, range.lba)
        SCSIWire.put32(&cdb, 10, UInt32(range.count))
        return SCSICommand(
            name: "WRITE SAME(16) UNMAP", cdb: cdb, direction: .toDevice,
            dataOut: [UInt8](repeating: 0, count: blockLength))
    }

    // MARK: helpers

    private static func field(_ v: Int, max: Int, _ what: String) throws -> Int {
        guard v >= 0, v <= max else { throw PathCoreError(.invalidValue, "\(what) must be 0...\(max), got \(v)") }
        return v
    }
}

/// Byte helpers private to the SCSI layer (namespaced so they cannot collide at merge).
enum SCSIWire {
    static func hex2(_ b: UInt8) -> String { [b].hex }

    static func put16(_ a: inout [UInt8], _ at: Int, _ v: UInt16) {
        a[at] = UInt8(v >> 8)
        a[at + 1] = UInt8(v & 0xFF)
    }

    static func put32(_ a: inout [UInt8], _ at: Int, _ v: UInt32) {
        for i in 0..<4 { a[at + i] = UInt8((v >> UInt32(24 - 8 * i)) & 0xFF) }
    }

    static func put64(_ a: inout [UInt8], _ at: Int, _ v: UInt64) {
        for i in 0..<8 { a[at + i] = UInt8((v >> UInt64(56 - 8 * i)) & 0xFF) }
    }
}
