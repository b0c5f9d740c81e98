import Foundation
import Testing
@testable import PathCore

private let iqn = "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873"
private let volWWN = try! WWN("3624a93709714b5cb91634c470002b2c8")
private let otherWWN = try! WWN("3624a93709714b5cb91634c470002b2ff")
private let p1 = try! ISCSIPortal("10.0.1.11:3260")
private let p2 = try! ISCSIPortal("10.0.1.12:3260")

private func sess(_ id: Int, _ p: ISCSIPortal, host: Int, state: ISCSISessionInfo.State = .loggedIn) -> ISCSISessionInfo {
    ISCSISessionInfo(sessionID: id, targetIQN: iqn, portal: p, hostNumber: host, channel: 0, targetID: 0, state: state)
}
private func disk(_ hctl: String, _ name: String, _ wwn: WWN?) -> SCSIDeviceInfo {
    SCSIDeviceInfo(hctl: try! HCTL(hctl), name: name, wwn: wwn)
}
private let targets = [ISCSITargetRef(portal: p1, iqn: iqn), ISCSITargetRef(portal: p2, iqn: iqn)]

@Test func rollBackAttachRemovesOnlyWhatItCreated() {
    // Crash after: logged in to p2 (new session 2; p1's session 1 already existed),
    // scanned both paths (3:0:0:1 new, 4:0:0:1 new), created the map.
    let intent = IntentRecord(
        id: "req-1", kind: .attach, transport: .iscsi, volumeWWN: volWWN, propertiesHash: "0", iscsiTargets: targets,
        steps: [
            .loggedIn(portal: p1, iqn: iqn, sessionID: 1, created: false),
            .loggedIn(portal: p2, iqn: iqn, sessionID: 2, created: true),
            .scanned(hctl: try! HCTL("3:0:0:1"), newDevice: true),
            .scanned(hctl: try! HCTL("4:0:0:1"), newDevice: true),
            .mapCreated(name: volWWN.value),
        ])
    let kernel = KernelSnapshot(
        sessions: [sess(1, p1, host: 3), sess(2, p2, host: 4)],
        devices: [disk("3:0:0:1", "sdb", volWWN), disk("4:0:0:1", "sdc", volWWN), disk("3:0:0:2", "sdd", otherWWN)],
        maps: [DMMapInfo(name: volWWN.value, uuid: "mpath-" + volWWN.value, slaves: ["sdb", "sdc"])])
    let r = IntentReconciler.plan(unfinished: [intent], kernel: kernel)
    #expect(r.count == 1)
    #expect(r[0].outcome == .rollBackAttach)
    #expect(r[0].steps == [
        .failIfNoPath(map: volWWN.value), .flushMap(map: volWWN.value), .removeMap(map: volWWN.value),
        .deleteDevice(name: "sdb", hctl: try! HCTL("3:0:0:1"), wwn: volWWN),
        .deleteDevice(name: "sdc", hctl: try! HCTL("4:0:0:1"), wwn: volWWN),
        .logout(sessionID: 2, portal: p2, iqn: iqn),  // created by the intent, now empty
    ])
    // session 1 was not created by the intent (and still carries sdd): never logged out
    #expect(!r[0].steps.contains(.logout(sessionID: 1, portal: p1, iqn: iqn)))
}

@Test func rollBackAttachLeavesPreexistingMapAndForeignDisks() {
    let intent = IntentRecord(
        id: "req-2", kind: .attach, transport: .iscsi, volumeWWN: volWWN, propertiesHash: "0", iscsiTargets: targets,
        steps: [
            .scanned(hctl: try! HCTL("3:0:0:1"), newDevice: false),
            .scanned(hctl: try! HCTL("4:0:0:1"), newDevice: true),
        ])
    let kernel = KernelSnapshot(
        sessions: [sess(1, p1, host: 3), sess(2, p2, host: 4)],
        devices: [disk("3:0:0:1", "sdb", volWWN), disk("4:0:0:1", "sdc", otherWWN)],
        maps: [DMMapInfo(name: volWWN.value, uuid: "mpath-" + volWWN.value, slaves: ["sdb"])])
    let r = IntentReconciler.plan(unfinished: [intent], kernel: kernel)[0]
    #expect(r.steps.isEmpty)
    #expect(r.kept.count == 3)  // map existed, sdb existed, sdc shows another WWN
    #expect(r.kept.contains { $0.contains("sdc") && $0.contains(otherWWN.value) })
}

@Test func finishDetachRemovesLeftoversOfThatWWNOnly() {
    let intent = IntentRecord(
        id: "req-3", kind: .detach, transport: .iscsi, volumeWWN: volWWN, propertiesHash: "0", iscsiTargets: targets,
        steps: [.mapRemoved(name: volWWN.value), .devicesDeleted([try! HCTL("3:0:0:1")])])
    let kernel = KernelSnapshot(
        sessions: [sess(1, p1, host: 3), sess(2, p2, host: 4, state: .failed), sess(5, p2, host: 6)],
        devices: [disk("4:0:0:1", "sdc", volWWN), disk("6:0:0:3", "sdf", otherWWN), disk("6:0:0:9", "sdg", nil)],
        maps: [])
    let r = IntentReconciler.plan(unfinished: [intent], kernel: kernel)[0]
    #expect(r.outcome == .finishDetach)
    #expect(r.steps == [
        .flushDevice(name: "sdc"),
        .deleteDevice(name: "sdc", hctl: try! HCTL("4:0:0:1"), wwn: volWWN),
        .logout(sessionID: 1, portal: p1, iqn: iqn),  // empty and logged in
    ])
    // session 2 is FAILED (outage): kept; session 5 still has other disks: kept
    #expect(r.kept.contains { $0.contains("session 2") && $0.contains("outage") })
    #expect(r.kept.contains { $0.contains("session 5") })
}

@Test func sessionSharedWithALaterUnfinishedIntentStays() {
    let detach = IntentRecord(
        id: "a", kind: .detach, transport: .iscsi, volumeWWN: volWWN, propertiesHash: "0", iscsiTargets: [targets[0]])
    let attach = IntentRecord(
        id: "b", kind: .attach, transport: .iscsi, volumeWWN: otherWWN, propertiesHash: "1", iscsiTargets: [targets[0]],
        steps: [.loggedIn(portal: p1, iqn: iqn, sessionID: 1, created: false)])
    let kernel = KernelSnapshot(sessions: [sess(1, p1, host: 3)], devices: [disk("3:0:0:1", "sdb", volWWN)], maps: [])
    let r = IntentReconciler.plan(unfinished: [detach, attach], kernel: kernel)
    #expect(r[0].steps == [.flushDevice(name: "sdb"), .deleteDevice(name: "sdb", hctl: try! HCTL("3:0:0:1"), wwn: volWWN)])
    #expect(r[0].kept.contains { $0.contains("another unfinished intent") })
    #expect(r[1].outcome == .rollBackAttach && r[1].steps.isEmpty)
}

@Test func completedIntentIsOnlyMarkedFinished() {
    let done = IntentRecord(
        id: "c", kind: .attach, transport: .fc, volumeWWN: volWWN, propertiesHash: "0",
        steps: [.scanned(hctl: try! HCTL("5:0:0:1"), newDevice: true), .completed])
    let r = IntentReconciler.plan(
        unfinished: [done], kernel: KernelSnapshot(sessions: [], devices: [disk("5:0:0:1", "sdb", volWWN)], maps: []))
    #expect(r == [IntentResolution(intentID: "c", outcome: .markFinished, steps: [], kept: [])])
}

@Test func journalRecordRoundTripsAndHashExcludesSecrets() throws {
    let record = IntentRecord(
        id: "req-1", kind: .attach, transport: .iscsi, volumeWWN: volWWN, propertiesHash: "x", iscsiTargets: targets,
        steps: [.loggedIn(portal: p1, iqn: iqn, sessionID: nil, created: true), .scanned(hctl: try HCTL("3:0:0:1"), newDevice: true),
                .mapCreated(name: volWWN.value), .completed])
    let data = try JSONEncoder().encode(record)
    #expect(try JSONDecoder().decode(IntentRecord.self, from: data) == record)

    let a = try JSONValue.parse(try propsFixture("pure_iscsi_chap.json"))
    let b = setting(a, "auth_password", .string("another-secret"))
    let c = setting(a, "target_luns", .array([.number("2"), .number("2"), .number("2"), .number("2")]))
    let h = ConnectionPropertiesHash.of(a)
    #expect(h.count == 16 && h.allSatisfy(\.isHexDigit))
    #expect(ConnectionPropertiesHash.of(b) == h)  // secrets are not part of the identity
    #expect(ConnectionPropertiesHash.of(c) != h)
    // key order does not matter
    let reordered = JSONValue.object((a.objectMembers ?? []).reversed())
    #expect(ConnectionPropertiesHash.of(reordered) == h)
}
