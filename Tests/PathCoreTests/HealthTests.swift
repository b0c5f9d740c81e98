import Foundation
import HostStorage
import Testing
@testable import PathCore

@Suite("path health from sysfs fixtures")
struct HealthTests {
    let healthy = HealthReport(TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm")).scan())
    let degraded = HealthReport(TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm-degraded")).scan())

    @Test func healthyHostIsOK() throws {
        #expect(healthy.status == .ok)
        let v = try #require(healthy.volume("3624a93709714b5cb91634c4700000001"))
        #expect(v.status == .ok && v.pathsActive == 2 && v.pathsTotal == 2)
        #expect(v.controllers == [PathGroupHealth(key: "iscsi:10.10.1.10:3260", active: 1, total: 1),
                                  PathGroupHealth(key: "iscsi:10.10.2.11:3260", active: 1, total: 1)])
        #expect(v.arrays == [PathGroupHealth(key: "iscsi:iqn.2010-06.com.purestorage:flasharray.5a2f1b8a3c9d7e01", active: 2, total: 2)])
        #expect(v.reasons.isEmpty)
        let fc = try #require(healthy.volume("3624a93709714b5cb91634c4800000001"))
        #expect(fc.controllers.count == 4)
        #expect(fc.arrays.map(\.key) == ["fc:524a9370000000", "fc:524a9371000000"])
    }

    @Test func failedSessionAndOfflinePathAreReasons() throws {
        #expect(degraded.status == .degraded)
        let v = try #require(degraded.volume("3624a93709714b5cb91634c4700000001"))
        #expect(v.pathsActive == 1 && v.pathsTotal == 2)
        #expect(v.reasons.map(\.code) == ["path_offline", "session_failed", "single_path"])
        #expect(v.reasons[1].detail == "session2 to 10.10.2.11:3260 is FAILED")
        let fc = try #require(degraded.volume("3624a93709714b5cb91634c4800000001"))
        #expect(fc.reasons.map(\.code) == ["path_offline"])
        #expect(fc.pathsActive == 3)
    }

    func path(_ hctl: String, portal: String, state: String = "running", session: String = "LOGGED_IN") throws -> ScsiPath {
        ScsiPath(hctl: try HCTL(hctl), device: "sd\(hctl.last!)", devNumber: nil, sg: nil, transport: .iscsi, state: state,
                 vendor: "PURE", model: "FlashArray", revision: "", wwn: "3624a937x", sizeBytes: nil, timeoutSeconds: nil,
                 queue: nil, provisioningMode: nil, accessState: nil,
                 iscsi: ISCSIPathInfo(session: "s-\(portal)", target: "iqn.2010-06.com.purestorage:flasharray.1", portal: portal, state: session), fc: nil)
    }

    @Test func singleControllerAndNoActivePath() throws {
        let twoOnOne = Volume(wwn: "3624a937x", vendor: "PURE", model: "FlashArray", sizeBytes: nil, map: nil,
                              paths: [try path("2:0:0:1", portal: "10.0.0.1:3260"), try path("2:0:0:2", portal: "10.0.0.1:3260"),
                                      try path("3:0:0:1", portal: "10.0.0.2:3260", session: "FAILED")])
        let h = VolumeHealth(twoOnOne)
        #expect(h.status == .degraded)
        #expect(h.reasons.map(\.code) == ["session_failed", "single_controller"])
        let dead = Volume(wwn: "3624a937y", vendor: "PURE", model: "FlashArray", sizeBytes: nil, map: nil,
                          paths: [try path("2:0:0:1", portal: "10.0.0.1:3260", state: "offline")])
        #expect(VolumeHealth(dead).status == .failed)
        #expect(VolumeHealth(dead).reasons.map(\.code) == ["path_offline", "no_active_path"])
    }

    @Test func watchPrintsOnlyChanges() {
        #expect(healthy.changes(since: healthy).isEmpty)
        let c = degraded.changes(since: healthy)
        #expect(c.contains("3624a93709714b5cb91634c4700000001: ok -> degraded"))
        #expect(c.contains("3624a93709714b5cb91634c4700000001: paths 2/2 -> 1/2"))
        #expect(c.contains("3624a93709714b5cb91634c4700000001: + session_failed: session2 to 10.10.2.11:3260 is FAILED"))
        let back = healthy.changes(since: degraded)
        #expect(back.contains("3624a93709714b5cb91634c4700000001: - single_path: only 1 of 2 paths is active"))
        var fewer = healthy
        fewer.volumes.removeFirst()
        #expect(fewer.changes(since: healthy) == ["\(healthy.volumes[0].wwn): gone"])
    }
}
