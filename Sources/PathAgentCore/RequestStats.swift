import Synchronization

/// What the API server knows about its own traffic, as Prometheus text: requests by route
/// and status, and request duration sums. Labels are bounded (known routes, or `unknown`).
public final class RequestStats: Sendable {
    private struct Key: Hashable {
        var route: String
        var status: Int
    }
    private struct State {
        var counts: [Key: UInt64] = [:]
        var durationSum: [String: Double] = [:]
        var durationCount: [String: UInt64] = [:]
        var refused: UInt64 = 0
        var inFlight = 0
    }
    private let state = Mutex(State())

    public init() {}

    func record(route: String, status: Int, seconds: Double) {
        state.withLock {
            $0.counts[Key(route: route, status: status), default: 0] += 1
            $0.durationSum[route, default: 0] += seconds
            $0.durationCount[route, default: 0] += 1
        }
    }

    func refusedPeer() { state.withLock { $0.refused += 1 } }
    func inFlight(_ delta: Int) { state.withLock { $0.inFlight += delta } }

    /// Requests answered with `status` on `route` so far.
    public func count(route: String, status: Int) -> UInt64 {
        state.withLock { $0.counts[Key(route: route, status: status)] ?? 0 }
    }

    /// Prometheus text exposition (format 0.0.4).
    public func exposition() -> String {
        let s = state.withLock { $0 }
        var out = """
            # HELP pathagent_up 1 while the agent serves its API.
            # TYPE pathagent_up gauge
            pathagent_up 1
            # HELP pathagent_api_requests_total API requests answered, by route and HTTP status.
            # TYPE pathagent_api_requests_total counter

            """
        for (k, v) in s.counts.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
            out += "pathagent_api_requests_total{route=\"\(k.route)\",status=\"\(k.status)\"} \(v)\n"
        }
        out += """
            # HELP pathagent_api_request_duration_seconds Time to answer API requests, by route.
            # TYPE pathagent_api_request_duration_seconds summary

            """
        for (route, sum) in s.durationSum.sorted(by: { $0.key < $1.key }) {
            out += "pathagent_api_request_duration_seconds_sum{route=\"\(route)\"} \(sum)\n"
            out += "pathagent_api_request_duration_seconds_count{route=\"\(route)\"} \(s.durationCount[route] ?? 0)\n"
        }
        out += """
            # HELP pathagent_api_refused_peers_total Connections refused by the peer-credential check.
            # TYPE pathagent_api_refused_peers_total counter
            pathagent_api_refused_peers_total \(s.refused)
            # HELP pathagent_api_requests_in_flight Requests being handled now.
            # TYPE pathagent_api_requests_in_flight gauge
            pathagent_api_requests_in_flight \(s.inFlight)

            """
        return out
    }
}
