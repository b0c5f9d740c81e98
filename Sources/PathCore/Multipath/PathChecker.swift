/// What one TEST UNIT READY on a path returned, in primitive form (the SG_IO/libiscsi layer
/// fills it; the sense decoder lives elsewhere).
public enum TURResult: Hashable, Sendable {
    /// SG_IO itself failed (errno), e.g. the device node is gone.
    case ioctlFailed(errno: Int32)
    /// The command did not complete within the checker timeout.
    case timeout
    /// The transport reported an error: the SCSI host byte (DID_*), e.g. DID_NO_CONNECT 0x01,
    /// DID_BUS_BUSY 0x02, DID_TIME_OUT 0x03, DID_TRANSPORT_DISRUPTED 0x0e, DID_TRANSPORT_FAILFAST 0x0f.
    case hostError(hostByte: UInt8)
    /// SCSI status GOOD.
    case good
    /// CHECK CONDITION with the decoded sense key, ASC and ASCQ.
    case checkCondition(senseKey: UInt8, asc: UInt8, ascq: UInt8)
    /// SCSI status BUSY (0x08).
    case busy
    /// SCSI status TASK SET FULL (0x28).
    case taskSetFull
    /// SCSI status RESERVATION CONFLICT (0x18).
    case reservationConflict
}

/// A checker verdict, multipath-tools' PATH_* states.
public enum PathCheckState: String, Hashable, Sendable {
    /// Usable.
    case up
    /// Not usable: fail it in the map.
    case down
    /// Usable only after a port group switch (ALUA standby): kept/reinstated in the map, where
    /// its lower-priority group holds it.
    case ghost
    /// No verdict yet (transient condition); the dm state is left alone.
    case pending
    /// Came back up but went down again recently (see `PathChecker.shakyWindow`): reinstated
    /// only after staying up for that many checks.
    case shaky
}

/// What to tell the dm map about a path.
public enum PathAction: Hashable, Sendable {
    case none
    case failPath(DeviceNumber)
    case reinstatePath(DeviceNumber)

    /// The dm message for this action, if any.
    public var message: DMMessage? {
        switch self {
        case .none: nil
        case .failPath(let d): .failPath(d)
        case .reinstatePath(let d): .reinstatePath(d)
        }
    }
}

/// Classification of single TUR results, following multipath-tools' checkers/tur.c.
public enum TURClassifier {
    /// One TUR result is either a verdict or "send it again now".
    public enum Verdict: Hashable, Sendable {
        case state(PathCheckState)
        case retryImmediately
    }

    /// Host bytes tur.c does not retry: DID_OK, DID_NO_CONNECT, DID_BAD_TARGET, DID_ABORT,
    /// DID_TRANSPORT_FAILFAST. Any other host byte is a driver/transport hiccup and is retried.
    public static let nonRetriedHostBytes: Set<UInt8> = [0x00, 0x01, 0x04, 0x05, 0x0f]

    /// tur.c semantics:
    /// - SG_IO failure, timeout → down
    /// - RESERVATION CONFLICT → up ("SCSI-3 arrays might return reservation conflict on TUR":
    ///   the path carries commands)
    /// - host error → retried immediately unless in `nonRetriedHostBytes`; else down
    /// - UNIT ATTENTION (key 6) → retried immediately (the UA is consumed by the TUR)
    /// - NOT READY 04/0B (target port in standby) → ghost
    /// - any other CHECK CONDITION (3A medium not present, 04/03 manual intervention, ...) → down
    /// - GOOD → up
    ///
    /// Two deliberate differences from tur.c, both for transient states:
    /// - NOT READY 04/0A (asymmetric access state transition) and 04/01 (becoming ready) →
    ///   pending, not down: an ActiveCluster or controller failover passes through these for a
    ///   few seconds and failing every path of the volume then would fail I/O with
    ///   no_path_retry 0. `PathChecker` turns pending into down after `maxPendingChecks`.
    /// - BUSY / TASK SET FULL → retried immediately (tur.c reports down: the target answered,
    ///   so the path works); down once the retry budget is used up.
    public static func classify(_ r: TURResult) -> Verdict {
        switch r {
        case .ioctlFailed, .timeout: return .state(.down)
        case .reservationConflict: return .state(.up)
        case .good: return .state(.up)
        case .hostError(let hb):
            return nonRetriedHostBytes.contains(hb) ? .state(.down) : .retryImmediately
        case .busy, .taskSetFull: return .retryImmediately
        case .checkCondition(let key, let asc, let ascq):
            switch (key & 0x0f, asc, ascq) {
            case (0x6, _, _): return .retryImmediately
            case (0x2, 0x04, 0x0b): return .state(.ghost)
            case (0x2, 0x04, 0x0a), (0x2, 0x04, 0x01): return .state(.pending)
            case (0x0, _, _), (0x1, _, _):
                // NO SENSE / RECOVERED ERROR with CHECK CONDITION: tur.c has key 0/1 fall to down.
                return .state(.down)
            default: return .state(.down)
            }
        }
    }
}

/// The per-path checker state machine (pure). Feed it each TUR result of a check together with
/// the path's dm state (A/F from the status line); it says whether to send the TUR again right
/// away, and once a check is settled, the path's state and the dm action.
public struct PathChecker: Hashable, Sendable {
    public enum Step: Hashable, Sendable {
        /// Send another TUR now (same check).
        case retryNow
        /// The check is settled.
        case checked(PathCheckState, PathAction)
    }

    public let device: DeviceNumber
    /// Immediate retries per check (tur.c: 5 attempts = 4 retries).
    public var maxImmediateRetries: Int
    /// Consecutive pending verdicts after which the path counts as down.
    public var maxPendingChecks: Int
    /// After a path went down, it must be up this many consecutive checks before it is
    /// reinstated if it had failed again within `shakyWindow` checks of its last reinstatement
    /// (guards against flapping paths). 0 disables.
    public var shakyWindow: Int

    public private(set) var state: PathCheckState?
    public private(set) var retriesThisCheck = 0
    public private(set) var consecutivePending = 0
    private var checksSinceReinstate = Int.max
    private var upStreak = 0
    private var flapping = false

    public init(device: DeviceNumber, maxImmediateRetries: Int = 4, maxPendingChecks: Int = 3, shakyWindow: Int = 0) {
        self.device = device
        self.maxImmediateRetries = maxImmediateRetries
        self.maxPendingChecks = maxPendingChecks
        self.shakyWindow = shakyWindow
    }

    /// Feeds one TUR result. `dmState` is the path's state in the live map.
    public mutating func record(_ result: TURResult, dmState: DMStatus.PathState) -> Step {
        var verdict: PathCheckState
        switch TURClassifier.classify(result) {
        case .retryImmediately:
            if retriesThisCheck < maxImmediateRetries {
                retriesThisCheck += 1
                return .retryNow
            }
            verdict = .down
        case .state(let s):
            verdict = s
        }
        retriesThisCheck = 0
        if verdict == .pending {
            consecutivePending += 1
            if consecutivePending >= maxPendingChecks { verdict = .down }
        } else {
            consecutivePending = 0
        }
        return settle(verdict, dmState: dmState)
    }

    /// Settles a verdict that came from elsewhere (an event), with the same dm decision rules.
    public mutating func settle(_ verdict: PathCheckState, dmState: DMStatus.PathState) -> Step {
        var v = verdict
        if checksSinceReinstate < Int.max { checksSinceReinstate += 1 }
        switch v {
        case .up, .ghost:
            upStreak += 1
            if flapping && upStreak < shakyWindow { v = .shaky } else { flapping = false }
        case .down:
            if shakyWindow > 0 && checksSinceReinstate <= shakyWindow { flapping = true }
            upStreak = 0
        case .pending, .shaky:
            break
        }
        state = v
        let action: PathAction
        switch (v, dmState) {
        case (.up, .failed), (.ghost, .failed):
            action = .reinstatePath(device)
            checksSinceReinstate = 0
        case (.down, .active):
            action = .failPath(device)
        default:
            action = .none
        }
        return .checked(v, action)
    }
}
