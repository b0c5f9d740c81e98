import Foundation
import HostStorage
import PathAPI
import PathAgentCore
import PathCore
import PathCtlKit
import Synchronization
import Testing

/// A gate the test opens; waiters block until then.
final class Gate: Sendable {
    private let opened = Mutex<(Bool, [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { c in
            let now = opened.withLock { s -> Bool in
                if s.0 { return true }
                s.1.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
    func open() {
        let ws = opened.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.0 = true
            defer { s.1 = [] }
            return s.1
        }
        for w in ws { w.resume() }
    }
}

func eventually(_ what: String, _ cond: () -> Bool) async throws {
    for _ in 0..<1000 {
        if cond() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("timed out waiting for \(what)")
}

@Suite struct ShutdownTests {
    @Test func inFlightRequestCompletesAfterShutdownBegins() async throws {
        let gate = Gate()
        let ops = ScriptedOperations(connectGate: { await gate.wait() })
        let log = LogRecorder()
        let s = try await RunningServer.start(operations: ops, logger: log.logger(), grace: .seconds(30))
        let client = s.client
        let req = ConnectVolumeRequest(connectionProperties: try Fixtures.props("pure_iscsi_chap.json"), protocol: .iscsi)
        let inFlight = Task { try await blocking { try client.connect(req) } }
        try await eventually("connect in flight") { ops.state.withLock { $0.inConnect } == 1 }

        // An idle connection (no request yet) is closed at shutdown, not waited for.
        let connected = Mutex(false)
        let socket = s.socket
        let idle = Task {
            try await blocking { () -> [UInt8] in
                let c = try UnixSocketClient(path: socket, timeoutSeconds: 10)
                connected.withLock { $0 = true }
                return try c.receiveAll()
            }
        }
        try await eventually("idle connection open") { connected.withLock { $0 } }
        try await Task.sleep(for: .milliseconds(50))  // let the server accept it

        await s.group.triggerGracefulShutdown()
        // Stops accepting: the socket file goes away / new connects fail.
        try await eventually("listener closed") {
            (try? UnixSocketClient(path: s.socket, timeoutSeconds: 1)) == nil
        }
        let idleAnswer = try await idle.value
        #expect(idleAnswer.isEmpty)  // closed without an answer
        #expect(!s.task.isCancelled)

        gate.open()
        let r = try await inFlight.value
        #expect(r.deviceInfo == ScriptedOperations.device)  // finished with its real answer
        try await s.task.value
        #expect(log.text.contains("api shutting down"))
        #expect(log.text.contains("api stopped"))
        #expect(!log.text.contains("api shutdown grace expired"))
    }

    @Test func requestsPastTheGraceAreCancelled() async throws {
        let ops = ScriptedOperations(connectGate: {
            // Never finishes on its own: only cancellation ends it.
            try await Task.sleep(for: .seconds(3600))
        })
        let log = LogRecorder()
        let s = try await RunningServer.start(operations: ops, logger: log.logger(), grace: .milliseconds(200))
        let client = s.client
        let req = ConnectVolumeRequest(connectionProperties: try Fixtures.props("pure_iscsi_chap.json"), protocol: .iscsi)
        let inFlight = Task { try await blocking { try client.connect(req) } }
        try await eventually("connect in flight") { ops.state.withLock { $0.inConnect } == 1 }
        await s.group.triggerGracefulShutdown()
        try await s.task.value  // returns: the stuck request did not hold the daemon
        #expect(log.text.contains("api shutdown grace expired"))
        #expect(ops.state.withLock { $0.inConnect } == 0)  // the operation was cancelled and returned
        // The client got an error (connection closed, or 503 for the cancelled request), not a hang.
        await #expect(throws: AgentClientError.self) { try await inFlight.value }
    }
}
