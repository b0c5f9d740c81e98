import Testing
@testable import PathCore

/// ALUA at attach: the kernel's per-path ALUA state (scsi_dh_alua's sysfs `access_state` and
/// `preferred_path`) read into the planner's path model, and the dm table it gives.
@Suite struct ALUAGroupingTests {
    let wwn = try! WWN.pure(serial: "9714B5CB91634C470002B2C8")

    func path(_ hctl: String, _ sd: String, _ dev: String, access: String?, preferred: Bool? = nil, state: String = "running") throws -> ScsiPath {
        ScsiPath(hctl: try HCTL(hctl), device: sd, devNumber: dev, sg: nil, transport: .iscsi, state: state,
                 vendor: "PURE", model: "FlashArray", revision: "8888", wwn: wwn.value, sizeBytes: 1_073_741_824,
                 timeoutSeconds: nil, queue: nil, provisioningMode: nil, accessState: access,
                 iscsi: nil, fc: nil, preferredPath: preferred)
    }

    @Test func kernelAccessStateNames() {
        // drivers/scsi/scsi_sysfs.c sdev_access_states
        #expect(ALUAState(kernelAccessState: "active/optimized") == .activeOptimized)
        #expect(ALUAState(kernelAccessState: "active/non-optimized") == .activeNonOptimized)
        #expect(ALUAState(kernelAccessState: "standby") == .standby)
        #expect(ALUAState(kernelAccessState: "unavailable") == .unavailable)
        #expect(ALUAState(kernelAccessState: "lba-dependent") == .logicalBlockDependent)
        #expect(ALUAState(kernelAccessState: "offline") == .offline)
        #expect(ALUAState(kernelAccessState: "transitioning") == .transitioning)
        #expect(ALUAState(kernelAccessState: "active/optimized\n") == .activeOptimized)
        #expect(ALUAState(kernelAccessState: "unknown") == nil)
        #expect(ALUAState(kernelAccessState: "") == nil)
    }

    @Test func pathInfoFromTheKernelsView() throws {
        let p = try path("3:0:0:1", "sdb", "8:16", access: "active/non-optimized", preferred: true)
        let i = try MultipathPathInfo(path: p)
        #expect(i.device == DeviceNumber(major: 8, minor: 16))
        #expect(i.name == "sdb")
        #expect(i.deviceState == .running)
        #expect(i.aluaState == .activeNonOptimized)
        #expect(i.preferred)
        #expect(i.sizeSectors == 2_097_152)
        // no handler attached: the kernel refuses to read access_state (EINVAL), no ALUA state
        let none = try MultipathPathInfo(path: try path("4:0:0:1", "sdc", "8:32", access: nil))
        #expect(none.aluaState == nil && !none.preferred)
        let bad = try path("4:0:0:1", "sdc", "8:32", access: nil)
        var noDev = bad
        noDev.devNumber = nil
        #expect(throws: PathCoreError.self) { try MultipathPathInfo(path: noDev) }
    }

    /// An ActiveCluster-like volume: the optimized path (sdc, 8:32) has the higher device
    /// number; it must still form the first (highest-priority) group.
    @Test func disagreeingPathsGiveTheOptimizedGroupFirst() throws {
        let paths = [
            try path("3:0:0:1", "sdb", "8:16", access: "active/non-optimized"),
            try path("4:0:0:1", "sdc", "8:32", access: "active/optimized"),
        ]
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 2_097_152, paths: try paths.map(MultipathPathInfo.init(path:)),
                                                settings: HardwareTable.pure)
        #expect(try plan.table.rendered()
            == "0 2097152 multipath 0 1 alua 2 1 queue-length 0 1 1 8:32 1 queue-length 0 1 1 8:16 1")
        #expect(plan.settings.pathGroupingPolicy.value == .groupByPrio)
        #expect(PathGrouping.reason(plan.settings, paths: try paths.map(MultipathPathInfo.init(path:)))
            == "group_by_prio (rule: paths show different ALUA states): active/optimized paths first, then active/non-optimized")
    }

    @Test func agreeingPathsStayMultibus() throws {
        for access in ["active/optimized", nil] {
            let paths = try [
                path("3:0:0:1", "sdb", "8:16", access: access),
                path("4:0:0:1", "sdc", "8:32", access: access),
            ].map(MultipathPathInfo.init(path:))
            let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 2_097_152, paths: paths, settings: HardwareTable.pure)
            #expect(try plan.table.rendered() == "0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32 1")
            #expect(PathGrouping.reason(plan.settings, paths: paths) == (access == nil
                ? "multibus (vendor profile PURE/FlashArray): no path reports an ALUA state"
                : "multibus (vendor profile PURE/FlashArray): every path reports active/optimized"))
        }
    }

    /// The PREF bit raises a group above an optimized one without it (prio/alua.c: +80).
    @Test func preferredNonOptimizedOutranksOptimized() throws {
        let paths = try [
            path("3:0:0:1", "sdb", "8:16", access: "active/optimized"),
            path("4:0:0:1", "sdc", "8:32", access: "active/non-optimized", preferred: true),
        ].map(MultipathPathInfo.init(path:))
        let plan = try MultipathMapPlanner.plan(wwn: wwn, sizeSectors: 2_097_152, paths: paths, settings: HardwareTable.pure)
        #expect(plan.table.groups.map { $0.paths.map(\.device.description) } == [["8:32"], ["8:16"]])
    }

    @Test func transitioningIsNotASettledState() throws {
        let settled = try [path("3:0:0:1", "sdb", "8:16", access: "active/optimized"),
                           path("4:0:0:1", "sdc", "8:32", access: "active/non-optimized")].map(MultipathPathInfo.init(path:))
        #expect(PathGrouping.aluaSettled(settled))
        var moving = settled
        moving[1].aluaState = .transitioning
        #expect(!PathGrouping.aluaSettled(moving))
    }
}
