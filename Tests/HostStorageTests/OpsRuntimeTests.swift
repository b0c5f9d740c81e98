import Foundation
import Logging
import PathCore
import Synchronization
import Testing
@testable import HostStorage

@Suite("sd_notify over a real datagram socket")
struct SystemdNotifierTests {
    static func tempSocketPath() -> String {
        NSTemporaryDirectory() + "pathagent-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    @Test func readyStatusWatchdogStoppingToAPathSocket() throws {
        let path = Self.tempSocketPath()
        let rx = try NotifySocketReceiver(path: path)
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(n.isEnabled)
        try n.ready(status: "inventory: 10 paths, journal: 0 pending")
        #expect(try rx.receive() == "READY=1\nSTATUS=inventory: 10 paths, journal: 0 pending\n")
        try n.watchdog()
        #expect(try rx.receive() == "WATCHDOG=1\n")
        try n.status("two\nlines")
        #expect(try rx.receive() == "STATUS=two lines\n")
        try n.stopping()
        #expect(try rx.receive() == "STOPPING=1\n")
    }

    @Test func abstractSocketName() throws {
        let name = "@pathagent-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let rx = try NotifySocketReceiver(path: name)
        try SystemdNotifier(environment: ["NOTIFY_SOCKET": name]).notify([.ready, .mainPID(42)])
        #expect(try rx.receive() == "READY=1\nMAINPID=42\n")
    }

    @Test func watchdogIntervalIsHalfOfWatchdogUSec() {
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000"], pid: 7)
        #expect(n.watchdogUSec == 30_000_000)
        #expect(n.watchdogPingInterval == .seconds(15))
        // WATCHDOG_PID names another process: not ours to ping
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"], pid: 7).watchdogPingInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"], pid: 7).watchdogPingInterval == .seconds(15))
        #expect(SystemdNotifier(environment: [:]).watchdogPingInterval == nil)
    }

    @Test func withoutNotifySocketItIsANoOp() throws {
        let n = SystemdNotifier(environment: [:])
        #expect(!n.isEnabled)
        try n.ready()
    }

    @Test func unreachableSocketThrows() {
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": Self.tempSocketPath()])
        #expect(throws: HostStorageError.self) { try n.ready() }
    }
}

@Suite("journald log lines and redaction")
struct JournalLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: String { lines.withLock { $0.joined(separator: "\n") } }
    }

    func logger(_ lines: Lines, secrets: SecretRegistry, prefix: Bool = false) -> Logger {
        Logger(label: "pathagent.attach") { label in
            var h = JournalLogHandler(label: label, secrets: secrets, priorityPrefix: prefix) { l in lines.lines.withLock { $0.append(l) } }
            h.logLevel = .debug
            return h
        }
    }

    @Test func chapPasswordAndAPITokenNeverReachTheOutput() {
        let lines = Lines()
        let secrets = SecretRegistry()
        let chap = "Sup3r-Secret-CHAP!"
        let token = "6d3f1c2a-0b4e-4e8f-9a7d-2c5b8e1f4a90"
        secrets.register(chap)
        let log = logger(lines, secrets: secrets)
        log.info("login", metadata: ["iscsi.portal": "10.0.0.1:3260", "auth_password": .string(chap), "auth_username": "chapuser"])
        log.error("array call failed", metadata: ["fa.api_token": .string(token), "http.status": "401"])
        // a registered secret leaking through a key that is not secret-looking, and through the message
        log.warning("retrying with \(chap)", metadata: ["request": .dictionary(["body": .string("password=\(chap)")])])
        let out = lines.all
        #expect(!out.contains(chap))
        #expect(!out.contains(token))
        #expect(out.contains("auth_password=<redacted>"))
        #expect(out.contains("fa.api_token=<redacted>"))
        #expect(out.contains("retrying with <redacted>"))
        #expect(out.contains("auth_username=chapuser"))
        #expect(lines.lines.withLock { $0.count } == 3)
    }

    @Test func oneLinePerEventWithSortedMetadata() {
        let lines = Lines()
        let log = logger(lines, secrets: SecretRegistry(), prefix: true)
        log.warning("path failed\nsecond line", metadata: ["volume.wwn": "3624a93709714b5cb91634c470002b2c8", "path.dev": "sdb", "reason": "TUR sense 02/04/0a"])
        let l = lines.lines.withLock { $0 }
        #expect(l == [#"<4>warning pathagent.attach: path failed\nsecond line path.dev=sdb reason="TUR sense 02/04/0a" volume.wwn=3624a93709714b5cb91634c470002b2c8"#])
    }

    @Test func emptyValuesAreQuotedAndTokenKeysRedacted() throws {
        let h = JournalLogHandler(label: "x", secrets: SecretRegistry(), priorityPrefix: false) { _ in }
        #expect(h.format(level: .info, message: "m", metadata: ["token": "abc", "a": ""]) == #"info x: m a="" token=<redacted>"#)
    }
}
