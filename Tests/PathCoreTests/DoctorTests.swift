import Foundation
import HostStorage
import Testing
@testable import PathCore

/// `pathctl doctor` checks against the fixture hosts `Tests/Fixtures/doctor/{good,bad}`
/// (see their README): each check's id must come out ok on the good host and at its
/// severity on the bad host, through the real facts reader (sysfs + etc + canned commands).
enum DoctorFixture {
    static func root(_ name: String) -> String { Fixture.dir.appendingPathComponent("doctor/\(name)").path }
    static func facts(_ name: String, nova: String? = nil, cinder: String? = nil) -> HostFacts {
        let r = root(name)
        return DoctorFactsReader(root: r, runner: FixtureCommandRunner(dir: r + "/cmd"), novaConf: nova, cinderConf: cinder).read()
    }
    static let good = Doctor.run(Doctor.checks(), on: facts("good"))
    static let bad = Doctor.run(Doctor.checks(), on: facts("bad"))
}

@Suite("doctor on good and bad fixture hosts")
struct DoctorTests {
    let good = DoctorFixture.good
    let bad = DoctorFixture.bad

    /// The one finding with this id; fails the test when it is missing or repeated.
    func one(_ r: DoctorReport, _ id: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> DoctorFinding {
        let f = r.findings(id)
        try #require(f.count == 1, "expected exactly one finding \(id), got \(f.count)", sourceLocation: sourceLocation)
        return f[0]
    }

    func expect(_ id: String, good g: DoctorSeverity = .ok, bad b: DoctorSeverity, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fg = try one(good, id, sourceLocation: sourceLocation)
        let fb = try one(bad, id, sourceLocation: sourceLocation)
        #expect(fg.severity == g, "good \(id): \(fg.found)", sourceLocation: sourceLocation)
        #expect(fb.severity == b, "bad \(id): \(fb.found)", sourceLocation: sourceLocation)
        if b >= .warning { #expect(fb.fix != nil, "bad \(id) has no fix", sourceLocation: sourceLocation) }
    }

    @Test func exitStatus() {
        #expect(good.exitStatus == 0, "good host findings: \(good.findings.filter { $0.severity >= .warning }.map { "\($0.id): \($0.found)" })")
        #expect(bad.exitStatus == 2)
        #expect(DoctorReport(findings: [DoctorFinding(id: "x", severity: .warning, found: "", recommended: "")]).exitStatus == 1)
        #expect(DoctorReport(findings: [DoctorFinding(id: "x", severity: .info, found: "", recommended: "")]).exitStatus == 0)
    }

    // MARK: multipath

    @Test func multipathConfParsed() throws { try expect("multipath.conf", bad: .ok) }

    @Test func multipathdDetected() throws {
        let g = try one(good, "multipath.multipathd")
        let b = try one(bad, "multipath.multipathd")
        #expect(g.severity == .ok && g.found.contains("not running, not enabled"), "\(g.found)")
        #expect(b.severity == .info && b.found.contains("@/org/kernel/linux/storage/multipathd"))
    }

    @Test func multipathdClaimsPureVolumes() throws {
        try expect("multipath.claims", bad: .error)
        let b = try one(bad, "multipath.claims")
        #expect(b.subjects.contains("3624a93709714b5cb91634c4700000001"))
        #expect(b.fix?.contains("blacklist") == true)
        #expect(try one(good, "multipath.claims").found.contains("neither running nor enabled"))
    }

    /// A running multipathd that blacklists the Pure volumes still removes pathagent's maps
    /// (the lab's multipathd scenario): an error, not the all-clear it used to be.
    @Test func aRunningMultipathdThatBlacklistsPureIsStillAnError() throws {
        var facts = DoctorFixture.facts("good")
        facts.multipathd.running = true
        let f = Doctor.run([MultipathChecks()], on: facts).findings("multipath.claims")
        #expect(f.count == 1)
        #expect(f.first?.severity == .error)
        #expect(f.first?.found.contains("^3624a937") == true)
        #expect(f.first?.fix?.contains("disable --now multipathd") == true)
    }

    @Test(arguments: ["polling_interval", "path_selector", "path_grouping_policy", "path_checker",
                      "fast_io_fail_tmo", "dev_loss_tmo", "no_path_retry", "features"])
    func pureDeviceSetting(_ key: String) throws {
        try expect("multipath.pure_device.\(key)", bad: .warning)
    }

    @Test func pureDeviceExpectedValuesComeFromTheTable() throws {
        #expect(try one(bad, "multipath.pure_device.path_selector").recommended.contains("\"\(HardwareTable.pure.pathSelector.value)\""))
        #expect(try one(bad, "multipath.pure_device.features").found.contains("1 queue_if_no_path"))
        // polling_interval is read from defaults (a defaults-only option)
        #expect(try one(bad, "multipath.pure_device.polling_interval").found.contains("(defaults)"))
    }

    @Test func userFriendlyNames() throws { try expect("multipath.user_friendly_names", bad: .warning) }
    @Test func detectPrio() throws {
        try expect("multipath.detect_prio", bad: .warning)
        #expect(try one(bad, "multipath.detect_prio").found.contains("not set"))
    }

    // MARK: host

    @Test(arguments: ["scheduler", "add_random", "rq_affinity", "max_sectors_kb"])
    func queueSetting(_ key: String) throws {
        try expect("host.queue.\(key)", bad: .warning)
        let b = try one(bad, "host.queue.\(key)")
        // every Pure path (4 iSCSI + 2 FC) and both maps
        #expect(try one(good, "host.queue.\(key)").subjects.count == 8)
        if key != "scheduler" { #expect(b.subjects.contains("dm-0") && b.subjects.contains("sda")) }
    }

    @Test func deviceTimeout() throws {
        try expect("host.device_timeout", bad: .warning)
        #expect(try one(bad, "host.device_timeout").found.contains("sda=30"))
    }

    @Test func iscsidReplacementTimeout() throws {
        try expect("host.iscsi.replacement_timeout", bad: .warning)
        #expect(try one(bad, "host.iscsi.replacement_timeout").found.contains("= 120"))
    }

    @Test func sessionRecoveryTmo() throws {
        try expect("host.iscsi.recovery_tmo", bad: .warning)
        #expect(try one(bad, "host.iscsi.recovery_tmo").subjects.count == 2)
    }

    @Test func initiatorName() throws {
        try expect("host.iscsi.initiator_name", bad: .error)
        #expect(try one(bad, "host.iscsi.initiator_name").found.contains("not a valid iSCSI name"))
        #expect(try one(good, "host.iscsi.initiator_name").found == "InitiatorName=iqn.1993-08.org.debian:01:compute1")
    }

    @Test func fcRemotePortTimeouts() throws {
        try expect("host.fc.fast_io_fail_tmo", bad: .warning)
        try expect("host.fc.dev_loss_tmo", bad: .warning)
        #expect(try one(bad, "host.fc.dev_loss_tmo").found.contains("rport-4:0-0 (524a937000000000)=600"))
    }

    // MARK: nova, time, discard, cinder

    @Test func novaVolumeUseMultipath() throws {
        try expect("nova.volume_use_multipath", bad: .warning)
        #expect(try one(bad, "nova.volume_use_multipath").found.contains("= False"))
    }

    @Test func timeSync() throws {
        try expect("time.sync", bad: .error)
        let b = try one(bad, "time.sync")
        #expect(b.found.contains("Not synchronised"))
        #expect(b.found.contains("401"))
    }

    @Test func discardProvisioningMode() throws {
        try expect("discard.provisioning_mode", bad: .warning)
        #expect(try one(bad, "discard.provisioning_mode").subjects == ["sda"])
    }

    @Test func discardPathMaxBytes() throws {
        try expect("discard.path_max_bytes", bad: .warning)
        #expect(try one(bad, "discard.path_max_bytes").subjects == ["sda"])
    }

    @Test func discardMapMaxBytes() throws {
        try expect("discard.map_max_bytes", bad: .warning)
        #expect(try one(bad, "discard.map_max_bytes").subjects == ["dm-0 (3624a93709714b5cb91634c4700000001)"])
    }

    @Test func cinderConfWithoutProviderIsAnExplicitFinding() throws {
        #expect(good.findings(id: "cinder.unavailable").isEmpty)
        let conf = DoctorFixture.root("good") + "/etc/nova/nova.conf"  // any file: it is not read without a provider
        let r = Doctor.run(Doctor.checks(), on: DoctorFixture.facts("good", cinder: conf))
        let f = try one(r, "cinder.unavailable")
        #expect(f.severity == .warning)
        #expect(f.found.contains("not available in this build"))
        #expect(r.exitStatus == 1)
    }

    struct FakeCinderCheck: DoctorCheck {
        var name: String { "cinder" }
        func run(_ facts: HostFacts) -> [DoctorFinding] {
            [DoctorFinding(id: "cinder.test", severity: .ok, found: "read \(facts.cinderConf?.text?.count ?? -1) bytes", recommended: "")]
        }
    }

    @Test func cinderProviderPlugsIntoTheSlot() throws {
        let conf = DoctorFixture.root("good") + "/etc/nova/nova.conf"
        let r = Doctor.run(Doctor.checks(cinderConf: FakeCinderCheck()), on: DoctorFixture.facts("good", cinder: conf))
        #expect(r.findings(id: "cinder.unavailable").isEmpty)
        #expect(try one(r, "cinder.test").found.hasPrefix("read ") && !one(r, "cinder.test").found.hasSuffix("-1 bytes"))
    }
}

extension DoctorReport {
    func findings(id: String) -> [DoctorFinding] { findings(id) }
}

@Suite("multipath.conf reader")
struct MultipathConfFileTests {
    @Test func nestedSectionsQuotesCommentsAndBraces() throws {
        let c = try MultipathConfFile.parse("""
            defaults{ user_friendly_names no } # braces attached
            blacklist {
                wwid ".*"        ! everything
                device { vendor "IBM" product "2145" }
            }
            blacklist_exceptions {
                wwid "^3624a937"
            }
            devices {
                device {
                    vendor "PURE"
                    product "FlashArray"
                    features "1 queue_if_no_path"
                }
            }
            """, path: "m.conf")
        #expect(c.defaults?.value("user_friendly_names") == "no")
        #expect(c.devices.count == 1)
        #expect(c.devices[0].value("features") == "1 queue_if_no_path")
        #expect(c.devices[0].line == 10)
        // the exception wins over `wwid ".*"`
        #expect(c.blacklistReason(wwid: "3624a93709714b5cb91634c4700000001", vendor: "PURE", product: "FlashArray") == nil)
        #expect(c.blacklistReason(wwid: "36005076801810000", vendor: "IBM", product: "2145")?.contains("m.conf:3: blacklist wwid") == true)
        #expect(c.matchingDevices(vendor: "PURE", product: "FlashArray").count == 1)
    }

    @Test func deviceBlacklistNeedsVendorAndProductToMatch() throws {
        let c = try MultipathConfFile.parse("blacklist {\n device {\n vendor \"PURE\"\n product \"FlashArray\"\n }\n}\n", path: "m")
        #expect(c.blacklistReason(wwid: "3624a937x", vendor: "PURE", product: "FlashArray")?.contains("m:2") == true)
        #expect(c.blacklistReason(wwid: "3624a937x", vendor: "PURE", product: "FlashBlade") == nil)
    }

    @Test func malformedInputNamesTheLine() {
        #expect(throws: PathCoreError.self) { try MultipathConfFile.parse("defaults {\n x 1\n", path: "m") }
        #expect(throws: PathCoreError.self) { try MultipathConfFile.parse("}\n", path: "m") }
        #expect(throws: PathCoreError.self) { try MultipathConfFile.parse("devices {\n vendor \"PURE\n}\n", path: "m") }
        do {
            _ = try MultipathConfFile.parse("defaults {\n}\n}\n", path: "m")
            Issue.record("expected an error")
        } catch let e as PathCoreError {
            #expect(e.message.hasPrefix("m:3:"))
        } catch { Issue.record("\(error)") }
    }

    @Test func malformedMultipathConfIsAnError() {
        var f = DoctorFixture.facts("good")
        f.multipathConf.text = "defaults {\n"
        let r = Doctor.run([MultipathChecks()], on: f)
        #expect(r.findings("multipath.conf").first?.severity == .error)
    }
}

@Suite("time sync parsers")
struct TimeSyncParserTests {
    @Test func chronyNormalIsSynchronized() {
        let v = TimeSyncCheck.chrony(CommandOutput(status: 0, stdout: "Reference ID    : C0A80101 (ntp1)\nLeap status     : Normal\n"))
        #expect(v?.synchronized == true)
        #expect(v?.evidence.contains("ntp1") == true)
        #expect(TimeSyncCheck.chrony(CommandOutput(status: 1, stdout: ""))?.synchronized == false)
    }
    @Test func ntpqStatusWord() {
        #expect(TimeSyncCheck.ntpq(CommandOutput(status: 0, stdout: "associd=0 status=0615 leap_none, sync_ntp, 1 event, clock_sync,"))?.synchronized == true)
        #expect(TimeSyncCheck.ntpq(CommandOutput(status: 0, stdout: "associd=0 status=c618 leap_alarm, sync_ntp, 1 event, no_sys_peer,"))?.synchronized == false)
    }
    @Test func nothingReadableIsAWarning() {
        var f = DoctorFixture.facts("good")
        f.timeSync = TimeSyncFacts(daemons: [], timesyncdSynchronizedFile: false, chronycTracking: nil, ntpqReadvar: nil, timedatectlShow: nil)
        let r = Doctor.run([TimeSyncCheck()], on: f)
        #expect(r.findings("time.sync").first?.severity == .warning)
        #expect(r.findings("time.sync").first?.fix == "apt-get install chrony")
    }
}
