/// One SCSI command as the transports carry it: CDB in; data, status and sense out.
/// The same protocol is implemented by SG_IO on a local sg/sd node and by a libiscsi
/// session to a network target, so every decoder and planner above it is transport-blind.
public struct SCSIRequest: Sendable, Equatable {
    public enum Direction: Sendable, Equatable {
        case none
        /// Expect up to this many bytes from the device.
        case fromDevice(Int)
        /// Send these bytes to the device (UNMAP parameter list, WRITE data...).
        case toDevice([UInt8])
    }

    public var cdb: [UInt8]
    public var direction: Direction
    /// Per-command timeout in seconds.
    public var timeoutSeconds: Int

    public init(cdb: [UInt8], direction: Direction = .none, timeoutSeconds: Int = 30) {
        self.cdb = cdb
        self.direction = direction
        self.timeoutSeconds = timeoutSeconds
    }
}

public struct SCSIResponse: Sendable, Equatable {
    /// SCSI status byte (0x00 GOOD, 0x02 CHECK CONDITION, 0x08 BUSY, 0x18 RESERVATION
    /// CONFLICT, 0x28 TASK SET FULL).
    public var status: UInt8
    /// Data returned by the device (already cut to what it actually sent).
    public var data: [UInt8]
    /// Raw sense bytes (fixed or descriptor format) when status is CHECK CONDITION.
    public var sense: [UInt8]

    public init(status: UInt8, data: [UInt8] = [], sense: [UInt8] = []) {
        self.status = status
        self.data = data
        self.sense = sense
    }

    public var isGood: Bool { status == 0 }

    /// Sense key, ASC and ASCQ from fixed (0x70/0x71) or descriptor (0x72/0x73) sense.
    public var senseTriple: (key: UInt8, asc: UInt8, ascq: UInt8)? {
        guard sense.count >= 2 else { return nil }
        switch sense[0] & 0x7f {
        case 0x70, 0x71:
            guard sense.count >= 14 else { return sense.count >= 3 ? (sense[2] & 0x0f, 0, 0) : nil }
            return (sense[2] & 0x0f, sense[12], sense[13])
        case 0x72, 0x73:
            guard sense.count >= 4 else { return nil }
            return (sense[1] & 0x0f, sense[2], sense[3])
        default:
            return nil
        }
    }
}

/// Carries SCSI commands to one logical unit.
public protocol SCSITransport: Sendable {
    /// A human name for the target of the commands (`/dev/sg3`, `iscsi://127.0.0.1/iqn.../1`
    /// with any password removed).
    var endpoint: String { get }
    /// Sends one command. Throws only for transport failures (device gone, connection lost,
    /// timeout); a SCSI status other than GOOD comes back in the response.
    func send(_ request: SCSIRequest) throws -> SCSIResponse
}
