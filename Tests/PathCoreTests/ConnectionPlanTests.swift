import Testing
@testable import PathCore

private let iqn = "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873"
private let volWWN = try! WWN("3624a93709714b5cb91634c470002b2c8")
private let otherWWN = try! WWN("3624a93709714b5cb91634c470002b2ff")

private func spec() throws -> ISCSIConnectionSpec {
    try ConnectionProperties.iscsi(json: try propsFixture("pure_iscsi_chap.json"))
}
private func session(_ id: Int, _ portal: String, host: Int?, state: ISCSISessionInfo.State = .loggedIn, target: Int? = 0)
    throws -> ISCSISessionInfo
{
    ISCSISessionInfo(
        sessionID: id, targetIQN: iqn, portal: try ISCSIPortal(portal), hostNumber: host, channel: target == nil ? nil : 0,
        targetID: target, state: state)
}
private func disk(_ hctl: String, _ name: String?, _ wwn: WWN?) throws -> SCSIDeviceInfo {
    SCSIDeviceInfo(hctl: try HCTL(hctl), name: name, wwn: wwn)
}

// MARK: - iSCSI attach

@Test func attachReusesLoggedInSessionsAndLogsInTheRestWithCHAP() throws {
    let sessions = [
        try session(1, "10.0.1.11:3260", host: 3),
        try session(2, "10.0.1.12:3260", host: 4, state: .failed),
        // same portal, other target: not a match
        ISCSISessionInfo(sessionID: 9, targetIQN: "iqn.2010-06.com.purestorage:other", portal: try ISCSIPortal("10.0.2.11:3260"),
                         hostNumber: 9, state: .loggedIn),
    ]
    let plan = ISCSIPlanner.attach(try spec(), sessions: sessions)
    #expect(plan.paths.count == 4)
    #expect(plan.expectedWWN == volWWN)
    #expect(plan.useMultipath && !plan.requireMultipath)

    // path 0: reuse session 1 on host3, targeted scan "0 0 1"
    #expect(plan.paths[0].session == .reuse(sessions[0]))
    #expect(plan.paths[0].immediateScan == SCSIScanRequest(host: 3, channel: 0, target: 0, lun: 1))
    #expect(plan.paths[0].immediateScan?.line == "0 0 1")
    #expect(plan.paths[0].immediateScan?.sysfsPath == "class/scsi_host/host3/scan")
    // path 1: session exists but FAILED: no second login, no scan now
    #expect(plan.paths[1].session == .waitForRecovery(sessions[1]))
    #expect(plan.paths[1].immediateScan == nil)
    // paths 2, 3: new logins with CHAP, scan with wildcards for channel/target once the host is known
    #expect(plan.logins.map(\.portal.argument) == ["10.0.2.11:3260", "10.0.2.12:3260"])
    #expect(plan.paths[2].session == .login(index: 0) && plan.paths[3].session == .login(index: 1))
    #expect(plan.paths[2].scan(host: 7).line == "- - 1")
    let settings = plan.logins[0].settings
    #expect(settings.contains { $0 == ("node.session.auth.authmethod", "CHAP") })
    #expect(settings.contains { $0 == ("node.session.auth.username", "compute-01") })
    #expect(settings.contains { $0 == ("node.session.auth.password", "Zq8vR2xT5mWk9LpA") })
    #expect(settings.contains { $0 == ("node.session.scan", "manual") })
    #expect(settings.contains { $0 == ("node.session.timeo.replacement_timeout", "10") })
    #expect(plan.logins[0].redactedSettings.contains { $0 == ("node.session.auth.password", "<redacted>") })
    var dumped = ""
    dump(plan, to: &dumped)
    #expect(!dumped.contains("Zq8vR2xT5mWk9LpA") && !"\(plan.logins[0])".contains("Zq8vR2xT5mWk9LpA"))
}

@Test func attachWithoutCHAPAndSingleLoginPerNode() throws {
    let text = """
        {"target_portals": ["10.0.0.1:3260", "10.0.0.1:3260"], "target_iqns": ["\(iqn)", "\(iqn)"], "target_luns": [1, 2]}
        """
    let plan = ISCSIPlanner.attach(try ConnectionProperties.iscsi(json: text), sessions: [])
    #expect(plan.logins.count == 1)
    #expect(!plan.logins[0].settings.contains { $0.name.hasPrefix("node.session.auth") })
    #expect(plan.paths.map(\.session) == [.login(index: 0), .login(index: 0)])
    #expect(plan.paths.map { $0.scan(host: 5).line } == ["- - 1", "- - 2"])
}

@Test func attachSingleSessionWhenMultipathOff() throws {
    let plan = ISCSIPlanner.attach(try spec(), sessions: [], options: .init(useMultipath: false, recoveryTimeout: nil))
    #expect(plan.paths.count == 1 && plan.logins.count == 1)
    #expect(!plan.logins[0].settings.contains { $0.name == "node.session.timeo.replacement_timeout" })
}

@Test func attachUsesFlatSpaceLUNInScan() throws {
    let plan = ISCSIPlanner.attach(
        try ConnectionProperties.iscsi(json: try propsFixture("pure_iscsi_connection_info.json")),
        sessions: [try session(1, "10.0.1.11:3260", host: 2)])
    #expect(plan.paths[0].immediateScan?.line == "0 0 16684")
}

// MARK: - iSCSI detach

@Test func detachKeepsSessionUsedByAnotherLUN() throws {
    let sessions = [try session(1, "10.0.1.11:3260", host: 3), try session(2, "10.0.1.12:3260", host: 4)]
    let devices = [
        try disk("3:0:0:1", "sdb", volWWN), try disk("4:0:0:1", "sdc", volWWN),
        try disk("3:0:0:2", "sdd", otherWWN),  // another volume on session 1
    ]
    let maps = [DMMapInfo(name: volWWN.value, uuid: "mpath-" + volWWN.value, device: "dm-0", slaves: ["sdb", "sdc"])]
    let plan = try ISCSIPlanner.detach(try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: maps)
    #expect(plan.steps == [
        .failIfNoPath(map: volWWN.value), .flushMap(map: volWWN.value), .removeMap(map: volWWN.value),
        .deleteDevice(name: "sdb", hctl: try HCTL("3:0:0:1"), wwn: volWWN),
        .deleteDevice(name: "sdc", hctl: try HCTL("4:0:0:1"), wwn: volWWN),
        .logout(sessionID: 2, portal: try ISCSIPortal("10.0.1.12:3260"), iqn: iqn),
    ])
    #expect(plan.sessionsToLogOut == [2])
    #expect(plan.kept.count == 1 && plan.kept[0].contains("session 1"))
}

@Test func sessionsLeftIdleAfterParallelDetachesAreLoggedOutByTheLast() throws {
    // two LUNs detached at once: each plan saw the other's disks and kept both sessions;
    // once both deleted their disks, the one that checks last finds the sessions idle
    let sessions = [try session(1, "10.0.1.11:3260", host: 3), try session(2, "10.0.1.12:3260", host: 4),
                    try session(3, "10.0.9.99:3260", host: 5)]  // not one of the volume's portals
    #expect(ISCSIPlanner.idleSessions(try spec(), sessions: sessions, devices: [], busySessions: []).map(\.sessionID) == [1, 2])
    // a disk of another LUN still on session 1's host keeps it; session 3 is never the volume's
    let left = [try disk("3:0:0:2", "sdd", otherWWN), try disk("5:0:0:1", "sde", otherWWN)]
    #expect(ISCSIPlanner.idleSessions(try spec(), sessions: sessions, devices: left, busySessions: []).map(\.sessionID) == [2])
    // an attach in flight on session 2's target keeps it; a recovering session is left alone
    #expect(ISCSIPlanner.idleSessions(try spec(), sessions: sessions, devices: [], busySessions: [2]).map(\.sessionID) == [1])
    let recovering = [try session(1, "10.0.1.11:3260", host: 3, state: .failed), try session(2, "10.0.1.12:3260", host: 4)]
    #expect(ISCSIPlanner.idleSessions(try spec(), sessions: recovering, devices: [], busySessions: []).map(\.sessionID) == [2])
    #expect(ISCSIPlanner.idleSessions(try spec(), sessions: recovering, devices: [], busySessions: [], includeRecovering: true)
        .map(\.sessionID) == [1, 2])
}

@Test func detachRefusesWWNMismatchUnlessSkipped() throws {
    let sessions = [try session(1, "10.0.1.11:3260", host: 3), try session(2, "10.0.1.12:3260", host: 4)]
    // LUN 1 on host 4 now shows another volume (the array re-used the LUN number)
    let devices = [try disk("3:0:0:1", "sdb", volWWN), try disk("4:0:0:1", "sdc", otherWWN)]
    let e = expectPathCoreError {
        _ = try ISCSIPlanner.detach(try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: [])
    }
    #expect(e?.code == .conflict)
    #expect(e?.key == "sdc (4:0:0:1)")

    let plan = try ISCSIPlanner.detach(
        try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: [], options: .init(skipMismatched: true))
    #expect(plan.devicesToDelete == [try HCTL("3:0:0:1")])
    #expect(plan.steps.first == .flushDevice(name: "sdb"))  // no map: flush the disk itself
    #expect(plan.sessionsToLogOut == [1])  // session 2 still has sdc
    #expect(plan.kept.contains { $0.contains("sdc") })
}

/// `force` does what it safely can: a disk showing another WWN is left alone and reported,
/// never deleted, and the rest of the volume is detached (the lab's reinstate scenario: a
/// path rescanned while its LUN was absent showed the target's LUN 0 identity, and a
/// forced detach was refused outright).
@Test func forcedDetachLeavesAMismatchedDiskAndDetachesTheRest() throws {
    let sessions = [try session(1, "10.0.1.11:3260", host: 3), try session(2, "10.0.1.12:3260", host: 4)]
    let devices = [try disk("3:0:0:1", "sdb", volWWN), try disk("4:0:0:1", "sdc", otherWWN)]
    let plan = try ISCSIPlanner.detach(
        try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: [], options: .init(force: true))
    #expect(plan.devicesToDelete == [try HCTL("3:0:0:1")])
    #expect(plan.sessionsToLogOut == [1])
    #expect(plan.kept.contains { $0.contains("sdc") && $0.contains("not this volume's") })
}

@Test func detachUnreadableWWNNeedsForce() throws {
    let sessions = [try session(1, "10.0.1.11:3260", host: 3, state: .failed)]
    let devices = [try disk("3:0:0:1", "sdb", nil)]
    let e = expectPathCoreError {
        _ = try ISCSIPlanner.detach(try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: [])
    }
    #expect(e?.code == .conflict)
    let forced = try ISCSIPlanner.detach(
        try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: [], options: .init(force: true))
    #expect(forced.steps.contains(.deleteDevice(name: "sdb", hctl: try HCTL("3:0:0:1"), wwn: nil)))
    #expect(forced.sessionsToLogOut == [1])
}

@Test func detachNeverLogsOutRecoveringOrBusySessions() throws {
    let sessions = [try session(1, "10.0.1.11:3260", host: 3, state: .failed), try session(2, "10.0.1.12:3260", host: 4)]
    let devices = [try disk("3:0:0:1", "sdb", volWWN), try disk("4:0:0:1", "sdc", volWWN)]
    let plan = try ISCSIPlanner.detach(
        try spec(), volumeWWN: volWWN, sessions: sessions, devices: devices, maps: [], busySessions: [2])
    #expect(plan.devicesToDelete.count == 2)
    #expect(plan.sessionsToLogOut.isEmpty)
    #expect(plan.kept.count == 2)
}

@Test func detachRefusesMapOfAnotherVolume() throws {
    let maps = [DMMapInfo(name: volWWN.value, uuid: "mpath-" + otherWWN.value, slaves: [])]
    let e = expectPathCoreError {
        _ = try ISCSIPlanner.detach(try spec(), volumeWWN: volWWN, sessions: [], devices: [], maps: maps)
    }
    #expect(e?.code == .conflict)
}

@Test func detachFindsMapSlavesOutsideTheSessions() throws {
    // A path whose session is already gone from the list still sits below the map.
    let devices = [try disk("7:0:0:1", "sdz", volWWN)]
    let maps = [DMMapInfo(name: volWWN.value, uuid: "mpath-" + volWWN.value, slaves: ["sdz"])]
    let plan = try ISCSIPlanner.detach(try spec(), volumeWWN: volWWN, sessions: [], devices: devices, maps: maps)
    #expect(plan.devicesToDelete == [try HCTL("7:0:0:1")])
}

// MARK: - FC

private func fcSpec(_ file: String = "pure_fc.json") throws -> FCConnectionSpec {
    try ConnectionProperties.fc(json: try propsFixture(file))
}

@Test func fcTargetedScansFromInitiatorTargetMap() throws {
    let hosts = [
        FCHostInfo(hostNumber: 5, portName: try WWPN("21000024ff2c2d70"), portState: "Online"),
        FCHostInfo(hostNumber: 6, portName: try WWPN("21000024ff2c2d71"), portState: "Online"),
        FCHostInfo(hostNumber: 7, portName: try WWPN("21000024ff2c2d72"), portState: "Online"),  // not in the map
        FCHostInfo(hostNumber: 8, portName: try WWPN("21000024ff2c2d73"), portState: "Linkdown"),
    ]
    let rports = [
        FCRemotePortInfo(hostNumber: 5, portName: try WWPN("524a937d4c0e6a00"), scsiTargetID: 0, portState: "Online"),
        FCRemotePortInfo(hostNumber: 5, portName: try WWPN("524a937d4c0e6a10"), scsiTargetID: 1, portState: "Online"),
        // visible on host 5 but the map does not zone it to this initiator
        FCRemotePortInfo(hostNumber: 5, portName: try WWPN("524a937d4c0e6a01"), scsiTargetID: 2, portState: "Online"),
        FCRemotePortInfo(hostNumber: 6, portName: try WWPN("524a937d4c0e6a01"), scsiTargetID: 0, portState: "Online"),
        FCRemotePortInfo(hostNumber: 6, portName: try WWPN("524a937d4c0e6a11"), scsiTargetID: 3, portState: "Blocked"),
        FCRemotePortInfo(hostNumber: 7, portName: try WWPN("524a937d4c0e6a00"), scsiTargetID: 0, portState: "Online"),
    ]
    let plan = FCPlanner.scan(try fcSpec(), hosts: hosts, remotePorts: rports)
    #expect(plan.scans.map(\.description) == ["host5: 0 0 1", "host5: 0 1 1", "host6: 0 0 1"])
    #expect(plan.scans.allSatisfy { !$0.isWildcard })
    #expect(plan.expectedAddresses == [try HCTL("5:0:0:1"), try HCTL("5:0:1:1"), try HCTL("6:0:0:1")])
    #expect(plan.skipped.contains { $0.hasPrefix("host7") && $0.contains("initiator_target_map") })
    #expect(plan.skipped.contains { $0.hasPrefix("host8") && $0.contains("Linkdown") })
    #expect(plan.skipped.contains { $0.contains("524a937d4c0e6a11") && $0.contains("Blocked") })
    #expect(plan.expectedWWN == volWWN)
}

@Test func fcWildcardOnlyWhenAllowedAndNoTargetPort() throws {
    let hosts = [
        FCHostInfo(hostNumber: 1, portName: try WWPN("10000000c9a1b2c3"), portState: "Online"),
        FCHostInfo(hostNumber: 2, portName: try WWPN("10000000c9a1b2c4"), portState: "Online"),
    ]
    let rports = [FCRemotePortInfo(hostNumber: 1, portName: try WWPN("1234567890123456"), scsiTargetID: 4, portState: "Online")]
    // enable_wildcard_scan true: host1 has the target port -> targeted; host2 has none -> wildcard
    let allowed = FCPlanner.scan(try fcSpec("osbrick_fc_single.json"), hosts: hosts, remotePorts: rports)
    #expect(allowed.scans.map(\.description) == ["host1: 0 4 1", "host2: - - 1"])

    // Same state, wildcard not enabled: host2 is skipped, never wildcard-scanned
    var spec = try fcSpec("osbrick_fc_single.json")
    spec.enableWildcardScan = false
    let denied = FCPlanner.scan(spec, hosts: hosts, remotePorts: rports)
    #expect(denied.scans.map(\.description) == ["host1: 0 4 1"])
    #expect(denied.skipped.contains { $0.hasPrefix("host2") })
}

@Test func fcDetachOnlyTheVolumesDisks() throws {
    let hosts = [FCHostInfo(hostNumber: 5, portName: try WWPN("21000024ff2c2d70"), portState: "Online")]
    let rports = [FCRemotePortInfo(hostNumber: 5, portName: try WWPN("524a937d4c0e6a00"), scsiTargetID: 0, portState: "Online")]
    let devices = [try disk("5:0:0:1", "sdb", volWWN), try disk("5:0:0:2", "sdc", otherWWN)]
    let plan = try FCPlanner.detach(try fcSpec(), volumeWWN: volWWN, hosts: hosts, remotePorts: rports, devices: devices, maps: [])
    #expect(plan.steps == [.flushDevice(name: "sdb"), .deleteDevice(name: "sdb", hctl: try HCTL("5:0:0:1"), wwn: volWWN)])
}

// MARK: - volume devices and extend

@Test func volumeDevicesAreThoseAtItsAddresses() throws {
    let sessions = [try session(1, "10.0.1.11:3260", host: 3), try session(2, "10.0.2.12:3260", host: 4)]
    let devices = [
        try disk("4:0:0:1", "sdc", volWWN), try disk("3:0:0:1", "sdb", volWWN), try disk("3:0:0:2", "sdd", otherWWN),
        try disk("9:0:0:1", "sdx", volWWN),  // a host that is not one of the volume's sessions
    ]
    let found = ISCSIPlanner.devices(of: try spec(), sessions: sessions, devices: devices)
    #expect(found.map(\.name) == ["sdb", "sdc"])

    let hosts = [FCHostInfo(hostNumber: 5, portName: try WWPN("21000024ff2c2d70"), portState: "Online")]
    let rports = [FCRemotePortInfo(hostNumber: 5, portName: try WWPN("524a937d4c0e6a10"), scsiTargetID: 2, portState: "Online", channel: 1)]
    let fcDevices = [try disk("5:1:2:1", "sde", volWWN), try disk("5:0:2:1", "sdf", volWWN)]
    #expect(FCPlanner.devices(of: try fcSpec(), hosts: hosts, remotePorts: rports, devices: fcDevices).map(\.name) == ["sde"])
    #expect(FCPlanner.scan(try fcSpec(), hosts: hosts, remotePorts: rports).scans.map(\.line) == ["1 2 1"])
}

@Test func extendNeedsEveryPathToAgree() throws {
    #expect(VolumeResize.rescanPath(try HCTL("3:0:0:1")) == "class/scsi_device/3:0:0:1/device/rescan")
    #expect(try VolumeResize.agreedSize([("sdb", 21_474_836_480), ("sdc", 21_474_836_480)]) == 21_474_836_480)
    let e = expectPathCoreError { _ = try VolumeResize.agreedSize([("sdb", 21_474_836_480), ("sdc", 10_737_418_240)]) }
    #expect(e?.code == .conflict && e?.key == "sdc")
    #expect(throws: PathCoreError.self) { try VolumeResize.agreedSize([]) }
}
