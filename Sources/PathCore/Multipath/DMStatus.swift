/// The status of a device-mapper `multipath` target (`dmsetup status`, DM_TABLE_STATUS),
/// as drivers/md/dm-mpath.c `multipath_status` (STATUSTYPE_INFO) emits it:
///
///     <start> <len> multipath <#feature status> <queue_io> <pg_init_count>
///         <#hwhandler status args (always 0)> <#pg> <next pg>
///         {<D|A|E> <#pg selector status args> [args...] <#paths> <#selector path args>
///         {<maj:min> <A|F> <fail count> [selector path args...]}...}...
///
/// e.g. `0 2097152 multipath 2 0 0 0 1 1 A 0 2 1 8:16 A 0 0 8:32 F 1 0` (queue-length has one
/// per-path status argument, the in-flight I/O count; service-time two; round-robin none).
public struct DMStatus: Hashable, Sendable {
    public enum GroupState: Character, Hashable, Sendable {
        /// The group the kernel currently sends I/O to.
        case active = "A"
        /// Usable, not current.
        case enabled = "E"
        /// Bypassed (`disable_group`, or after a failed pg_init).
        case disabled = "D"
    }

    public enum PathState: Character, Hashable, Sendable {
        case active = "A"
        case failed = "F"
    }

    public struct Path: Hashable, Sendable {
        public var device: DeviceNumber
        public var state: PathState
        /// Cumulative number of times the kernel failed this path.
        public var failCount: UInt32
        /// Selector-specific per-path status (queue-length: in-flight I/Os; service-time:
        /// in-flight size and relative throughput).
        public var selectorArgs: [String]
    }

    public struct Group: Hashable, Sendable {
        public var state: GroupState
        public var selectorStatus: [String]
        public var paths: [Path]
    }

    public var start: UInt64
    public var length: UInt64
    /// The feature status words (after the count). Current kernels emit two.
    public var featureStatus: [String]
    /// First feature status word. Current kernels print the MPATHF_QUEUE_IO flag: 1 while I/O
    /// is held back for a pending path-group initialisation (pg_init). It stays 0 while I/O is
    /// queued because no path is left (captured on 6.1: Tests/Fixtures/dm/lab-kernel-6.1.txt).
    /// Kernels before 4.x printed the number of queued I/Os here; multipath-tools' dmparser
    /// calls it `queuedio`.
    public var queueIO: UInt32? { featureStatus.first.flatMap { UInt32($0) } }
    /// Second feature status word: how many times a pg_init (hardware handler activation) ran.
    public var pgInitCount: UInt32? { featureStatus.count > 1 ? UInt32(featureStatus[1]) : nil }
    public var hardwareHandlerStatus: [String]
    /// 1-based number of the group that is current (or will be used next); 0 when there is none.
    public var nextGroup: Int
    public var groups: [Group]

    public var paths: [Path] { groups.flatMap(\.paths) }
    public func path(_ device: DeviceNumber) -> Path? { paths.first { $0.device == device } }
    public var failedDevices: [DeviceNumber] { paths.filter { $0.state == .failed }.map(\.device) }
    public var activeDevices: [DeviceNumber] { paths.filter { $0.state == .active }.map(\.device) }

    /// Parses a full status line (optionally `name:`-prefixed) or bare status parameters.
    public static func parse(_ line: String) throws -> DMStatus {
        var r = DMTokenReader(line, what: "dm status")
        let h = try r.header()
        return try parseBody(&r, start: h.start, length: h.length)
    }

    public static func parse(params: String, start: UInt64 = 0, length: UInt64) throws -> DMStatus {
        var r = DMTokenReader(params, what: "dm status")
        return try parseBody(&r, start: start, length: length)
    }

    static func parseBody(_ r: inout DMTokenReader, start: UInt64, length: UInt64) throws -> DMStatus {
        let fpos = r.position
        let features = try r.countedWords("feature status arguments")
        for (i, f) in features.enumerated() where UInt32(f) == nil {
            throw r.error("a number (feature status)", at: fpos + 1 + i)
        }
        let hw = try r.countedWords("hardware handler status arguments")
        let pgPos = r.position
        let nGroups: Int = try r.number("number of path groups")
        let nextPos = r.position
        let next: Int = try r.number("next path group")
        guard nGroups >= 0, nGroups <= r.remaining else { throw r.error("a plausible number of path groups", at: pgPos) }
        guard next >= 0, next <= nGroups else { throw r.error("next path group in 0...\(nGroups)", at: nextPos) }
        var groups: [Group] = []
        for _ in 0..<nGroups {
            let sp = r.position
            let sw = try r.word("path group state A, E or D")
            guard sw.count == 1, let st = GroupState(rawValue: sw.first!) else {
                throw r.error("path group state A, E or D", at: sp)
            }
            let selStatus = try r.countedWords("path group selector status arguments")
            let npPos = r.position
            let nPaths: Int = try r.number("number of paths")
            let nArgs: Int = try r.number("number of selector path status arguments")
            guard nPaths >= 0, nArgs >= 0, nPaths <= r.remaining, nArgs <= r.remaining, nPaths * (3 + nArgs) <= r.remaining else {
                throw r.error("\(nPaths) paths with \(nArgs) selector arguments each", at: npPos)
            }
            var paths: [Path] = []
            for _ in 0..<nPaths {
                let dev = try r.device()
                let ap = r.position
                let aw = try r.word("path state A or F")
                guard aw.count == 1, let ps = PathState(rawValue: aw.first!) else {
                    throw r.error("path state A or F", at: ap)
                }
                let fc: UInt32 = try r.number("fail count")
                var args: [String] = []
                for _ in 0..<nArgs { args.append(try r.word("selector path status argument")) }
                paths.append(Path(device: dev, state: ps, failCount: fc, selectorArgs: args))
            }
            groups.append(Group(state: st, selectorStatus: selStatus, paths: paths))
        }
        try r.expectEnd()
        return DMStatus(start: start, length: length, featureStatus: features, hardwareHandlerStatus: hw,
                        nextGroup: next, groups: groups)
    }
}
