import Testing
@testable import PathCore

@Suite("unmap: --range parsing")
struct RangeSpecTests {
    @Test func bytesWithBinarySuffixes() throws {
        let r = try RangeSpec(parsing: "1M:4M")
        #expect(r == RangeSpec(start: .bytes(1 << 20), length: .bytes(4 << 20)))
        #expect(try r.request(blockLength: 512) == .bytes(offset: 1 << 20, length: 4 << 20))
        #expect(try RangeSpec(parsing: "0:1G").length == .bytes(1 << 30))
        #expect(try RangeSpec(parsing: "2T:4k").start == .bytes(2 << 40))
        #expect(try RangeSpec(parsing: "1KiB:3MiB") == RangeSpec(start: .bytes(1024), length: .bytes(3 << 20)))
        #expect(try RangeSpec(parsing: "4096:512").request(blockLength: 512) == .bytes(offset: 4096, length: 512))
    }

    @Test func lbaSuffixAndBareNumbersFollowingIt() throws {
        let r = try RangeSpec(parsing: "0:100LBA")
        #expect(r == RangeSpec(start: .blocks(0), length: .blocks(100)))
        #expect(try r.request(blockLength: 4096) == .blocks(lba: 0, count: 100))
        #expect(try RangeSpec(parsing: "2048LBA:8") == RangeSpec(start: .blocks(2048), length: .blocks(8)))
        #expect(try RangeSpec(parsing: "2048lba:8lba").request(blockLength: 512) == .blocks(lba: 2048, count: 8))
    }

    @Test func mixedUnitsResolveToBytes() throws {
        let r = try RangeSpec(parsing: "1G:16LBA")
        #expect(r == RangeSpec(start: .bytes(1 << 30), length: .blocks(16)))
        #expect(try r.request(blockLength: 512) == .bytes(offset: 1 << 30, length: 8192))
        #expect(try r.request(blockLength: 4096) == .bytes(offset: 1 << 30, length: 65536))
    }

    @Test func refusesMalformedRanges() {
        for bad in ["1M", "1M:", ":4M", "x:1", "1Q:2", "0:0", "0:0LBA", "-1:5", "1.5M:1M", "1M:4M:5", "99999999999T:1"] {
            #expect(throws: PathCoreError.self, "\(bad)") { _ = try RangeSpec(parsing: bad) }
        }
    }

    @Test func blockRangeWidensAndChecksCapacity() throws {
        // bytes 1000 ..< 101000 touch LBA 1 ..< 198
        let r = try RangeSpec(parsing: "1000:100000").blockRange(blockLength: 512, blockCount: 1000)
        #expect(r == .init(lba: 1, count: 197))
        #expect(try RangeSpec(parsing: "0:100LBA").blockRange(blockLength: 512, blockCount: 100) == .init(lba: 0, count: 100))
        #expect(throws: PathCoreError.self) { _ = try RangeSpec(parsing: "0:101LBA").blockRange(blockLength: 512, blockCount: 100) }
        #expect(throws: PathCoreError.self) { _ = try RangeSpec(parsing: "18446744073709551615LBA:2LBA").blockRange(blockLength: 512, blockCount: 100) }
    }
}

@Suite("unmap: progress, rate and ETA")
struct ProgressTests {
    let mib: UInt64 = 1 << 20

    @Test func rateAndETAFromTheAverage() {
        var m = ProgressMeter(totalBytes: 100 * mib, totalCommands: 100, startNanos: 5_000_000_000)
        let s0 = m.snapshot(nowNanos: 5_000_000_000)
        #expect(s0.bytesPerSecond == nil && s0.etaSeconds == nil && s0.fraction == 0)
        for _ in 0..<25 { m.record(bytes: mib) }
        let s1 = m.snapshot(nowNanos: 6_000_000_000)  // 1 s later
        #expect(s1.doneBytes == 25 * mib && s1.doneCommands == 25)
        #expect(s1.bytesPerSecond == Double(25 * mib))
        #expect(s1.etaSeconds == 3)
        #expect(s1.fraction == 0.25)
        #expect(s1.elapsedSeconds == 1)
        #expect(s1.line() == "unmap 25.0 MiB / 100.0 MiB (25%) 25.0 MiB/s ETA 3s [25/100 cmds]")
        for _ in 0..<75 { m.record(bytes: mib) }
        let s2 = m.snapshot(nowNanos: 9_000_000_000)
        #expect(s2.etaSeconds == 0 && s2.fraction == 1)
        #expect(s2.bytesPerSecond == Double(100 * mib) / 4)
    }

    @Test func doneNeverExceedsTotalAndEmptyIsComplete() {
        var m = ProgressMeter(totalBytes: 10, totalCommands: 1, startNanos: 0)
        m.record(bytes: 50)
        #expect(m.doneBytes == 10)
        let e = ProgressMeter(totalBytes: 0, totalCommands: 0, startNanos: 0).snapshot(nowNanos: 10)
        #expect(e.fraction == 1 && e.etaSeconds == 0)
    }

    @Test func humanUnits() {
        #expect(ByteCount.format(512) == "512 B")
        #expect(ByteCount.format(1536) == "1.5 KiB")
        #expect(ByteCount.format(4 << 30) == "4.0 GiB")
        #expect(ByteCount.duration(42.4) == "42s")
        #expect(ByteCount.duration(185) == "3m05s")
        #expect(ByteCount.duration(3720) == "1h02m")
        #expect(ByteCount.duration(.infinity) == "?")
    }
}

@Suite("unmap: READ(16) / WRITE(16) builders and the request adapter")
struct ReadWriteCommandTests {
    @Test func read16AndWrite16CDBs() throws {
        let r = try SCSICommands.read16(lba: 0x0102030405060708, blocks: 16, blockLength: 512)
        #expect(r.cdb == [0x88, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 16, 0, 0])
        #expect(r.request(timeout: 7) == SCSIRequest(cdb: r.cdb, direction: .fromDevice(8192), timeoutSeconds: 7))
        let w = try SCSICommands.write16(lba: 2048, data: [UInt8](repeating: 0xAB, count: 1024), blockLength: 512)
        #expect(w.cdb == [0x8A, 0, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 2, 0, 0])
        #expect(w.request().direction == .toDevice([UInt8](repeating: 0xAB, count: 1024)))
        #expect(throws: PathCoreError.self) { _ = try SCSICommands.write16(lba: 0, data: [1, 2, 3], blockLength: 512) }
        #expect(throws: PathCoreError.self) { _ = try SCSICommands.read16(lba: 0, blocks: 0, blockLength: 512) }
        #expect(SCSICommands.testUnitReady().request() == SCSIRequest(cdb: [0, 0, 0, 0, 0, 0], direction: .none))
    }
}
