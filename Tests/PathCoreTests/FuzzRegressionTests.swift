import Foundation
import Testing
@testable import PathCore

/// Inputs from the fuzz harnesses (fuzz/, `scripts/fuzz`) that crashed a parser or broke one
/// of its invariants, kept in `Tests/Fixtures/fuzz/<target>/` (scripts/fuzz also seeds each
/// target with them). Each test feeds one to the parser it broke.
enum FuzzFixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz")

    static func bytes(_ target: String, _ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent("\(target)/\(name)")))
    }
    static func text(_ target: String, _ name: String) throws -> String {
        String(decoding: try bytes(target, name), as: UTF8.self)
    }
    /// A `scsi` harness input without its first byte (the one that picks the decoder).
    static func scsi(_ name: String) throws -> [UInt8] { Array(try bytes("scsi", name).dropFirst()) }

    /// The text with CRLF line ends made LF.
    static func lf(_ s: String) -> String { s.replacingOccurrences(of: "\r\n", with: "\n") }
}

@Suite struct FuzzRegressionTests {
    // MARK: scsi

    /// A GET LBA STATUS descriptor whose LBA + count passes 2^64 (device-reported) trapped in
    /// `Descriptor.end` (`nextLBA`, `LBAStatusMap.add`).
    @Test func lbaStatusDescriptorPast2To64IsRefused() throws {
        let data = try FuzzFixture.scsi("lba-status-descriptor-end-overflow")
        let e = #expect(throws: PathCoreError.self) { try LBAStatus(data) }
        #expect(e?.code == .invalidValue)
    }

    /// A sense descriptor that runs past ADDITIONAL SENSE LENGTH was decoded from the bytes
    /// after the sense data.
    @Test func senseDescriptorPastAdditionalLengthIsRefused() throws {
        let data = try FuzzFixture.scsi("sense-descriptor-past-additional-length")
        let e = #expect(throws: PathCoreError.self) { try SenseData(data) }
        #expect(e?.code == .truncated)
    }

    /// A device claiming 2^64 - 1 blocks with an 8-block granularity and a request for the
    /// last blocks: rounding the start up to a granule trapped in UnmapPlanner.
    @Test func unmapPlanNearTheLastLBADoesNotOverflow() throws {
        var records: [UInt8: [UInt8]] = [:]
        var d = try FuzzFixture.scsi("unmap-plan-round-up-overflow")[...]
        while d.count >= 4 {
            let n = Int(d[d.startIndex + 2]) << 8 | Int(d[d.startIndex + 3])
            records[d[d.startIndex]] = Array(d.dropFirst(4).prefix(n))
            d = d.dropFirst(4 + n)
        }
        let caps = UnmapCapabilities(
            capacity: try ReadCapacity16(#require(records[0x9E])),
            provisioning: try LogicalBlockProvisioning(#require(records[0xB2])),
            limits: try BlockLimits(#require(records[0xB0])))
        #expect(caps.blockCount == UInt64.max && caps.optimalUnmapGranularity == 8)
        let plan = try UnmapPlanner.plan(.blocks(lba: UInt64.max - 2, count: 2), on: caps)
        #expect(plan.steps.isEmpty && plan.deallocated == nil)  // no whole granule in the range
        #expect(plan.leftMapped == [.init(lba: UInt64.max - 2, count: 2)])
    }

    // MARK: dm

    @Test func dmTableWithCRLFParsesLikeLF() throws {
        let line = try FuzzFixture.text("dm", "table-crlf")
        let t = try DMTable.parse(line)
        #expect(t == (try DMTable.parse(FuzzFixture.lf(line))))
        #expect(t.groups.first?.paths.map(\.args) == [["128"], ["128"]])
    }

    @Test func dmStatusWithCRLFParsesLikeLF() throws {
        let line = try FuzzFixture.text("dm", "status-crlf")
        #expect(try DMStatus.parse(line) == DMStatus.parse(FuzzFixture.lf(line)))
    }

    /// " " followed by a combining mark is one Character; the kernel splits bytes, so the
    /// blank still separates words (found as "1\r\u{301}" reading unlike "1 \u{301}").
    @Test func dmWordsSplitAtABlankBeforeACombiningMark() throws {
        let line = try FuzzFixture.text("dm", "table-blank-before-combining-mark")
        let t = try DMTable.parse(line)
        #expect(t == (try DMTable.parse(line.replacingOccurrences(of: " ", with: "\t"))))
        #expect(t.groups.first?.paths.first?.args == ["\u{301}"])
    }

    /// A per-path argument count near Int.max overflowed `nPaths * (1 + nArgs)`.
    @Test func dmTableWithAHugeArgumentCountIsRefused() throws {
        let line = try FuzzFixture.text("dm", "table-path-args-overflow")
        let e = #expect(throws: PathCoreError.self) { try DMTable.parse(line) }
        #expect(e?.detail == "token 10")  // the number of paths of that group
    }

    @Test func dmStatusWithAHugeArgumentCountIsRefused() throws {
        let line = try FuzzFixture.text("dm", "status-path-args-overflow")
        let e = #expect(throws: PathCoreError.self) { try DMStatus.parse(line) }
        #expect(e?.detail == "token 12")
    }

    // MARK: config readers: CRLF line ends read like LF

    @Test func pathagentConfWithCRLF() throws {
        let text = try FuzzFixture.text("config", "pathagent-crlf.conf")
        let c = try AgentConfig.parse(text, file: "pathagent.conf")
        #expect(c == (try AgentConfig.parse(FuzzFixture.lf(text), file: "pathagent.conf")))
        #expect(c.workers == 4 && c.logLevel == "debug")
    }

    @Test func pathagentMultipathConfigWithCRLF() throws {
        let text = try FuzzFixture.text("config", "pathagent-multipath-crlf.conf")
        let c = try MultipathConfig.parse(text, path: "multipath.conf")
        #expect(c == (try MultipathConfig.parse(FuzzFixture.lf(text), path: "multipath.conf")))
        #expect(c.sections.map(\.line) == [1, 4])
    }

    @Test func multipathConfWithCRLF() throws {
        let text = try FuzzFixture.text("config", "multipath-crlf.conf")
        let f = try MultipathConfFile.parse(text, path: "/etc/multipath.conf")
        #expect(f == (try MultipathConfFile.parse(FuzzFixture.lf(text), path: "/etc/multipath.conf")))
        #expect(f.defaults?.value("polling_interval") == "10" && f.defaults?.entry("find_multipaths")?.line == 4)
    }

    @Test func novaConfWithCRLF() throws {
        let ini = OsloINI(try FuzzFixture.text("config", "nova-crlf.conf"))
        #expect(ini.value("libvirt", "volume_use_multipath")?.value == "True")
        #expect(ini.value("libvirt", "volume_use_multipath")?.line == 2)
    }

    @Test func iscsidConfWithCRLF() throws {
        let v = HostChecks.iscsidValues(try FuzzFixture.text("config", "iscsid-crlf.conf"))
        #expect(v["node.session.timeo.replacement_timeout"]?.value == "10")
        #expect(v["node.startup"]?.value == "automatic" && v["node.startup"]?.line == 2)
    }

    // MARK: connection properties: hex digits are ASCII

    /// `Character.isHexDigit` is also true for fullwidth digits and letters (U+FF10...).
    @Test func fullwidthDigitInAWWPNIsRefused() throws {
        let text = try FuzzFixture.text("json", "wwpn-fullwidth-digit.json")
        let e = #expect(throws: PathCoreError.self) { try ConnectionProperties.fc(json: text) }
        #expect(e?.key == "target_wwn")
    }

    @Test func fullwidthDigitInAnEUINameIsRefused() throws {
        let text = try FuzzFixture.text("json", "iscsi-name-fullwidth-digit.json")
        let e = #expect(throws: PathCoreError.self) { try ConnectionProperties.iscsi(json: text) }
        #expect(e?.key == "target_iqn")
    }

    @Test func fullwidthDigitInAWWNIsRefused() throws {
        let text = try FuzzFixture.text("json", "wwn-fullwidth-digit.json")
        let e = #expect(throws: PathCoreError.self) { try ConnectionProperties.iscsi(json: text) }
        #expect(e?.key == "wwn")
        #expect(throws: PathCoreError.self) { try WWN("3624a9370\u{FF19}714b5cb91634c470002b2c8") }
    }
}
