import Foundation
import PathCore
import Testing
@testable import FlashArray

/// The simulator's data path against a private tgtd (needs root, tgtd and libiscsi's
/// iscsi-inq / iscsi-readcapacity16). A named tier: runs when `PATHAGENT_TGT_TIER=1`,
/// and then fails loudly if a tool is missing.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PATHAGENT_TGT_TIER"] == "1",
                             "tgt tier: set PATHAGENT_TGT_TIER=1 (root, tgtd, libiscsi-bin)"))
struct SimulatorTgtTierTests {
    static func run(_ tool: String, _ args: [String]) throws -> (Int32, String) {
        let (rc, d) = try runData(tool, args)
        return (rc, String(decoding: d, as: UTF8.self))
    }
    static func runData(_ tool: String, _ args: [String]) throws -> (Int32, Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, d)
    }

    @Test func connectBindsTheHostsIQNAtTheReturnedLUN() async throws {
        for tool in ["/usr/sbin/tgtd", "/usr/sbin/tgtadm", "/usr/bin/iscsi-inq", "/usr/bin/iscsi-readcapacity16"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing (apt-get install tgt libiscsi-bin)")
        }
        let control = Int.random(in: 20000...29999), iscsiPort = Int.random(in: 33000...33999)
        try await withTgtd(control: control, portals: ["127.0.0.1:\(iscsiPort)"]) {
            let dir = NSTemporaryDirectory() + "fa-tgt-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await withSimulator(extra: ["--tgt", dir, "--tgt-control-port", "\(control)",
                                            "--iscsi-port", "CT0.ETH4=127.0.0.1:\(iscsiPort)", "--iscsi-port", "CT1.ETH4=127.0.0.1:\(iscsiPort)"]) { sim in
                let text = sim.cinderConf()
                let backend = try PureBackend(config: try CinderConf(text: text).backend("pure-1"))
                let me = HostConnector(host: "tgt-tier", initiator: "iqn.2026-11.net.example:tgt-tier", systemUUID: UUID().uuidString)
                try await backend.createVolume(name: "vol-d0", sizeGiB: 1)
                let vol = try await backend.createVolume(name: "vol-d1", sizeGiB: 2)
                let info = try await backend.connect(volume: "vol-d1", connector: me)
                let lun = try #require(info.data.targetLUNs?.first)
                let portal = try #require(info.data.targetPortals?.first), iqn = try #require(info.data.targetIQNs?.first)
                let url = "iscsi://\(portal)/\(iqn)/\(lun)"
                // the LUN is real: READ CAPACITY(16) gives the provisioned size, VPD 0x80 the volume serial
                let (rc, cap) = try Self.run("/usr/bin/iscsi-readcapacity16", ["-i", me.initiator!, url])
                #expect(rc == 0, "\(cap)")
                let blocks = cap.split(separator: "\n").first { $0.contains("Total size:") }
                #expect(blocks?.contains("\(2 << 30)") == true, "\(cap)")
                let (rc2, inq) = try Self.run("/usr/bin/iscsi-inq", ["-i", me.initiator!, "-e", "1", "-c", "128", url])
                #expect(rc2 == 0 && inq.contains(vol.serial!), "\(inq)")
                // VPD 0x83 carries the NAA 6 designator 624a9370<serial>: the host sees the volume's WWN
                let (rc5, id) = try Self.runData("/usr/bin/iscsi-inq", ["-i", me.initiator!, "-e", "1", "-c", "131", url])
                let naa = try [UInt8](hex: String(info.data.wwn.dropFirst()))
                // iscsi-inq prints a designator with %s, so only the bytes before the first NUL show
                let shown = naa.prefix { $0 != 0 }
                #expect(rc5 == 0 && naa.count == 16 && shown.count >= 8 && id.range(of: Data(shown)) != nil, "VPD 0x83 lacks \(info.data.wwn)")
                // a host the volume is not connected to is refused by the ACL
                let (rc3, _) = try Self.run("/usr/bin/iscsi-readcapacity16", ["-i", "iqn.2026-11.net.example:stranger", url])
                #expect(rc3 != 0)
                // thin: the backing file holds no data yet
                let space = try await backend.primary.arraySpace()
                #expect(space.space?.totalPhysical == 0 && space.space?.totalProvisioned == 3 << 30)
                try await backend.disconnect(volume: "vol-d1", connector: me)
                let (rc4, _) = try Self.run("/usr/bin/iscsi-readcapacity16", ["-i", me.initiator!, url])
                #expect(rc4 != 0)   // the LUN is gone from the target
                await backend.shutdown()
            }
        }
    }
}
