/// SCSI status byte (SAM-5 5.3).
public struct SCSIStatus: RawRepresentable, Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let good = SCSIStatus(rawValue: 0x00)
    public static let checkCondition = SCSIStatus(rawValue: 0x02)
    public static let conditionMet = SCSIStatus(rawValue: 0x04)
    public static let busy = SCSIStatus(rawValue: 0x08)
    public static let reservationConflict = SCSIStatus(rawValue: 0x18)
    public static let taskSetFull = SCSIStatus(rawValue: 0x28)
    public static let acaActive = SCSIStatus(rawValue: 0x30)
    public static let taskAborted = SCSIStatus(rawValue: 0x40)

    public var name: String {
        switch rawValue {
        case 0x00: return "GOOD"
        case 0x02: return "CHECK CONDITION"
        case 0x04: return "CONDITION MET"
        case 0x08: return "BUSY"
        case 0x10: return "INTERMEDIATE"
        case 0x14: return "INTERMEDIATE-CONDITION MET"
        case 0x18: return "RESERVATION CONFLICT"
        case 0x22: return "COMMAND TERMINATED"
        case 0x28: return "TASK SET FULL"
        case 0x30: return "ACA ACTIVE"
        case 0x40: return "TASK ABORTED"
        default: return "status 0x\(SCSIWire.hex2(rawValue))"
        }
    }
    public var description: String { name }
}

/// SENSE KEY (SPC-4 table 48).
public struct SenseKey: RawRepresentable, Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let noSense = SenseKey(rawValue: 0x0)
    public static let recoveredError = SenseKey(rawValue: 0x1)
    public static let notReady = SenseKey(rawValue: 0x2)
    public static let mediumError = SenseKey(rawValue: 0x3)
    public static let hardwareError = SenseKey(rawValue: 0x4)
    public static let illegalRequest = SenseKey(rawValue: 0x5)
    public static let unitAttention = SenseKey(rawValue: 0x6)
    public static let dataProtect = SenseKey(rawValue: 0x7)
    public static let blankCheck = SenseKey(rawValue: 0x8)
    public static let vendorSpecific = SenseKey(rawValue: 0x9)
    public static let copyAborted = SenseKey(rawValue: 0xA)
    public static let abortedCommand = SenseKey(rawValue: 0xB)
    public static let volumeOverflow = SenseKey(rawValue: 0xD)
    public static let miscompare = SenseKey(rawValue: 0xE)
    public static let completed = SenseKey(rawValue: 0xF)

    public var name: String {
        [
            "NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR", "ILLEGAL REQUEST",
            "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
            "RESERVED (0xC)", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
        ][Int(rawValue)]
    }
    public var description: String { name }
}

/// Sense data in fixed (0x70/0x71) or descriptor (0x72/0x73) format (SPC-4 4.5).
public struct SenseData: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Format: String, Sendable, Codable { case fixed, descriptor }

    /// SENSE KEY SPECIFIC information (SPC-4 4.5.2.4), when SKSV is set.
    public enum KeySpecific: Sendable, Equatable, Codable {
        /// ILLEGAL REQUEST: which byte (and bit) of the CDB or parameter list was wrong.
        case fieldPointer(inCDB: Bool, byte: UInt16, bit: UInt8?)
        /// NOT READY / NO SENSE: progress of a long operation, 0...65535 of 65536.
        case progress(UInt16)
        /// RECOVERED / MEDIUM / HARDWARE ERROR: retry count.
        case retryCount(UInt16)
        case raw([UInt8])
    }

    public struct Descriptor: Sendable, Equatable, Codable {
        public var type: UInt8
        public var bytes: [UInt8]
    }

    public var format: Format
    /// RESPONSE CODE (0x70...0x73).
    public var responseCode: UInt8
    /// false for deferred errors (0x71, 0x73): the error belongs to an earlier command.
    public var current: Bool
    public var senseKey: SenseKey
    public var asc: UInt8
    public var ascq: UInt8
    /// INFORMATION field when valid (fixed: VALID bit; descriptor: type 0x00 descriptor).
    public var information: UInt64?
    public var keySpecific: KeySpecific?
    /// FILEMARK, EOM, ILI (fixed byte 2; descriptor: stream commands descriptor).
    public var fileMark: Bool
    public var endOfMedium: Bool
    public var incorrectLength: Bool
    /// Descriptor format: all descriptors as sent.
    public var descriptors: [Descriptor]

    public init(_ data: [UInt8]) throws {
        let v = ByteView(data)
        let b0 = try v.u8(0, "sense RESPONSE CODE")
        responseCode = b0 & 0x7F
        fileMark = false
        endOfMedium = false
        incorrectLength = false
        descriptors = []
        switch responseCode {
        case 0x70, 0x71:
            format = .fixed
            current = responseCode == 0x70
            let b2 = try v.u8(2, "SENSE KEY")
            senseKey = SenseKey(rawValue: b2)
            fileMark = b2 & 0x80 != 0
            endOfMedium = b2 & 0x40 != 0
            incorrectLength = b2 & 0x20 != 0
            let info = try v.u32(3, "INFORMATION")
            information = b0 & 0x80 != 0 ? UInt64(info) : nil
            let additional = Int(try v.u8(7, "ADDITIONAL SENSE LENGTH"))
            let end = 8 + additional
            _ = try v.slice(8, additional, "fixed sense data (ADDITIONAL SENSE LENGTH \(additional))")
            // ASC/ASCQ only exist if the additional length covers them (some devices send 8 bytes).
            asc = end >= 13 ? try v.u8(12, "ADDITIONAL SENSE CODE") : 0
            ascq = end >= 14 ? try v.u8(13, "ADDITIONAL SENSE CODE QUALIFIER") : 0
            if end >= 18 {
                keySpecific = SenseData.keySpecific(try v.slice(15, 3, "SENSE KEY SPECIFIC"), key: senseKey)
            } else {
                keySpecific = nil
            }
        case 0x72, 0x73:
            format = .descriptor
            current = responseCode == 0x72
            senseKey = SenseKey(rawValue: try v.u8(1, "SENSE KEY"))
            asc = try v.u8(2, "ADDITIONAL SENSE CODE")
            ascq = try v.u8(3, "ADDITIONAL SENSE CODE QUALIFIER")
            let additional = Int(try v.u8(7, "ADDITIONAL SENSE LENGTH"))
            _ = try v.slice(8, additional, "sense descriptors (ADDITIONAL SENSE LENGTH \(additional))")
            var at = 8
            information = nil
            keySpecific = nil
            while at < 8 + additional {
                let type = try v.u8(at, "sense descriptor type")
                let len = Int(try v.u8(at + 1, "sense descriptor ADDITIONAL LENGTH"))
                guard at + 2 + len <= 8 + additional else {
                    throw PathCoreError(
                        .truncated, "sense descriptor 0x\(SCSIWire.hex2(type)) runs past ADDITIONAL SENSE LENGTH",
                        detail: "descriptor ends at byte \(at + 2 + len), sense data at \(8 + additional)")
                }
                let body = try v.slice(at, 2 + len, "sense descriptor 0x\(SCSIWire.hex2(type))")
                descriptors.append(Descriptor(type: type, bytes: body))
                let d = ByteView(body)
                switch type {
                case 0x00:  // information: VALID in byte 2 bit 7, INFORMATION in bytes 4-11
                    if try d.bit(2, 7, "information descriptor VALID") {
                        information = try d.u64(4, "INFORMATION")
                    }
                case 0x02:  // sense key specific: bytes 4-6
                    keySpecific = SenseData.keySpecific(try d.slice(4, 3, "SENSE KEY SPECIFIC"), key: senseKey)
                case 0x04:  // stream commands
                    let f = try d.u8(3, "stream commands flags")
                    fileMark = f & 0x80 != 0
                    endOfMedium = f & 0x40 != 0
                    incorrectLength = f & 0x20 != 0
                default: break
                }
                at += 2 + len
            }
        default:
            throw PathCoreError(.invalidValue, "not sense data: RESPONSE CODE 0x\(SCSIWire.hex2(responseCode))")
        }
    }

    static func keySpecific(_ b: [UInt8], key: SenseKey) -> KeySpecific? {
        guard b.count == 3, b[0] & 0x80 != 0 else { return nil }
        let value = UInt16(b[1]) << 8 | UInt16(b[2])
        switch key {
        case .illegalRequest:
            return .fieldPointer(inCDB: b[0] & 0x40 != 0, byte: value, bit: b[0] & 0x08 != 0 ? b[0] & 0x7 : nil)
        case .notReady, .noSense:
            return .progress(value)
        case .recoveredError, .mediumError, .hardwareError:
            return .retryCount(value)
        default:
            return .raw(b)
        }
    }

    /// Operator text for ASC/ASCQ, e.g. "logical unit not accessible, asymmetric access state transition".
    public var ascDescription: String { AdditionalSense.describe(asc: asc, ascq: ascq) }

    public var description: String {
        "\(senseKey.name) asc=0x\(SCSIWire.hex2(asc)) ascq=0x\(SCSIWire.hex2(ascq)) (\(ascDescription))\(current ? "" : " [deferred]")"
    }

    /// The path is in an ALUA state that refuses I/O (standby, unavailable, transitioning,
    /// offline): retry on another path rather than fail the I/O.
    public var isALUANotAccessible: Bool {
        senseKey == .notReady && asc == 0x04 && [0x0A, 0x0B, 0x0C, 0x12].contains(ascq)
    }
    /// Unit attentions that mean "rescan": capacity changed, LUN inventory changed,
    /// ALUA state changed.
    public var wantsRescan: Bool {
        senseKey == .unitAttention && ((asc == 0x2A && (ascq == 0x09 || ascq == 0x06)) || (asc == 0x3F && ascq == 0x0E))
    }
}

/// ASC/ASCQ texts (SPC-4 Annex D) for the conditions a storage data-path agent meets.
public enum AdditionalSense {
    public static func describe(asc: UInt8, ascq: UInt8) -> String {
        if let s = table[UInt16(asc) << 8 | UInt16(ascq)] { return s }
        switch asc {
        case 0x04: return "logical unit not ready (ascq 0x\(SCSIWire.hex2(ascq)))"
        case 0x29: return "power on, reset, or bus device reset occurred (ascq 0x\(SCSIWire.hex2(ascq)))"
        case 0x2A: return "parameters changed (ascq 0x\(SCSIWire.hex2(ascq)))"
        case 0x3F: return "target operating conditions have changed (ascq 0x\(SCSIWire.hex2(ascq)))"
        default: return "asc 0x\(SCSIWire.hex2(asc)) ascq 0x\(SCSIWire.hex2(ascq))"
        }
    }

    static let table: [UInt16: String] = [
        0x0000: "no additional sense information",
        0x0400: "logical unit not ready, cause not reportable",
        0x0401: "logical unit is in process of becoming ready",
        0x0402: "logical unit not ready, initializing command required",
        0x0403: "logical unit not ready, manual intervention required",
        0x0404: "logical unit not ready, format in progress",
        0x0407: "logical unit not ready, operation in progress",
        0x0409: "logical unit not ready, self-test in progress",
        0x040A: "logical unit not accessible, asymmetric access state transition",
        0x040B: "logical unit not accessible, target port in standby state",
        0x040C: "logical unit not accessible, target port in unavailable state",
        0x0410: "logical unit not ready, auxiliary memory not accessible",
        0x0411: "logical unit not ready, notify (enable spinup) required",
        0x0412: "logical unit not ready, offline",
        0x0800: "logical unit communication failure",
        0x0801: "logical unit communication time-out",
        0x1100: "unrecovered read error",
        0x1A00: "parameter list length error",
        0x2000: "invalid command operation code",
        0x2100: "logical block address out of range",
        0x2400: "invalid field in cdb",
        0x2500: "logical unit not supported",
        0x2600: "invalid field in parameter list",
        0x2700: "write protected",
        0x2707: "space allocation failed write protect",
        0x2800: "not ready to ready change, medium may have changed",
        0x2900: "power on, reset, or bus device reset occurred",
        0x2901: "power on occurred",
        0x2902: "scsi bus reset occurred",
        0x2903: "bus device reset function occurred",
        0x2904: "device internal reset",
        0x2907: "i_t nexus loss occurred",
        0x2A01: "mode parameters changed",
        0x2A03: "reservations preempted",
        0x2A04: "reservations released",
        0x2A05: "registrations preempted",
        0x2A06: "asymmetric access state changed",
        0x2A07: "implicit asymmetric access state transition failed",
        0x2A09: "capacity data has changed",
        0x2C00: "command sequence error",
        0x3800: "event status notification",
        0x3807: "thin provisioning soft threshold reached",
        0x3A00: "medium not present",
        0x3E03: "logical unit failed self-test",
        0x3F01: "microcode has been changed",
        0x3F03: "inquiry data has changed",
        0x3F0E: "reported luns data has changed",
        0x4400: "internal target failure",
        0x4700: "scsi parity error",
        0x4B00: "data phase error",
        0x5506: "auxiliary memory out of space",
    ]
}
