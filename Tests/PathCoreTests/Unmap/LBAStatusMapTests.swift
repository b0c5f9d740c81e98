import Testing
@testable import PathCore

@Suite("unmap: GET LBA STATUS walk")
struct LBAStatusMapTests {
    /// One GET LBA STATUS answer with (lba, count, status code) descriptors.
    static func answer(_ ds: [(UInt64, UInt32, UInt8)]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 8)
        let len = UInt32(4 + 16 * ds.count)
        out[0] = UInt8(len >> 24); out[1] = UInt8((len >> 16) & 0xFF); out[2] = UInt8((len >> 8) & 0xFF); out[3] = UInt8(len & 0xFF)
        for (lba, n, s) in ds {
            var d = [UInt8](repeating: 0, count: 16)
            for i in 0..<8 { d[i] = UInt8((lba >> UInt64(56 - 8 * i)) & 0xFF) }
            for i in 0..<4 { d[8 + i] = UInt8((n >> UInt32(24 - 8 * i)) & 0xFF) }
            d[12] = s
            out += d
        }
        return out
    }

    @Test func tgtGoldenCoversTheRangeInOneAnswer() throws {
        let data = try SCSIFixture.bytes("tgt-get-lba-status.hex")
        var map = LBAStatusMap(range: .init(lba: 0, count: 4096))
        #expect(map.nextLBA == 0)
        try map.add(LBAStatus(data), queriedAt: 0)
        #expect(map.isComplete)
        #expect(map.extents == [.init(lba: 0, count: 2048, status: .mapped), .init(lba: 2048, count: 2048, status: .deallocated)])
        #expect(map.mappedBlocks == 2048 && map.deallocatedBlocks == 2048 && map.anchoredBlocks == 0)
        #expect(map.all(.init(lba: 100, count: 1948), are: .mapped))
        #expect(!map.all(.init(lba: 2000, count: 100), are: .mapped))
        #expect(map.all(.init(lba: 2048, count: 2048), are: .deallocated))
    }

    @Test func loopsFromWhereEachAnswerStopsAndMergesExtents() throws {
        var map = LBAStatusMap(range: .init(lba: 100, count: 1000))
        // the device answers from an earlier LBA (it contains 100) and stops at 300
        try map.add(LBAStatus(Self.answer([(0, 200, 0), (200, 100, 1)])), queriedAt: 100)
        #expect(map.nextLBA == 300)
        try map.add(LBAStatus(Self.answer([(300, 50, 1), (350, 50, 2)])), queriedAt: 300)
        #expect(map.nextLBA == 400)
        try map.add(LBAStatus(Self.answer([(400, 5000, 3)])), queriedAt: 400)
        #expect(map.isComplete)
        #expect(map.responses == 3)
        #expect(map.extents == [
            .init(lba: 100, count: 100, status: .mapped),
            .init(lba: 200, count: 150, status: .deallocated),  // merged across answers
            .init(lba: 350, count: 50, status: .anchored),
            .init(lba: 400, count: 700, status: .mappedOrUnknown),  // clipped to the range
        ])
        #expect(map.mappedBlocks == 800 && map.deallocatedBlocks == 150 && map.anchoredBlocks == 50)
    }

    @Test func refusesAnswersThatWouldLoopForever() throws {
        var map = LBAStatusMap(range: .init(lba: 0, count: 100))
        #expect(throws: PathCoreError.self) { try map.add(LBAStatus(Self.answer([])), queriedAt: 0) }
        #expect(throws: PathCoreError.self) { try map.add(LBAStatus(Self.answer([(10, 5, 0)])), queriedAt: 0) }
        #expect(throws: PathCoreError.self) { try map.add(LBAStatus(Self.answer([(0, 5, 0)])), queriedAt: 7) }
        // a gap after the first descriptor: covered up to the gap, asked again there
        try map.add(LBAStatus(Self.answer([(0, 10, 0), (20, 10, 1)])), queriedAt: 0)
        #expect(map.nextLBA == 10)
    }

    @Test func readLoopsOverAFakeTransport() throws {
        // a device that describes at most 64 blocks per answer
        struct Fake: SCSITransport {
            var endpoint: String { "fake" }
            func send(_ r: SCSIRequest) throws -> SCSIResponse {
                var lba: UInt64 = 0
                for i in 2..<10 { lba = lba << 8 | UInt64(r.cdb[i]) }
                let status: UInt8 = (lba / 64) % 2 == 0 ? 0 : 1
                return SCSIResponse(status: 0, data: LBAStatusMapTests.answer([(lba, UInt32(64 - lba % 64), status)]))
            }
        }
        let map = try LBAStatusMap.read(Fake(), range: .init(lba: 32, count: 256))
        #expect(map.responses == 5)
        #expect(map.mappedBlocks == 32 + 64 + 32 && map.deallocatedBlocks == 64 + 64)
    }
}
