import HostStorage
import Testing
@testable import PathCore

@Suite("unmap: target resolution from a topology")
struct TargetResolutionTests {
    let healthy = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm")).scan()
    let degraded = TopologyScanner(sysfs: Fixture.sysfs("iscsi-fc-dm-degraded")).scan()
    let iscsiVolume = "3624a93709714b5cb91634c4700000001"
    let fcVolume = "3624a93709714b5cb91634c4800000001"

    @Test func classifiesOperatorText() throws {
        #expect(try TargetSpec.parse("/dev/sdb") == .device("/dev/sdb"))
        #expect(try TargetSpec.parse("sg3") == .device("sg3"))
        #expect(try TargetSpec.parse("dm-12") == .device("dm-12"))
        #expect(try TargetSpec.parse("iscsi://127.0.0.1/iqn.x:y/1") == .iscsiURL("iscsi://127.0.0.1/iqn.x:y/1"))
        #expect(try TargetSpec.parse("naa.624a93709714b5cb91634c4700000001") == .wwn(try WWN(iscsiVolume)))
        #expect(throws: PathCoreError.self) { _ = try TargetSpec.parse("not-a-target") }
    }

    @Test func volumeWWNPicksEveryRunningPath() throws {
        let r = try TargetResolver.resolve(.wwn(try WWN(iscsiVolume)), in: healthy)
        #expect(r.kind == .volume)
        #expect(r.candidates.map(\.device) == ["sda", "sdd"])
        #expect(r.unusable.isEmpty)
        #expect(r.topDevice == "dm-0")
    }

    @Test func degradedVolumeSkipsTheFailedSession() throws {
        let r = try TargetResolver.resolve(.wwn(try WWN(iscsiVolume)), in: degraded)
        #expect(r.candidates.map(\.device) == ["sda"])
        #expect(r.unusable == [.init(path: "sdd", reason: "SCSI device state transport-offline")])
        let fc = try TargetResolver.resolve(.device("/dev/dm-1"), in: degraded)
        #expect(fc.kind == .multipathMap)
        #expect(fc.volume.wwn == fcVolume)
        #expect(fc.candidates.map(\.device) == ["sdh", "sdi", "sdj"])
        #expect(fc.unusable.map(\.path) == ["sdg"])
    }

    @Test func mapperNameAndSgNodeResolve() throws {
        let r = try TargetResolver.resolve(.device("/dev/mapper/\(iscsiVolume)"), in: healthy)
        #expect(r.kind == .multipathMap && r.candidates.count == 2)
        let sd = try #require(healthy.volume(try WWN(iscsiVolume))?.paths.last)
        let viaSG = try TargetResolver.resolve(.device("/dev/\(sd.sg!)"), in: healthy)
        #expect(viaSG.kind == .path)
        #expect(viaSG.candidates == [sd])
        #expect(viaSG.topDevice == "dm-0")
    }

    @Test func refusesWhenNoPathIsUsable() throws {
        var topo = degraded
        for i in topo.volumes.indices where topo.volumes[i].wwn == iscsiVolume {
            for j in topo.volumes[i].paths.indices { topo.volumes[i].paths[j].state = "offline" }
        }
        #expect {
            _ = try TargetResolver.resolve(.wwn(try WWN(iscsiVolume)), in: topo)
        } throws: { e in
            let p = e as? PathCoreError
            return p?.code == .unsupported && p?.message.contains("has no usable path") == true && p?.detail == "sda: SCSI device state offline; sdd: SCSI device state offline"
        }
        // a named path that is down is refused with a pointer to the volume
        #expect {
            _ = try TargetResolver.resolve(.device("/dev/sdd"), in: degraded)
        } throws: { e in (e as? PathCoreError)?.message.contains("name the volume \(iscsiVolume)") == true }
    }

    @Test func aluaOptimizedFirstStandbyLeftOut() throws {
        var topo = healthy
        let vi = try #require(topo.volumes.firstIndex { $0.wwn == fcVolume })
        topo.volumes[vi].paths[0].accessState = "active/non-optimized"
        topo.volumes[vi].paths[1].accessState = "standby"
        let r = try TargetResolver.resolve(.wwn(try WWN(fcVolume)), in: topo)
        #expect(r.candidates.map(\.device) == ["sdi", "sdj", "sdg"])
        #expect(r.unusable == [.init(path: "sdh", reason: "ALUA standby")])
    }

    @Test func unknownAndNonSCSIDevices() throws {
        #expect { _ = try TargetResolver.resolve(.device("/dev/sdz"), in: healthy) } throws: { ($0 as? PathCoreError)?.code == .missing }
        #expect { _ = try TargetResolver.resolve(.device("/dev/loop0"), in: healthy) } throws: {
            ($0 as? PathCoreError)?.message.hasPrefix("not a SCSI device") == true
        }
        #expect { _ = try TargetResolver.resolve(.device("/dev/dm-9"), in: healthy) } throws: { ($0 as? PathCoreError)?.code == .missing }
        #expect { _ = try TargetResolver.resolve(.wwn(try WWN("3624a93709714b5cb91634c47ffffffff")), in: healthy) } throws: {
            ($0 as? PathCoreError)?.code == .missing
        }
        // an LVM map above a multipath map is not a SCSI volume
        let broken = TopologyScanner(sysfs: Fixture.sysfs("iscsi-dm-discard-broken")).scan()
        #expect { _ = try TargetResolver.resolve(.device("/dev/dm-1"), in: broken) } throws: {
            ($0 as? PathCoreError)?.message.contains("is not a multipath map") == true
        }
    }
}
