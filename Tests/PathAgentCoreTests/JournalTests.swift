import Foundation
import HostStorage
import PathAgentCore
import PathCore
import Testing

@Suite struct JournalTests {
    static let wwn = try! WWN("3624a93709714b5cb91634c470002b2c8")
    static func record(_ id: String, _ kind: IntentKind = .attach) -> IntentRecord {
        IntentRecord(
            id: id, kind: kind, transport: .iscsi, volumeWWN: wwn, propertiesHash: "0123456789abcdef",
            iscsiTargets: [ISCSITargetRef(portal: try! ISCSIPortal("10.0.1.11:3260"), iqn: "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873")])
    }

    @Test func walModeAndRoundTrip() throws {
        let dir = tempDir("journal")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try IntentJournalStore(directory: dir + "/state")
        #expect(try j.journalMode() == "wal")
        #expect(j.path == dir + "/state/journal.sqlite")
        let h = try j.begin(Self.record("a"))
        try h.step(.loggedIn(portal: try ISCSIPortal("10.0.1.11:3260"), iqn: "iqn.x", sessionID: 3, created: true)) {}
        try j.begin(Self.record("b", .detach))
        try j.append(id: "b", .mapRemoved(name: Self.wwn.value))
        try j.finish(id: "a")
        let open = try j.unfinished()
        #expect(open.map(\.id) == ["b"])
        #expect(open.first?.kind == .detach)
        #expect(open.first?.steps == [.mapRemoved(name: Self.wwn.value)])
        #expect(throws: PathCoreError.self) { try j.append(id: "a", .completed) }  // finished: no more steps
        #expect(throws: PathCoreError.self) { try j.append(id: "zz", .completed) }
        j.close()
        #expect(throws: HostStorageError.self) { try j.unfinished() }
    }

    @Test func stepIsDurableBeforeItsWorkRuns() throws {
        let dir = tempDir("journal")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try IntentJournalStore(directory: dir)
        let h = try j.begin(Self.record("attach-1"))
        let step = IntentStep.scanned(hctl: HCTL(host: 3, channel: 0, target: 0, lun: 1), newDevice: true)
        // A second, independent connection sees the step while the work is still running.
        let seenDuringWork: [IntentStep] = try h.step(step) {
            let other = try IntentJournalStore(path: dir + "/journal.sqlite")
            defer { other.close() }
            return try other.unfinished().first?.steps ?? []
        }
        #expect(seenDuringWork == [step])
        // A failing step stays recorded.
        struct Boom: Error {}
        #expect(throws: Boom.self) { try h.step(.mapCreated(name: Self.wwn.value)) { throw Boom() } }
        #expect(try j.unfinished().first?.steps == [step, .mapCreated(name: Self.wwn.value)])
        j.close()
    }

    @Test func unfinishedIntentSurvivesACloseWithoutFinish() throws {
        let dir = tempDir("journal")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let steps: [IntentStep] = [
            .loggedIn(portal: try ISCSIPortal("10.0.1.11:3260"), iqn: "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873", sessionID: 7, created: true),
            .scanned(hctl: HCTL(host: 7, channel: 0, target: 0, lun: 1), newDevice: true),
            .mapCreated(name: Self.wwn.value),
        ]
        do {
            let j = try IntentJournalStore(directory: dir)
            let h = try j.begin(Self.record("crash-1"))
            for s in steps { try h.step(s) {} }
            try j.begin(Self.record("done-1"))
            try j.finish(id: "done-1")
            j.close()  // the "crash": no finish for crash-1
        }
        let reopened = try IntentJournalStore(directory: dir)
        let open = try reopened.unfinished()
        #expect(open.count == 1)
        let r = try #require(open.first)
        #expect(r == { var x = Self.record("crash-1"); x.steps = steps; return x }())
        // The reconciler plans the roll-back from it.
        let plan = IntentReconciler.plan(unfinished: open, kernel: KernelSnapshot(sessions: [], devices: [], maps: []))
        #expect(plan.first?.outcome == .rollBackAttach)
        try reopened.finish(id: r.id)
        #expect(try reopened.unfinished().isEmpty)
        reopened.close()
    }

    @Test func survivesAProcessKilledMidIntent() throws {
        // A writer killed with SIGKILL while its WAL connection is open (python3's sqlite3
        // module, a process we can kill) leaves journal.sqlite-wal behind; the store reopens
        // the database and still sees the unfinished intent.
        let dir = tempDir("journal")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try IntentJournalStore(directory: dir)
        try j.begin(Self.record("before-kill"))
        j.close()
        let script = """
            import sqlite3, sys, os, signal
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("UPDATE intents SET updated = updated + 1 WHERE id = 'before-kill'")
            os.kill(os.getpid(), signal.SIGKILL)
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, dir + "/journal.sqlite"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let again = try IntentJournalStore(directory: dir)
        #expect(try again.unfinished().map(\.id) == ["before-kill"])
        again.close()
    }
}
