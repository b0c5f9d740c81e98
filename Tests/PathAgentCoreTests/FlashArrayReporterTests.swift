import FlashArray
import HostStorage
import PathAPI
import PathCore
import Testing
@testable import PathAgentCore

/// The `[flasharray]` reporter's report building: the monitor's per-path dm state joined
/// with the topology's iSCSI portal/IQN or FC target port of each disk.
@Suite struct FlashArrayReporterTests {
    static let iscsiWWN = "3624a93709714b5cb91634c4700000001"   // dm-0: sda (host 2) + sdd (host 3), iSCSI
    static let fcWWN = "3624a93709714b5cb91634c4800000001"      // dm-1: sdg..sdj, FC

    func topology() -> Topology { Inventory.scan(roots: HostRoots(under: Fixtures.path("iscsi-fc-dm"))) }

    func snapshot() -> [MonitoredMap] {
        [
            MonitoredMap(name: Self.iscsiWWN, device: "254:0", paths: [
                MonitoredPath(device: "8:0", name: "sda", dmState: "active", failCount: 0, checker: "up", lastChangeMicros: 1_000_000, reason: nil),
                MonitoredPath(device: "8:48", name: "sdd", dmState: "failed", failCount: 1, checker: "down", lastChangeMicros: 9_000_000, reason: "tur"),
            ]),
            MonitoredMap(name: Self.fcWWN, device: "254:1", paths: ["8:96", "8:112", "8:128", "8:144"].enumerated().map { i, d in
                MonitoredPath(device: d, name: nil, dmState: "active", failCount: 0, checker: "up", lastChangeMicros: UInt64(i) * 1000, reason: nil)
            }),
            // a map the topology does not know (already gone): not reported
            MonitoredMap(name: "3600000000000000000000000000000ff", device: "254:7", paths: []),
        ]
    }

    @Test func buildsOneVolumePerPureMapWithPortalsIQNsAndStates() throws {
        let r = PathHealthReportBuilder.build(maps: snapshot(), topology: topology(), initiatorIQN: "iqn.1994-05.com.redhat:host1",
                                              initiatorWWPNs: ["0x10000090fa000001"], monotonicNowMicros: 10_000_000, epochNowMillis: 1_700_000_010_000)
        #expect(r.initiatorIQN == "iqn.1994-05.com.redhat:host1" && r.initiatorWWPNs == ["0x10000090fa000001"])
        #expect(r.reportedAt == 1_700_000_010_000)
        #expect(r.volumes.map(\.wwn.value) == [Self.iscsiWWN, Self.fcWWN])
        let iscsi = r.volumes[0]
        #expect(iscsi.paths.map(\.device) == ["sda", "sdd"])
        #expect(iscsi.paths.map(\.state) == [.active, .failed])
        #expect(Set(iscsi.paths.compactMap(\.targetPortal)) == ["10.10.1.10:3260", "10.10.2.11:3260"])
        #expect(iscsi.paths.allSatisfy { $0.targetIQN == "iqn.2010-06.com.purestorage:flasharray.5a2f1b8a3c9d7e01" && $0.targetWWPN == nil })
        // last change: 1 s before now on the monotonic clock, in epoch ms
        #expect(iscsi.lastChange == 1_700_000_009_000)
        let fc = r.volumes[1]
        #expect(fc.paths.count == 4 && fc.paths.allSatisfy { $0.state == .active && $0.targetPortal == nil })
        let plain = Set(fc.paths.compactMap(\.targetWWPN).map { $0.lowercased().replacingOccurrences(of: "0x", with: "").replacingOccurrences(of: ":", with: "") })
        #expect(plain == ["524a937000000000", "524a937000000001", "524a937100000000", "524a937100000001"], "\(fc.paths)")
        // device names come from the topology when the monitor has none
        #expect(fc.paths.compactMap(\.device).sorted() == ["sdg", "sdh", "sdi", "sdj"])
    }

    @Test func signatureChangesWithAPathState() {
        let t = topology()
        let a = PathHealthReportBuilder.build(maps: snapshot(), topology: t, initiatorIQN: nil, initiatorWWPNs: [], monotonicNowMicros: 1, epochNowMillis: 1)
        var maps = snapshot()
        maps[0].paths[1].dmState = "active"
        let b = PathHealthReportBuilder.build(maps: maps, topology: t, initiatorIQN: nil, initiatorWWPNs: [], monotonicNowMicros: 1, epochNowMillis: 1)
        #expect(PathHealthReportBuilder.signature(a) != PathHealthReportBuilder.signature(b))
    }

    @Test func reporterIsOffUnlessConfigured() throws {
        #expect(try FlashArrayHealthReporter.backend(config: AgentConfig(), logger: .init(label: "t")) == nil)
        let on = try AgentConfig.parse("[flasharray]\ncinder_conf = /nonexistent/cinder.conf\nbackend = pure-1\nreport_interval = 5\n", file: "a.conf")
        #expect(on.flashArrayReporting && on.flashArrayReportInterval == 5)
        // configured but unusable: the daemon refuses to start with a clear error
        #expect(throws: FlashArrayError.self) { _ = try FlashArrayHealthReporter.backend(config: on, logger: .init(label: "t")) }
    }
}
