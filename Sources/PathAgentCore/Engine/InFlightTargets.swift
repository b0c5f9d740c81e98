import PathCore
import Synchronization

/// The iSCSI targets (portal, IQN) that attaches in flight will use: from the start of an
/// attach until its disks exist (after which the disks themselves keep the session). A
/// detach does not log out a session an attach is about to reuse.
final class InFlightTargets: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    static func key(portal: ISCSIPortal, iqn: String) -> String { "\(portal.argument) \(iqn)" }

    /// Registers the targets; pass the result to `release`.
    func hold(_ spec: ISCSIConnectionSpec) -> [String] {
        let keys = Array(Set(spec.paths.map { Self.key(portal: $0.portal, iqn: $0.iqn) }))
        counts.withLock { c in for k in keys { c[k, default: 0] += 1 } }
        return keys
    }

    func release(_ keys: [String]) {
        counts.withLock { c in
            for k in keys {
                let n = (c[k] ?? 1) - 1
                c[k] = n > 0 ? n : nil
            }
        }
    }

    /// Sessions among `sessions` whose target an attach in flight holds; `excluding` is the
    /// caller's own hold (an attach rolling itself back).
    func busy(_ sessions: [ISCSISessionInfo], excluding own: [String] = []) -> Set<Int> {
        counts.withLock { c in
            Set(sessions.filter { s in
                let k = Self.key(portal: s.portal, iqn: s.targetIQN)
                return (c[k] ?? 0) - (own.contains(k) ? 1 : 0) > 0
            }.map(\.sessionID))
        }
    }
}
