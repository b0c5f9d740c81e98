import Foundation
import HostStorage
import PathAPI
import PathAgentCore
import PathCtlKit
import Testing

/// Measures (and prints) request latency over the socket; asserts only correctness.
@Suite struct LatencyTests {
    static func percentiles(_ xs: [Double]) -> (p50: Double, p99: Double, max: Double) {
        let s = xs.sorted()
        return (s[s.count / 2], s[min(s.count - 1, s.count * 99 / 100)], s.last!)
    }

    @Test func sequentialAndConcurrentRequests() async throws {
        let ops = ScriptedOperations()
        let s = try await RunningServer.start(operations: ops, logger: LogRecorder().logger())
        let client = s.client
        // Sequential GET /v1/version through the pathctl client (connect, request, close).
        let n = 300
        let seq = try await blocking { () -> [Double] in
            var out: [Double] = []
            for _ in 0..<n {
                let t0 = MonotonicClock.nanos()
                let v = try client.version()
                precondition(v.apiVersions == ["v1"])
                out.append(Double(MonotonicClock.nanos() - t0) / 1e6)
            }
            return out
        }
        #expect(seq.count == n)
        let p = Self.percentiles(seq)
        print("latency GET /v1/version x\(n) sequential: p50 \(p.p50) ms, p99 \(p.p99) ms, max \(p.max) ms")

        // 64 concurrent connects (the double answers at once): nothing serializes them.
        let req = ConnectVolumeRequest(connectionProperties: try Fixtures.props("pure_iscsi_chap.json"), protocol: .iscsi)
        let t0 = MonotonicClock.nanos()
        let answers = try await withThrowingTaskGroup(of: ConnectVolumeResponse.self) { g in
            for _ in 0..<64 { g.addTask { try await blocking { try client.connect(req) } } }
            return try await g.reduce(into: []) { $0.append($1) }
        }
        let wall = Double(MonotonicClock.nanos() - t0) / 1e6
        #expect(answers.count == 64)
        #expect(answers.allSatisfy { $0.deviceInfo == ScriptedOperations.device })
        #expect(ops.state.withLock { $0.connects.count } == 64)
        #expect(s.stats.count(route: "/v1/volumes/connect", status: 200) == 64)
        print("64 concurrent POST /v1/volumes/connect (scripted operations): \(wall) ms wall")

        let r = try await rawHTTP(s.socket, "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(r.headers["x-request-id"] != nil)
        // Not HTTP at all: NIO's HTTP decoder answers 400 and closes.
        let garbage = try await blocking { () -> [UInt8] in
            let c = try UnixSocketClient(path: s.socket, timeoutSeconds: 10)
            defer { c.close() }
            try c.send(Array("\u{1}\u{2}NOT HTTP\r\n\r\n".utf8))
            return try c.receiveAll()
        }
        #expect(String(decoding: garbage, as: UTF8.self).hasPrefix("HTTP/1.1 400"))
        try await s.stop()
    }
}
