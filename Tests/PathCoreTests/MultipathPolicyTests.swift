import Testing
@testable import PathCore

@Suite struct MultipathPolicyTests {
    let pureOrigin = SettingOrigin.vendorProfile("PURE/FlashArray")

    @Test func pureProfileValuesAndOrigins() throws {
        let s = try PropertySelection.select(vendor: "PURE    ", product: "FlashArray      ")
        #expect(s.pollingInterval == Setting(10, pureOrigin))
        #expect(s.pathSelector == Setting("queue-length 0", pureOrigin))
        #expect(s.pathGroupingPolicy == Setting(.multibus, pureOrigin))
        #expect(s.pathChecker == Setting("tur", pureOrigin))
        #expect(s.fastIOFailTmo == Setting(10, pureOrigin))
        #expect(s.iscsiRecoveryTmo == Setting(10, pureOrigin))
        #expect(s.devLossTmo == Setting(60, pureOrigin))
        #expect(s.noPathRetry == Setting(.fail, pureOrigin))
        #expect(s.features == Setting([], pureOrigin))
        #expect(s.detectPrio == Setting(false, pureOrigin))
        #expect(s.maxSectorsKB == Setting(4096, pureOrigin))
        #expect(s.scheduler == Setting("none", pureOrigin))
        #expect(s.addRandom == Setting(0, pureOrigin))
        #expect(s.rqAffinity == Setting(2, pureOrigin))
        #expect(s.deviceTimeout == Setting(60, pureOrigin))
        // not in Pure's table: inherited built-ins
        #expect(s.prio == Setting("const", .builtinDefault))
        #expect(s.failback == Setting(.manual, .builtinDefault))
        #expect(s.hardwareHandler == Setting([], .builtinDefault))
        #expect(s.effectiveFeatures == [])
        let listing = Dictionary(uniqueKeysWithValues: s.listing.map { ($0.key, $0.value) })
        #expect(listing["features"] == "0")
        #expect(listing["no_path_retry"] == "fail")
        #expect(listing["path_selector"] == "queue-length 0")
        #expect(s.listing.count == 17)
        #expect(s.selectorNameAndArgs.name == "queue-length" && s.selectorNameAndArgs.args.isEmpty)
        var rr = s
        try rr.set("path_selector", "round-robin 1 100", origin: .override)
        #expect(rr.selectorNameAndArgs.name == "round-robin" && rr.selectorNameAndArgs.args == ["100"])
        #expect(throws: PathCoreError.self) { try rr.set("path_selector", "round-robin 2 100", origin: .override) }
    }

    @Test func genericProfile() throws {
        let s = try PropertySelection.select(vendor: "LIO-ORG", product: "disk1")
        #expect(s.pathGroupingPolicy == Setting(.failover, .builtinDefault))
        #expect(s.pathSelector.value == "service-time 0")
        #expect(s.pollingInterval.value == 5)
        #expect(s.noPathRetry.value == .fail)
        #expect(s.detectPrio.value == true)
        #expect(s.fastIOFailTmo.value == 5 && s.devLossTmo.value == 600)
        #expect(s.maxSectorsKB.value == nil && s.scheduler.value == nil)
        #expect(s.listing.allSatisfy { $0.origin == .builtinDefault })
    }

    @Test func configFileOverridesWithFileAndLine() throws {
        let cfg = try MultipathConfig.parse(try DMFixtures.text("pathagent.conf"), path: "etc/pathagent/multipath.conf")
        #expect(cfg.sections.count == 3)
        let s = try PropertySelection.select(vendor: "PURE", product: "FlashArray", config: cfg)
        #expect(s.pollingInterval == Setting(5, .configFile(path: "etc/pathagent/multipath.conf", line: 3)))
        #expect(s.noPathRetry == Setting(.queue, .configFile(path: "etc/pathagent/multipath.conf", line: 6)))
        #expect(s.pathSelector == Setting("service-time 0", .configFile(path: "etc/pathagent/multipath.conf", line: 7)))
        #expect(s.maxSectorsKB == Setting(1024, .configFile(path: "etc/pathagent/multipath.conf", line: 8)))
        #expect(s.devLossTmo == Setting(60, pureOrigin))  // untouched
        #expect(s.pathGroupingPolicy.value == .multibus)  // [device "^OTHER"] does not match
        #expect(s.effectiveFeatures == ["queue_if_no_path"])
        #expect(s.pollingInterval.origin.description == "etc/pathagent/multipath.conf:3")
        // caller override beats the file
        let o = try PropertySelection.select(vendor: "PURE", product: "FlashArray", config: cfg,
                                             overrides: [("no_path_retry", "12")])
        #expect(o.noPathRetry == Setting(.retries(12), .override))
        // another vendor only gets [defaults] and its own section
        let other = try PropertySelection.select(vendor: "OTHERCO", product: "X", config: cfg)
        #expect(other.pathGroupingPolicy == Setting(.groupByPrio, .configFile(path: "etc/pathagent/multipath.conf", line: 11)))
        #expect(other.pollingInterval.value == 5)
        #expect(other.pathSelector.origin == .builtinDefault)
    }

    @Test func configErrorsNameFileAndLine() throws {
        func err(_ text: String) -> String {
            do { _ = try MultipathConfig.parse(text, path: "mp.conf"); return "parsed" }
            catch let e as PathCoreError { return e.message } catch { return "\(error)" }
        }
        #expect(err("[defaults]\n\nbogus_key = 1\n") == "mp.conf:3: unknown key 'bogus_key'")
        #expect(err("[defaults]\npolling_interval = soon\n")
            == "mp.conf:2: polling_interval must be an integer >= 1, got 'soon'")
        #expect(err("[device \"PURE\" \"FlashArray\"]\nno_path_retry = sometimes\n")
            == "mp.conf:2: no_path_retry must be 'fail', 'queue' or a positive number, got 'sometimes'")
        #expect(err("[device \"PURE\" \"FlashArray\"]\nfeatures = \"2 queue_if_no_path\"\n")
            == "mp.conf:2: features must be '<count> <words...>' with a matching count, got '2 queue_if_no_path'")
        #expect(err("[device \"PURE\" \"Flash(Array\"]\n") == "mp.conf:1: invalid regular expression 'Flash(Array'")
        #expect(err("# c\n[blacklist]\n").hasPrefix("mp.conf:2: unknown section '[blacklist]'"))
        #expect(err("polling_interval = 5\n") == "mp.conf:1: 'polling_interval' outside a [defaults] or [device] section")
        #expect(err("[defaults]\npath_selector = \"fifo 0\"\n").hasPrefix("mp.conf:2: path_selector must be"))
        let e = try #require(throws: PathCoreError.self) { try MultipathConfig.parse("[defaults]\nx=1", path: "a.conf") }
        #expect(e.detail == "a.conf:2")
    }

    @Test func aluaMixedStatesSwitchToGroupByPrio() throws {
        let pure = HardwareTable.pure
        let paths = [
            MultipathPathInfo(device: DeviceNumber(major: 8, minor: 64), name: "sde", aluaState: .activeNonOptimized, targetPortGroup: 2),
            MultipathPathInfo(device: DeviceNumber(major: 8, minor: 16), name: "sdb", aluaState: .activeOptimized, targetPortGroup: 1),
            MultipathPathInfo(device: DeviceNumber(major: 8, minor: 48), name: "sdd", aluaState: .activeNonOptimized, targetPortGroup: 2),
            MultipathPathInfo(device: DeviceNumber(major: 8, minor: 80), name: "sdf", aluaState: .standby, targetPortGroup: 3),
            MultipathPathInfo(device: DeviceNumber(major: 8, minor: 32), name: "sdc", aluaState: .activeOptimized, targetPortGroup: 1),
        ]
        let s = PathGrouping.applyALUARule(pure, paths: paths)
        let rule = SettingOrigin.rule(PathGrouping.mixedALUARule)
        #expect(s.pathGroupingPolicy == Setting(.groupByPrio, rule))
        #expect(s.prio == Setting("alua", rule))
        #expect(s.failback == Setting(.immediate, rule))
        #expect(s.hardwareHandler == Setting(["alua"], rule))
        #expect(s.pathSelector == Setting("queue-length 0", pureOrigin))
        let groups = try PathGrouping.group(paths, policy: s.pathGroupingPolicy.value, prio: s.prio.value)
        #expect(groups.map { $0.map(\.name) } == [["sdb", "sdc"], ["sdd", "sde"], ["sdf"]])

        // uniform states: Pure multibus stays
        let uniform = paths.map { var p = $0; p.aluaState = .activeOptimized; return p }
        #expect(PathGrouping.applyALUARule(pure, paths: uniform) == pure)
        // an explicit multibus from the config file is respected
        var explicit = pure
        explicit.pathGroupingPolicy = Setting(.multibus, .configFile(path: "mp.conf", line: 4))
        #expect(PathGrouping.applyALUARule(explicit, paths: paths).pathGroupingPolicy.value == .multibus)
    }

    @Test func aluaPriorities() {
        #expect(ALUAState.activeOptimized.priority() == 50)
        #expect(ALUAState.activeNonOptimized.priority() == 10)
        #expect(ALUAState.standby.priority() == 1)
        #expect(ALUAState.unavailable.priority() == 0)
        #expect(ALUAState.activeNonOptimized.priority(preferred: true) == 90)
    }
}
