import Testing
@testable import PathCore

@Suite struct MultipathDMStatusTests {
    @Test func queueLengthKernelDocGolden() throws {
        let line = try #require(try DMFixtures.lines("queue-length.txt", kind: "status").first)
        let s = try DMStatus.parse(line)
        #expect(s.length == 10)
        #expect(s.featureStatus == ["0", "0"])
        #expect(s.queuedIO == 0 && s.pgInitCount == 0)
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
        #expect(s.queuedIO == 0)
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

    @Test func queuedIOAndBriefExample() throws {
        let lines = try DMFixtures.lines("queued-io-status.txt", kind: "status")
        let q = try DMStatus.parse(lines[0])
        #expect(q.queuedIO == 1)
        #expect(q.paths.map(\.failCount) == [3, 2])
        #expect(q.activeDevices.isEmpty)
        let b = try DMStatus.parse(lines[1])
        #expect(b.queuedIO == 0)
        #expect(b.groups[0].state == .active)
        #expect(b.path(DeviceNumber(major: 8, minor: 32)) == DMStatus.Path(
            device: DeviceNumber(major: 8, minor: 32), state: .failed, failCount: 1, selectorArgs: ["0"]))
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
