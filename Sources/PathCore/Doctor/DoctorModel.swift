/// `pathctl doctor`: host checks against Pure's recommended configuration.
///
/// Every check is a `DoctorCheck` that turns `HostFacts` (everything the doctor read from
/// the host, gathered by HostStorage's `DoctorFactsReader`) into findings. Checks are pure:
/// tests feed them facts read from fixture hosts under `Tests/Fixtures/doctor/`.

/// How bad a finding is. Ordered: ok < info < warning < error.
public enum DoctorSeverity: String, Sendable, Codable, Comparable, CaseIterable {
    /// The setting matches the recommendation.
    case ok
    /// Something worth knowing that needs no action (a check that does not apply here).
    case info
    /// Works, but differs from the recommendation (slower failover, no space reclaim...).
    case warning
    /// Will cause failures (conflicting multipath managers, bad initiator name, clock skew).
    case error

    var rank: Int {
        switch self {
        case .ok: 0
        case .info: 1
        case .warning: 2
        case .error: 3
        }
    }
    public static func < (a: DoctorSeverity, b: DoctorSeverity) -> Bool { a.rank < b.rank }
}

/// One result of one check.
public struct DoctorFinding: Sendable, Codable, Equatable {
    /// Stable identifier (`host.queue.scheduler`, `multipath.claims`); operators and tests match on it.
    public var id: String
    public var severity: DoctorSeverity
    /// What the doctor found, naming the devices, files or values concerned.
    public var found: String
    /// What Pure's guide (or pathagent) recommends.
    public var recommended: String
    /// How to fix it; nil when nothing is to be done.
    public var fix: String?
    /// Devices, files or sessions the finding is about (for `--json` consumers).
    public var subjects: [String]

    public init(id: String, severity: DoctorSeverity, found: String, recommended: String, fix: String? = nil, subjects: [String] = []) {
        self.id = id
        self.severity = severity
        self.found = found
        self.recommended = recommended
        self.fix = fix
        self.subjects = subjects
    }
}

/// A group of related checks. Implement this to add checks to the doctor: the FlashArray
/// module's cinder.conf validator plugs in as one (see `Doctor.checks(cinderConf:)`).
public protocol DoctorCheck: Sendable {
    /// Short name of the group (`multipath`, `host`, `cinder.conf`); finding ids start with it.
    var name: String { get }
    /// Findings for this host; an empty array means "nothing to say", so prefer an `ok` or
    /// `info` finding that says what was checked.
    func run(_ facts: HostFacts) -> [DoctorFinding]
}

/// The doctor's result: every finding, in check order.
public struct DoctorReport: Sendable, Codable, Equatable {
    public var findings: [DoctorFinding]
    public init(findings: [DoctorFinding]) { self.findings = findings }

    /// The worst severity (`ok` when there are no findings).
    public var worst: DoctorSeverity { findings.map(\.severity).max() ?? .ok }

    /// `pathctl doctor`'s exit status: 0 only ok/info, 1 warnings, 2 errors.
    public var exitStatus: Int32 {
        switch worst {
        case .ok, .info: 0
        case .warning: 1
        case .error: 2
        }
    }

    public func findings(_ id: String) -> [DoctorFinding] { findings.filter { $0.id == id } }

    public func count(_ s: DoctorSeverity) -> Int { findings.filter { $0.severity == s }.count }
}

public enum Doctor {
    /// The built-in checks, in report order, with the cinder.conf slot last. Pass the
    /// FlashArray module's cinder.conf check as `cinderConf` once it is linked; without it,
    /// a `cinder.conf` given on the command line yields the explicit `cinder.unavailable` finding.
    public static func checks(cinderConf: (any DoctorCheck)? = nil) -> [any DoctorCheck] {
        [
            MultipathChecks(), HostChecks(), NovaConfCheck(), TimeSyncCheck(), DiscardChainCheck(),
            cinderConf ?? CinderConfUnavailable(),
        ]
    }

    public static func run(_ checks: [any DoctorCheck], on facts: HostFacts) -> DoctorReport {
        DoctorReport(findings: checks.flatMap { $0.run(facts) })
    }
}

/// The placeholder in the cinder.conf slot: this build has no cinder.conf validator (it
/// lives in the FlashArray module). Says so explicitly when a cinder.conf was given.
public struct CinderConfUnavailable: DoctorCheck {
    public init() {}
    public var name: String { "cinder" }
    public func run(_ facts: HostFacts) -> [DoctorFinding] {
        guard let conf = facts.cinderConf else { return [] }
        return [
            DoctorFinding(
                id: "cinder.unavailable", severity: .warning,
                found: "cinder.conf checks are not available in this build of pathctl; \(conf.path) was not checked",
                recommended: "a pathctl built with the FlashArray module validates the Pure backend stanzas of cinder.conf",
                fix: "use a pathctl built with the FlashArray module, or drop --cinder-conf",
                subjects: [conf.path])
        ]
    }
}
