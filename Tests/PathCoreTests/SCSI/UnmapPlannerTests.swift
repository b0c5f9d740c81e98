import Testing
@testable import PathCore

@Suite struct UnmapPlannerTests {
    typealias R = SCSICommands.BlockRange

    func device(_ prefix: String) throws -> UnmapCapabilities {
        UnmapCapabilities(
            capacity: try ReadCapacity16(try SCSIFixture.bytes("\(prefix)-read-capacity16.hex")),
            provisioning: try LogicalBlockProvisioning(try SCSIFixture.bytes("\(prefix)-vpdb2.hex")),
            limits: try BlockLimits(try SCSIFixture.bytes("\(prefix)-vpdb0.hex")))
    }

    /// Checks the invariants every plan must hold and returns the union of its ranges.
    @discardableResult
    func checkInvariants(_ plan: UnmapPlan, _ dev: UnmapCapabilities) throws -> [R] {
        let ranges = plan.steps.flatMap(\.ranges)
        // non-overlapping, contiguous, ascending, exactly the deallocated interior
        var next = plan.deallocated?.lba
        for r in ranges {
            #expect(r.lba == next)
            #expect(r.count > 0 && r.count <= plan.blocksPerDescriptor)
            next = r.end
        }
        #expect(next == plan.deallocated?.end)
        #expect(plan.deallocatedBlocks == ranges.reduce(0) { $0 + $1.count })
        if let d = plan.deallocated {
            #expect((d.lba + plan.granularity - plan.alignment) % plan.granularity == 0)
            #expect((d.end + plan.granularity - plan.alignment) % plan.granularity == 0)
            #expect(d.end <= dev.blockCount)
        }
        // head + interior + tail == requested
        let pieces = (plan.leftMapped + (plan.deallocated.map { [$0] } ?? [])).sorted { $0.lba < $1.lba }
        var at = plan.requested.lba
        for p in pieces {
            #expect(p.lba == at)
            at = p.end
        }
        #expect(at == plan.requested.end)
        for r in plan.leftMapped { #expect(r.count < 2 * plan.granularity) }
        for step in plan.steps {
            #expect(step.blocks <= plan.blocksPerCommand)
            #expect(step.ranges.count <= plan.descriptorsPerCommand)
            switch plan.method {
            case .unmap:
                #expect(step.command.cdb[0] == 0x42)
                // the parameter list carries exactly the step's ranges
                let expected = try SCSICommands.unmap(step.ranges)
                #expect(step.command == expected)
            case .writeSame16Unmap:
                #expect(step.command.cdb[0] == 0x93 && step.ranges.count == 1)
                #expect(step.command.dataOut.count == dev.blockLength)
            }
        }
        return ranges
    }

    @Test func tgtUnlimitedUsesCaps() throws {
        let dev = try device("tgt")
        #expect(dev.maximumUnmapLBACount == 0xFFFF_FFFF)
        let plan = try UnmapPlanner.plan(.wholeDevice, on: dev)
        #expect(plan.method == .unmap)
        #expect(plan.blocksPerDescriptor == 1 << 22 && plan.descriptorsPerCommand == 64)
        // 2097152 blocks < one 4 Mi-block descriptor: one command, one descriptor
        #expect(plan.steps.count == 1 && plan.steps[0].ranges == [R(lba: 0, count: 2_097_152)])
        #expect(plan.leftMapped.isEmpty)
        let param = plan.steps[0].command.dataOut
        #expect(param == [0, 22, 0, 16, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [0, 0x20, 0, 0] + [0, 0, 0, 0])
        try checkInvariants(plan, dev)
    }

    @Test func tgtWith4KiBPieces() throws {
        // tgt reports granularity 0 but frees only 4 KiB pieces: the caller asks for 8-block granules.
        let dev = try device("tgt")
        let plan = try UnmapPlanner.plan(
            .bytes(offset: 1000, length: 20000), on: dev, options: .init(minimumGranularity: 8))
        // bytes 1000..<21000 = blocks 1..<42 (partial block 1 and 41); granules of 8: [8, 40)
        #expect(plan.requested == R(lba: 1, count: 41))
        #expect(plan.deallocated == R(lba: 8, count: 32))
        #expect(plan.leftMapped == [R(lba: 1, count: 7), R(lba: 40, count: 2)])
        try checkInvariants(plan, dev)
    }

    @Test func scsiDebugLimits() throws {
        let dev = try device("scsi_debug")
        // 131072 blocks, max 65536 LBAs per UNMAP command, 16 descriptors, granularity 8
        let plan = try UnmapPlanner.plan(.blocks(lba: 3, count: 131_000), on: dev)
        #expect(plan.granularity == 8 && plan.alignment == 0)
        #expect(plan.blocksPerCommand == 65536 && plan.descriptorsPerCommand == 16)
        #expect(plan.deallocated == R(lba: 8, count: 130_992))
        #expect(plan.leftMapped == [R(lba: 3, count: 5), R(lba: 131_000, count: 3)])
        #expect(plan.steps.map(\.ranges) == [[R(lba: 8, count: 65536)], [R(lba: 65544, count: 65456)]])
        try checkInvariants(plan, dev)
        let wire = plan.steps.flatMap { $0.command.cdb + $0.command.dataOut }
        #expect(wire == (try SCSIFixture.bytes("plan-scsi_debug-unmap.hex")))
    }

    @Test func smallLimitWithAlignment() throws {
        // 4 KiB granules (8 x 512 B), granules start at LBA 3 (UGAVALID), 40 LBAs per command, 2 descriptors.
        let dev = UnmapCapabilities(
            blockLength: 512, blockCount: 1000, provisioningEnabled: true, unmapSupported: true,
            writeSameUnmapSupported: false, maximumUnmapLBACount: 40, maximumUnmapBlockDescriptorCount: 2,
            optimalUnmapGranularity: 8, unmapGranularityAlignment: 3)
        let plan = try UnmapPlanner.plan(.blocks(lba: 0, count: 200), on: dev)
        #expect(plan.alignment == 3)
        #expect(plan.deallocated == R(lba: 3, count: 192))  // [3, 195)
        #expect(plan.leftMapped == [R(lba: 0, count: 3), R(lba: 195, count: 5)])
        #expect(plan.blocksPerCommand == 40)
        #expect(plan.steps.count == 5)
        #expect(plan.steps.allSatisfy { $0.ranges.count == 1 })
        #expect(plan.steps.last?.ranges == [R(lba: 163, count: 32)])
        try checkInvariants(plan, dev)
        // a limit that is not a whole number of granules is rounded down to one
        var odd = dev
        odd.maximumUnmapLBACount = 45
        #expect(try UnmapPlanner.plan(.blocks(lba: 0, count: 200), on: odd).blocksPerCommand == 40)
    }

    @Test func requestSmallerThanAGranule() throws {
        let dev = try device("scsi_debug")
        let plan = try UnmapPlanner.plan(.blocks(lba: 9, count: 6), on: dev)
        #expect(plan.steps.isEmpty && plan.deallocated == nil)
        #expect(plan.leftMapped == [R(lba: 9, count: 6)])
    }

    @Test func writeSameFallback() throws {
        let dev = UnmapCapabilities(
            blockLength: 4096, blockCount: 1 << 20, provisioningEnabled: true, unmapSupported: false,
            writeSameUnmapSupported: true, optimalUnmapGranularity: 1, maximumWriteSameLength: 0x10000)
        let plan = try UnmapPlanner.plan(.wholeDevice, on: dev)
        #expect(plan.method == .writeSame16Unmap)
        #expect(plan.steps.count == 16 && plan.blocksPerCommand == 0x10000)
        let first = plan.steps[0].command
        #expect(first.cdb == [0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        try checkInvariants(plan, dev)
        // no WRITE SAME limit reported: default cap
        var unlimited = dev
        unlimited.maximumWriteSameLength = 0
        #expect(try UnmapPlanner.plan(.wholeDevice, on: unlimited).blocksPerCommand == 1 << 22)
    }

    @Test func unsupportedDevices() throws {
        var dev = try device("scsi_debug")
        dev.provisioningEnabled = false
        #expect(throws: PathCoreError.self) { try UnmapPlanner.plan(.wholeDevice, on: dev) }
        do {
            _ = try UnmapPlanner.plan(.wholeDevice, on: dev)
        } catch let e as PathCoreError {
            #expect(e.code == .unsupported && e.message.contains("LBPME=0"))
        }
        dev.provisioningEnabled = true
        dev.unmapSupported = false
        dev.writeSameUnmapSupported = false
        do {
            _ = try UnmapPlanner.plan(.wholeDevice, on: dev)
            Issue.record("planned for a device without UNMAP or WRITE SAME unmap")
        } catch let e as PathCoreError {
            #expect(e.code == .unsupported && e.message.contains("LBPU=0") && e.message.contains("LBPWS=0"))
        }
        // READ CAPACITY says thin but there is no B2 page
        let cap = try ReadCapacity16(try SCSIFixture.bytes("tgt-read-capacity16.hex"))
        let noVPD = UnmapCapabilities(capacity: cap, provisioning: nil, limits: nil)
        #expect(throws: PathCoreError.self) { try UnmapPlanner.plan(.wholeDevice, on: noVPD) }
    }

    @Test func outOfRange() throws {
        let dev = try device("scsi_debug")
        do {
            _ = try UnmapPlanner.plan(.blocks(lba: 131_000, count: 100), on: dev)
            Issue.record("planned past the end")
        } catch let e as PathCoreError {
            #expect(e.code == .invalidValue)
            #expect(e.message == "LBA range 131000+100 extends past the last LBA 131071 (131072 blocks)")
        }
        #expect(throws: PathCoreError.self) { try UnmapPlanner.plan(.bytes(offset: 64 << 20, length: 1), on: dev) }
        #expect(throws: PathCoreError.self) { try UnmapPlanner.plan(.blocks(lba: UInt64.max, count: 2), on: dev) }
        #expect(throws: PathCoreError.self) { try UnmapPlanner.plan(.blocks(lba: 0, count: 0), on: dev) }
    }

    @Test func refusesAbsurdPlans() throws {
        let dev = UnmapCapabilities(
            blockLength: 512, blockCount: 1 << 40, provisioningEnabled: true, unmapSupported: true,
            writeSameUnmapSupported: false, maximumUnmapLBACount: 1, maximumUnmapBlockDescriptorCount: 1)
        do {
            _ = try UnmapPlanner.plan(.wholeDevice, on: dev)
            Issue.record("planned 2^40 single-block commands")
        } catch let e as PathCoreError {
            #expect(e.code == .invalidValue && e.message.contains("split the request"))
        }
    }

    /// Property-style: many pseudo-random devices and requests, every plan satisfies the invariants.
    @Test func randomizedInvariants() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % bound
        }
        var planned = 0
        for _ in 0..<300 {
            let granularity = [0, 1, 8, 16, 64, 2048][Int(next(6))]
            let alignment: UInt32? = next(2) == 0 ? nil : UInt32(next(UInt64(max(granularity, 1))))
            let limits: [UInt32] = [0, 0xFFFF_FFFF, 1, 7, 8, 100, 4096, 65536]
            let dev = UnmapCapabilities(
                blockLength: 512, blockCount: 1 + next(1 << 14), provisioningEnabled: true,
                unmapSupported: next(3) != 0, writeSameUnmapSupported: true,
                maximumUnmapLBACount: limits[Int(next(UInt64(limits.count)))],
                maximumUnmapBlockDescriptorCount: [0, 0xFFFF_FFFF, 1, 2, 16][Int(next(5))],
                optimalUnmapGranularity: UInt32(granularity), unmapGranularityAlignment: alignment,
                maximumWriteSameLength: [0, 1, 9, 65535][Int(next(4))])
            let lba = next(dev.blockCount)
            let count = 1 + next(dev.blockCount - lba)
            let plan = try UnmapPlanner.plan(.blocks(lba: lba, count: count), on: dev, options: .init(blocksPerDescriptorCap: 1 << 12))
            try checkInvariants(plan, dev)
            #expect(plan.requested == R(lba: lba, count: count))
            if !plan.steps.isEmpty { planned += 1 }
            // aligned interior is maximal: one more granule on either side would leave the request
            let g = plan.granularity
            if let d = plan.deallocated {
                #expect(d.lba < lba + g && d.end + g > lba + count)
            }
        }
        #expect(planned > 100)
    }
}
