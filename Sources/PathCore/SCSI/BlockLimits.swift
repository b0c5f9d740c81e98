/// VPD page 0xB0: Block Limits (SBC-4 6.6.4). Offsets below are from the start of the page
/// (header included). Old devices send PAGE LENGTH 0x10 (fields through MAXIMUM PREFETCH
/// LENGTH); SBC-3 and later send 0x3C. Fields past the page's end are nil, never guessed.
///
/// A value of 0 in a limit field means "not reported"; tgt reports 0xFFFFFFFF for
/// "no limit" on the UNMAP fields. `UnmapLimits` interprets both.
public struct BlockLimits: Sendable, Equatable, Codable {
    public var pageLength: Int
    /// WSNZ (byte 4 bit 0): WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is refused.
    public var writeSameNonZero: Bool
    /// MAXIMUM COMPARE AND WRITE LENGTH (byte 5), blocks.
    public var maximumCompareAndWriteLength: UInt8
    /// OPTIMAL TRANSFER LENGTH GRANULARITY (bytes 6-7), blocks.
    public var optimalTransferLengthGranularity: UInt16
    /// MAXIMUM TRANSFER LENGTH (bytes 8-11), blocks; 0 = not reported.
    public var maximumTransferLength: UInt32
    /// OPTIMAL TRANSFER LENGTH (bytes 12-15), blocks.
    public var optimalTransferLength: UInt32
    /// MAXIMUM PREFETCH LENGTH (bytes 16-19), blocks.
    public var maximumPrefetchLength: UInt32?
    /// MAXIMUM UNMAP LBA COUNT (bytes 20-23).
    public var maximumUnmapLBACount: UInt32?
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (bytes 24-27).
    public var maximumUnmapBlockDescriptorCount: UInt32?
    /// OPTIMAL UNMAP GRANULARITY (bytes 28-31), blocks.
    public var optimalUnmapGranularity: UInt32?
    /// UGAVALID (byte 32 bit 7): `unmapGranularityAlignment` is meaningful.
    public var unmapGranularityAlignmentValid: Bool?
    /// UNMAP GRANULARITY ALIGNMENT (bytes 32-35, 31 bits): LBA of the first whole granule.
    public var unmapGranularityAlignment: UInt32?
    /// MAXIMUM WRITE SAME LENGTH (bytes 36-43), blocks.
    public var maximumWriteSameLength: UInt64?
    /// MAXIMUM ATOMIC TRANSFER LENGTH (bytes 44-47).
    public var maximumAtomicTransferLength: UInt32?
    /// ATOMIC ALIGNMENT (bytes 48-51).
    public var atomicAlignment: UInt32?
    /// ATOMIC TRANSFER LENGTH GRANULARITY (bytes 52-55).
    public var atomicTransferLengthGranularity: UInt32?
    /// MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY (bytes 56-59).
    public var maximumAtomicTransferLengthWithAtomicBoundary: UInt32?
    /// MAXIMUM ATOMIC BOUNDARY SIZE (bytes 60-63).
    public var maximumAtomicBoundarySize: UInt32?

    public init(_ data: [UInt8]) throws {
        let page = try VPDPage(data, expecting: 0xB0)
        // `page.payload` is guaranteed whole; index the page itself to keep SBC offsets.
        let v = ByteView(Array(data.prefix(4 + page.pageLength)))
        pageLength = page.pageLength
        guard page.pageLength >= 0x0C else {
            throw PathCoreError(
                .truncated, "Block Limits VPD page too short",
                detail: "PAGE LENGTH \(page.pageLength), needs at least 12 (through OPTIMAL TRANSFER LENGTH)")
        }
        writeSameNonZero = try v.bit(4, 0, "WSNZ")
        maximumCompareAndWriteLength = try v.u8(5, "MAXIMUM COMPARE AND WRITE LENGTH")
        optimalTransferLengthGranularity = try v.u16(6, "OPTIMAL TRANSFER LENGTH GRANULARITY")
        maximumTransferLength = try v.u32(8, "MAXIMUM TRANSFER LENGTH")
        optimalTransferLength = try v.u32(12, "OPTIMAL TRANSFER LENGTH")
        func opt32(_ at: Int, _ f: String) throws -> UInt32? { at + 4 <= v.count ? try v.u32(at, f) : nil }
        maximumPrefetchLength = try opt32(16, "MAXIMUM PREFETCH LENGTH")
        maximumUnmapLBACount = try opt32(20, "MAXIMUM UNMAP LBA COUNT")
        maximumUnmapBlockDescriptorCount = try opt32(24, "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT")
        optimalUnmapGranularity = try opt32(28, "OPTIMAL UNMAP GRANULARITY")
        if let raw = try opt32(32, "UNMAP GRANULARITY ALIGNMENT") {
            unmapGranularityAlignmentValid = raw & 0x8000_0000 != 0
            unmapGranularityAlignment = raw & 0x7FFF_FFFF
        }
        maximumWriteSameLength = 44 <= v.count ? try v.u64(36, "MAXIMUM WRITE SAME LENGTH") : nil
        maximumAtomicTransferLength = try opt32(44, "MAXIMUM ATOMIC TRANSFER LENGTH")
        atomicAlignment = try opt32(48, "ATOMIC ALIGNMENT")
        atomicTransferLengthGranularity = try opt32(52, "ATOMIC TRANSFER LENGTH GRANULARITY")
        maximumAtomicTransferLengthWithAtomicBoundary = try opt32(56, "MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY")
        maximumAtomicBoundarySize = try opt32(60, "MAXIMUM ATOMIC BOUNDARY SIZE")
    }
}

/// VPD page 0xB2: Logical Block Provisioning (SBC-4 6.6.6).
public struct LogicalBlockProvisioning: Sendable, Equatable, Codable {
    public enum ProvisioningType: String, Sendable, Codable {
        /// 000b: sg_vpd prints "not known or fully provisioned" (scsi_debug sends 0).
        case fullOrNotReported = "full_or_not_reported"
        case resource = "resource_provisioned"
        case thin = "thin_provisioned"
        case unknown
    }

    /// THRESHOLD EXPONENT (byte 4).
    public var thresholdExponent: UInt8
    /// LBPU (byte 5 bit 7): UNMAP supported.
    public var unmapSupported: Bool
    /// LBPWS (byte 5 bit 6): WRITE SAME(16) with UNMAP supported.
    public var writeSame16UnmapSupported: Bool
    /// LBPWS10 (byte 5 bit 5): WRITE SAME(10) with UNMAP supported.
    public var writeSame10UnmapSupported: Bool
    /// LBPRZ (byte 5 bits 4-2, SBC-4): 0 = unmapped blocks read anything, 1 = read zeros,
    /// 2 = read the provisioning initialization pattern.
    public var readZerosAfterUnmap: UInt8
    /// ANC_SUP (byte 5 bit 1): ANCHOR supported.
    public var anchorSupported: Bool
    /// DP (byte 5 bit 0): a provisioning group descriptor follows.
    public var descriptorPresent: Bool
    /// MINIMUM PERCENTAGE (byte 6 bits 7-3).
    public var minimumPercentage: UInt8
    public var provisioningType: ProvisioningType
    /// PROVISIONING TYPE as sent (byte 6 bits 2-0).
    public var provisioningTypeCode: UInt8
    /// THRESHOLD PERCENTAGE (byte 7).
    public var thresholdPercentage: UInt8
    /// Provisioning group designator bytes when DP is set.
    public var provisioningGroupDescriptor: [UInt8]?

    public init(_ data: [UInt8]) throws {
        let page = try VPDPage(data, expecting: 0xB2)
        let v = ByteView(page.payload)
        thresholdExponent = try v.u8(0, "THRESHOLD EXPONENT")
        let f = try v.u8(1, "LBPU/LBPWS/LBPWS10/LBPRZ flags")
        unmapSupported = f & 0x80 != 0
        writeSame16UnmapSupported = f & 0x40 != 0
        writeSame10UnmapSupported = f & 0x20 != 0
        readZerosAfterUnmap = (f >> 2) & 0x7
        anchorSupported = f & 0x02 != 0
        descriptorPresent = f & 0x01 != 0
        let b6 = try v.u8(2, "PROVISIONING TYPE")
        minimumPercentage = b6 >> 3
        provisioningTypeCode = b6 & 0x7
        switch provisioningTypeCode {
        case 0: provisioningType = .fullOrNotReported
        case 1: provisioningType = .resource
        case 2: provisioningType = .thin
        default: provisioningType = .unknown
        }
        thresholdPercentage = try v.u8(3, "THRESHOLD PERCENTAGE")
        if descriptorPresent {
            let len = Int(try v.u8(4 + 3, "provisioning group DESIGNATOR LENGTH"))
            provisioningGroupDescriptor = try v.slice(4, 4 + len, "provisioning group descriptor")
        } else {
            provisioningGroupDescriptor = nil
        }
    }
}

/// READ CAPACITY(16) parameter data (SBC-4 5.21.2).
public struct ReadCapacity16: Sendable, Equatable, Codable {
    /// RETURNED LOGICAL BLOCK ADDRESS (the last LBA).
    public var lastLBA: UInt64
    public var blockCount: UInt64
    /// LOGICAL BLOCK LENGTH IN BYTES.
    public var blockLength: UInt32
    /// Capacity in bytes (nil if it overflows 64 bits).
    public var capacityBytes: UInt64?
    /// PROT_EN
    public var protectionEnabled: Bool
    /// P_TYPE (0 = type 1 protection when enabled).
    public var protectionType: UInt8
    /// P_I_EXPONENT
    public var protectionIntervalExponent: UInt8
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: physical block = blockLength << this.
    public var logicalBlocksPerPhysicalBlockExponent: UInt8
    public var physicalBlockLength: UInt64
    /// LBPME: logical block provisioning management enabled (thin; UNMAP may work).
    public var provisioningManagementEnabled: Bool
    /// LBPRZ: unmapped blocks read as zeros.
    public var readZerosAfterUnmap: Bool
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS.
    public var lowestAlignedLBA: UInt16

    public init(_ data: [UInt8]) throws {
        let v = ByteView(data)
        lastLBA = try v.u64(0, "RETURNED LOGICAL BLOCK ADDRESS")
        blockLength = try v.u32(8, "LOGICAL BLOCK LENGTH IN BYTES")
        let b12 = try v.u8(12, "P_TYPE/PROT_EN")
        let b13 = try v.u8(13, "P_I_EXPONENT/LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT")
        let b14 = try v.u8(14, "LBPME/LBPRZ")
        let b15 = try v.u8(15, "LOWEST ALIGNED LOGICAL BLOCK ADDRESS")
        guard lastLBA < UInt64.max else {
            throw PathCoreError(.invalidValue, "READ CAPACITY(16) returned LBA 0xFFFFFFFFFFFFFFFF")
        }
        guard blockLength > 0 else { throw PathCoreError(.invalidValue, "READ CAPACITY(16) returned a logical block length of 0") }
        blockCount = lastLBA + 1
        let (bytes, overflow) = blockCount.multipliedReportingOverflow(by: UInt64(blockLength))
        capacityBytes = overflow ? nil : bytes
        protectionType = (b12 >> 1) & 0x7
        protectionEnabled = b12 & 1 != 0
        protectionIntervalExponent = b13 >> 4
        logicalBlocksPerPhysicalBlockExponent = b13 & 0x0F
        physicalBlockLength = UInt64(blockLength) << UInt64(b13 & 0x0F)
        provisioningManagementEnabled = b14 & 0x80 != 0
        readZerosAfterUnmap = b14 & 0x40 != 0
        lowestAlignedLBA = UInt16(b14 & 0x3F) << 8 | UInt16(b15)
    }
}
