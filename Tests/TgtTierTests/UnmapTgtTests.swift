import Foundation
import Testing
@testable import HostStorage
import PathCore
import Synchronization

/// UNMAP, GET LBA STATUS and INQUIRY against a real tgtd over libiscsi: blocks of the
/// thin LUN's backing file are really freed, data outside the range survives.
@Suite("tgt tier: unmap, lba-status, inquiry", .serialized, .enabled(if: TgtLab.available, "needs root and tgt; scripts/test --tier tgt requires it"))
struct UnmapTgtTests {
    static let blockLength = 512

    /// A recognisable non-zero pattern: every 512-byte block carries its LBA.
    static func pattern(lba: UInt64, blocks: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blocks * blockLength)
        for b in 0..<blocks {
            let l = lba + UInt64(b)
            for i in 0..<blockLength {
                out[b * blockLength + i] = UInt8(truncatingIfNeeded: (l &* 31) &+ UInt64(i) &+ 1) | 0x01
            }
        }
        return out
    }

    static func write(_ t: any SCSITransport, lba: UInt64, bytes: Int) throws {
        let chunk = 256 * 1024 / blockLength
        var at = lba
        let end = lba + UInt64(bytes / blockLength)
        while at < end {
            let n = Int(min(UInt64(chunk), end - at))
            let r = try t.send(try SCSICommands.write16(lba: at, data: pattern(lba: at, blocks: n), blockLength: blockLength).request())
            #expect(r.isGood, "WRITE(16) at LBA \(at): status \(r.status) sense \(r.sense.hex)")
            at += UInt64(n)
        }
        // tgt writes through the page cache; make the allocation visible to stat
        _ = try t.send(SCSIRequest(cdb: [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]))  // SYNCHRONIZE CACHE(10)
    }

    static func read(_ t: any SCSITransport, lba: UInt64, blocks: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var at = lba
        let end = lba + UInt64(blocks)
        while at < end {
            let n = UInt32(min(512, end - at))
            let r = try t.send(try SCSICommands.read16(lba: at, blocks: n, blockLength: blockLength).request())
            #expect(r.isGood)
            out += r.data
            at += UInt64(n)
        }
        return out
    }

    func session(_ lab: TgtLab, lun: Int = 1, portal: String? = nil) throws -> ISCSITransport {
        try ISCSITransport(url: ISCSIURL(lab.url(portal: portal, lun: lun)), initiator: TgtLab.initiator)
    }

    @Test func unmapFreesBlocksAndKeepsDataOutsideTheRange() throws {
        let lab = try TgtLab.require()
        let t = try session(lab)
        let mib = 1 << 20
        let before = lab.allocatedBlocks(lab.lun1File)
        try Self.write(t, lba: 0, bytes: 8 * mib)
        let written = lab.allocatedBlocks(lab.lun1File)
        #expect(written - before >= 8 * mib / 512 - 64, "8 MiB written: allocated 512-byte blocks \(before) -> \(written)")

        // unmap 4 MiB from 2 MiB through UnmapRunner
        let target = try SCSITargetOpener(initiator: TgtLab.initiator).resolve(lab.url())
        let events = EventLog()
        let result = try UnmapRunner.run(target: target, request: .bytes(offset: UInt64(2 * mib), length: UInt64(4 * mib)),
                                         progress: { events.add($0) })
        let after = lab.allocatedBlocks(lab.lun1File)
        let freed = written - after
        print("tgt unmap: allocated blocks \(before) -> \(written) after writing 8 MiB -> \(after) after unmapping 4 MiB (freed \(freed)); \(result.commandsCompleted) commands, \(Int(result.bytesPerSecond / 1048576)) MiB/s")
        #expect(result.bytesDeallocated == UInt64(4 * mib))
        #expect(result.plan.deallocated == .init(lba: 4096, count: 8192))
        #expect(result.plan.leftMapped.isEmpty)
        #expect(freed >= 4 * mib / 512 - 16 && freed <= 4 * mib / 512 + 256, "freed \(freed) blocks of 512 bytes for 4 MiB")
        #expect(events.planned == 1)
        #expect(events.progress >= 1)

        // GET LBA STATUS agrees: 0-4095 mapped, 4096-12287 deallocated, 12288-16383 mapped
        let map = try LBAStatusMap.read(t, range: .init(lba: 0, count: 16384))
        #expect(map.all(.init(lba: 4096, count: 8192), are: .deallocated))
        #expect(map.all(.init(lba: 0, count: 4096), are: .mapped))
        #expect(map.all(.init(lba: 12288, count: 4096), are: .mapped))
        #expect(map.deallocatedBlocks == 8192)

        // data outside the range intact, the range reads zeros (LBPRZ=1)
        #expect(try Self.read(t, lba: 0, blocks: 4096) == Self.pattern(lba: 0, blocks: 4096))
        #expect(try Self.read(t, lba: 12288, blocks: 4096) == Self.pattern(lba: 12288, blocks: 4096))
        #expect(try Self.read(t, lba: 4096, blocks: 512).allSatisfy { $0 == 0 })
    }

    @Test func unalignedByteRangeLeavesPartialGranulesMapped() throws {
        let lab = try TgtLab.require()
        let t = try session(lab, lun: 2)
        try Self.write(t, lba: 0, bytes: 1 << 20)
        let target = try SCSITargetOpener(initiator: TgtLab.initiator).resolve(lab.url(lun: 2))
        // bytes 1000 ..< 101000 touch LBA 1 ..< 198; whole 4 KiB granules: LBA 8 ..< 192
        let result = try UnmapRunner.run(target: target, request: .bytes(offset: 1000, length: 100_000))
        #expect(result.plan.deallocated == .init(lba: 8, count: 184))
        #expect(result.plan.leftMapped == [.init(lba: 1, count: 7), .init(lba: 192, count: 6)])
        #expect(result.bytesDeallocated == 184 * 512)
        let map = try LBAStatusMap.read(t, range: .init(lba: 0, count: 2048))
        #expect(map.all(.init(lba: 0, count: 8), are: .mapped))
        #expect(map.all(.init(lba: 8, count: 184), are: .deallocated))
        #expect(map.all(.init(lba: 192, count: 1856), are: .mapped))
        #expect(try Self.read(t, lba: 0, blocks: 8) == Self.pattern(lba: 0, blocks: 8))
    }

    @Test func lbaStatusLoopsUntilTheRangeIsCovered() throws {
        let lab = try TgtLab.require()
        let t = try session(lab, lun: 2)
        // three written islands in LUN 2 from 8 MiB on, holes between
        let base: UInt64 = 16384
        let target = try SCSITargetOpener(initiator: TgtLab.initiator).resolve(lab.url(lun: 2))
        _ = try UnmapRunner.run(target: target, request: .blocks(lba: base, count: 8192))
        for k in 0..<3 { try Self.write(t, lba: base + UInt64(k) * 2048, bytes: 512 * 1024) }
        // room for one descriptor per answer: the walk needs several commands
        let map = try LBAStatusMap.read(t, range: .init(lba: base, count: 8192), allocationLength: 24)
        #expect(map.responses >= 6)
        #expect(map.isComplete)
        #expect(map.mappedBlocks == 3 * 1024)
        #expect(map.deallocatedBlocks == 8192 - 3 * 1024)
        // mapped, hole, mapped, hole, mapped, hole (the last runs to the end of the range)
        #expect(map.extents.map(\.status) == [.mapped, .deallocated, .mapped, .deallocated, .mapped, .deallocated])
        #expect(map.extents.first == .init(lba: base, count: 1024, status: .mapped))
    }

    @Test func inquiryDecodesTgt() throws {
        let lab = try TgtLab.require()
        let t = try session(lab)
        let r = try SCSIDeviceProbe.inquire(t)
        #expect(r.report.inquiry.vendor == "IET")
        #expect(r.report.inquiry.product == "VIRTUAL-DISK")
        #expect(r.report.provisioning?.unmapSupported == true)
        #expect(r.report.capacity?.provisioningManagementEnabled == true)
        #expect(r.report.capacity?.blockCount == 64 * 2048)
        #expect(r.report.unitSerialNumber == "beaf11")
        #expect(r.wwn == "360000000000000000e00000000010001")
        #expect(r.report.identification?.designators.count == 3)
        #expect(r.report.supportedPages?.contains(0xB2) == true)
        #expect(r.unsupported.contains { $0.hasPrefix("REPORT TARGET PORT GROUPS: not asked") })
        #expect(r.report.problems.isEmpty)
        let text = InquiryText.render(r)
        #expect(text.contains("Vendor identification: IET"))
        #expect(text.contains("Unmap command supported (LBPU): 1"))
    }

    @Test func pathctlInquiryOverISCSI() throws {
        let lab = try TgtLab.require()
        let out = try PathCtlBinary.run(["inquiry", lab.url(), "--initiator", TgtLab.initiator])
        #expect(out.status == 0, "stderr: \(out.stderr)")
        #expect(out.stdout.contains("Vendor identification: IET"))
        #expect(out.stdout.contains("Product identification: VIRTUAL-DISK"))
        #expect(out.stdout.contains("Unmap command supported (LBPU): 1"))
        #expect(out.stdout.contains("Thin provisioning: LBPME=1"))
        #expect(out.stdout.contains("VPD 0x83 Device identification: 3 designators"))
        let json = try PathCtlBinary.run(["inquiry", "--json", lab.url(), "--initiator", TgtLab.initiator])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(obj["wwn"] as? String == "360000000000000000e00000000010001")
        // a refused login is one clear line, exit 1
        let refused = try PathCtlBinary.run(["inquiry", lab.url(), "--initiator", TgtLab.otherInitiator])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("login refused") || refused.stderr.contains("not found"))
        #expect(refused.stderr.split(separator: "\n").count == 1)
        // CHAP passwords never go on pathctl's command line: the right one from libiscsi's
        // variable logs in
        let chapURL = lab.url(target: TgtLab.chapTarget, user: TgtLab.chapUser)
        let good = try PathCtlBinary.run(["inquiry", chapURL, "--initiator", TgtLab.initiator],
                                         environment: ["LIBISCSI_CHAP_PASSWORD": TgtLab.chapSecret])
        #expect(good.status == 0, "stderr: \(good.stderr)")
        #expect(good.stdout.contains("Vendor identification: IET"))
        // a wrong one from --chap-password-file: auth failure, no secret printed
        let bad = "wrong-Secret-987"
        let file = NSTemporaryDirectory() + "pathagent-chap-\(getpid())"
        try (bad + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let chap = try PathCtlBinary.run(["inquiry", chapURL, "--chap-password-file", file, "--initiator", TgtLab.initiator])
        #expect(chap.status == 1)
        #expect(chap.stderr.contains("CHAP authentication failed"))
        #expect(!chap.stderr.contains(bad))
        // in the URL it is refused before any login, without being repeated
        let inURL = try PathCtlBinary.run(["inquiry", lab.url(target: TgtLab.chapTarget, user: TgtLab.chapUser, password: TgtLab.chapSecret),
                                           "--initiator", TgtLab.initiator])
        #expect(inURL.status == 1)
        #expect(inURL.stderr.contains("--chap-password-file"))
        #expect(!inURL.stderr.contains(TgtLab.chapSecret))
    }

    @Test func pathctlUnmapJSONAndLBAStatus() throws {
        let lab = try TgtLab.require()
        let t = try session(lab, lun: 2)
        try Self.write(t, lba: 32768, bytes: 2 << 20)  // 16 MiB .. 18 MiB of LUN 2
        let out = try PathCtlBinary.run(["unmap", "--json", lab.url(lun: 2), "--initiator", TgtLab.initiator, "--range", "32768LBA:2048LBA"])
        #expect(out.status == 0, "stderr: \(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.allSatisfy { $0 != nil })
        #expect(lines.first??["event"] as? String == "plan")
        let last = try #require(lines.last ?? nil)
        #expect(last["event"] as? String == "result")
        #expect(last["ok"] as? Bool == true)
        let result = try #require(last["result"] as? [String: Any])
        #expect(result["bytesDeallocated"] as? Int == 1 << 20)
        #expect(lines.contains { $0?["event"] as? String == "progress" })

        let st = try PathCtlBinary.run(["lba-status", lab.url(lun: 2), "--initiator", TgtLab.initiator, "--range", "16M:2M"])
        #expect(st.status == 0, "stderr: \(st.stderr)")
        #expect(st.stdout.contains("LBA 32768-34815"))
        #expect(st.stdout.contains("mapped 2048 blocks (1.0 MiB), deallocated 2048 blocks (1.0 MiB)"))
        // --all without --yes is a usage error
        let all = try PathCtlBinary.run(["unmap", lab.url(lun: 2), "--all"])
        #expect(all.status == 64)
    }

    @Test func parallelSessionsOverTwoPortalsAndFailover() throws {
        let lab = try TgtLab.require()
        let urls = try [ISCSIURL("iscsi://127.0.0.1:1/\(TgtLab.target)/2"), ISCSIURL(lab.url(portal: lab.portal1, lun: 2)), ISCSIURL(lab.url(portal: lab.portal2, lun: 2))]
        let target = SCSITarget(name: "lun2", resolved: nil, endpoints: urls.map { .iscsi($0, initiator: TgtLab.initiator) })
        var options = UnmapOptions(parallel: 4)
        options.planner.blocksPerDescriptorCap = 2048  // 1 MiB per command: 16 commands for 16 MiB
        options.planner.descriptorsPerCommandCap = 1
        let events = EventLog()
        let r = try UnmapRunner.run(target: target, request: .bytes(offset: 0, length: 16 << 20), options: options, progress: { events.add($0) })
        #expect(r.plan.commands == 16)
        #expect(r.commandsCompleted == 16)
        #expect(r.bytesDeallocated == 16 << 20)
        // the dead portal was tried and given up; both live portals carried commands
        #expect(r.pathFailures.contains { $0.endpoint.contains("127.0.0.1:1/") && $0.givenUp })
        #expect(Set(r.pathsUsed) == Set([urls[1].redacted, urls[2].redacted]))
        #expect(events.pathFailed >= 1)
    }

    @Test func senseErrorStopsWithTheFailingRange() throws {
        let lab = try TgtLab.require()
        let url = try ISCSIURL(lab.url(lun: 2))
        // a transport that moves the 3rd UNMAP's descriptor past the end of the LU: tgt answers CHECK CONDITION
        let counter = Counter()
        let r = Result {
            try UnmapRunner.run(
                targetName: url.redacted, endpoints: [url.redacted],
                open: { _ in
                    CorruptingTransport(inner: try ISCSITransport(url: url, initiator: TgtLab.initiator), counter: counter, corruptAt: 3)
                },
                request: .blocks(lba: 0, count: 8 * 2048),
                options: { var o = UnmapOptions(parallel: 1); o.planner.blocksPerDescriptorCap = 2048; o.planner.descriptorsPerCommandCap = 1; return o }())
        }
        guard case .failure(let error) = r, let e = error as? UnmapError else {
            Issue.record("expected UnmapError, got \(r)")
            return
        }
        #expect(e.sense?.senseKey == .illegalRequest)
        #expect(e.failedRanges == [.init(lba: 4096, count: 2048)])
        #expect(e.message.contains("UNMAP of LBA 4096-6143"))
        #expect(e.message.contains("ILLEGAL REQUEST"))
        #expect(e.partial?.commandsCompleted == 2)
        #expect(e.partial?.bytesDeallocated == 2 * 2048 * 512)
    }
}

final class EventLog: Sendable {
    private let m = Mutex<(Int, Int, Int)>((0, 0, 0))
    func add(_ e: UnmapEvent) {
        m.withLock { c in
            switch e {
            case .planned: c.0 += 1
            case .progress: c.1 += 1
            case .pathFailed: c.2 += 1
            }
        }
    }
    var planned: Int { m.withLock { $0.0 } }
    var progress: Int { m.withLock { $0.1 } }
    var pathFailed: Int { m.withLock { $0.2 } }
}

final class Counter: Sendable {
    private let m = Mutex(0)
    func next() -> Int { m.withLock { $0 += 1; return $0 } }
}

/// Passes commands through, except that the n-th UNMAP gets its first descriptor's LBA
/// moved past the end of any LU (the target then refuses it with sense).
struct CorruptingTransport: SCSITransport {
    let inner: ISCSITransport
    let counter: Counter
    let corruptAt: Int
    var endpoint: String { inner.endpoint }
    func send(_ request: SCSIRequest) throws -> SCSIResponse {
        guard request.cdb.first == SCSIOpcode.unmap, case .toDevice(var param) = request.direction else { return try inner.send(request) }
        if counter.next() == corruptAt {
            for i in 0..<8 { param[8 + i] = 0x7F }
            var r = request
            r.direction = .toDevice(param)
            return try inner.send(r)
        }
        return try inner.send(request)
    }
}

/// Runs the `pathctl` built next to the tests (`swift build --build-tests` builds it).
enum PathCtlBinary {
    static var path: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/pathctl")
    }

    static func run(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        guard FileManager.default.isExecutableFile(atPath: path.path) else {
            throw TgtLabError(message: "pathctl not built at \(path.path): run swift build --build-tests")
        }
        let p = Process()
        p.executableURL = path
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// In the main suite's serialization: it writes and frees LUN 1 too.
extension UnmapTgtTests {
    /// 32 MiB of LUN 1 (16 MiB .. 48 MiB), 1 MiB per UNMAP, 1 then 4 sessions in flight:
    /// every run frees the whole range; the rates are printed for the record.
    @Test func oneAndFourInFlight() throws {
        let lab = try TgtLab.require()
        let t = try ISCSITransport(url: ISCSIURL(lab.url()), initiator: TgtLab.initiator)
        let target = try SCSITargetOpener(initiator: TgtLab.initiator).resolve(lab.url())
        for parallel in [1, 4] {
            try UnmapTgtTests.write(t, lba: 32768, bytes: 32 << 20)
            let before = lab.allocatedBlocks(lab.lun1File)
            var o = UnmapOptions(parallel: parallel)
            o.planner.blocksPerDescriptorCap = 2048
            o.planner.descriptorsPerCommandCap = 1
            let r = try UnmapRunner.run(target: target, request: .blocks(lba: 32768, count: 65536), options: o)
            let after = lab.allocatedBlocks(lab.lun1File)
            print("tgt unmap throughput: parallel \(parallel): 32 MiB in \(r.commandsCompleted) commands, \(ByteCount.oneDecimal(r.elapsedSeconds * 1000)) ms, \(Int(r.bytesPerSecond / 1048576)) MiB/s; allocated blocks \(before) -> \(after)")
            #expect(r.commandsCompleted == 32)
            #expect(r.bytesDeallocated == 32 << 20)
            #expect(before - after >= 65536 - 64)
            #expect(r.pathsUsed.count == 1)
        }
    }
}
