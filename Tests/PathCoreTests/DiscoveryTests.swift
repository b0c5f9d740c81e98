import Foundation
import HostStorage
import Testing
@testable import PathCore

/// Discovery against fixture trees of real sysfs shapes (symlinks kept).
enum Fixture {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func sysfs(_ name: String) -> DiskSysfs { DiskSysfs(root: dir.appendingPathComponent(name).appendingPathComponent("sys").path) }
}

@Suite("discovery on fixture trees")
struct DiscoveryTests {
    let healthy = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm"), options: .init(queueSettings: true)).scan()
    let degraded = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm-degraded")).scan()

    @Test func groupsPathsIntoVolumesByWWN() throws {
        #expect(healthy.volumes.count == 4)
        #expect(healthy.allPaths.count == 10)
        let v = try #require(healthy.volume(try WWN("3624a93709714b5cb91634c4700000001")))
        #expect(v.paths.map(\.hctl.description) == ["2:0:0:1", "3:0:0:1"])
        #expect(v.paths.map(\.device) == ["sda", "sdd"])
        #expect(v.vendor == "PURE" && v.model == "FlashArray")
        #expect(v.sizeBytes == 4 << 30)
        #expect(v.map == DMMapRef(name: "3624a93709714b5cb91634c4700000001", device: "dm-0", uuid: "mpath-3624a93709714b5cb91634c4700000001"))
        #expect(v.activePaths == 2)
    }

    @Test func iscsiSessionsAndPortals() throws {
        #expect(healthy.sessions.map(\.name) == ["session1", "session2"])
        let s1 = healthy.sessions[0]
        #expect(s1.target == "iqn.2010-06.com.purestorage:flasharray.5a2f1b8a3c9d7e01")
        #expect(s1.portals == ["10.10.1.10:3260"])
        #expect(s1.host == 2)
        #expect(s1.recoveryTmo == 10)
        #expect(s1.state == "LOGGED_IN")
        let p = try #require(healthy.allPaths.first { $0.hctl == (try HCTL("3:0:0:2")) })
        #expect(p.transport == .iscsi)
        #expect(p.iscsi == ISCSIPathInfo(session: "session2", target: s1.target, portal: "10.10.2.11:3260", state: "LOGGED_IN"))
        #expect(p.devNumber == "8:64")
        #expect(p.sg == "sg4")
        #expect(p.provisioningMode == "unmap")
        #expect(p.queue?.scheduler == "mq-deadline")
        #expect(p.queue?.maxSectorsKB == 1280)
    }

    @Test func fcHostsAndRemotePorts() throws {
        #expect(healthy.fcHosts.map(\.host) == [4, 5])
        let h = healthy.fcHosts[0]
        #expect(h.portName == "21000024ff7f3e00")
        #expect(h.portState == "Online")
        #expect(h.speed == "16 Gbit")
        #expect(h.remotePorts.map(\.name) == ["rport-4:0-0", "rport-4:0-1"])
        #expect(h.remotePorts[1].scsiTargetID == 1)
        #expect(h.remotePorts[1].devLossTmo == 60)
        #expect(h.remotePorts[1].fastIOFailTmo == "10")
        #expect(h.remotePorts[1].isTarget)
        let fcVol = try #require(healthy.volume(try WWN("3624a93709714b5cb91634c4800000001")))
        #expect(fcVol.paths.count == 4)
        #expect(fcVol.paths.allSatisfy { $0.transport == .fc })
        #expect(fcVol.paths[1].fc?.targetPortName == "524a937000000001")
        #expect(fcVol.map?.device == "dm-1")
        // the planner's snapshots carry the same facts
        #expect(healthy.remotePortInfos.count == 4)
        #expect(healthy.remotePortInfos[1].scsiTargetID == 1)
        #expect(healthy.fcHostInfos.map(\.isOnline) == [true, true])
    }

    @Test func degradedTreeShowsFailedSessionAndOfflinePath() throws {
        let s2 = try #require(degraded.sessions.first { $0.name == "session2" })
        #expect(s2.state == "FAILED")
        let failedPaths = degraded.allPaths.filter { $0.iscsi?.session == "session2" }
        #expect(failedPaths.count == 3)
        #expect(failedPaths.allSatisfy { $0.state == "transport-offline" && $0.iscsi?.state == "FAILED" })
        let offline = degraded.allPaths.filter { $0.state == "offline" }
        #expect(offline.map(\.hctl.description) == ["4:0:0:1"])
        let v = try #require(degraded.volume(try WWN("3624a93709714b5cb91634c4700000001")))
        #expect(v.activePaths == 1)
        #expect(degraded.sessionInfos.map(\.state) == [.loggedIn, .failed])
    }

    @Test func mapsFromSysfs() {
        #expect(healthy.maps.map(\.device) == ["dm-0", "dm-1"])
        #expect(healthy.maps[0].slaves == ["sda", "sdd"])
        #expect(healthy.maps[0].multipathWWN == "3624a93709714b5cb91634c4700000001")
        #expect(healthy.maps[0].devNumber == "254:0")
        #expect(healthy.mapInfos[1].claimedWWN?.value == "3624a93709714b5cb91634c4800000001")
    }

    @Test func missingTreeIsEmptyNotACrash() {
        let t = TopologyScanner(sysfs: DiskSysfs(root: "/nonexistent-pathagent-root")).scan()
        #expect(t.volumes.isEmpty && t.sessions.isEmpty && t.fcHosts.isEmpty)
    }

    @Test func schedulerSelectionParsing() {
        #expect(TopologyScanner.selectedScheduler("mq-deadline kyber [none]") == "none")
        #expect(TopologyScanner.selectedScheduler("none") == "none")
        #expect(TopologyScanner.normalizeWWPN("0x524A937000000001") == "524a937000000001")
    }
}

/// The tree captured from the lab VM's real 6.1 kernel (scripts/lab capture): four
/// scsi_debug disks, one tgt LUN over two iSCSI sessions with one path offline, a dm
/// multipath map over both paths, plus QEMU's CD-ROM and tgt's LUN 0 controllers.
@Suite("discovery on the real kernel capture")
struct CapturedKernelDiscoveryTests {
    let topo = TopologyScanner(sysfs: Fixture.sysfs("vm-iscsi-scsidebug"), options: .init(queueSettings: true)).scan()

    @Test func iscsiVolumeWithTwoSessionsAndAnOfflinePath() throws {
        let v = try #require(topo.volume(try WWN("naa.60000000000000000e00000000010001")))
        #expect(v.vendor == "IET" && v.model == "VIRTUAL-DISK")
        #expect(v.sizeBytes == 256 << 20)
        #expect(v.paths.map(\.device) == ["sde", "sdf"])
        #expect(v.paths.map { $0.iscsi?.portal } == ["127.0.0.1:3260", "127.0.0.2:3261"])
        #expect(v.paths.map(\.state) == ["running", "offline"])
        #expect(v.activePaths == 1)
        #expect(v.map?.device == "dm-0")
        #expect(v.map?.uuid == "mpath-360000000000000000e00000000010001")
        #expect(v.paths[0].provisioningMode == "unmap")
        #expect(v.paths[0].devNumber == "8:64")
    }

    @Test func sessionsFromTheKernel() {
        #expect(topo.sessions.map(\.name) == ["session1", "session2"])
        #expect(topo.sessions.map(\.host) == [3, 4])
        #expect(topo.sessions.map(\.recoveryTmo) == [5, 5])
        #expect(topo.sessions.allSatisfy { $0.state == "LOGGED_IN" && $0.target == "iqn.2026-01.dev.pathagent:lab-tgt1" })
        #expect(topo.sessionInfos.map(\.hostNumber) == [3, 4])
    }

    @Test func scsiDebugDisksAreLocalVolumes() throws {
        let local = topo.volumes.filter { $0.model == "scsi_debug" }
        #expect(local.map(\.wwn) == ["33333333000001770", "33333333000001771", "33333333000001772", "33333333000001773"])
        #expect(local.allSatisfy { $0.paths.count == 1 && $0.paths[0].transport == .other })
    }

    @Test func nonDiskDevicesAreLeftOutUnlessAsked() {
        #expect(!topo.allPaths.contains { $0.model == "Controller" || $0.device == "sr0" })
        let all = TopologyScanner(sysfs: Fixture.sysfs("vm-iscsi-scsidebug"), options: .init(allDeviceTypes: true)).scan()
        #expect(all.allPaths.contains { $0.model == "Controller" })
        #expect(all.allPaths.contains { $0.device == "sr0" })
    }
}

/// The sysfs writes that put new paths under the Pure profile, on the fixture host.
@Suite struct PathTuningTests {
    let topo = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm"), options: .init(queueSettings: true)).scan()
    let sysfs = Fixture.sysfs("iscsi-fc-dm")

    @Test func pureProfileWritesOnlyWhatDiffers() throws {
        let pure = try PropertySelection.select(vendor: "PURE", product: "FlashArray")
        let fcVol = try #require(topo.volume(try WWN("3624a93709714b5cb91634c4800000001")))
        let w = PathTuning.writes(for: fcVol.paths, settings: pure, current: { sysfs.attribute($0) })
        let files = Set(w.map(\.file))
        // fixture paths have timeout 30, mq-deadline, add_random 0, rq_affinity 1, max_sectors_kb 1280
        #expect(w.contains(PathTuning.Write(file: "bus/scsi/devices/4:0:0:1/timeout", value: "60")))
        #expect(w.contains(PathTuning.Write(file: "class/block/sdg/queue/scheduler", value: "none")))
        #expect(w.contains(PathTuning.Write(file: "class/block/sdg/queue/rq_affinity", value: "2")))
        #expect(w.contains(PathTuning.Write(file: "class/block/sdg/queue/max_sectors_kb", value: "4096")))
        #expect(!files.contains("class/block/sdg/queue/add_random"))  // already 0
        // the fixture's rports already have fast_io_fail_tmo 10 / dev_loss_tmo 60
        #expect(!files.contains { $0.hasPrefix("class/fc_remote_ports/") })
    }

    @Test func transportTimeoutsFollowTheProfile() throws {
        var s = try PropertySelection.select(vendor: "PURE", product: "FlashArray")
        s.fastIOFailTmo = Setting(5, .override)
        s.devLossTmo = Setting(30, .override)
        let fc = topo.allPaths.filter { $0.transport == .fc }
        let w = PathTuning.writes(for: fc, settings: s, current: { sysfs.attribute($0) })
        let rport = w.filter { $0.file.hasPrefix("class/fc_remote_ports/rport-4:0-0/") }
        #expect(rport.map(\.file) == ["class/fc_remote_ports/rport-4:0-0/fast_io_fail_tmo", "class/fc_remote_ports/rport-4:0-0/dev_loss_tmo"])
        #expect(rport.map(\.value) == ["5", "30"])
        let iscsi = topo.allPaths.filter { $0.transport == .iscsi }
        let wi = PathTuning.writes(for: iscsi, settings: s, current: { sysfs.attribute($0) })
        #expect(wi.contains(PathTuning.Write(file: "class/iscsi_session/session1/recovery_tmo", value: "5")))
        #expect(wi.filter { $0.file.hasSuffix("recovery_tmo") }.count == 2)  // once per session, not per LUN
    }
}
