import Testing
@testable import PathCore

@Suite struct MultipathPlannerTests {
    let wwn = try! WWN.pure(serial: "9714B5CB91634C470002B2C8")
    func dev(_ minor: UInt32) -> DeviceNumber { DeviceNumber(major: 8, minor: minor) }

    @Test func pureMultibusPlanMatchesTheDesignExample() throws {
        let paths = [
            MultipathPathInfo(device: dev(32), name: "sdc", sizeSectors: 2097152),
            MultipathPathInfo(device: dev(16), name: "sdb", sizeSectors: 2097152),
        ]
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 2097152, paths: paths, settings: HardwareTable.pure)
        #expect(plan.name == "3624a93709714b5cb91634c470002b2c8")
        #expect(plan.dmUUID == "mpath-3624a93709714b5cb91634c470002b2c8")
        #expect(try plan.table.rendered() == "0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32 1")
        #expect(plan.messagesAfterLoad.isEmpty)
    }

    @Test func planEqualsTheTableLoadedOnTheLabKernel() throws {
        let loaded = try #require(try DMFixtures.lines("lab-kernel-6.1.txt", kind: "in").first)
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 131072, paths: [
            MultipathPathInfo(device: dev(16), name: "sdb", sizeSectors: 131072),
            MultipathPathInfo(device: dev(0), name: "sda", sizeSectors: 131072),
        ], settings: HardwareTable.pure)
        #expect(try plan.table.rendered() == loaded)
        // live table after a failover reports group 2: not a reason to reload
        let live = try DMTable.parse(try DMFixtures.lines("lab-kernel-6.1.txt", kind: "table")[2])
        var moved = live
        moved.initialGroup = 1
        #expect(!MultipathMapPlanner.reload(current: live, desired: moved).needsReload)
    }

    @Test func activeClusterPlanGroupsByPrioAndFailsOfflinePaths() throws {
        let paths = [
            MultipathPathInfo(device: dev(48), name: "sdd", aluaState: .activeNonOptimized, targetPortGroup: 2),
            MultipathPathInfo(device: dev(16), name: "sdb", aluaState: .activeOptimized, targetPortGroup: 1),
            MultipathPathInfo(device: dev(64), name: "sde", deviceState: .offline, aluaState: .activeNonOptimized, targetPortGroup: 2),
            MultipathPathInfo(device: dev(32), name: "sdc", aluaState: .activeOptimized, targetPortGroup: 1, checkState: .down),
        ]
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 2097152, paths: paths, settings: HardwareTable.pure)
        #expect(try plan.table.rendered()
            == "0 2097152 multipath 0 1 alua 2 1 queue-length 0 2 1 8:16 1 8:32 1 queue-length 0 2 1 8:48 1 8:64 1")
        #expect(plan.messagesAfterLoad.map(\.text) == ["fail_path 8:32", "fail_path 8:64"])
        #expect(plan.settings.failback.value == .immediate)
    }

    @Test func queueingAndServiceTimeFromSettings() throws {
        var s = HardwareTable.generic
        try s.set("no_path_retry", "queue", origin: .override)
        try s.set("path_grouping_policy", "multibus", origin: .override)
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 8, paths: [
            MultipathPathInfo(device: dev(16), name: "sdb"), MultipathPathInfo(device: dev(0), name: "sda"),
        ], settings: s)
        #expect(try plan.table.rendered() == "0 8 multipath 1 queue_if_no_path 0 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1")
        // generic failover: one group per path
        let f = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 8, paths: [
            MultipathPathInfo(device: dev(16), name: "sdb"), MultipathPathInfo(device: dev(0), name: "sda"),
        ], settings: HardwareTable.generic)
        #expect(try f.table.rendered() == "0 8 multipath 0 0 2 1 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1")
    }

    @Test func sizeDisagreementIsAConflictNamingPaths() throws {
        let paths = [
            MultipathPathInfo(device: dev(16), name: "sdb", sizeSectors: 4194304),
            MultipathPathInfo(device: dev(32), name: "sdc", sizeSectors: 2097152),
        ]
        let e = try #require(throws: PathCoreError.self) {
            try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 4194304, paths: paths, settings: HardwareTable.pure)
        }
        #expect(e.code == .conflict)
        #expect(e.message.contains("sdb (8:16) 4194304"))
        #expect(e.message.contains("sdc (8:32) 2097152"))
        let none = try #require(throws: PathCoreError.self) {
            try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 8, paths: [], settings: HardwareTable.pure)
        }
        #expect(none.code == .missing)
    }

    @Test func reloadPlanDiffAndResize() throws {
        let current = try DMTable.parse("0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32 1")
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 4194304, paths: [
            MultipathPathInfo(device: dev(16), name: "sdb", sizeSectors: 4194304),
            MultipathPathInfo(device: dev(48), name: "sdd", sizeSectors: 4194304),
        ], settings: HardwareTable.pure)
        let r = MultipathMapPlanner.reload(current: current, desired: plan.table)
        #expect(r.addedPaths == [dev(48)])
        #expect(r.removedPaths == [dev(32)])
        #expect(r.resize == .grow(from: 2097152, to: 4194304))
        #expect(r.needsReload)
        let same = MultipathMapPlanner.reload(current: current, desired: current)
        #expect(same.addedPaths.isEmpty && same.removedPaths.isEmpty && same.resize == .unchanged && !same.needsReload)
        var smaller = current
        smaller.length = 1024
        #expect(MultipathMapPlanner.reload(current: current, desired: smaller).resize == .shrink(from: 2097152, to: 1024))
    }

    @Test func unsupportedGroupingIsAnError() throws {
        var s = HardwareTable.pure
        s.pathGroupingPolicy = Setting(.groupBySerial, .override)
        let e = try #require(throws: PathCoreError.self) {
            try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 8, paths: [MultipathPathInfo(device: dev(16), name: "sdb")], settings: s)
        }
        #expect(e.code == .unsupported)
    }
}
