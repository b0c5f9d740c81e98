import Foundation
import Synchronization
import Testing
@testable import HostStorage
import PathCore

/// An in-memory thin LU: READ CAPACITY(16), VPD 0xB0/0xB2 with chosen limits, UNMAP that
/// checks those limits like a strict array and records every deallocated block.
final class ThinLU: Sendable {
    let blocks: UInt64
    let maxLBACount: UInt32
    let maxDescriptors: UInt32
    let granularity: UInt32
    struct State { var unmapped: [UInt64: Int] = [:]; var commands = 0; var maxInFlight = 0; var inFlight = 0 }
    let state = Mutex(State())

    init(blocks: UInt64, maxLBACount: UInt32, maxDescriptors: UInt32, granularity: UInt32) {
        self.blocks = blocks
        self.maxLBACount = maxLBACount
        self.maxDescriptors = maxDescriptors
        self.granularity = granularity
    }

    static func sense(_ key: UInt8, _ asc: UInt8, _ ascq: UInt8) -> SCSIResponse {
        SCSIResponse(status: 2, sense: [0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0])
    }

    func answer(_ r: SCSIRequest) -> SCSIResponse {
        func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8((v >> UInt64(8 * (n - 1 - $0))) & 0xFF) } }
        switch r.cdb[0] {
        case 0x9E:
            return SCSIResponse(status: 0, data: be(blocks - 1, 8) + be(512, 4) + [0, 0, 0x80, 0] + [UInt8](repeating: 0, count: 16))
        case 0x12 where r.cdb[1] == 1 && r.cdb[2] == 0xB0:
            var p = [UInt8](repeating: 0, count: 64)
            p[1] = 0xB0; p[3] = 0x3C
            p.replaceSubrange(20..<24, with: be(UInt64(maxLBACount), 4))
            p.replaceSubrange(24..<28, with: be(UInt64(maxDescriptors), 4))
            p.replaceSubrange(28..<32, with: be(UInt64(granularity), 4))
            return SCSIResponse(status: 0, data: p)
        case 0x12 where r.cdb[1] == 1 && r.cdb[2] == 0xB2:
            return SCSIResponse(status: 0, data: [0, 0xB2, 0, 4, 0, 0x80, 0x02, 0])
        case 0x42:
            guard case .toDevice(let p) = r.direction else { return Self.sense(5, 0x24, 0) }
            state.withLock { $0.inFlight += 1; $0.maxInFlight = max($0.maxInFlight, $0.inFlight) }
            defer { state.withLock { $0.inFlight -= 1 } }
            usleep(200)  // let commands overlap
            let n = (p.count - 8) / 16
            guard n <= Int(maxDescriptors) else { return Self.sense(5, 0x26, 0) }
            var total: UInt64 = 0
            var ranges: [(UInt64, UInt64)] = []
            for i in 0..<n {
                let lba = p[(8 + 16 * i)..<(16 + 16 * i)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let c = p[(16 + 16 * i)..<(20 + 16 * i)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                guard lba + c <= blocks else { return Self.sense(5, 0x21, 0) }
                total += c
                ranges.append((lba, c))
            }
            guard total <= UInt64(maxLBACount) else { return Self.sense(5, 0x24, 0) }
            state.withLock { s in
                s.commands += 1
                for (lba, c) in ranges { for b in lba..<(lba + c) { s.unmapped[b, default: 0] += 1 } }
            }
            return SCSIResponse(status: 0)
        default:
            return Self.sense(5, 0x20, 0)
        }
    }
}

/// One path to a ThinLU; `script` can replace the answer to the n-th UNMAP on this path
/// (or throw, as a lost path does).
final class FakePath: SCSITransport, Sendable {
    enum Fault: Sendable { case transport, response(SCSIResponse) }
    let lu: ThinLU
    let endpoint: String
    let unmaps: Mutex<Int>
    let faults: [Int: Fault]
    let failAllFrom: Int?

    init(_ lu: ThinLU, _ name: String, faults: [Int: Fault] = [:], failAllFrom: Int? = nil) {
        self.lu = lu
        self.endpoint = name
        self.unmaps = Mutex(0)
        self.faults = faults
        self.failAllFrom = failAllFrom
    }

    func send(_ r: SCSIRequest) throws -> SCSIResponse {
        if r.cdb[0] == 0x42 {
            let n = unmaps.withLock { $0 += 1; return $0 }
            if let f = failAllFrom, n >= f { throw HostStorageError(.transport, "connection to \(endpoint) lost") }
            switch faults[n] {
            case .transport: throw HostStorageError(.transport, "connection to \(endpoint) lost")
            case .response(let resp): return resp
            case nil: break
            }
        }
        return lu.answer(r)
    }
}

final class Paths: Sendable {
    let made: [FakePath]
    let opens = Mutex<[Int]>([])
    init(_ made: [FakePath]) { self.made = made }
    func open(_ i: Int) throws -> any SCSITransport {
        opens.withLock { $0.append(i) }
        return made[i]
    }
}

final class Events: Sendable {
    let all = Mutex<[UnmapEvent]>([])
    func add(_ e: UnmapEvent) { all.withLock { $0.append(e) } }
}

@Suite("UnmapRunner on a fake thin LU")
struct UnmapRunnerTests {
    static func lu() -> ThinLU { ThinLU(blocks: 1 << 20, maxLBACount: 2048, maxDescriptors: 4, granularity: 8) }

    @Test func honoursLimitsDeallocatesEachBlockOnceAndUsesEveryPath() throws {
        let lu = Self.lu()
        // one sg fd per worker: every open gives the same path object here, shared by its workers
        let paths = Paths([FakePath(lu, "/dev/sg1"), FakePath(lu, "/dev/sg2")])
        let events = Events()
        let r = try UnmapRunner.run(targetName: "vol", endpoints: ["/dev/sg1", "/dev/sg2"], open: paths.open,
                                    request: .blocks(lba: 1000, count: 100_000), options: UnmapOptions(parallel: 4), progress: events.add)
        // granules of 8 (4 KiB), 2048 blocks per command (MAXIMUM UNMAP LBA COUNT)
        #expect(r.plan.deallocated == .init(lba: 1000, count: 100_000))
        #expect(r.plan.blocksPerCommand == 2048)
        #expect(r.plan.commands == 49)
        #expect(r.commandsCompleted == r.plan.commands && r.commandsSent == r.plan.commands)
        #expect(r.bytesDeallocated == 100_000 * 512)
        let s = lu.state.withLock { $0 }
        #expect(s.unmapped.count == 100_000)
        #expect(s.unmapped.values.allSatisfy { $0 == 1 })
        #expect(s.unmapped.keys.min() == 1000 && s.unmapped.keys.max() == 100_999)
        #expect(s.maxInFlight > 1)
        #expect(Set(r.pathsUsed) == ["/dev/sg1", "/dev/sg2"])
        let evs = events.all.withLock { $0 }
        #expect(evs.first.map { if case .planned = $0 { true } else { false } } == true)
        guard case .progress(let last) = evs.last else { Issue.record("no final progress event"); return }
        #expect(last.doneBytes == last.totalBytes && last.doneCommands == r.plan.commands)
    }

    @Test func pathLostMidRunContinuesOnAnother() throws {
        let lu = Self.lu()
        let paths = Paths([FakePath(lu, "/dev/sg1", failAllFrom: 5), FakePath(lu, "/dev/sg2")])
        let events = Events()
        let r = try UnmapRunner.run(targetName: "vol", endpoints: ["/dev/sg1", "/dev/sg2"], open: paths.open,
                                    request: .blocks(lba: 0, count: 64 * 2048), options: UnmapOptions(parallel: 1), progress: events.add)
        #expect(r.complete)
        #expect(r.commandsCompleted == 64)
        #expect(r.commandsSent == 65 || r.commandsSent == 66)  // the lost command sent again (sg1 reopened once)
        #expect(r.pathFailures.map(\.endpoint).allSatisfy { $0 == "/dev/sg1" })
        #expect(r.pathFailures.last?.givenUp == true)
        #expect(r.pathsUsed == ["/dev/sg1", "/dev/sg2"])
        let s = lu.state.withLock { $0 }
        #expect(s.unmapped.count == 64 * 2048 && s.unmapped.values.allSatisfy { $0 == 1 })
        #expect(events.all.withLock { $0 }.contains { if case .pathFailed = $0 { true } else { false } })
    }

    @Test func aluaStandbySenseMovesToAnotherPath() throws {
        let lu = Self.lu()
        let standby = FakePath.Fault.response(ThinLU.sense(0x2, 0x04, 0x0B))
        let paths = Paths([FakePath(lu, "a", faults: [2: standby, 3: standby]), FakePath(lu, "b")])
        let r = try UnmapRunner.run(targetName: "vol", endpoints: ["a", "b"], open: paths.open,
                                    request: .blocks(lba: 0, count: 8 * 2048), options: UnmapOptions(parallel: 1))
        #expect(r.complete && r.commandsCompleted == 8)
        #expect(r.pathFailures.count == 2 && r.pathFailures[0].error.contains("standby"))
        #expect(lu.state.withLock { $0.unmapped.count } == 8 * 2048)
    }

    @Test func unitAttentionAndBusyAreRetriedInPlace() throws {
        let lu = Self.lu()
        let paths = Paths([FakePath(lu, "a", faults: [1: .response(ThinLU.sense(0x6, 0x29, 0x00)), 3: .response(SCSIResponse(status: 0x08))])])
        let r = try UnmapRunner.run(targetName: "vol", endpoints: ["a"], open: paths.open,
                                    request: .blocks(lba: 0, count: 4 * 2048), options: UnmapOptions(parallel: 1))
        #expect(r.complete && r.retries == 2 && r.commandsSent == 6)
        #expect(r.pathFailures.isEmpty)
    }

    @Test func checkConditionStopsWithTheFailingRange() throws {
        let lu = Self.lu()
        let paths = Paths([FakePath(lu, "/dev/sg1", faults: [3: .response(ThinLU.sense(0x7, 0x27, 0x00))])])
        do {
            _ = try UnmapRunner.run(targetName: "vol", endpoints: ["/dev/sg1"], open: paths.open,
                                    request: .blocks(lba: 0, count: 10 * 2048), options: UnmapOptions(parallel: 1))
            Issue.record("a DATA PROTECT sense did not stop the run")
        } catch let e as UnmapError {
            #expect(e.sense?.senseKey == .dataProtect)
            #expect(e.failedRanges == [.init(lba: 4096, count: 2048)])
            #expect(e.message == "UNMAP of LBA 4096-6143 failed on /dev/sg1: DATA PROTECT asc=0x27 ascq=0x00 (write protected)")
            #expect(e.partial?.commandsCompleted == 2)
            #expect(e.partial?.bytesDeallocated == 2 * 2048 * 512)
        }
        #expect(lu.state.withLock { $0.unmapped.count } == 2 * 2048)
    }

    @Test func everyPathLostIsAnError() throws {
        let lu = Self.lu()
        let paths = Paths([FakePath(lu, "a", failAllFrom: 2), FakePath(lu, "b", failAllFrom: 1)])
        #expect {
            _ = try UnmapRunner.run(targetName: "vol", endpoints: ["a", "b"], open: paths.open,
                                    request: .blocks(lba: 0, count: 8 * 2048), options: UnmapOptions(parallel: 2))
        } throws: { e in
            guard let u = e as? UnmapError else { return false }
            return u.message.contains("no usable path left") && (u.partial?.commandsCompleted ?? -1) >= 1
        }
    }

    @Test func thickDeviceIsRefusedBeforeAnyUnmap() throws {
        struct Thick: SCSITransport {
            var endpoint: String { "thick" }
            func send(_ r: SCSIRequest) throws -> SCSIResponse {
                if r.cdb[0] == 0x9E { return SCSIResponse(status: 0, data: [0, 0, 0, 0, 0, 0, 0x0F, 0xFF, 0, 0, 2, 0] + [UInt8](repeating: 0, count: 20)) }
                if r.cdb[0] == 0x42 { Issue.record("UNMAP sent to a thick LU") }
                return ThinLU.sense(5, 0x24, 0)
            }
        }
        #expect {
            _ = try UnmapRunner.run(targetName: "thick", endpoints: ["thick"], open: { _ in Thick() }, request: .wholeDevice)
        } throws: { ($0 as? PathCoreError)?.message.contains("LBPME=0") == true }
    }
}

@Suite("target opener")
struct SCSITargetOpenerTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test func volumeOnFixtureRootsGivesSgEndpointsOfRunningPaths() throws {
        let roots = HostRoots(under: Self.fixtures.appendingPathComponent("iscsi-fc-dm-degraded").path)
        let t = try SCSITargetOpener(roots: roots).resolve("3624a93709714b5cb91634c4700000001")
        #expect(t.endpoints == [.local(node: roots.dev + "/sg0", path: "sda")])
        #expect(t.blockDevice == "dm-0")
        #expect(t.resolved?.unusable.map(\.path) == ["sdd"])
    }

    @Test func iscsiURLUsesTheHostInitiatorNameAndHidesThePassword() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opener-\(getpid())")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("etc/iscsi"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sys"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let roots = HostRoots(under: dir.path)
        let url = "iscsi://user%s3cret@127.0.0.1:3260/iqn.2024-01.x:t/1"
        #expect(SCSITargetOpener(roots: roots).initiatorName() == SCSITargetOpener.defaultInitiator)
        try "## generated\nInitiatorName=iqn.1993-08.org.debian:01:abc\n".write(to: dir.appendingPathComponent("etc/iscsi/initiatorname.iscsi"), atomically: true, encoding: .utf8)
        let t = try SCSITargetOpener(roots: roots).resolve(url)
        guard case .iscsi(let u, let initiator) = t.endpoints.first else { Issue.record("not an iSCSI endpoint"); return }
        #expect(initiator == "iqn.1993-08.org.debian:01:abc")
        #expect(u.lun == 1 && u.password == "s3cret")
        #expect(!t.name.contains("s3cret") && !t.endpoints[0].description.contains("s3cret"))
        #expect(t.resolved == nil && t.blockDevice == nil)
        let explicit = try SCSITargetOpener(roots: roots, initiator: "iqn.2024-01.x:me").resolve(url)
        #expect(explicit.endpoints.first == .iscsi(u, initiator: "iqn.2024-01.x:me"))
        #expect(throws: HostStorageError.self) { _ = try SCSITargetOpener(roots: roots).resolve("iscsi://host/only-target") }
    }

    @Test func missingLiveDeviceIsOneClearError() {
        #expect {
            _ = try SCSITargetOpener().resolve("/dev/sd-no-such-disk")
        } throws: { ($0 as? HostStorageError)?.description == "no such device: /dev/sd-no-such-disk" }
        #expect {
            _ = try SCSITargetOpener().resolve("/dev/null")
        } throws: { "\($0)".contains("not a SCSI device") }
    }
}
