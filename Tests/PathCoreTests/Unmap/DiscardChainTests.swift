import HostStorage
import Testing
@testable import PathCore

/// `Tests/Fixtures/iscsi-dm-discard-broken` is `scripts/gen-sysfs-fixture OUT --iscsi-sessions 2
/// --luns 2 --fc-hosts 0` with these edits: sdc (path 2 of volume ...01) provisioning_mode
/// `disabled` and queue/discard_max_bytes 0 (what the kernel does after UNMAP failed), dm-0
/// discard_max_bytes 0, sdb provisioning_mode `writesame_16`, an LVM map dm-1 (vg0-data)
/// holding dm-0, and proc/self/mountinfo with sdb (8:16) mounted on /mnt/data.
@Suite("unmap: discard chain findings")
struct DiscardChainTests {
    let healthy = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm"), options: .init(queueSettings: true)).scan()
    let broken = TopologyScanner(sysfs: Fixture.sysfs("iscsi-dm-discard-broken"), options: .init(queueSettings: true)).scan()
    let v1 = "3624a93709714b5cb91634c4700000001"
    let v2 = "3624a93709714b5cb91634c4700000002"

    func volume(_ t: Topology, _ w: String) throws -> Volume { try #require(t.volume(try WWN(w))) }

    @Test func healthyChainIsAllOK() throws {
        let r = DiscardChain.check(volume: try volume(healthy, v1), topology: healthy,
                                   device: .init(provisioningEnabled: true, unmapSupported: true, writeSameUnmapSupported: true, source: "/dev/sg0"),
                                   connectionDiscard: true)
        #expect(r.healthy && r.severity == .ok)
        #expect(r.findings.map(\.id) == [
            "discard.device.lbpme", "discard.device.lbpu", "discard.properties.discard",
            "discard.path.provisioning_mode", "discard.path.discard_max_bytes",
            "discard.path.provisioning_mode", "discard.path.discard_max_bytes", "discard.map.discard_max_bytes",
        ])
        #expect(r.findings.map(\.subject).suffix(5) == ["sda", "sda", "sdd", "sdd", "dm-0"])
    }

    @Test func brokenPathAndMapAreNamedWithTheirFix() throws {
        let r = DiscardChain.check(volume: try volume(broken, v1), topology: broken)
        #expect(r.severity == .error)
        let problems = r.problems.map { "\($0.id) \($0.subject)" }
        #expect(problems == ["discard.path.provisioning_mode sdc", "discard.path.discard_max_bytes sdc", "discard.map.discard_max_bytes dm-0"])
        let mode = r.problems[0]
        #expect(mode.found == "disabled" && mode.recommended == "unmap")
        #expect(mode.fix?.contains("echo unmap > /sys/class/scsi_disk/3:0:0:1/provisioning_mode") == true)
        #expect(r.problems[2].fix?.contains("dmsetup reload") == true)
        #expect(r.findings.filter { $0.subject == "sda" }.allSatisfy { $0.severity == .ok })
    }

    @Test func writeSameModeIsAWarningAndNoMapIsInfo() throws {
        let r = DiscardChain.check(volume: try volume(broken, v2), topology: broken)
        #expect(r.severity == .warning)
        #expect(r.problems.map(\.subject) == ["sdb"])
        #expect(r.problems[0].found == "writesame_16")
        #expect(r.findings.contains { $0.id == "discard.map.present" && $0.severity == .info })
    }

    @Test func deviceAndPropertiesLinks() throws {
        let v = try volume(healthy, v1)
        let thick = DiscardChain.check(volume: v, topology: healthy,
                                       device: .init(provisioningEnabled: false, unmapSupported: false, writeSameUnmapSupported: false, source: "/dev/sg0"),
                                       connectionDiscard: false)
        #expect(thick.severity == .error)
        #expect(thick.problems.map(\.id) == ["discard.device.lbpme", "discard.device.lbpu", "discard.properties.discard"])
        #expect(thick.problems[0].fix?.contains("echo 1 > /sys/class/scsi_device/2:0:0:1/device/rescan") == true)
        #expect(thick.problems[2].severity == .warning)
        #expect(thick.problems[2].fix?.contains("hw_disk_discard = unmap") == true)
        let ws = DiscardChain.check(volume: v, topology: healthy,
                                    device: .init(provisioningEnabled: true, unmapSupported: false, writeSameUnmapSupported: true, source: "x"))
        #expect(ws.severity == .warning)
        #expect(ws.problems.map(\.id) == ["discard.device.lbpu"])
    }

    @Test func mapQueueIsReadFromSysfs() throws {
        #expect(healthy.maps.first { $0.device == "dm-0" }?.queue?.discardMaxBytes == 4294966784)
        #expect(broken.maps.first { $0.device == "dm-0" }?.queue?.discardMaxBytes == 0)
    }
}

@Suite("unmap: mounted / in-use checks")
struct DeviceUsageTests {
    let broken = TopologyScanner(sysfs: Fixture.sysfs("iscsi-dm-discard-broken"), options: .init(queueSettings: true)).scan()
    let healthy = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm"), options: .init(queueSettings: true)).scan()
    static let mountinfo = """
        22 1 254:16 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
        31 22 8:16 / /mnt/data rw,relatime shared:20 - ext4 /dev/sdb rw
        32 22 254:17 / /mnt/my\\040disk rw,relatime shared:21 master:3 - xfs /dev/vdb1 rw
        """

    @Test func parsesMountInfoAndMounts() {
        let m = MountEntry.parseMountInfo(Self.mountinfo)
        #expect(m.count == 3)
        #expect(m[1] == MountEntry(devNumber: "8:16", source: "/dev/sdb", mountPoint: "/mnt/data", fsType: "ext4"))
        #expect(m[2].mountPoint == "/mnt/my disk" && m[2].fsType == "xfs" && m[2].source == "/dev/vdb1")
        let p = MountEntry.parseMounts("/dev/mapper/3624a937 /srv ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n")
        #expect(p == [MountEntry(devNumber: nil, source: "/dev/mapper/3624a937", mountPoint: "/srv", fsType: "ext4"),
                      MountEntry(devNumber: nil, source: "proc", mountPoint: "/proc", fsType: "proc")])
    }

    @Test func mountedPathAndHeldMapAreInUse() throws {
        let sysfs = Fixture.sysfs("iscsi-dm-discard-broken")
        let mounts = MountEntry.parseMountInfo(Self.mountinfo)
        let v2 = try #require(broken.volume(try WWN("3624a93709714b5cb91634c4700000002")))
        #expect(DeviceUsage.reasons(volume: v2, sysfs: sysfs, mounts: mounts) == ["sdb is mounted on /mnt/data (ext4)"])
        let v1 = try #require(broken.volume(try WWN("3624a93709714b5cb91634c4700000001")))
        #expect(DeviceUsage.reasons(volume: v1, sysfs: sysfs, mounts: mounts) == ["dm-0 (3624a93709714b5cb91634c4700000001) is held by dm-1 (LVM vg0-data)"])
    }

    @Test func ownMapIsNotAHolderAndMapperMountsCount() throws {
        let sysfs = Fixture.sysfs("iscsi-fc-dm")
        let v = try #require(healthy.volume(try WWN("3624a93709714b5cb91634c4700000001")))
        #expect(DeviceUsage.reasons(volume: v, sysfs: sysfs, mounts: []) == [])
        let byMapper = MountEntry.parseMounts("/dev/mapper/3624a93709714b5cb91634c4700000001 /srv ext4 rw 0 0")
        #expect(DeviceUsage.reasons(volume: v, sysfs: sysfs, mounts: byMapper) == ["dm-0 is mounted on /srv (ext4)"])
        let byNumber = [MountEntry(devNumber: "254:0", source: "/dev/dm-0", mountPoint: "/srv", fsType: "xfs")]
        #expect(DeviceUsage.reasons(volume: v, sysfs: sysfs, mounts: byNumber) == ["dm-0 is mounted on /srv (xfs)"])
    }

    @Test func volumeUseReadsTheFixtureProcRoot() throws {
        let roots = HostRoots(under: Fixture.dir.appendingPathComponent("iscsi-dm-discard-broken").path)
        #expect(roots.proc.hasSuffix("iscsi-dm-discard-broken/proc"))
        let t = try TargetResolver.resolve(.device("/dev/sdd"), in: broken)
        #expect(VolumeUse.reasons(t, roots: roots) == ["sdb is mounted on /mnt/data (ext4)"])
    }
}
