/// Bridges the CDB builders (`SCSICommands`) to what transports carry (`SCSIRequest`).
extension SCSICommand {
    /// The command as a transport request, with a per-command timeout in seconds.
    public func request(timeout: Int = 30) -> SCSIRequest {
        switch direction {
        case .none: return SCSIRequest(cdb: cdb, direction: .none, timeoutSeconds: timeout)
        case .fromDevice: return SCSIRequest(cdb: cdb, direction: .fromDevice(allocationLength), timeoutSeconds: timeout)
        case .toDevice: return SCSIRequest(cdb: cdb, direction: .toDevice(dataOut), timeoutSeconds: timeout)
        }
    }
}

extension SCSIOpcode {
    public static let read16: UInt8 = 0x88
    public static let write16: UInt8 = 0x8A
}

extension SCSICommands {
    /// READ(16) (SBC-4 5.17): LBA in bytes 2-9, TRANSFER LENGTH (blocks) in bytes 10-13.
    public static func read16(lba: UInt64, blocks: UInt32, blockLength: Int) throws -> SCSICommand {
        guard blocks > 0 else { throw PathCoreError(.invalidValue, "READ(16) of 0 blocks transfers nothing") }
        guard blockLength > 0, blockLength <= 1 << 20 else {
            throw PathCoreError(.invalidValue, "implausible logical block length \(blockLength)")
        }
        let bytes = Int(blocks) * blockLength
        guard bytes <= 1 << 30 else { throw PathCoreError(.invalidValue, "READ(16) of \(bytes) bytes is larger than 1 GiB") }
        var cdb = [UInt8](repeating: 0, count: 16)
        cdb[0] = SCSIOpcode.read16
        SCSIWire.put64(&cdb, 2, lba)
        SCSIWire.put32(&cdb, 10, blocks)
        return SCSICommand(name: "READ(16)", cdb: cdb, direction: .fromDevice, allocationLength: bytes)
    }

    /// WRITE(16) (SBC-4 5.46): `data` must be a whole number of blocks.
    public static func write16(lba: UInt64, data: [UInt8], blockLength: Int) throws -> SCSICommand {
        guard blockLength > 0, blockLength <= 1 << 20 else {
            throw PathCoreError(.invalidValue, "implausible logical block length \(blockLength)")
        }
        guard !data.isEmpty, data.count % blockLength == 0 else {
            throw PathCoreError(.invalidValue, "WRITE(16) data must be a whole number of \(blockLength)-byte blocks, got \(data.count) bytes")
        }
        let blocks = data.count / blockLength
        guard blocks <= 0xFFFF_FFFF else { throw PathCoreError(.invalidValue, "WRITE(16) of \(blocks) blocks exceeds the TRANSFER LENGTH field") }
        var cdb = [UInt8](repeating: 0, count: 16)
        cdb[0] = SCSIOpcode.write16
        SCSIWire.put64(&cdb, 2, lba)
        SCSIWire.put32(&cdb, 10, UInt32(blocks))
        return SCSICommand(name: "WRITE(16)", cdb: cdb, direction: .toDevice, dataOut: data)
    }
}
