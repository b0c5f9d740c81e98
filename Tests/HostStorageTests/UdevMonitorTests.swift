import Foundation
import Testing
@testable import HostStorage
import PathCore

@Suite("udev monitor and sysfs reader on this host")
struct UdevMonitorTests {
    /// A synthetic `change` uevent on the loopback interface travels through the kernel
    /// netlink source into the AsyncSequence (needs root to write the uevent file).
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isWritableFile(atPath: "/sys/class/net/lo/uevent")))
    func kernelEventArrivesThroughAsyncSequence() async throws {
        let monitor = try UdevMonitor(source: .kernel, subsystems: ["net"])
        defer { monitor.stop() }
        try "change".write(toFile: "/sys/class/net/lo/uevent", atomically: false, encoding: .utf8)
        var seen: UdevEvent? = nil
        for await ev in monitor {
            if ev.sysname == "lo" { seen = ev; break }
        }
        let ev = try #require(seen)
        #expect(ev.action == "change")
        #expect(ev.subsystem == "net")
        #expect(ev.devpath.hasSuffix("/net/lo"))
        #expect(ev["INTERFACE"] == "lo")
    }

    @Test func stopEndsTheStream() async throws {
        let monitor = try UdevMonitor(source: .kernel, subsystems: ["block"])
        monitor.stop()
        var count = 0
        for await _ in monitor { count += 1 }
        #expect(count == 0)
    }

    @Test func diskSysfsReadsAttributesEntriesAndLinks() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pa-sysfs-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("devices/x"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("class/c"), withIntermediateDirectories: true)
        try "running\n".write(to: dir.appendingPathComponent("devices/x/state"), atomically: true, encoding: .utf8)
        try Data([0, 0x83, 0, 0]).write(to: dir.appendingPathComponent("devices/x/vpd_pg83"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("class/c/x").path, withDestinationPath: "../../devices/x")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = DiskSysfs(root: dir.path)
        #expect(s.attribute("devices/x/state") == "running")
        #expect(s.attribute("class/c/x/state") == "running")
        #expect(s.binary("devices/x/vpd_pg83") == [0, 0x83, 0, 0])
        #expect(s.entries("class/c") == ["x"])
        #expect(s.link("class/c/x") == "../../devices/x")
        #expect(s.resolvedLink("class/c/x") == "devices/x")
        #expect(s.attribute("devices/x/missing") == nil)
        #expect(s.entries("nope").isEmpty)
    }

    @Test func iscsiURLParsingAndRedaction() throws {
        let u = try ISCSIURL("iscsi://alice%hunter2@[fe80::1]:3261/iqn.2024-01.x:t/3")
        #expect(u.host == "fe80::1" && u.port == 3261 && u.lun == 3 && u.user == "alice" && u.password == "hunter2")
        #expect(u.redacted == "iscsi://alice%***@[fe80::1]:3261/iqn.2024-01.x:t/3")
        #expect(!u.description.contains("hunter2"))
        #expect(try ISCSIURL("iscsi://127.0.0.1/iqn.2024-01.x:t/0").port == 3260)
        for bad in ["http://x/y/1", "iscsi://h/iqn", "iscsi://h:0/iqn.x/1", "iscsi://h/iqn.x/-1", "iscsi://u%pw@h/iqn.x/z"] {
            #expect(throws: HostStorageError.self) { try ISCSIURL(bad) }
            do { _ = try ISCSIURL(bad) } catch let e as HostStorageError { #expect(!e.description.contains("%pw")) }
        }
    }

    @Test func sgioOnMissingDeviceIsNotFound() {
        do {
            _ = try SGIOTransport(device: "/dev/sg-pathagent-missing")
            Issue.record("opened a missing device")
        } catch let e as HostStorageError {
            #expect(e.code == .notFound)
            #expect(e.description.contains("/dev/sg-pathagent-missing"))
        } catch { Issue.record("unexpected \(error)") }
    }
}
