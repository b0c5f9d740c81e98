/// Operator text for `pathctl inquiry` in the spirit of sg_inq / sg_vpd: one `name: value`
/// per field, raw codes next to their meaning.
public enum InquiryText {
    public static func render(_ r: InquiryReport) -> String {
        var out: [String] = []
        let d = r.report
        let q = d.inquiry
        func b(_ v: Bool) -> String { v ? "1" : "0" }
        out.append("\(r.endpoint)")
        if let w = r.wwn { out.append("  WWN: \(w)") }
        out.append("Standard INQUIRY:")
        out.append("  PQual=\(q.peripheralQualifier.rawValue)  PDT=\(q.deviceType) (\(q.deviceTypeName))  RMB=\(b(q.removable))  version=0x\(SCSIWire.hex2(q.version)) [\(q.versionName)]")
        out.append("  NormACA=\(b(q.normalACA))  HiSUP=\(b(q.hierarchicalSupport))  Resp_data_format=\(q.responseDataFormat)")
        out.append("  SCCS=\(b(q.storageArrayController))  ACC=\(b(q.accessControlsCoordinator))  TPGS=\(tpgsCode(q.alua)) (\(q.alua.rawValue))  3PC=\(b(q.thirdPartyCopy))  Protect=\(b(q.protect))")
        out.append("  EncServ=\(b(q.enclosureServices))  MultiP=\(b(q.multiPort))  CmdQue=\(b(q.commandQueueing))")
        out.append("  length=\(q.bytesReturned) of \(q.availableLength)")
        out.append("  Vendor identification: \(q.vendor)")
        out.append("  Product identification: \(q.product)")
        out.append("  Product revision level: \(q.revision)")
        if !q.versionDescriptors.isEmpty {
            out.append("  Version descriptors: " + q.versionDescriptors.map { "0x" + [UInt8($0 >> 8), UInt8($0 & 0xFF)].hex }.joined(separator: " "))
        }

        if let pages = d.supportedPages {
            out.append("VPD 0x00 Supported VPD pages: " + pages.map { "0x" + SCSIWire.hex2($0) + " (" + pageName($0) + ")" }.joined(separator: ", "))
        }
        if let s = d.unitSerialNumber {
            out.append("VPD 0x80 Unit serial number: \(s)")
        }
        if let id = d.identification {
            out.append("VPD 0x83 Device identification: \(id.designators.count) designators")
            for (i, x) in id.designators.enumerated() {
                var line = "  [\(i + 1)] \(x.association.rawValue), \(x.type.rawValue)"
                if let naa = x.naaType { line += " (NAA \(naa))" }
                line += ", code set \(x.codeSet.rawValue)"
                if x.protocolIdentifierValid { line += ", protocol \(x.protocolName)" }
                out.append(line)
                if let n = x.portOrGroupNumber {
                    out.append("      \(n)")
                } else if let t = x.text {
                    out.append("      \(t)")
                } else {
                    out.append("      0x\(x.hex)")
                }
            }
            if let lu = id.logicalUnitIdentifier { out.append("  LU identifier: \(lu)") }
        }
        if let l = d.blockLimits {
            out.append("VPD 0xb0 Block limits (page length \(l.pageLength)):")
            out.append("  Write same non-zero (WSNZ): \(b(l.writeSameNonZero))")
            out.append("  Maximum compare and write length: \(l.maximumCompareAndWriteLength) blocks")
            out.append("  Optimal transfer length granularity: \(l.optimalTransferLengthGranularity) blocks")
            out.append("  Maximum transfer length: \(limit(l.maximumTransferLength)) blocks")
            out.append("  Optimal transfer length: \(limit(l.optimalTransferLength)) blocks")
            out.append("  Maximum prefetch length: \(opt(l.maximumPrefetchLength)) blocks")
            out.append("  Maximum unmap LBA count: \(opt(l.maximumUnmapLBACount))")
            out.append("  Maximum unmap block descriptor count: \(opt(l.maximumUnmapBlockDescriptorCount))")
            out.append("  Optimal unmap granularity: \(opt(l.optimalUnmapGranularity)) blocks")
            out.append("  Unmap granularity alignment valid (UGAVALID): \(l.unmapGranularityAlignmentValid.map(b) ?? "-")")
            out.append("  Unmap granularity alignment: \(l.unmapGranularityAlignment.map(String.init) ?? "-")")
            out.append("  Maximum write same length: \(l.maximumWriteSameLength.map { $0 == 0 ? "0 (not reported)" : "\($0)" } ?? "-") blocks")
            out.append("  Maximum atomic transfer length: \(opt(l.maximumAtomicTransferLength))")
            out.append("  Atomic alignment: \(opt(l.atomicAlignment))")
            out.append("  Atomic transfer length granularity: \(opt(l.atomicTransferLengthGranularity))")
            out.append("  Maximum atomic transfer length with atomic boundary: \(opt(l.maximumAtomicTransferLengthWithAtomicBoundary))")
            out.append("  Maximum atomic boundary size: \(opt(l.maximumAtomicBoundarySize))")
        }
        if let p = d.provisioning {
            out.append("VPD 0xb2 Logical block provisioning:")
            out.append("  Unmap command supported (LBPU): \(b(p.unmapSupported))")
            out.append("  Write same (16) with unmap bit supported (LBPWS): \(b(p.writeSame16UnmapSupported))")
            out.append("  Write same (10) with unmap bit supported (LBPWS10): \(b(p.writeSame10UnmapSupported))")
            out.append("  Logical block provisioning read zeros (LBPRZ): \(p.readZerosAfterUnmap)")
            out.append("  Anchored LBAs supported (ANC_SUP): \(b(p.anchorSupported))")
            out.append("  Threshold exponent: \(p.thresholdExponent)")
            out.append("  Descriptor present (DP): \(b(p.descriptorPresent))")
            out.append("  Minimum percentage: \(p.minimumPercentage)")
            out.append("  Provisioning type: \(p.provisioningTypeCode) (\(p.provisioningType.rawValue))")
            out.append("  Threshold percentage: \(p.thresholdPercentage)")
        }
        if let c = d.capacity {
            out.append("READ CAPACITY(16):")
            out.append("  Last LBA: \(c.lastLBA)  blocks: \(c.blockCount)  block length: \(c.blockLength) bytes")
            out.append("  Capacity: \(c.capacityBytes.map { "\($0) bytes (\(ByteCount.format($0)))" } ?? "overflows 64 bits")")
            out.append("  Physical block: \(c.physicalBlockLength) bytes (LBPPBE \(c.logicalBlocksPerPhysicalBlockExponent))  lowest aligned LBA: \(c.lowestAlignedLBA)")
            out.append("  Protection: PROT_EN=\(b(c.protectionEnabled)) P_TYPE=\(c.protectionType) P_I_EXPONENT=\(c.protectionIntervalExponent)")
            out.append("  Thin provisioning: LBPME=\(b(c.provisioningManagementEnabled)) LBPRZ=\(b(c.readZerosAfterUnmap))")
        }
        if let t = d.targetPortGroups {
            out.append("REPORT TARGET PORT GROUPS (\(t.extendedHeader ? "extended header, implicit transition time \(t.implicitTransitionTime ?? 0) s" : "length-only header")):")
            for g in t.groups {
                out.append("  group \(g.groupID): \(g.state.rawValue)\(g.preferred ? " preferred" : "") status=\(g.status.rawValue) ports=\(g.relativeTargetPorts.map(String.init).joined(separator: ","))")
                let s = g.supportedStates
                out.append("    supports: T=\(b(s.transitioning)) O=\(b(s.offline)) LBD=\(b(s.logicalBlockDependent)) U=\(b(s.unavailable)) S=\(b(s.standby)) AN=\(b(s.activeNonOptimized)) AO=\(b(s.activeOptimized))")
            }
            if let a = r.aluaState { out.append("  this port: \(a.rawValue)") }
        }
        if let u = r.unmap {
            let method = u.unmapSupported ? "UNMAP" : (u.writeSameUnmapSupported ? "WRITE SAME(16) UNMAP" : "none")
            out.append("Deallocation: \(u.provisioningEnabled ? "thin" : "not thin (LBPME=0)"), method \(method)")
        }
        for n in r.unsupported { out.append("Not supported: \(n)") }
        for p in d.problems { out.append("Problem: \(p)") }
        return out.joined(separator: "\n")
    }

    static func tpgsCode(_ a: StandardInquiry.ALUASupport) -> Int {
        switch a {
        case .none: return 0
        case .implicit: return 1
        case .explicit: return 2
        case .implicitAndExplicit: return 3
        }
    }

    static func limit(_ v: UInt32) -> String {
        v == 0 ? "0 (not reported)" : (v == 0xFFFF_FFFF ? "0xffffffff (no limit)" : "\(v)")
    }

    static func opt(_ v: UInt32?) -> String {
        guard let v else { return "-" }
        return limit(v)
    }

    public static func pageName(_ p: UInt8) -> String {
        switch p {
        case 0x00: return "supported VPD pages"
        case 0x80: return "unit serial number"
        case 0x83: return "device identification"
        case 0x86: return "extended INQUIRY data"
        case 0x87: return "mode page policy"
        case 0x88: return "SCSI ports"
        case 0x89: return "ATA information"
        case 0x8F: return "third party copy"
        case 0xB0: return "block limits"
        case 0xB1: return "block device characteristics"
        case 0xB2: return "logical block provisioning"
        case 0xB3: return "referrals"
        case 0xC0...0xFF: return "vendor specific"
        default: return "page 0x\(SCSIWire.hex2(p))"
        }
    }
}
