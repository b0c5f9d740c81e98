import ArgumentParser
import Foundation
import HostStorage
import PathCore

struct LBAStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lba-status",
        abstract: "Show which blocks of a thin LU are mapped, deallocated or anchored (GET LBA STATUS).",
        discussion: """
            Sends GET LBA STATUS from the start of the range, then again from where each \
            answer stops, until the range is covered, and prints the merged extents with \
            totals. Without --range the whole device is read.

            --range START:LEN: bytes by default, K/M/G/T binary suffixes (1M = 1048576), or \
            the LBA suffix for logical blocks; a bare number takes the other value's unit \
            when that one is in LBAs (0:100LBA = blocks 0-99). A byte range is widened to \
            the blocks it touches.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: ArgumentHelp("Range to report on (format above).", valueName: "START:LEN"))
    var range: String?

    struct Report: Encodable {
        var target: String
        var endpoint: String
        var blockLength: Int
        var range: SCSICommands.BlockRange
        var commands: Int
        var mappedBlocks: UInt64
        var deallocatedBlocks: UInt64
        var anchoredBlocks: UInt64
        var otherBlocks: UInt64
        var extents: [LBAStatusMap.Extent]
    }

    func run() throws {
        let spec: RangeSpec?
        do { spec = try range.map { try RangeSpec(parsing: $0) } } catch { throw ValidationError(describe(error)) }
        do {
            let t = try target.opener(global).resolve(target.target)
            let (endpoint, transport) = try t.openFirst()
            let rc = try transport.send(try SCSICommands.readCapacity16().request(timeout: 10))
            guard rc.isGood else {
                throw PathCoreError(.unsupported, "READ CAPACITY(16) failed on \(endpoint): \((try? SenseData(rc.sense).description) ?? "status \(rc.status)")")
            }
            let cap = try ReadCapacity16(rc.data)
            let r = try spec.map { try $0.blockRange(blockLength: Int(cap.blockLength), blockCount: cap.blockCount) }
                ?? SCSICommands.BlockRange(lba: 0, count: cap.blockCount)
            let map = try LBAStatusMap.read(transport, range: r)
            let report = Report(
                target: t.name, endpoint: endpoint.description, blockLength: Int(cap.blockLength), range: r,
                commands: map.responses, mappedBlocks: map.mappedBlocks, deallocatedBlocks: map.deallocatedBlocks,
                anchoredBlocks: map.anchoredBlocks, otherBlocks: map.otherBlocks, extents: map.extents)
            if global.json {
                try Output.json(report)
            } else {
                print(Self.render(report))
            }
        } catch {
            throw CLIError(describe(error))
        }
    }

    static func render(_ r: Report) -> String {
        let bl = UInt64(r.blockLength)
        let via = r.target == r.endpoint ? r.target : "\(r.target) via \(r.endpoint)"
        var out = ["\(via): LBA \(r.range.lba)-\(r.range.end - 1) (\(ByteCount.format(r.range.count * bl))), \(r.blockLength)-byte blocks, \(r.commands) GET LBA STATUS command\(r.commands == 1 ? "" : "s")"]
        for e in r.extents {
            out.append("  LBA \(Output.pad("\(e.lba)-\(e.end - 1)", 23)) \(Output.pad("\(e.count) blocks", 18)) \(Output.pad(ByteCount.format(e.count * bl), 11)) \(e.status.rawValue)")
        }
        out.append("mapped \(r.mappedBlocks) blocks (\(ByteCount.format(r.mappedBlocks * bl))), deallocated \(r.deallocatedBlocks) blocks (\(ByteCount.format(r.deallocatedBlocks * bl))), anchored \(r.anchoredBlocks) blocks" + (r.otherBlocks > 0 ? ", other \(r.otherBlocks) blocks" : ""))
        return out.joined(separator: "\n")
    }
}
