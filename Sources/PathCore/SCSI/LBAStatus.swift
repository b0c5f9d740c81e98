/// GET LBA STATUS parameter data (SBC-4 5.7.2): 8-byte header, then 16-byte LBA status
/// descriptors.
public struct LBAStatus: Sendable, Equatable, Codable {
    public enum ProvisioningStatus: String, Sendable, Codable {
        case mapped
        case deallocated
        case anchored
        /// 3h: mapped or unknown (SBC-4).
        case mappedOrUnknown = "mapped_or_unknown"
        case reserved
    }

    public struct Descriptor: Sendable, Equatable, Codable {
        public var startingLBA: UInt64
        public var blockCount: UInt32
        public var status: ProvisioningStatus
        public var statusCode: UInt8
        public var end: UInt64 { startingLBA + UInt64(blockCount) }
    }

    public var descriptors: [Descriptor]
    /// True when the device has more descriptors than the allocation length let through
    /// (PARAMETER DATA LENGTH exceeds the bytes returned): ask again from `nextLBA`.
    public var incomplete: Bool

    public init(_ data: [UInt8]) throws {
        let v = ByteView(data)
        let paramLength = Int(try v.u32(0, "PARAMETER DATA LENGTH"))
        _ = try v.slice(4, 4, "GET LBA STATUS header")
        let announced = 4 + paramLength
        guard (announced - 8) % 16 == 0, announced >= 8 else {
            throw PathCoreError(
                .invalidValue, "GET LBA STATUS PARAMETER DATA LENGTH \(paramLength) is not 4 + 16 x descriptors")
        }
        let available = min(announced, data.count)
        incomplete = available < announced
        var out = [Descriptor]()
        var at = 8
        while at + 16 <= available {
            let code = try v.u8(at + 12, "PROVISIONING STATUS") & 0x0F
            let status: ProvisioningStatus
            switch code {
            case 0: status = .mapped
            case 1: status = .deallocated
            case 2: status = .anchored
            case 3: status = .mappedOrUnknown
            default: status = .reserved
            }
            let lba = try v.u64(at, "LBA STATUS LOGICAL BLOCK ADDRESS")
            let count = try v.u32(at + 8, "NUMBER OF LOGICAL BLOCKS")
            guard !lba.addingReportingOverflow(UInt64(count)).overflow else {
                throw PathCoreError(.invalidValue, "GET LBA STATUS descriptor LBA \(lba)+\(count) ends past LBA 2^64")
            }
            out.append(Descriptor(startingLBA: lba, blockCount: count, status: status, statusCode: code))
            at += 16
        }
        if !incomplete && at != announced {
            throw PathCoreError(.truncated, "GET LBA STATUS descriptor cut short", detail: "at byte \(at) of \(announced)")
        }
        descriptors = out
    }

    public var mappedBlocks: UInt64 { total(.mapped) + total(.mappedOrUnknown) }
    public var deallocatedBlocks: UInt64 { total(.deallocated) }
    public var anchoredBlocks: UInt64 { total(.anchored) }
    /// First LBA not described (for a follow-up GET LBA STATUS).
    public var nextLBA: UInt64? { descriptors.last?.end }

    private func total(_ s: ProvisioningStatus) -> UInt64 {
        descriptors.filter { $0.status == s }.reduce(0) { $0 + UInt64($1.blockCount) }
    }
}
