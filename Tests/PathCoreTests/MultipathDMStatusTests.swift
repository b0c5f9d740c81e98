import Testing
@testable import PathCore

@Suite struct MultipathDMStatusTests {
    @Test func queueLengthKernelDocGolden() throws {
        let line = try #require(try DMFixtures.lines("queue-length.txt", kind: "status").first)
        let s = try DMStatus.parse(line)
        #expect(s.length == 10)
        #expect(s.featureStatus == ["0", "0"])
        #expect(s.queueIO == 0 && s.pgInitCount == 0)
        #expect(s.nextGroup == 1)
        #expect(s.groups.count == 1 && s.groups[0].state == .enabled)
        #expect(s.paths.map(\.device.description) == ["8:0", "8:16"])
        #expect(s.paths.map(\.state) == [.active, .active])
        #expect(s.paths.map(\.selectorArgs) == [["0"], ["0"]])  // in-flight I/Os
    }

    @Test func serviceTimeKernelDocGolden() throws {
        let line = try #require(try DMFixtures.lines("service-time.txt", kind: "status").first)
        let s = try DMStatus.parse(line)
        #expect(s.paths.map(\.selectorArgs) == [["0", "1"], ["0", "4"]])  // in-flight size, relative throughput
        #expect(s.paths.map(\.failCount) == [0, 0])
    }

    @Test func multipathToolsParamsTwoGroupsPgInitCount() throws {
        let params = try #require(try DMFixtures.lines("alua-two-groups-params.txt", kind: "status").first)
        let s = try DMStatus.parse(params: params, length: 2097152)
        #expect(s.queueIO == 0)
        #expect(s.pgInitCount == 1)
        #expect(s.hardwareHandlerStatus.isEmpty)
        #expect(s.nextGroup == 1)
        #expect(s.groups.map(\.state) == [.active, .enabled])
        #expect(s.groups[1].paths.map(\.device.description) == ["8:16", "66:48", "68:80"])
        #expect(s.paths.count == 6 && s.failedDevices.isEmpty)
    }

    @Test func roundRobinTwoGroupsWithNamePrefixAndTrailingSpace() throws {
        let line = try #require(try DMFixtures.lines("round-robin-two-groups-status.txt", kind: "status").first)
        let s = try DMStatus.parse(line)
        #expect(s.length == 4194304000)
        #expect(s.groups.count == 2)
        #expect(s.groups[0].state == .active && s.groups[0].paths.count == 2)
        #expect(s.groups[1].state == .enabled && s.groups[1].paths.count == 4)
        #expect(s.paths.allSatisfy { $0.selectorArgs.isEmpty && $0.state == .active })
        #expect(s.activeDevices.map(\.description) == ["8:48", "8:128", "8:0", "8:64", "8:192", "8:208"])
    }

    @Test func failedPathsWithFailCounts() throws {
        let lines = try DMFixtures.lines("failed-paths-status.txt", kind: "status")
        let s = try DMStatus.parse(lines[0])
        #expect(s.nextGroup == 2)
        #expect(s.groups.map(\.state) == [.enabled, .active])
        #expect(s.failedDevices.map(\.description) == ["8:16", "8:0"])
        #expect(s.path(DeviceNumber(major: 8, minor: 16))?.failCount == 1)
        #expect(s.path(DeviceNumber(major: 8, minor: 48))?.state == .active)
        // and the matching table/status pair of the same suite
        let t = try DMTable.parse(try #require(try DMFixtures.lines("failed-paths-status.txt", kind: "table").first))
        let s2 = try DMStatus.parse(lines[1])
        #expect(t.devices == s2.paths.map(\.device))
    }

    @Test func labKernelStatusGoldens() throws {
        let st = try DMFixtures.lines("lab-kernel-6.1.txt", kind: "status").map(DMStatus.parse)
        #expect(st.count == 7)
        let a = DeviceNumber(major: 8, minor: 0), b = DeviceNumber(major: 8, minor: 16)
        // queue-length, both active, in-flight 0
        #expect(st[0].paths.map(\.state) == [.active, .active])
        #expect(st[0].paths.map(\.selectorArgs) == [["0"], ["0"]])
        // fail_path 8:0: F with fail count 1; 8:16 has one I/O in flight
        #expect(st[1].path(a) == DMStatus.Path(device: a, state: .failed, failCount: 1, selectorArgs: ["0"]))
        #expect(st[1].path(b)?.selectorArgs == ["1"])
        #expect(st[2].path(a)?.failCount == 2)
        // service-time failover groups, then switch_group 2
        #expect(st[3].groups.map(\.state) == [.active, .enabled] && st[3].nextGroup == 1)
        #expect(st[4].groups.map(\.state) == [.enabled, .active] && st[4].nextGroup == 2)
        // no path left, queue_if_no_path: everything failed, queue_io still 0
        #expect(st[5].activeDevices.isEmpty && st[5].failedDevices == [a, b])
        #expect(st[5].queueIO == 0 && st[5].pgInitCount == 0)
        // alua pg_init failed on scsi_debug: pg_init_count 1, round-robin has no per-path args
        #expect(st[6].pgInitCount == 1)
        #expect(st[6].nextGroup == 2)
        #expect(st[6].path(a)?.state == .failed && st[6].path(b)?.state == .active)
        #expect(st[6].paths.allSatisfy { $0.selectorArgs.isEmpty })
    }

    @Test func briefExampleShape() throws {
        let s = try DMStatus.parse("0 2097152 multipath 2 0 0 0 1 1 A 0 2 1 8:16 A 0 0 8:32 F 1 0")
        #expect(s.failedDevices == [DeviceNumber(major: 8, minor: 32)])
        #expect(s.path(DeviceNumber(major: 8, minor: 32))?.failCount == 1)
    }

    @Test func badStatusNamesToken() throws {
        func msg(_ s: String) -> String {
            do { _ = try DMStatus.parse(s); return "parsed" } catch let e as PathCoreError { return e.message } catch { return "\(error)" }
        }
        #expect(msg("0 10 multipath 2 0 0 0 1 1 X 0 2 1 8:0 A 0 0 8:16 A 0 0")
            == "dm status: token 10: expected path group state A, E or D, got 'X'")
        #expect(msg("0 10 multipath 2 0 0 0 1 1 E 0 2 1 8:0 A 0 0 8:16 Q 0 0")
            == "dm status: token 19: expected path state A or F, got 'Q'")
        #expect(msg("0 10 multipath 2 0 0 0 1 1 E 0 2 1 8:0 A 0 0")
            == "dm status: token 12: expected 2 paths with 1 selector arguments each, got '2'")
        #expect(msg("0 10 multipath 2 x 0 0 1 1 E 0 1 1 8:0 A 0 0")
            == "dm status: token 5: expected a number (feature status), got 'x'")
    }
}
