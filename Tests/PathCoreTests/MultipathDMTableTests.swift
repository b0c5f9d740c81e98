import Testing
@testable import PathCore

@Suite struct MultipathDMTableTests {
    @Test func assemblesTheDesignExample() throws {
        let t = DMTable(length: 2097152, groups: [
            .init(selector: "queue-length", selectorArgs: [], pathArgCount: 1, paths: [
                .init(device: DeviceNumber(major: 8, minor: 16), args: ["1"]),
                .init(device: DeviceNumber(major: 8, minor: 32), args: ["1"]),
            ])
        ])
        #expect(try t.rendered() == "0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32 1")
        #expect(try DMTable.parse("0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32 1") == t)
    }

    @Test func queueLengthKernelDocGoldenRoundTrips() throws {
        let line = try #require(try DMFixtures.lines("queue-length.txt", kind: "table").first)
        let t = try DMTable.parse(line)
        #expect(t.start == 0 && t.length == 10)
        #expect(t.features.isEmpty && t.hardwareHandler.isEmpty)
        #expect(t.initialGroup == 1 && t.groups.count == 1)
        #expect(t.groups[0].selector == "queue-length")
        #expect(t.groups[0].pathArgCount == 1)
        #expect(t.groups[0].paths.map(\.device.description) == ["8:0", "8:16"])
        #expect(t.groups[0].paths.map(\.args) == [["128"], ["128"]])
        #expect(try t.rendered() == DMFixtures.canonical(line))
    }

    @Test func serviceTimeKernelDocGoldenRoundTrips() throws {
        let line = try #require(try DMFixtures.lines("service-time.txt", kind: "table").first)
        let t = try DMTable.parse(line)
        #expect(t.groups[0].selector == "service-time")
        #expect(t.groups[0].pathArgCount == 2)
        #expect(t.groups[0].paths.map(\.args) == [["128", "1"], ["128", "4"]])
        #expect(try t.rendered() == DMFixtures.canonical(line))
    }

    @Test func multipathToolsParamsWithFeaturesHandlerAndTwoGroups() throws {
        let params = try #require(try DMFixtures.lines("alua-two-groups-params.txt", kind: "table").first)
        let t = try DMTable.parse(params: params, length: 2097152)
        #expect(t.features == ["pg_init_retries", "50"])
        #expect(!t.queueIfNoPath)
        #expect(t.hardwareHandler == ["alua"])
        #expect(t.groups.count == 2 && t.initialGroup == 1)
        #expect(t.groups.map(\.selector) == ["service-time", "service-time"])
        #expect(t.groups[0].paths.map(\.device.description) == ["65:32", "67:64", "69:96"])
        #expect(t.groups[1].paths.map(\.device.description) == ["8:16", "66:48", "68:80"])
        #expect(t.devices.count == 6)
        #expect(try t.renderedParams() == DMFixtures.canonical(params))
    }

    @Test func queueIfNoPathAluaFailoverGolden() throws {
        let line = try #require(try DMFixtures.lines("round-robin-queue-alua.txt", kind: "table").first)
        let t = try DMTable.parse(line)
        #expect(t.queueIfNoPath)
        #expect(t.features == ["queue_if_no_path"])
        #expect(t.hardwareHandler == ["alua"])
        #expect(t.groups.map { $0.paths.map(\.device.description) } == [["8:80"], ["8:48"]])
        #expect(t.groups.allSatisfy { $0.selector == "round-robin" && $0.selectorArgs.isEmpty })
        #expect(try t.rendered() == line)
    }

    @Test func labKernelTablesRoundTrip() throws {
        let loaded = try DMFixtures.lines("lab-kernel-6.1.txt", kind: "in").map(DMTable.parse)
        let live = try DMFixtures.lines("lab-kernel-6.1.txt", kind: "table")
        #expect(loaded.count == 3 && live.count == 3)
        for (l, text) in zip(loaded, live) {
            let t = try DMTable.parse(text)
            #expect(try t.rendered() == DMFixtures.canonical(text))
            #expect(t.sameMap(as: l))
        }
        // the kernel echoes the loaded table except the current group of the failed-over map
        #expect(try DMTable.parse(live[0]) == loaded[0])
        #expect(try DMTable.parse(live[1]) == loaded[1])
        #expect(try DMTable.parse(live[2]).initialGroup == 2 && loaded[2].initialGroup == 1)
        #expect(loaded[2].features == ["pg_init_retries", "50"] && loaded[2].hardwareHandler == ["alua"])
    }

    @Test func zeroPathArgsAndSelectorArgs() throws {
        let line = "0 8 multipath 0 0 1 1 round-robin 1 100 2 0 8:0 8:16"
        let t = try DMTable.parse(line)
        #expect(t.groups[0].selectorArgs == ["100"])
        #expect(t.groups[0].pathArgCount == 0)
        #expect(t.devices == [DeviceNumber(major: 8, minor: 0), DeviceNumber(major: 8, minor: 16)])
        #expect(try t.rendered() == line)
    }

    @Test func parseErrorsNameTheToken() throws {
        func msg(_ s: String) -> String {
            do { _ = try DMTable.parse(s); return "parsed" } catch let e as PathCoreError { return e.message } catch { return "\(error)" }
        }
        // token 12 is "sdb": not a maj:min device
        #expect(msg("0 2097152 multipath 0 0 1 1 queue-length 0 2 1 sdb 1 8:32 1")
            == "dm table: token 12: expected a maj:min device, got 'sdb'")
        // truncated: the second path is missing its argument
        #expect(msg("0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32")
            == "dm table: token 10: expected 2 paths with 1 arguments each, got '2'")
        // initial group out of range
        #expect(msg("0 2097152 multipath 0 0 1 2 queue-length 0 1 1 8:16 1")
            == "dm table: token 7: expected initial path group in 1...1, got '2'")
        // trailing garbage
        #expect(msg("0 2097152 multipath 0 0 1 1 queue-length 0 1 1 8:16 1 extra")
            == "dm table: token 14: expected end of line, got 'extra'")
        // not a multipath target
        #expect(msg("0 2097152 linear 8:16 0") == "dm table: token 3: expected target type 'multipath', got 'linear'")
        // feature count larger than what follows
        #expect(msg("0 10 multipath 9 queue_if_no_path") == "dm table: token 4: expected 9 feature arguments, got '9'")
        let e = try #require(throws: PathCoreError.self) { try DMTable.parse("0 10 multipath 0 0 1 1 queue-length 0 1 1 8:x 1") }
        #expect(e.code == .invalidValue)
        #expect(e.detail == "token 12")
    }

    @Test func assemblerRejectsInconsistentTables() throws {
        var t = DMTable(length: 10, groups: [
            .init(selector: "queue-length", pathArgCount: 1, paths: [
                .init(device: DeviceNumber(major: 8, minor: 16), args: ["1", "1"]),
            ])
        ])
        #expect(throws: PathCoreError.self) { try t.rendered() }
        t.groups[0].paths[0].args = ["1"]
        t.initialGroup = 2
        #expect(throws: PathCoreError.self) { try t.rendered() }
        t.initialGroup = 1
        t.groups[0].paths.append(.init(device: DeviceNumber(major: 8, minor: 16), args: ["1"]))
        let e = try #require(throws: PathCoreError.self) { try t.rendered() }
        #expect(e.code == .conflict)
    }

    @Test func deviceNumbers() throws {
        #expect(try DeviceNumber("253:0") == DeviceNumber(major: 253, minor: 0))
        #expect(throws: PathCoreError.self) { try DeviceNumber("8-16") }
        #expect(throws: PathCoreError.self) { try DeviceNumber("8:") }
        #expect(DeviceNumber(major: 8, minor: 32) < DeviceNumber(major: 65, minor: 0))
    }
}
