/// A device-mapper `multipath` target line, the table the kernel's dm-mpath constructor
/// takes and `dmsetup table` prints back (drivers/md/dm-mpath.c, multipath_ctr/multipath_status):
///
///     <start> <len> multipath <#features> <features...> <#hwhandler args> [hwhandler args...]
///         <#pg> <initial pg> {<selector> <#sel args> [sel args...] <#paths> <#path args>
///         {<maj:min> [path args...]}...}...
///
/// e.g. `0 2097152 multipath 0 0 1 1 queue-length 0 2 1 8:16 1 8:32 1`.
/// `parse` and `rendered` are exact inverses for every well-formed line (apart from
/// whitespace: the kernel ends its lines with a space, `rendered` does not).
public struct DMTable: Hashable, Sendable, CustomStringConvertible {
    public struct Path: Hashable, Sendable {
        public var device: DeviceNumber
        /// Selector arguments of this path (`1` = repeat count for queue-length/round-robin,
        /// `1 1` = repeat count and relative throughput for service-time).
        public var args: [String]
        public init(device: DeviceNumber, args: [String]) {
            self.device = device
            self.args = args
        }
    }

    public struct Group: Hashable, Sendable {
        /// Path selector name: `queue-length`, `service-time`, `round-robin`, `historical-service-time`.
        public var selector: String
        public var selectorArgs: [String]
        /// Number of arguments each path carries (the `<#path args>` field).
        public var pathArgCount: Int
        public var paths: [Path]
        public init(selector: String, selectorArgs: [String] = [], pathArgCount: Int, paths: [Path]) {
            self.selector = selector
            self.selectorArgs = selectorArgs
            self.pathArgCount = pathArgCount
            self.paths = paths
        }
    }

    public var start: UInt64
    /// Length in 512-byte sectors.
    public var length: UInt64
    /// Feature words after the count: `[]`, `["queue_if_no_path"]`, `["pg_init_retries", "50"]`.
    public var features: [String]
    /// Hardware handler words after the count: `[]` or `["alua"]`.
    public var hardwareHandler: [String]
    /// 1-based number of the group the kernel tries first (0 only when there are no groups).
    /// Note: `dmsetup table` prints the *current* group here, not the one loaded (after a
    /// failover or `switch_group` the live table says 2 where 1 was loaded); compare tables
    /// with `sameMap(as:)`.
    public var initialGroup: Int
    public var groups: [Group]

    public init(start: UInt64 = 0, length: UInt64, features: [String] = [], hardwareHandler: [String] = [],
                initialGroup: Int = 1, groups: [Group]) {
        self.start = start
        self.length = length
        self.features = features
        self.hardwareHandler = hardwareHandler
        self.initialGroup = initialGroup
        self.groups = groups
    }

    /// True when the `queue_if_no_path` feature is set.
    public var queueIfNoPath: Bool { features.contains("queue_if_no_path") }

    /// Every path device in table order.
    public var devices: [DeviceNumber] { groups.flatMap { $0.paths.map(\.device) } }

    /// True when both describe the same map, ignoring `initialGroup` (which the kernel reports
    /// as the current group).
    public func sameMap(as other: DMTable) -> Bool {
        var a = self, b = other
        a.initialGroup = 0
        b.initialGroup = 0
        return a == b
    }

    // MARK: assemble

    /// Checks the counts the kernel checks (path arguments per group, initial group in range).
    public func validate() throws {
        guard initialGroup >= (groups.isEmpty ? 0 : 1), initialGroup <= groups.count else {
            throw PathCoreError(.invalidValue, "dm table: initial path group \(initialGroup) is not in 1...\(groups.count)")
        }
        var seen = Set<DeviceNumber>()
        for (gi, g) in groups.enumerated() {
            guard !g.selector.isEmpty, !g.selector.contains(" ") else {
                throw PathCoreError(.invalidValue, "dm table: group \(gi + 1) has no valid path selector name: '\(g.selector)'")
            }
            for p in g.paths {
                guard p.args.count == g.pathArgCount else {
                    throw PathCoreError(.invalidValue,
                        "dm table: path \(p.device) in group \(gi + 1) has \(p.args.count) arguments, the group declares \(g.pathArgCount)")
                }
                guard seen.insert(p.device).inserted else {
                    throw PathCoreError(.conflict, "dm table: path \(p.device) appears twice")
                }
            }
        }
    }

    /// The target parameters (everything after `multipath`), what libdevmapper's
    /// `dm_task_add_target` takes as `params`.
    public func renderedParams() throws -> String {
        try validate()
        var w: [String] = []
        w.append(String(features.count)); w += features
        w.append(String(hardwareHandler.count)); w += hardwareHandler
        w.append(String(groups.count)); w.append(String(initialGroup))
        for g in groups {
            w.append(g.selector)
            w.append(String(g.selectorArgs.count)); w += g.selectorArgs
            w.append(String(g.paths.count)); w.append(String(g.pathArgCount))
            for p in g.paths {
                w.append(p.device.description); w += p.args
            }
        }
        return w.joined(separator: " ")
    }

    /// The whole line as `dmsetup table` prints it (without the trailing space).
    public func rendered() throws -> String {
        "\(start) \(length) multipath " + (try renderedParams())
    }

    public var description: String { (try? rendered()) ?? "invalid dm table (\(groups.count) groups)" }

    // MARK: parse

    /// Parses a full line (`0 2097152 multipath ...`, optionally prefixed by `name:` as
    /// `dmsetup table` prints it for all maps) or bare target parameters (start and length
    /// then come from the caller: `parse(params:start:length:)`). Errors name the token number.
    public static func parse(_ line: String) throws -> DMTable {
        var r = DMTokenReader(line, what: "dm table")
        let h = try r.header()
        guard h.hasHeader else {
            throw PathCoreError(.invalidValue, "dm table: expected '<start> <length> multipath ...'", detail: "token 1")
        }
        return try parseBody(&r, start: h.start, length: h.length)
    }

    /// Parses bare target parameters (libdevmapper's `dm_get_next_target` `params`).
    public static func parse(params: String, start: UInt64 = 0, length: UInt64) throws -> DMTable {
        var r = DMTokenReader(params, what: "dm table")
        return try parseBody(&r, start: start, length: length)
    }

    static func parseBody(_ r: inout DMTokenReader, start: UInt64, length: UInt64) throws -> DMTable {
        let features = try r.countedWords("feature arguments")
        let hw = try r.countedWords("hardware handler arguments")
        let pgPos = r.position
        let nGroups: Int = try r.number("number of path groups")
        let initPos = r.position
        let initial: Int = try r.number("initial path group")
        guard nGroups >= 0, nGroups <= r.remaining else { throw r.error("a plausible number of path groups", at: pgPos) }
        guard initial >= (nGroups == 0 ? 0 : 1), initial <= nGroups else {
            throw r.error("initial path group in 1...\(nGroups)", at: initPos)
        }
        var groups: [Group] = []
        for _ in 0..<nGroups {
            let selPos = r.position
            let sel = try r.word("path selector name")
            guard Int(sel) == nil else { throw r.error("path selector name", at: selPos) }
            let selArgs = try r.countedWords("selector arguments")
            let npPos = r.position
            let nPaths: Int = try r.number("number of paths")
            let nArgs: Int = try r.number("number of path arguments")
            guard nPaths >= 0, nArgs >= 0, nPaths <= r.remaining, nArgs <= r.remaining, nPaths * (1 + nArgs) <= r.remaining else {
                throw r.error("\(nPaths) paths with \(nArgs) arguments each", at: npPos)
            }
            var paths: [Path] = []
            for _ in 0..<nPaths {
                let dev = try r.device()
                var args: [String] = []
                for _ in 0..<nArgs { args.append(try r.word("path argument")) }
                paths.append(Path(device: dev, args: args))
            }
            groups.append(Group(selector: sel, selectorArgs: selArgs, pathArgCount: nArgs, paths: paths))
        }
        try r.expectEnd()
        return DMTable(start: start, length: length, features: features, hardwareHandler: hw,
                       initialGroup: initial, groups: groups)
    }
}
