import Testing
@testable import PathCore

@Suite struct StandardInquiryTests {
    @Test func tgt() throws {
        let q = try StandardInquiry(try SCSIFixture.bytes("tgt-inquiry.hex"))
        #expect(q.peripheralQualifier == .connected)
        #expect(q.deviceType == 0 && q.deviceTypeName == "disk")
        #expect(q.vendor == "IET" && q.product == "VIRTUAL-DISK" && q.revision == "0001")
        #expect(q.version == 5 && q.versionName == "SPC-3")
        #expect(q.responseDataFormat == 2 && q.hierarchicalSupport)
        #expect(q.alua == .none && !q.thirdPartyCopy && !q.protect && !q.removable)
        #expect(q.commandQueueing)
        #expect(q.availableLength == 66 && q.bytesReturned == 66)
        #expect(q.versionDescriptors == [0x04C0, 0x0960, 0x0300])
    }

    @Test func scsiDebug() throws {
        let q = try StandardInquiry(try SCSIFixture.bytes("scsi_debug-inquiry.hex"))
        #expect(q.vendor == "Linux" && q.product == "scsi_debug" && q.revision == "0191")
        #expect(q.versionName == "SPC-5" && q.multiPort && q.commandQueueing)
        #expect(q.alua == .none)
        #expect(q.versionDescriptors == [0x00C0, 0x05C0, 0x0600, 0x2100])
    }

    @Test func pureCutByAllocationLength() throws {
        let q = try StandardInquiry(try SCSIFixture.bytes("pure-inquiry-36.hex"))
        #expect(q.vendor == "PURE" && q.product == "FlashArray" && q.revision == "8888")
        #expect(q.alua == .implicit && q.alua.supportsImplicit && !q.alua.supportsExplicit)
        #expect(q.thirdPartyCopy && q.versionName == "SPC-4")
        #expect(q.availableLength == 96 && q.bytesReturned == 36)
        #expect(q.versionDescriptors.isEmpty)
    }

    @Test func truncated() throws {
        let data = try SCSIFixture.bytes("tgt-inquiry.hex")
        for cut in prefixes(data, [0, 1, 5, 8, 20, 35]) {
            #expect(isTruncated { _ = try StandardInquiry(cut) }, "cut at \(cut.count)")
        }
    }

    @Test func noLUNQualifier() throws {
        var data = try SCSIFixture.bytes("tgt-inquiry.hex")
        data[0] = 0x7F  // tgt's TYPE_NO_LUN
        let q = try StandardInquiry(data)
        #expect(q.peripheralQualifier == .notSupported && q.deviceType == 0x1F)
    }
}

@Suite struct VPDTests {
    @Test func supportedPagesAndSerial() throws {
        let pages = try SupportedVPDPages(try SCSIFixture.bytes("tgt-vpd00.hex"))
        #expect(pages.pages == [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2])
        #expect(pages.supports(0xB2) && !pages.supports(0x86))
        #expect(try UnitSerialNumber(try SCSIFixture.bytes("tgt-vpd80.hex")).serial == "beaf11")
        let pure = try UnitSerialNumber(try SCSIFixture.bytes("pure-vpd80.hex"))
        #expect(pure.serial == "9714B5CB91634C470002B2C8")
    }

    /// What tgt answered in the lab at a LUN it no longer had: byte 0 0x7f (qualifier 3, no
    /// logical unit) and its LUN 0 controller's NAA designator. Such a page names no disk.
    @Test func aPageFromNoLogicalUnitNamesNoDisk() throws {
        let naa: [UInt8] = [0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        let page = { (b0: UInt8) -> [UInt8] in [b0, 0x83, 0x00, 20, 0x01, 0x03, 0x00, 16] + naa }
        let gone = try DeviceIdentification(page(0x7F))
        #expect(gone.peripheralQualifier == 3 && gone.deviceType == 0x1F && !gone.answersAsDisk)
        #expect(gone.logicalUnitWWN?.value == "360000000000000000e00000000010000")
        #expect(try !DeviceIdentification(page(0x0C)).answersAsDisk)  // a storage array controller
        #expect(try !DeviceIdentification(page(0x20)).answersAsDisk)  // qualifier 1: not connected
        for t: UInt8 in [0x00, 0x07, 0x0E, 0x14] { #expect(try DeviceIdentification(page(t)).answersAsDisk, "type \(t)") }
        // a real page of a present disk (scsi_debug) answers as one
        #expect(try DeviceIdentification(try SCSIFixture.bytes("scsi_debug-vpd83.hex")).answersAsDisk)
    }

    @Test func wrongPageIsRejected() throws {
        let data = try SCSIFixture.bytes("tgt-vpd80.hex")
        #expect(throws: PathCoreError(.invalidValue, "expected VPD page 0x83, device returned page 0x80")) {
            try DeviceIdentification(data)
        }
    }

    @Test func requiredLength() throws {
        let data = try SCSIFixture.bytes("scsi_debug-vpd83.hex")
        #expect(try VPDPage.requiredLength(Array(data.prefix(4))) == 116)
        #expect(data.count == 116)
    }

    @Test func tgtDeviceIdentification() throws {
        let id = try DeviceIdentification(try SCSIFixture.bytes("tgt-vpd83.hex"))
        #expect(id.designators.count == 3)
        let t10 = id.designators[0]
        #expect(t10.type == .t10VendorID && t10.codeSet == .ascii && t10.association == .logicalUnit)
        #expect(t10.text == "IET     00010001")
        #expect(id.designators[1].naaType == 3 && id.designators[1].hex == "3000000100000001")
        #expect(id.designators[2].naaType == 6)
        #expect(id.logicalUnitWWN == (try WWN("360000000000000000e00000000010001")))
        #expect(id.logicalUnitIdentifier == "naa.60000000000000000e00000000010001")
        #expect(id.relativeTargetPortID == nil && id.targetPortGroupID == nil)
    }

    @Test func scsiDebugDeviceIdentification() throws {
        let id = try DeviceIdentification(try SCSIFixture.bytes("scsi_debug-vpd83.hex"))
        #expect(id.designators.map(\.type) == [.t10VendorID, .naa, .relativeTargetPort, .naa, .targetPortGroup, .naa, .scsiNameString])
        #expect(id.designators.map(\.association) == [.logicalUnit, .logicalUnit, .targetPort, .targetPort, .targetPort, .targetDevice, .targetDevice])
        #expect(id.designators[2].protocolIdentifierValid && id.designators[2].protocolName == "sas")
        #expect(id.designators[0].text == "Linux   scsi_debug      2000")
        #expect(id.designators[6].codeSet == .utf8 && id.designators[6].text == "naa.32222220000007CD")
        // NAA 3 LU designator: the kernel's wwid is naa.33333330000007d0
        #expect(id.logicalUnitWWN == (try WWN("333333330000007d0")))
        #expect(id.relativeTargetPortID == 1)
        #expect(id.targetPortGroupID == 0x0100)
    }

    @Test func pureDeviceIdentification() throws {
        let id = try DeviceIdentification(try SCSIFixture.bytes("pure-vpd83.hex"))
        let wwn = try #require(id.logicalUnitWWN)
        #expect(wwn == (try WWN.pure(serial: "9714B5CB91634C470002B2C8")))
        #expect(wwn.isPure)
        #expect(id.relativeTargetPortID == 2 && id.targetPortGroupID == 0)
        #expect(id.designators[1].protocolName == "iscsi")
    }

    @Test func wwnPreference() throws {
        // NAA 5 (target port) must not win over the LU's EUI-64; NAA 5 LU wins over EUI-64.
        func desc(_ b0: UInt8, _ b1: UInt8, _ body: [UInt8]) -> [UInt8] { [b0, b1, 0, UInt8(body.count)] + body }
        let eui = desc(0x01, 0x02, [1, 2, 3, 4, 5, 6, 7, 8])
        let naa5TargetPort = desc(0x01, 0x93, [0x50, 0, 0, 0, 0, 0, 0, 1])
        let naa5LU = desc(0x01, 0x03, [0x50, 0x01, 0, 0, 0, 0, 0, 2])
        func page(_ body: [UInt8]) -> [UInt8] { [0, 0x83, 0, UInt8(body.count)] + body }
        #expect(try DeviceIdentification(page(naa5TargetPort + eui)).logicalUnitWWN == (try WWN("20102030405060708")))
        #expect(try DeviceIdentification(page(eui + naa5LU)).logicalUnitWWN == (try WWN("35001000000000002")))
        let t10Only = page(desc(0x02, 0x01, Array("ACME    disk 42".utf8)))
        let id = try DeviceIdentification(t10Only)
        #expect(id.logicalUnitWWN == nil)
        #expect(id.logicalUnitIdentifier == "t10.ACME    disk 42")
    }

    @Test func vpdTruncation() throws {
        for name in ["tgt-vpd83.hex", "scsi_debug-vpd83.hex", "pure-vpd83.hex"] {
            let data = try SCSIFixture.bytes(name)
            for cut in prefixes(data, [0, 2, 3, 4, 7, 12, data.count - 1]) {
                #expect(isTruncated { _ = try DeviceIdentification(cut) }, "\(name) cut at \(cut.count)")
            }
        }
        // a designator claiming more bytes than the page holds
        let lying: [UInt8] = [0, 0x83, 0, 8, 0x01, 0x03, 0, 16, 0x60, 0, 0, 0]
        #expect(isTruncated { _ = try DeviceIdentification(lying) })
        for name in ["tgt-vpd00.hex", "tgt-vpd80.hex"] {
            let data = try SCSIFixture.bytes(name)
            for cut in prefixes(data, [0, 3, 5, data.count - 1]) {
                #expect(isTruncated { _ = try SupportedVPDPages(cut) } || isTruncated { _ = try UnitSerialNumber(cut) })
            }
        }
    }

    @Test func naaLengthMismatch() throws {
        let bad: [UInt8] = [0, 0x83, 0, 12, 0x01, 0x03, 0, 8, 0x60, 0, 0, 0, 0, 0, 0, 1]
        #expect(throws: PathCoreError.self) { try DeviceIdentification(bad) }
    }
}

@Suite struct BlockLimitsTests {
    @Test func tgt() throws {
        let b = try BlockLimits(try SCSIFixture.bytes("tgt-vpdb0.hex"))
        #expect(b.pageLength == 0x3C)
        #expect(!b.writeSameNonZero && b.maximumCompareAndWriteLength == 128)
        #expect(b.maximumTransferLength == 0 && b.optimalTransferLength == 0)
        #expect(b.maximumUnmapLBACount == 0xFFFF_FFFF && b.maximumUnmapBlockDescriptorCount == 0xFFFF_FFFF)
        #expect(b.optimalUnmapGranularity == 0 && b.unmapGranularityAlignmentValid == false)
        #expect(b.maximumWriteSameLength == 0 && b.maximumAtomicBoundarySize == 0)
    }

    @Test func scsiDebug() throws {
        let b = try BlockLimits(try SCSIFixture.bytes("scsi_debug-vpdb0.hex"))
        #expect(b.optimalTransferLengthGranularity == 1)
        #expect(b.maximumTransferLength == 131072 && b.optimalTransferLength == 1024)
        #expect(b.maximumPrefetchLength == 0)
        #expect(b.maximumUnmapLBACount == 65536 && b.maximumUnmapBlockDescriptorCount == 16)
        #expect(b.optimalUnmapGranularity == 8 && b.unmapGranularityAlignment == 0)
        #expect(b.maximumWriteSameLength == 0xFFFF)
        #expect(b.maximumAtomicTransferLength == 0 && b.atomicAlignment == 0 && b.atomicTransferLengthGranularity == 0)
        #expect(b.maximumAtomicTransferLengthWithAtomicBoundary == 0)
    }

    @Test func shortSBC2Page() throws {
        // PAGE LENGTH 0x10: fields through MAXIMUM PREFETCH LENGTH only.
        var page: [UInt8] = [0, 0xB0, 0, 0x10, 0x01, 0x08, 0, 8, 0, 0, 0x10, 0, 0, 0, 0x01, 0, 0, 0, 0, 0x40]
        var b = try BlockLimits(page)
        #expect(b.writeSameNonZero && b.maximumCompareAndWriteLength == 8 && b.optimalTransferLengthGranularity == 8)
        #expect(b.maximumTransferLength == 4096 && b.optimalTransferLength == 256 && b.maximumPrefetchLength == 64)
        #expect(b.maximumUnmapLBACount == nil && b.optimalUnmapGranularity == nil && b.maximumWriteSameLength == nil)
        // with UGAVALID and alignment in a longer page
        page[3] = 0x3C
        page += [UInt8](repeating: 0, count: 44)
        page[32] = 0x80
        page[35] = 3
        b = try BlockLimits(page)
        #expect(b.unmapGranularityAlignmentValid == true && b.unmapGranularityAlignment == 3)
    }

    @Test func truncated() throws {
        let data = try SCSIFixture.bytes("scsi_debug-vpdb0.hex")
        for cut in prefixes(data, [0, 3, 4, 16, 20, 40, 63]) {
            #expect(isTruncated { _ = try BlockLimits(cut) }, "cut at \(cut.count)")
        }
        #expect(isTruncated { _ = try BlockLimits([0, 0xB0, 0, 4, 0, 0, 0, 0]) })
    }
}

@Suite struct ProvisioningAndCapacityTests {
    @Test func tgtProvisioning() throws {
        let p = try LogicalBlockProvisioning(try SCSIFixture.bytes("tgt-vpdb2.hex"))
        #expect(p.unmapSupported && p.writeSame16UnmapSupported && p.writeSame10UnmapSupported)
        #expect(p.readZerosAfterUnmap == 1 && !p.anchorSupported && !p.descriptorPresent)
        #expect(p.provisioningType == .thin && p.thresholdExponent == 0)
    }

    @Test func scsiDebugProvisioning() throws {
        let p = try LogicalBlockProvisioning(try SCSIFixture.bytes("scsi_debug-vpdb2.hex"))
        #expect(p.unmapSupported && !p.writeSame16UnmapSupported && !p.writeSame10UnmapSupported)
        #expect(p.readZerosAfterUnmap == 1)
        #expect(p.provisioningType == .fullOrNotReported)
    }

    @Test func readCapacity() throws {
        let t = try ReadCapacity16(try SCSIFixture.bytes("tgt-read-capacity16.hex"))
        #expect(t.lastLBA == 2_097_151 && t.blockCount == 2_097_152 && t.blockLength == 512)
        #expect(t.capacityBytes == 1 << 30)
        #expect(t.provisioningManagementEnabled && t.readZerosAfterUnmap)
        // tgt's default lbppbe is 3: 512-byte logical blocks on 4 KiB physical blocks
        #expect(!t.protectionEnabled && t.lowestAlignedLBA == 0)
        #expect(t.logicalBlocksPerPhysicalBlockExponent == 3 && t.physicalBlockLength == 4096)
        let s = try ReadCapacity16(try SCSIFixture.bytes("scsi_debug-read-capacity16.hex"))
        #expect(s.blockCount == 131072 && s.capacityBytes == 64 << 20)
        // 4Kn-emulating 512e disk with protection type 2 and lowest aligned LBA 7
        var d = [UInt8](repeating: 0, count: 32)
        d[7] = 0xFF
        d[10] = 0x02
        d[12] = 0x03  // P_TYPE 001b, PROT_EN
        d[13] = 0x23  // P_I_EXPONENT 2, LBPPBE 3
        d[14] = 0x00
        d[15] = 0x07
        let e = try ReadCapacity16(d)
        #expect(e.protectionEnabled && e.protectionType == 1 && e.protectionIntervalExponent == 2)
        #expect(e.logicalBlocksPerPhysicalBlockExponent == 3 && e.physicalBlockLength == 4096)
        #expect(!e.provisioningManagementEnabled && e.lowestAlignedLBA == 7)
    }

    @Test func truncated() throws {
        let rc = try SCSIFixture.bytes("tgt-read-capacity16.hex")
        for cut in prefixes(rc, [0, 7, 8, 11, 12, 15]) {
            #expect(isTruncated { _ = try ReadCapacity16(cut) }, "cut at \(cut.count)")
        }
        let b2 = try SCSIFixture.bytes("tgt-vpdb2.hex")
        for cut in prefixes(b2, [0, 3, 4, 6, 7]) {
            #expect(isTruncated { _ = try LogicalBlockProvisioning(cut) }, "cut at \(cut.count)")
        }
        // page length too short for its own fields
        #expect(isTruncated { _ = try LogicalBlockProvisioning([0, 0xB2, 0, 2, 0, 0xE4]) })
    }
}

@Suite struct TargetPortGroupTests {
    @Test func scsiDebug() throws {
        let t = try TargetPortGroups(try SCSIFixture.bytes("scsi_debug-rtpg.hex"))
        #expect(!t.extendedHeader && t.implicitTransitionTime == nil)
        #expect(t.groups.count == 2)
        #expect(t.groups[0].state == .activeOptimized && t.groups[0].groupID == 0x100 && t.groups[0].relativeTargetPorts == [1])
        #expect(t.groups[0].supportedStates.activeOptimized && !t.groups[0].supportedStates.standby)
        #expect(t.groups[1].state == .unavailable && !t.groups[1].state.acceptsIO && t.groups[1].supportedStates.unavailable)
        #expect(t.group(forRelativeTargetPort: 2)?.groupID == 0x180)
    }

    @Test func pureExtended() throws {
        let t = try TargetPortGroups(try SCSIFixture.bytes("pure-rtpg.hex"))
        #expect(t.extendedHeader && t.implicitTransitionTime == 60)
        #expect(t.groups.map(\.state) == [.activeOptimized, .activeNonOptimized])
        #expect(t.groups[0].preferred && !t.groups[1].preferred)
        #expect(t.groups[0].status == .alteredByImplicitTransition && t.groups[1].status == .none)
        #expect(t.groups[1].relativeTargetPorts == [9, 10])
        let s = t.groups[0].supportedStates
        #expect(s.transitioning && s.standby && s.activeNonOptimized && s.activeOptimized && !s.offline && !s.unavailable)
        // join with VPD 0x83 of a path: relative port 2 lives in group 0
        let id = try DeviceIdentification(try SCSIFixture.bytes("pure-vpd83.hex"))
        #expect(t.group(forRelativeTargetPort: try #require(id.relativeTargetPortID))?.state == .activeOptimized)
        #expect(t.group(id: 1)?.state == .activeNonOptimized)
    }

    @Test func states() {
        let expected: [UInt8: ALUAState] = [
            0: .activeOptimized, 1: .activeNonOptimized, 2: .standby, 3: .unavailable, 4: .logicalBlockDependent,
            0xE: .offline, 0xF: .transitioning, 5: .reserved,
        ]
        for (code, state) in expected { #expect(ALUAState(code: code | 0x80) == state) }
    }

    @Test func truncated() throws {
        for name in ["scsi_debug-rtpg.hex", "pure-rtpg.hex"] {
            let data = try SCSIFixture.bytes(name)
            for cut in prefixes(data, [0, 3, 4, 9, 16, 20, data.count - 1]) {
                #expect(isTruncated { _ = try TargetPortGroups(cut) }, "\(name) cut at \(cut.count)")
            }
        }
        // TARGET PORT COUNT claims 2 ports but RETURN DATA LENGTH holds one
        let lying: [UInt8] = [0, 0, 0, 12, 0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1]
        #expect(isTruncated { _ = try TargetPortGroups(lying) })
    }
}

@Suite struct LBAStatusAndLUNTests {
    @Test func tgtLBAStatus() throws {
        let s = try LBAStatus(try SCSIFixture.bytes("tgt-get-lba-status.hex"))
        #expect(s.descriptors.count == 2 && !s.incomplete)
        #expect(s.descriptors[0].status == .mapped && s.descriptors[0].blockCount == 2048)
        #expect(s.descriptors[1].status == .deallocated && s.descriptors[1].startingLBA == 2048)
        #expect(s.mappedBlocks == 2048 && s.deallocatedBlocks == 2_095_104 && s.anchoredBlocks == 0)
        #expect(s.nextLBA == 2_097_152)
    }

    @Test func lbaStatusCutByAllocation() throws {
        let data = try SCSIFixture.bytes("tgt-get-lba-status.hex")
        let s = try LBAStatus(Array(data.prefix(24)))
        #expect(s.incomplete && s.descriptors.count == 1 && s.nextLBA == 2048)
        for cut in prefixes(data, [0, 3, 7]) {
            #expect(isTruncated { _ = try LBAStatus(cut) }, "cut at \(cut.count)")
        }
    }

    @Test func tgtReportLUNs() throws {
        let r = try ReportLUNs(try SCSIFixture.bytes("tgt-report-luns.hex"))
        #expect(r.complete && r.reportedCount == 3)
        #expect(r.luns.map(\.linuxNumber) == [0, 1, 16684])
        #expect(r.luns.map(\.addressMethod) == [.peripheral, .peripheral, .flat])
        #expect(r.luns.map(\.firstLevelLUN) == [0, 1, 300])
        let data = try SCSIFixture.bytes("tgt-report-luns.hex")
        let partial = try ReportLUNs(Array(data.prefix(24)))
        #expect(!partial.complete && partial.luns.count == 2 && partial.requiredAllocationLength == 32)
        for cut in prefixes(data, [0, 3, 7, 12, 20]) {
            #expect(isTruncated { _ = try ReportLUNs(cut) }, "cut at \(cut.count)")
        }
    }

    /// Kernel semantics (drivers/scsi/scsi_common.c): scsilun_to_int / int_to_scsilun round trip.
    @Test func linuxLUNNumbers() throws {
        // REPORT LUNS well-known LUN C101h: extended addressing
        let wlun = try SCSILUN(bytes: [0xC1, 0x01, 0, 0, 0, 0, 0, 0])
        #expect(wlun.linuxNumber == 0xC101 && wlun.addressMethod == .extended && wlun.firstLevelLUN == nil)
        // second level in bits 16-31
        let twoLevel = try SCSILUN(bytes: [0x00, 0x02, 0x00, 0x05, 0, 0, 0, 0])
        #expect(twoLevel.linuxNumber == 0x0005_0002)
        for n: UInt64 in [0, 1, 255, 16384 + 256, 16384 + 16383, 0xC101, 0x0005_0002, 0x1234_5678_9ABC_DEF0] {
            #expect(SCSILUN(linux: n).linuxNumber == n)
        }
        #expect(SCSILUN(linux: 16684).bytes == [0x41, 0x2C, 0, 0, 0, 0, 0, 0])
        // the example in scsilun_to_int's and int_to_scsilun's kernel-doc comments
        let doc = try SCSILUN(bytes: [0xD2, 0x04, 0x0B, 0x03, 0, 0, 0, 0])
        #expect(doc.linuxNumber == 0x0B03_D204)
        #expect(SCSILUN(linux: 0x0B03_D204) == doc)
    }

    @Test func sam2Addressing() throws {
        #expect(try SCSILUN.sam2(0).linuxNumber == 0)
        #expect(try SCSILUN.sam2(255).linuxNumber == 255)
        #expect(try SCSILUN.sam2(256).linuxNumber == 16640)
        #expect(try SCSILUN.sam2(300).bytes == [0x41, 0x2C, 0, 0, 0, 0, 0, 0])
        #expect(try SCSILUN.sam2(16383).linuxNumber == 32767)
        #expect(throws: PathCoreError.self) { try SCSILUN.sam2(16384) }
        #expect(throws: PathCoreError.self) { try SCSILUN(bytes: [0, 1]) }
    }
}
