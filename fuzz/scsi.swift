// Fuzz target `scsi`: the decoders of what a SCSI device returns (Sources/PathCore/SCSI),
// and the consumers that do arithmetic on device-reported values (the inquiry report and
// its text, the UNMAP planner, the GET LBA STATUS map).
//
// The first input byte selects what the rest is (mod 13):
//   0 standard INQUIRY   1 VPD 0x00   2 VPD 0x80   3 VPD 0x83   4 VPD 0xB0   5 VPD 0xB2
//   6 sense data         7 REPORT TARGET PORT GROUPS   8 READ CAPACITY(16)   9 REPORT LUNS
//  10 GET LBA STATUS
//  11 a whole device behind a fake transport: records `<key> <status> <length:2> <data>`, where
//     key is the VPD page code, 0xff standard INQUIRY, 0x9e READ CAPACITY(16), 0xa3 RTPG,
//     0x23 GET LBA STATUS, 0x01 the request (kind, two 8-byte numbers); a key's records
//     answer its commands in turn, the last one repeating; missing keys get CHECK CONDITION.
//     Runs SCSIDeviceProbe.inquire + InquiryText.render and the UNMAP plan of the request.
//  12 the same device format, read with LBAStatusMap.read over the request's range.
//
// Invariants beyond "no crash": decoded lengths add up to the header's length and every
// decoded byte string is the matching slice of the input; fields the page is too short for
// are nil; text fields are printable ASCII; WWNs derived from designators are lower-case
// ASCII hex and re-validate; the two sense decoders agree; LUNs round-trip through the Linux
// integer form; an UNMAP plan covers exactly its deallocated range with commands inside the
// device's limits; an LBA status map is sorted, disjoint and inside its range.
@testable import PathCore

func fuzzOne(_ bytes: [UInt8]) {
    guard let mode = bytes.first else { return }
    let d = Array(bytes.dropFirst())
    switch mode % 13 {
    case 0: inquiry(d)
    case 1: if let p = try? SupportedVPDPages(d) { invariant(p.pages.count == Int(d[2]) << 8 | Int(d[3]), "VPD 0x00 page count") }
    case 2: serial(d)
    case 3: identification(d)
    case 4: blockLimits(d)
    case 5: provisioning(d)
    case 6: sense(d)
    case 7: rtpg(d)
    case 8: capacity(d)
    case 9: reportLUNs(d)
    case 10: lbaStatus(d)
    case 11: probe(d)
    default: lbaMap(d)
    }
}

func printable(_ s: String) -> Bool { s.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f } }
func isLowerHex(_ s: String) -> Bool { s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }

func checkWWN(_ w: WWN) {
    invariant(isLowerHex(w.value), "WWN \(w.value.debugDescription) is not lower-case ASCII hex")
    invariant((try? WWN(w.value)) == w, "WWN \(w.value) does not re-validate to itself")
}

func inquiry(_ d: [UInt8]) {
    guard let q = try? StandardInquiry(d) else { return }
    invariant(d.count >= 36, "INQUIRY accepted \(d.count) bytes")
    invariant(printable(q.vendor) && q.vendor.utf8.count <= 8, "vendor \(q.vendor.debugDescription)")
    invariant(printable(q.product) && q.product.utf8.count <= 16, "product \(q.product.debugDescription)")
    invariant(printable(q.revision) && q.revision.utf8.count <= 4, "revision \(q.revision.debugDescription)")
    invariant(q.versionDescriptors.count <= 8 && q.availableLength == Int(d[4]) + 5, "INQUIRY lengths")
}

func serial(_ d: [UInt8]) {
    guard let s = try? UnitSerialNumber(d) else { return }
    invariant(printable(s.serial) && s.serial.utf8.count <= Int(d[2]) << 8 | Int(d[3]), "serial \(s.serial.debugDescription)")
    if let w = try? WWN.pure(serial: s.serial) { checkWWN(w) }
}

func identification(_ d: [UInt8]) {
    guard let id = try? DeviceIdentification(d) else { return }
    let length = Int(d[2]) << 8 | Int(d[3])
    var at = 4
    for x in id.designators {
        invariant(x.protocolIdentifier == d[at] >> 4 && x.typeCode == d[at + 1] & 0x0F, "designator header at \(at)")
        invariant(x.protocolIdentifierValid == (d[at + 1] & 0x80 != 0), "PIV at \(at)")
        let n = Int(d[at + 3])
        invariant(x.designator == Array(d[(at + 4)..<(at + 4 + n)]), "designator bytes at \(at)")
        at += 4 + n
    }
    invariant(at == 4 + length, "designators end at \(at), page at \(4 + length)")
    if let w = id.logicalUnitWWN {
        checkWWN(w)
        invariant(id.logicalUnitIdentifier != nil, "a WWN but no LU identifier")
    }
    _ = (id.relativeTargetPortID, id.targetPortGroupID, id.designators.map(\.text))
}

func blockLimits(_ d: [UInt8]) {
    guard let l = try? BlockLimits(d) else { return }
    let end = 4 + l.pageLength
    invariant(end <= d.count && l.pageLength >= 12, "Block Limits length")
    func present(_ v: Any?, _ through: Int, _ what: String) {
        invariant((v != nil) == (end >= through), "\(what): \(v == nil ? "nil" : "set") with page end \(end)")
    }
    present(l.maximumPrefetchLength, 20, "MAXIMUM PREFETCH LENGTH")
    present(l.maximumUnmapLBACount, 24, "MAXIMUM UNMAP LBA COUNT")
    present(l.optimalUnmapGranularity, 32, "OPTIMAL UNMAP GRANULARITY")
    present(l.unmapGranularityAlignment, 36, "UNMAP GRANULARITY ALIGNMENT")
    present(l.maximumWriteSameLength, 44, "MAXIMUM WRITE SAME LENGTH")
    present(l.maximumAtomicBoundarySize, 64, "MAXIMUM ATOMIC BOUNDARY SIZE")
}

func provisioning(_ d: [UInt8]) {
    guard let p = try? LogicalBlockProvisioning(d) else { return }
    if let g = p.provisioningGroupDescriptor {
        // page bytes 8... (payload 4...): DESIGNATOR LENGTH in its byte 3
        invariant(p.descriptorPresent && g.count == 4 + Int(d[11]) && Array(d[8..<(8 + g.count)]) == g, "provisioning group descriptor")
    } else {
        invariant(!p.descriptorPresent, "DP set but no descriptor")
    }
}

func sense(_ d: [UInt8]) {
    guard let s = try? SenseData(d) else { return }
    _ = (s.description, s.isALUANotAccessible, s.wantsRescan)
    let triple = SCSIResponse(status: 2, sense: d).senseTriple
    switch s.format {
    case .descriptor:
        var at = 8
        for x in s.descriptors {
            invariant(x.bytes.count == 2 + Int(x.bytes[1]) && x.bytes == Array(d[at..<(at + x.bytes.count)]), "sense descriptor at \(at)")
            at += x.bytes.count
        }
        invariant(at == 8 + Int(d[7]), "sense descriptors end at \(at), ADDITIONAL SENSE LENGTH says \(8 + Int(d[7]))")
        invariant(triple.map { $0 == (s.senseKey.rawValue, s.asc, s.ascq) } ?? false, "the two sense decoders disagree")
    case .fixed:
        // Both decoders read ASC/ASCQ when the sense data covers them.
        if 8 + Int(d[7]) >= 14 {
            invariant(triple.map { $0 == (s.senseKey.rawValue, s.asc, s.ascq) } ?? false, "the two sense decoders disagree")
        }
    }
}

func rtpg(_ d: [UInt8]) {
    guard let t = try? TargetPortGroups(d) else { return }
    let end = 4 + (Int(d[0]) << 24 | Int(d[1]) << 16 | Int(d[2]) << 8 | Int(d[3]))
    var at = t.extendedHeader ? 8 : 4
    for g in t.groups {
        invariant(g.groupID == UInt16(d[at + 2]) << 8 | UInt16(d[at + 3]) && g.stateCode == d[at] & 0x0F, "group at \(at)")
        invariant(g.relativeTargetPorts.count == Int(d[at + 7]), "port count at \(at)")
        at += 8 + 4 * g.relativeTargetPorts.count
    }
    invariant(at == end, "groups end at \(at), data at \(end)")
}

func capacity(_ d: [UInt8]) {
    guard let c = try? ReadCapacity16(d) else { return }
    invariant(c.blockCount == c.lastLBA + 1 && c.blockLength > 0, "READ CAPACITY(16) counts")
    let (bytes, overflow) = c.blockCount.multipliedReportingOverflow(by: UInt64(c.blockLength))
    invariant(c.capacityBytes == (overflow ? nil : bytes), "capacity bytes")
    _ = UnmapCapabilities(capacity: c, provisioning: nil, limits: nil)
}

func reportLUNs(_ d: [UInt8]) {
    guard let r = try? ReportLUNs(d) else { return }
    invariant(r.luns.count <= r.reportedCount && r.luns.count == min(r.reportedCount, (d.count - 8) / 8), "REPORT LUNS count")
    for l in r.luns {
        invariant(SCSILUN(linux: l.linuxNumber) == l, "LUN \(l.bytes) does not round-trip through \(l.linuxNumber)")
        _ = (l.addressMethod, l.firstLevelLUN)
    }
}

func lbaStatus(_ d: [UInt8]) {
    guard let s = try? LBAStatus(d) else { return }
    invariant(8 + 16 * s.descriptors.count <= d.count, "descriptors past the data")
    _ = (s.mappedBlocks, s.deallocatedBlocks, s.anchoredBlocks, s.nextLBA)
    guard let first = s.descriptors.first else { return }
    var map = LBAStatusMap(range: .init(lba: first.startingLBA, count: min(1 << 20, UInt64.max - first.startingLBA)))
    if (try? map.add(s, queriedAt: first.startingLBA)) != nil { checkMap(map) }
}

func checkMap(_ map: LBAStatusMap) {
    var at = map.range.lba
    for e in map.extents {
        invariant(e.count > 0 && e.lba >= at && e.end <= map.range.end, "extent \(e.lba)+\(e.count) outside or out of order")
        at = e.end
    }
    let total = map.mappedBlocks + map.deallocatedBlocks + map.anchoredBlocks + map.otherBlocks
    invariant(total <= map.range.count, "extents cover \(total) of \(map.range.count) blocks")
}

// MARK: a device behind a fake transport

struct Device: SCSITransport {
    var records: [UInt8: [(status: UInt8, data: [UInt8])]] = [:]
    let counters = Counters()
    var endpoint: String { "fuzz" }

    init(_ d: [UInt8]) {
        var at = 0
        while at + 4 <= d.count {
            let n = Int(d[at + 2]) << 8 | Int(d[at + 3])
            let data = Array(d[(at + 4)..<min(d.count, at + 4 + n)])
            records[d[at], default: []].append((d[at + 1], data))
            at += 4 + n
        }
    }

    static func key(_ cdb: [UInt8]) -> UInt8 {
        switch cdb[0] {
        case 0x12: return cdb[1] & 1 == 1 ? cdb[2] : 0xFF
        case 0x9E: return cdb[1] & 0x1F == 0x12 ? 0x23 : 0x9E
        default: return cdb[0]
        }
    }

    func send(_ request: SCSIRequest) throws -> SCSIResponse {
        let k = Device.key(request.cdb)
        guard let rs = records[k], !rs.isEmpty else {
            return SCSIResponse(status: 2, sense: [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0])
        }
        let r = rs[min(counters.next(k), rs.count - 1)]
        var data = r.data
        if case .fromDevice(let n) = request.direction { data = Array(data.prefix(n)) }  // what a transport delivers
        return r.status == 0 ? SCSIResponse(status: 0, data: data) : SCSIResponse(status: r.status, sense: data)
    }

    /// The request record: kind (bytes, blocks, whole device) and two numbers.
    var request: (kind: UInt8, a: UInt64, b: UInt64)? {
        guard let r = records[0x01]?.first?.data, r.count >= 17 else { return nil }
        func u64(_ at: Int) -> UInt64 { r[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        return (r[0] % 3, u64(1), u64(9))
    }
}

final class Counters: @unchecked Sendable {  // one harness thread
    var n: [UInt8: Int] = [:]
    func next(_ k: UInt8) -> Int {
        defer { n[k, default: 0] += 1 }
        return n[k, default: 0]
    }
}

func probe(_ d: [UInt8]) {
    let dev = Device(d)
    if let r = try? SCSIDeviceProbe.inquire(dev) {
        let text = InquiryText.render(r)
        invariant(!text.isEmpty, "empty inquiry text")
        if let w = r.report.wwn { checkWWN(w) }
        _ = r.report.aluaState
    }
    guard let caps = try? SCSIDeviceProbe.unmapCapabilities(Device(d)), let q = dev.request else { return }
    let request: UnmapRequest
    switch q.kind {
    case 0: request = .bytes(offset: q.a, length: q.b)
    case 1: request = .blocks(lba: q.a, count: q.b)
    default: request = .wholeDevice
    }
    guard let plan = try? UnmapPlanner.plan(request, on: caps) else { return }
    checkPlan(plan, caps)
}

func checkPlan(_ plan: UnmapPlan, _ caps: UnmapCapabilities) {
    var at = plan.deallocated?.lba ?? 0
    var total: UInt64 = 0
    for s in plan.steps {
        invariant(!s.ranges.isEmpty && s.ranges.count <= plan.descriptorsPerCommand, "descriptors per command")
        invariant(s.blocks <= plan.blocksPerCommand, "blocks per command")
        for r in s.ranges {
            invariant(r.lba == at && r.count > 0 && r.count <= plan.blocksPerDescriptor, "range \(r) out of order or too large")
            at += r.count
            total += r.count
        }
    }
    invariant(total == plan.deallocatedBlocks, "steps cover \(total) blocks, plan says \(plan.deallocatedBlocks)")
    if let dz = plan.deallocated {
        invariant(dz.end <= caps.blockCount, "deallocates past the end of the device")
        invariant(dz.lba >= plan.requested.lba && dz.end <= plan.requested.end, "deallocates outside the request")
    }
}

func lbaMap(_ d: [UInt8]) {
    let dev = Device(d)
    guard let q = dev.request, q.b > 0 else { return }
    let range = SCSICommands.BlockRange(lba: q.a, count: min(q.b, UInt64.max - q.a))
    guard range.count > 0, let map = try? LBAStatusMap.read(dev, range: range, maximumCommands: 64) else { return }
    invariant(map.isComplete, "read returned an incomplete map")
    checkMap(map)
}
