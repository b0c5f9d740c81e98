/// no_path_retry N in action (multipathd's `retry_count`): the table is loaded with
/// `queue_if_no_path`; when the last path of a map fails, queueing goes on for N checker
/// intervals, then the daemon sends `fail_if_no_path` so I/O errors out; when a path comes
/// back, it sends `queue_if_no_path` again. With `fail` or `queue` nothing is ever sent
/// (the table already says it). Pure: feed it the number of active paths once per poll.
public struct NoPathQueueingTimer: Hashable, Sendable {
    public let policy: NoPathRetry
    /// Checker intervals of queueing left; nil when not counting down.
    public private(set) var remaining: Int?
    /// True after `fail_if_no_path` was sent and until `queue_if_no_path` restores queueing.
    public private(set) var queueingDisabled = false

    public init(policy: NoPathRetry) {
        self.policy = policy
    }

    /// One checker interval. Returns the message to send now, if any.
    public mutating func tick(activePaths: Int) -> DMMessage? {
        guard case .retries(let n) = policy else { return nil }
        if activePaths > 0 {
            remaining = nil
            if queueingDisabled {
                queueingDisabled = false
                return .queueIfNoPath
            }
            return nil
        }
        if queueingDisabled { return nil }
        let left = (remaining ?? n) - 1
        if left <= 0 {
            remaining = nil
            queueingDisabled = true
            return .failIfNoPath
        }
        remaining = left
        return nil
    }
}
