import Foundation
import Testing
@testable import PathCore

/// Operations files checked with the real tools: systemd's unit verifier, udev's rules
/// parser, the install script into a temp DESTDIR, and the metrics text through the
/// Prometheus reference parser (prometheus_client). A missing tool fails the test with
/// the install command; nothing is skipped.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ rel: String) -> String { root.appendingPathComponent(rel).path }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ argv: [String], stdin: String? = nil, env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        var e = ProcessInfo.processInfo.environment
        e["PATH"] = (e["PATH"].map { $0 + ":" } ?? "") + "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: r, as: UTF8.self))
    }

    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("pathagent-ops-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

@Suite("systemd unit, udev rules, install script")
struct OpsFilesTests {
    @Test func systemdAnalyzeVerifyIsClean() throws {
        let r = try Repo.run([Repo.path("scripts/check-systemd-unit")])
        #expect(r.status == 0, "scripts/check-systemd-unit exit \(r.status):\n\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("verify clean"))
    }

    @Test func systemdCheckerCatchesABadUnit() throws {
        let dir = try Repo.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unit = try String(contentsOfFile: Repo.path("systemd/pathagent.service"), encoding: .utf8)
            .replacingOccurrences(of: "Type=notify", with: "Type=notify\nProtectSystem=sometimes")
        let f = dir.appendingPathComponent("pathagent.service")
        try unit.write(to: f, atomically: true, encoding: .utf8)
        let r = try Repo.run([Repo.path("scripts/check-systemd-unit"), f.path])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("sometimes"))
    }

    @Test func unitIsNotifyWithWatchdogAndDocumentedCapabilities() throws {
        let unit = try String(contentsOfFile: Repo.path("systemd/pathagent.service"), encoding: .utf8)
        let lines = Set(unit.split(separator: "\n").map(String.init))
        for l in ["Type=notify", "WatchdogSec=30s", "Restart=on-failure", "RuntimeDirectory=pathagent", "StateDirectory=pathagent",
                  "ExecStart=/usr/local/sbin/pathagent --config /etc/pathagent/pathagent.conf",
                  "CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_RAWIO CAP_MKNOD CAP_CHOWN"] {
            #expect(lines.contains(l), "missing \(l)")
        }
        #expect(unit.contains("After=systemd-udevd.service iscsid.service"))
        // every capability in the bounding set has its reason in a comment
        for cap in ["CAP_SYS_ADMIN", "CAP_SYS_RAWIO", "CAP_MKNOD", "CAP_CHOWN"] {
            #expect(lines.contains { $0.hasPrefix("#  \(cap)") }, "\(cap) has no documented reason")
        }
    }

    @Test func udevRulesParseWithUdevsOwnParser() throws {
        let r = try Repo.run([Repo.path("scripts/check-udev-rules")])
        #expect(r.status == 0, "scripts/check-udev-rules exit \(r.status):\n\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("60-pathagent-pure.rules: ok"))
    }

    @Test func udevCheckerCatchesABrokenRule() throws {
        let dir = try Repo.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("61-broken.rules")
        try "KERNEL==\"sd*\", ATTRS{vendor}==\"PURE*\", ATTR{queue/scheduler}=\"none\"\nKERNEL=\"sd*\", SYMLNK+=\"x\"\n".write(to: f, atomically: true, encoding: .utf8)
        let r = try Repo.run([Repo.path("scripts/check-udev-rules"), f.path])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("61-broken.rules:2"))
    }

    /// The rules' values are Pure's table (HardwareTable.pure): one source of truth.
    @Test func udevRuleValuesMatchTheHardwareTable() throws {
        let text = try String(contentsOfFile: Repo.path("udev/60-pathagent-pure.rules"), encoding: .utf8)
        func assigned(_ attr: String) -> String? {
            guard let r = text.range(of: "ATTR{\(attr)}=\"") else { return nil }
            return String(text[r.upperBound...].prefix { $0 != "\"" })
        }
        let x = HardwareTable.pure
        #expect(assigned("queue/scheduler") == x.scheduler.value)
        #expect(assigned("queue/add_random") == x.addRandom.value.map(String.init))
        #expect(assigned("queue/rq_affinity") == x.rqAffinity.value.map(String.init))
        #expect(assigned("queue/max_sectors_kb") == x.maxSectorsKB.value.map(String.init))
        #expect(assigned("device/timeout") == x.deviceTimeout.value.map(String.init))
        #expect(text.contains("ENV{DM_NAME}==\"\(pureWWNPrefix)*\""))
        #expect(text.contains("ENV{SDEV_UA}==\"CAPACITY_DATA_HAS_CHANGED\", ENV{PATHAGENT_EVENT}=\"capacity_changed\""))
        #expect(text.contains("ENV{SDEV_UA}==\"REPORTED_LUNS_DATA_HAS_CHANGED\", ENV{PATHAGENT_EVENT}=\"luns_changed\""))
        // the SDEV_UA values the rules match are the kernel's, as PathCore's event parser knows them
        #expect(PathEvent.sdevUACodes["CAPACITY_DATA_HAS_CHANGED"]! == (0x2A, 0x09))
        #expect(PathEvent.sdevUACodes["REPORTED_LUNS_DATA_HAS_CHANGED"]! == (0x3F, 0x0E))
    }

    @Test func installIntoTempDestdir() throws {
        let dir = try Repo.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for b in ["pathagent", "pathctl"] {
            let f = bin.appendingPathComponent(b)
            try "#!/bin/sh\necho \(b)\n".write(to: f, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: f.path)
        }
        let dest = dir.appendingPathComponent("root").path
        let r = try Repo.run([Repo.path("scripts/install"), "--destdir", dest, "--bin-dir", bin.path, "--prefix", "/opt/pathagent"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let fm = FileManager.default
        func mode(_ p: String) throws -> Int { (try fm.attributesOfItem(atPath: dest + p)[.posixPermissions] as? NSNumber)?.intValue ?? -1 }
        #expect(try mode("/opt/pathagent/sbin/pathagent") == 0o755)
        #expect(try mode("/opt/pathagent/bin/pathctl") == 0o755)
        #expect(try mode("/etc/systemd/system/pathagent.service") == 0o644)
        #expect(try mode("/etc/udev/rules.d/60-pathagent-pure.rules") == 0o644)
        #expect(try mode("/etc/pathagent/pathagent.conf") == 0o644)
        let unit = try String(contentsOfFile: dest + "/etc/systemd/system/pathagent.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/pathagent/sbin/pathagent --config /etc/pathagent/pathagent.conf"))
        // a second install keeps the operator's config and stages the new default beside it
        try "# edited\n".write(toFile: dest + "/etc/pathagent/pathagent.conf", atomically: true, encoding: .utf8)
        let again = try Repo.run([Repo.path("scripts/install"), "--destdir", dest, "--bin-dir", bin.path])
        #expect(again.status == 0)
        #expect(try String(contentsOfFile: dest + "/etc/pathagent/pathagent.conf", encoding: .utf8) == "# edited\n")
        #expect(fm.fileExists(atPath: dest + "/etc/pathagent/pathagent.conf.dist"))
        // nothing outside DESTDIR: every path it printed is below the stage
        #expect(!r.stdout.contains("daemon-reload"))
    }

    @Test func installRefusesMissingBinaries() throws {
        let dir = try Repo.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Repo.run([Repo.path("scripts/install"), "--destdir", dir.path, "--bin-dir", dir.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("pathagent not found"))
    }
}

/// `pathctl doctor` and `pathctl health` as operators run them: the built binary against
/// the fixture hosts, checking exit statuses and the JSON shape.
@Suite("pathctl doctor/health exit status")
struct PathctlCLITests {
    static var pathctl: String {
        for config in ["debug", "release"] {
            let p = Repo.path(".build/\(config)/pathctl")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return Repo.path(".build/debug/pathctl")
    }

    func run(_ args: [String]) throws -> Repo.Result {
        try #require(FileManager.default.isExecutableFile(atPath: Self.pathctl), "build pathctl first (swift build --build-tests)")
        return try Repo.run([Self.pathctl] + args)
    }

    @Test func doctorExitStatusIsZeroOneTwo() throws {
        let good = try run(["doctor", "--root", Repo.path("Tests/Fixtures/doctor/good")])
        #expect(good.status == 0, "\(good.stdout)")
        let bad = try run(["doctor", "--root", Repo.path("Tests/Fixtures/doctor/bad")])
        #expect(bad.status == 2)
        #expect(bad.stdout.contains("[ERROR  ] multipath.claims"))
        // a file that is no cinder.conf: FlashArray's validator says so (no more cinder.unavailable)
        let cinder = try run(["doctor", "--root", Repo.path("Tests/Fixtures/doctor/good"),
                              "--cinder-conf", Repo.path("Tests/Fixtures/doctor/good/etc/nova/nova.conf")])
        #expect(cinder.status == 2)
        #expect(!cinder.stdout.contains("cinder.unavailable"))
        #expect(cinder.stdout.contains("cinder.enabled-backends-missing"), "\(cinder.stdout)")
    }

    /// `pathctl doctor --cinder-conf` on FlashArray's cinder.conf fixtures: one finding per
    /// diagnostic, `cinder.<rule>`, found text `file:line:`, exit status from the worst.
    func cinderFindings(_ fixture: String) throws -> (Int32, [[String: Any]]) {
        let file = Repo.path("Tests/FlashArrayTests/Fixtures/cinder/\(fixture).conf")
        let r = try run(["doctor", "--json", "--root", Repo.path("Tests/Fixtures/doctor/good"), "--cinder-conf", file])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\(r.stderr)")
        let all = try #require(obj["findings"] as? [[String: Any]])
        return (r.status, all.filter { ($0["id"] as? String)?.hasPrefix("cinder.") == true })
    }

    @Test func doctorCinderConfGoodFixtures() throws {
        for fixture in ["good-iscsi", "good-fc"] {
            let (status, f) = try cinderFindings(fixture)
            let ok = f.filter { $0["id"] as? String == "cinder.conf" }
            #expect(ok.count == 1 && ok.first?["severity"] as? String == "ok", "\(fixture): \(f)")
            #expect(!f.contains { $0["severity"] as? String == "error" }, "\(fixture): \(f)")
            // the good doctor root is clean: only cinder warnings can raise the status
            let warns = f.filter { $0["severity"] as? String == "warning" }
            #expect(status == (warns.isEmpty ? 0 : 1), "\(fixture): \(f)")
        }
    }

    @Test(arguments: [
        "bad-default-option", "bad-enabled-backend", "bad-repl-type", "bad-repl-key", "bad-repl-multiline",
        "bad-boolean", "bad-cidr", "bad-ratio", "bad-missing-token", "bad-syntax", "bad-reserved-range",
    ])
    func doctorCinderConfBadFixture(_ fixture: String) throws {
        let text = try String(contentsOfFile: Repo.path("Tests/FlashArrayTests/Fixtures/cinder/\(fixture).conf"), encoding: .utf8)
        let head = text.split(separator: "\n")[0].split(separator: " ")   // "# expect: RULE LINE"
        let rule = String(head[2]), line = String(head[3])
        let (status, f) = try cinderFindings(fixture)
        #expect(status == 2)
        let hit = try #require(f.first { $0["id"] as? String == "cinder.\(rule)" }, "\(fixture): \(f)")
        #expect(hit["severity"] as? String == "error")
        #expect((hit["found"] as? String)?.contains("\(fixture).conf:\(line):") == true, "\(hit)")
        #expect((hit["recommended"] as? String)?.isEmpty == false && (hit["fix"] as? String)?.isEmpty == false)
        #expect(!f.contains { $0["id"] as? String == "cinder.conf" })
    }

    @Test func doctorJSON() throws {
        let r = try run(["doctor", "--json", "--root", Repo.path("Tests/Fixtures/doctor/bad")])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["status"] as? String == "error")
        #expect(obj["exit_status"] as? Int == 2)
        let findings = try #require(obj["findings"] as? [[String: Any]])
        let t = try #require(findings.first { $0["id"] as? String == "time.sync" })
        #expect(t["severity"] as? String == "error")
        #expect((t["fix"] as? String)?.isEmpty == false)
    }

    @Test func healthFromSysfs() throws {
        let ok = try run(["health", "--root", Repo.path("Tests/Fixtures/iscsi-fc-dm")])
        #expect(ok.status == 0)
        #expect(ok.stdout.hasSuffix("status: ok\n"))
        let degraded = try run(["health", "--json", "--root", Repo.path("Tests/Fixtures/iscsi-fc-dm-degraded")])
        #expect(degraded.status == 2)
        #expect(degraded.stdout.contains("\"session_failed\""))
        // --watch: the first read prints the report, later reads of an unchanged tree print nothing
        let w = try run(["health", "--watch", "--interval", "0.1", "--reads", "3", "--root", Repo.path("Tests/Fixtures/iscsi-fc-dm")])
        #expect(w.status == 0)
        #expect(w.stdout.components(separatedBy: "status: ok").count == 2)
    }

    @Test func watchPrintsAChangeWhenAPathGoesOffline() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.pathctl), "build pathctl first (swift build --build-tests)")
        let dir = try Repo.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // cp -a keeps the sysfs symlinks
        let cp = try Repo.run(["cp", "-a", Repo.path("Tests/Fixtures/iscsi-fc-dm"), dir.appendingPathComponent("host").path])
        try #require(cp.status == 0, "cp -a failed: \(cp.stderr)")
        let root = dir.appendingPathComponent("host").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.pathctl)
        p.arguments = ["health", "--watch", "--interval", "0.1", "--reads", "30", "--root", root]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        Thread.sleep(forTimeInterval: 0.8)
        try "offline\n".write(toFile: root + "/sys/devices/platform/host2/session1/target2:0:0/2:0:0:1/state", atomically: false, encoding: .utf8)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(text.contains("3624a93709714b5cb91634c4700000001: ok -> degraded"), "\(text)")
        #expect(text.contains("3624a93709714b5cb91634c4700000001: paths 2/2 -> 1/2"))
        #expect(text.contains("+ path_offline: sda (2:0:0:1) state offline"))
        // only the changed volume is printed after the first report
        let afterFirst = text.components(separatedBy: "status: ok\n").dropFirst().joined()
        #expect(!afterFirst.contains("3624a93709714b5cb91634c4700000002"))
    }
}
