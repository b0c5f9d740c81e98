/// What a device says about deallocation, gathered from READ CAPACITY(16), VPD 0xB2 and
/// VPD 0xB0 (either VPD page may be absent on old devices).
public struct UnmapCapabilities: Sendable, Equatable, Codable {
    public var blockLength: Int
    public var blockCount: UInt64
    /// LBPME from READ CAPACITY(16).
    public var provisioningEnabled: Bool
    /// LBPU (VPD 0xB2).
    public var unmapSupported: Bool
    /// LBPWS (VPD 0xB2).
    public var writeSameUnmapSupported: Bool
    /// Raw limits from VPD 0xB0 (0 = not reported, 0xFFFFFFFF = unlimited).
    public var maximumUnmapLBACount: UInt32?
    public var maximumUnmapBlockDescriptorCount: UInt32?
    public var optimalUnmapGranularity: UInt32?
    /// UNMAP GRANULARITY ALIGNMENT, only when UGAVALID is set.
    public var unmapGranularityAlignment: UInt32?
    public var maximumWriteSameLength: UInt64?

    public init(
        blockLength: Int, blockCount: UInt64, provisioningEnabled: Bool, unmapSupported: Bool,
        writeSameUnmapSupported: Bool, maximumUnmapLBACount: UInt32? = nil,
        maximumUnmapBlockDescriptorCount: UInt32? = nil, optimalUnmapGranularity: UInt32? = nil,
        unmapGranularityAlignment: UInt32? = nil, maximumWriteSameLength: UInt64? = nil
    ) {
        self.blockLength = blockLength
        self.blockCount = blockCount
        self.provisioningEnabled = provisioningEnabled
        self.unmapSupported = unmapSupported
        self.writeSameUnmapSupported = writeSameUnmapSupported
        self.maximumUnmapLBACount = maximumUnmapLBACount
        self.maximumUnmapBlockDescriptorCount = maximumUnmapBlockDescriptorCount
        self.optimalUnmapGranularity = optimalUnmapGranularity
        self.unmapGranularityAlignment = unmapGranularityAlignment
        self.maximumWriteSameLength = maximumWriteSameLength
    }

    public init(capacity: ReadCapacity16, provisioning: LogicalBlockProvisioning?, limits: BlockLimits?) {
        self.init(
            blockLength: Int(capacity.blockLength), blockCount: capacity.blockCount,
            provisioningEnabled: capacity.provisioningManagementEnabled,
            unmapSupported: provisioning?.unmapSupported ?? false,
            writeSameUnmapSupported: provisioning?.writeSame16UnmapSupported ?? false,
            maximumUnmapLBACount: limits?.maximumUnmapLBACount,
            maximumUnmapBlockDescriptorCount: limits?.maximumUnmapBlockDescriptorCount,
            optimalUnmapGranularity: limits?.optimalUnmapGranularity,
            unmapGranularityAlignment: limits?.unmapGranularityAlignmentValid == true ? limits?.unmapGranularityAlignment : nil,
            maximumWriteSameLength: limits?.maximumWriteSameLength)
    }
}

/// What to deallocate.
public enum UnmapRequest: Sendable, Equatable, Codable {
    /// A byte range; partial blocks at either end stay mapped.
    case bytes(offset: UInt64, length: UInt64)
    case blocks(lba: UInt64, count: UInt64)
    case wholeDevice
}

/// The commands that deallocate a request, and what they leave mapped.
public struct UnmapPlan: Sendable, Equatable, Codable {
    public typealias BlockRange = SCSICommands.BlockRange

    public enum Method: String, Sendable, Codable {
        case unmap
        case writeSame16Unmap = "write_same_16_unmap"
    }

    public struct Step: Sendable, Equatable, Codable {
        public var command: SCSICommand
        /// The block ranges the command deallocates (UNMAP descriptors, or the one WRITE SAME range).
        public var ranges: [BlockRange]
        public var blocks: UInt64 { ranges.reduce(0) { $0 + $1.count } }
    }

    public var method: Method
    public var steps: [Step]
    /// The request in whole blocks (partial blocks of a byte request included).
    public var requested: BlockRange
    /// The aligned interior that the steps cover (nil when no whole granule fits).
    public var deallocated: BlockRange?
    /// Head and tail of the request left mapped because they are not whole granules.
    public var leftMapped: [BlockRange]
    /// Granule in blocks and the LBA offset of granule boundaries used.
    public var granularity: UInt64
    public var alignment: UInt64
    /// Per-command limits applied (after interpreting 0 and 0xFFFFFFFF).
    public var blocksPerDescriptor: UInt64
    public var descriptorsPerCommand: Int
    public var blocksPerCommand: UInt64

    public var deallocatedBlocks: UInt64 { deallocated?.count ?? 0 }
}

/// Plans UNMAP (or WRITE SAME(16) with UNMAP) for a request, honouring the Block Limits page.
///
/// Rules: only whole granules (OPTIMAL UNMAP GRANULARITY, aligned to UNMAP GRANULARITY
/// ALIGNMENT when UGAVALID) are deallocated; a limit of 0 means "not reported" and
/// 0xFFFFFFFF means "unlimited", and both fall back to the caps in `Options` so that no
/// single command is absurdly large. MAXIMUM UNMAP LBA COUNT bounds the blocks of one UNMAP
/// command (SBC-4 6.6.4), hence also each descriptor.
public enum UnmapPlanner {
    public struct Options: Sendable, Equatable {
        /// Blocks per UNMAP descriptor (and per WRITE SAME) when the device reports no limit.
        public var blocksPerDescriptorCap: UInt64
        /// Descriptors per UNMAP command when the device reports no limit.
        public var descriptorsPerCommandCap: Int
        /// Granularity (blocks) to use when the device reports none or a smaller one:
        /// tgt reports 0 but frees only 4 KiB-aligned pieces of its backing file.
        public var minimumGranularity: UInt64
        /// A plan needing more commands than this is refused (a device reporting tiny limits
        /// for a huge range): the caller splits the request.
        public var maximumCommands: Int

        public init(
            blocksPerDescriptorCap: UInt64 = 1 << 22, descriptorsPerCommandCap: Int = 64, minimumGranularity: UInt64 = 1,
            maximumCommands: Int = 100_000
        ) {
            self.blocksPerDescriptorCap = blocksPerDescriptorCap
            self.descriptorsPerCommandCap = descriptorsPerCommandCap
            self.minimumGranularity = minimumGranularity
            self.maximumCommands = maximumCommands
        }
    }

    public static func plan(
        _ request: UnmapRequest, on device: UnmapCapabilities, options: Options = Options()
    ) throws -> UnmapPlan {
        guard device.blockLength > 0, device.blockCount > 0 else {
            throw PathCoreError(.invalidValue, "device capacity unknown (block length \(device.blockLength), \(device.blockCount) blocks)")
        }
        guard device.provisioningEnabled else {
            throw PathCoreError(
                .unsupported, "device is not thin provisioned (READ CAPACITY(16) LBPME=0): UNMAP would not free space")
        }
        let method: UnmapPlan.Method
        if device.unmapSupported {
            method = .unmap
        } else if device.writeSameUnmapSupported {
            method = .writeSame16Unmap
        } else {
            throw PathCoreError(
                .unsupported, "device supports neither UNMAP (LBPU=0) nor WRITE SAME(16) with UNMAP (LBPWS=0)")
        }
        guard options.blocksPerDescriptorCap > 0, options.descriptorsPerCommandCap > 0 else {
            throw PathCoreError(.invalidValue, "planner caps must be positive")
        }

        // The request as whole blocks [first, end) and the enclosing block range.
        let bl = UInt64(device.blockLength)
        let first: UInt64, end: UInt64, outerFirst: UInt64, outerEnd: UInt64
        switch request {
        case .bytes(let offset, let length):
            guard length > 0 else { throw PathCoreError(.invalidValue, "empty byte range at offset \(offset)") }
            let (stop, overflow) = offset.addingReportingOverflow(length)
            guard !overflow else { throw PathCoreError(.invalidValue, "byte range \(offset)+\(length) overflows") }
            outerFirst = offset / bl
            outerEnd = stop / bl + (stop % bl == 0 ? 0 : 1)
            first = offset / bl + (offset % bl == 0 ? 0 : 1)
            end = max(first, stop / bl)
            guard outerEnd <= device.blockCount else {
                throw PathCoreError(
                    .invalidValue,
                    "byte range \(offset)+\(length) extends past the end of the device (\(device.blockCount * bl) bytes)")
            }
        case .blocks(let lba, let count):
            guard count > 0 else { throw PathCoreError(.invalidValue, "empty block range at LBA \(lba)") }
            let (stop, overflow) = lba.addingReportingOverflow(count)
            guard !overflow, stop <= device.blockCount else {
                throw PathCoreError(
                    .invalidValue,
                    "LBA range \(lba)+\(count) extends past the last LBA \(device.blockCount - 1) (\(device.blockCount) blocks)")
            }
            (first, end, outerFirst, outerEnd) = (lba, stop, lba, stop)
        case .wholeDevice:
            (first, end, outerFirst, outerEnd) = (0, device.blockCount, 0, device.blockCount)
        }

        // Granule boundaries: LBAs b with b % g == a % g.
        let g = max(UInt64(device.optimalUnmapGranularity ?? 0), options.minimumGranularity, 1)
        let a = UInt64(device.unmapGranularityAlignment ?? 0) % g
        func roundUp(_ x: UInt64) -> UInt64 {
            let r = (x % g + g - a) % g  // (x - a) mod g without underflow
            guard r != 0 else { return x }
            let (up, overflow) = x.addingReportingOverflow(g - r)
            return overflow ? .max : up  // no granule starts at or after x below 2^64
        }
        func roundDown(_ x: UInt64) -> UInt64 {
            let r = (x % g + g - a) % g
            return x >= r ? x - r : 0
        }
        let alignedFirst = roundUp(first)
        let alignedEnd = roundDown(end)

        // Limits.
        func limit32(_ v: UInt32?, cap: UInt64) -> UInt64 {
            guard let v, v != 0, v != 0xFFFF_FFFF else { return cap }
            return UInt64(v)
        }
        let perCommand: UInt64
        let perDescriptor: UInt64
        let descriptors: Int
        switch method {
        case .unmap:
            let reported = device.maximumUnmapLBACount
            let unlimited = reported == nil || reported == 0 || reported == 0xFFFF_FFFF
            descriptors = Int(min(limit32(device.maximumUnmapBlockDescriptorCount, cap: UInt64(options.descriptorsPerCommandCap)), 4095))
            perDescriptor = min(limit32(reported, cap: options.blocksPerDescriptorCap), 0xFFFF_FFFF)
            perCommand = unlimited ? perDescriptor * UInt64(descriptors) : perDescriptor
        case .writeSame16Unmap:
            let reported = device.maximumWriteSameLength ?? 0
            perDescriptor = min(reported == 0 || reported >= 0xFFFF_FFFF ? options.blocksPerDescriptorCap : reported, 0xFFFF_FFFF)
            perCommand = perDescriptor
            descriptors = 1
        }
        // Keep every piece a whole number of granules where the limit allows it.
        let pieceMax = perDescriptor >= g ? perDescriptor - perDescriptor % g : perDescriptor
        let commandMax = perCommand >= g ? perCommand - perCommand % g : perCommand

        var steps = [UnmapPlan.Step]()
        var deallocated: SCSICommands.BlockRange? = nil
        var leftMapped = [SCSICommands.BlockRange]()
        if alignedFirst < alignedEnd {
            deallocated = .init(lba: alignedFirst, count: alignedEnd - alignedFirst)
            if outerFirst < alignedFirst { leftMapped.append(.init(lba: outerFirst, count: alignedFirst - outerFirst)) }
            if alignedEnd < outerEnd { leftMapped.append(.init(lba: alignedEnd, count: outerEnd - alignedEnd)) }
            let perStep = min(commandMax, pieceMax * UInt64(descriptors))
            let needed = (alignedEnd - alignedFirst) / perStep + 1
            guard needed <= UInt64(options.maximumCommands) + 1 else {
                throw PathCoreError(
                    .invalidValue,
                    "UNMAP of LBA range \(alignedFirst)+\(alignedEnd - alignedFirst) would need about \(needed) commands (device limit \(perStep) blocks per command); split the request",
                    detail: "maximum \(options.maximumCommands) commands per plan")
            }
            var lba = alignedFirst
            while lba < alignedEnd {
                var ranges = [SCSICommands.BlockRange]()
                var inCommand: UInt64 = 0
                while lba < alignedEnd, ranges.count < descriptors, inCommand < commandMax {
                    let n = min(pieceMax, alignedEnd - lba, commandMax - inCommand)
                    ranges.append(.init(lba: lba, count: n))
                    inCommand += n
                    lba += n
                }
                let command: SCSICommand
                switch method {
                case .unmap: command = try SCSICommands.unmap(ranges)
                case .writeSame16Unmap: command = try SCSICommands.writeSame16Unmap(ranges[0], blockLength: device.blockLength)
                }
                steps.append(UnmapPlan.Step(command: command, ranges: ranges))
            }
        } else {
            leftMapped.append(.init(lba: outerFirst, count: outerEnd - outerFirst))
        }
        return UnmapPlan(
            method: method, steps: steps, requested: .init(lba: outerFirst, count: outerEnd - outerFirst),
            deallocated: deallocated, leftMapped: leftMapped, granularity: g, alignment: a,
            blocksPerDescriptor: pieceMax, descriptorsPerCommand: descriptors, blocksPerCommand: commandMax)
    }
}
