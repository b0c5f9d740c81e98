import Foundation
import HostStorage
import PathCore
import Testing
@testable import FlashArray

/// End to end on the tgt tier (root, tgtd; no kernel initiator): fa-sim with a real tgt data
/// path over two portals and TLS with a test CA; the standalone-attach entry point connects a
/// volume to this host; the returned properties are used as they are by libiscsi
/// (`ISCSITransport`): INQUIRY says PURE, VPD 0x83 carries the properties' WWN, a block
/// written on one path reads back on the other; the path health goes to the module and is
/// read back as the control plane sees it. Runs under `scripts/test --tier tgt`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PATHAGENT_TGT_TIER"] == "1",
                             "tgt tier: set PATHAGENT_TGT_TIER=1 (root, tgtd)"))
struct SimulatorISCSITgtTierTests {
    static let initiator = "iqn.2026-11.net.example:fa-e2e"

    @Test func standaloneAttachPropertiesWorkWithLibiscsiAndHealthRoundTrips() async throws {
        for tool in ["/usr/sbin/tgtd", "/usr/sbin/tgtadm"] {
            try #require(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing (apt-get install tgt)")
        }
        try #require(getuid() == 0, "the tgt tier needs root")
        // the array computes port_connectivity from each session's initiator address, so the
        // session to 127.0.0.2 must come from 127.0.0.2 (as in the VM lab): put it on lo as a
        // /32 (a secondary address in 127/8 would leave 127.0.0.1 as the source)
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let ipTool = try #require(ip, "ip (iproute2) is missing")
        let (_, addrs) = try SimulatorTgtTierTests.run(ipTool, ["-4", "addr", "show", "dev", "lo"])
        let added = !addrs.contains("inet 127.0.0.2/32")
        if added {
            let (rc, out) = try SimulatorTgtTierTests.run(ipTool, ["addr", "add", "127.0.0.2/32", "dev", "lo"])
            try #require(rc == 0, "ip addr add 127.0.0.2/32 dev lo: \(out)")
        }
        defer { if added { _ = try? SimulatorTgtTierTests.run(ipTool, ["addr", "del", "127.0.0.2/32", "dev", "lo"]) } }
        let control = Int.random(in: 20000...29999), iscsiPort = Int.random(in: 34000...34999)
        let p1 = "127.0.0.1:\(iscsiPort)", p2 = "127.0.0.2:\(iscsiPort)"
        try await withTgtd(control: control, portals: [p1, p2]) {
            let dir = NSTemporaryDirectory() + "fa-e2e-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: dir) }

            let clock = ContinuousClock()
            try await withSimulator(extra: ["--tgt", dir, "--tgt-control-port", "\(control)",
                                            "--iscsi-port", "CT0.ETH4=\(p1)", "--iscsi-port", "CT1.ETH4=\(p2)"]) { sim in
                let conf = sim.cinderConf(backend: "pure-e2e")
                let cfg = try CinderConf(text: conf).backend("pure-e2e")
                let admin = try PureBackend(config: cfg)
                let vol = try await admin.createVolume(name: "vol-e2e", sizeGiB: 1)
                let me = HostConnector(host: "fa-e2e", initiator: Self.initiator, systemUUID: UUID().uuidString)

                // the standalone-attach entry point: host registration + connect + properties
                var t0 = clock.now
                let info = try await PureBackend.connectionInfo(cinderConf: conf, backend: "pure-e2e", volume: "vol-e2e", connector: me)
                print("e2e: connectionInfo (register host, connect, properties) took \(clock.now - t0)")
                #expect(info.driverVolumeType == "iscsi")
                let props = info.data
                #expect(props.wwn == (try WWN.pure(serial: try #require(vol.serial))).value)
                let portals = try #require(props.targetPortals), iqns = try #require(props.targetIQNs), luns = try #require(props.targetLUNs)
                #expect(Set(portals) == [p1, p2] && portals.count == 2 && iqns.count == 2 && luns.count == 2)

                // the properties as they are, through libiscsi
                var paths: [PathHealthReport.PathReport] = []
                // the sessions stay open: the array's port_connectivity is computed from them
                var sessions: [ISCSITransport] = []
                let pattern = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
                for (i, (portal, (iqn, lun))) in zip(portals, zip(iqns, luns)).enumerated() {
                    t0 = clock.now
                    let t = try ISCSITransport(url: ISCSIURL("iscsi://\(portal)/\(iqn)/\(lun)"), initiator: Self.initiator)
                    print("e2e: libiscsi login \(portal) took \(clock.now - t0)")
                    let inq = try t.send(SCSIRequest(cdb: [0x12, 0, 0, 0, 96, 0], direction: .fromDevice(96)))
                    #expect(inq.isGood && inq.data.count >= 36)
                    #expect(String(decoding: inq.data[8..<16], as: UTF8.self) == "PURE    ")
                    #expect(String(decoding: inq.data[16..<32], as: UTF8.self).hasPrefix("FlashArray"))
                    let vpd = try t.send(SCSIRequest(cdb: [0x12, 1, 0x83, 0x10, 0, 0], direction: .fromDevice(4096)))
                    #expect(vpd.isGood)
                    let ids = try DeviceIdentification(vpd.data)
                    let naa = ids.logicalUnitDesignators.filter { $0.type == .naa }.map { "3" + $0.hex.lowercased() }
                    #expect(naa.contains(props.wwn), "VPD 0x83 NAA designators \(naa), properties wwn \(props.wwn)")
                    // READ CAPACITY(16): the block size for the I/O below
                    let cap = try t.send(SCSIRequest(cdb: [0x9E, 0x10] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, 32, 0, 0], direction: .fromDevice(32)))
                    #expect(cap.isGood)
                    let bs = Int(try ByteView(cap.data).u32(8))
                    #expect(bs == 512 || bs == 4096)
                    let block = Array(pattern.prefix(bs))
                    if i == 0 {
                        // WRITE(16) LBA 7, one block, on the first path
                        let w = try t.send(SCSIRequest(cdb: [0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0], direction: .toDevice(block)))
                        #expect(w.isGood, "WRITE(16) status \(w.status)")
                    }
                    // READ(16) LBA 7 on every path: the block written on the first
                    let r = try t.send(SCSIRequest(cdb: [0x88, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0], direction: .fromDevice(bs)))
                    #expect(r.isGood && r.data == block, "path \(portal) reads back what path 1 wrote")
                    paths.append(.init(device: "libiscsi\(i)", targetPortal: portal, targetIQN: iqn, state: .active))
                    sessions.append(t)
                }

                // path health: agent -> module (in-process), read back as the control plane sees it
                let wwn = try WWN(props.wwn)
                let report = PathHealthReport(initiatorIQN: Self.initiator, reportedAt: Int64(Date().timeIntervalSince1970 * 1000),
                                              volumes: [.init(wwn: wwn, paths: paths, lastChange: Int64(Date().timeIntervalSince1970 * 1000) - 5000)])
                t0 = clock.now
                let recorded = try await admin.recordHealth(report)
                print("e2e: recordHealth took \(clock.now - t0)")
                #expect(recorded.status == .ok, "\(recorded)")
                let hostName = try #require(try await admin.primary.host(initiator: Self.initiator)?.name)
                let back = try await admin.hostHealth(hostName)
                #expect(back.status == .ok && back.flags.isEmpty)
                #expect(back.volumes == 1 && back.paths.active == 2 && back.paths.total == 2)
                #expect(back.perController.keys.sorted().count == 2, "\(back.perController)")
                #expect(back.arrayStatus == "healthy" && back.arrayDetails == "Redundant", "the array sees both sessions")
                // one path fails (its session ends): agent and array agree on degraded
                sessions.removeLast()
                var failed = report
                failed.volumes[0].paths[1].state = .failed
                _ = try await admin.recordHealth(failed)
                let back2 = try await admin.hostHealth(hostName)
                #expect(back2.status == .degraded && back2.flags.contains(.failedPaths) && back2.flags.contains(.singleController), "\(back2)")
                #expect(back2.paths.failed == 1 && back2.arrayStatus == "unhealthy" && !back2.flags.contains(.arrayDisagrees))
                sessions.removeAll()

                // detach on the array: the LUN is gone for this initiator
                try await PureBackend.disconnect(config: cfg, volume: "vol-e2e", connector: me)
                #expect(throws: (any Error).self) {
                    let t = try ISCSITransport(url: ISCSIURL("iscsi://\(portals[0])/\(iqns[0])/\(luns[0])"), initiator: Self.initiator)
                    let r = try t.send(SCSIRequest(cdb: [0x12, 0, 0, 0, 96, 0], direction: .fromDevice(96)))
                    // a session may still open (ACL) but the LUN must not answer as the volume
                    if r.isGood, r.data.count >= 16, String(decoding: r.data[8..<16], as: UTF8.self) == "PURE    " { return }
                    throw FlashArrayError(.notFound, "LUN gone")
                }
                await admin.shutdown()
            }
        }
    }
}
