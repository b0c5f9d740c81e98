/// pathagent's multipath config file: a small INI-like format (chosen over multipath.conf's
/// nested braces because every setting is one `key = value` line, so every error can name
/// `file:line` and every value's origin is one line):
///
///     # comment (also ';')
///     [defaults]                       # applies to every array
///     polling_interval = 5
///
///     [device "PURE" "FlashArray"]     # vendor and product are regular expressions,
///     no_path_retry = queue            # matched anywhere in the INQUIRY strings like
///     features = "1 queue_if_no_path"  # multipath-tools' regexec (anchor with ^...$)
///
/// Values may be double-quoted. Keys are the multipath.conf names: polling_interval,
/// path_selector, path_grouping_policy, path_checker, fast_io_fail_tmo, dev_loss_tmo,
/// no_path_retry, features, hardware_handler, prio, failback, detect_prio, max_sectors_kb,
/// and the udev-ish queue settings scheduler, add_random, rq_affinity, device_timeout.
/// Precedence (lowest first): built-in default, vendor profile, `[defaults]`, matching
/// `[device]` sections in file order, caller overrides.
public struct MultipathConfig: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: String
        public var line: Int
    }

    public struct Section: Hashable, Sendable {
        /// nil for `[defaults]`.
        public var vendorPattern: String?
        public var productPattern: String?
        public var line: Int
        public var entries: [Entry]
    }

    public var path: String
    public var sections: [Section]

    public static let knownKeys: Set<String> = [
        "polling_interval", "path_selector", "path_grouping_policy", "path_checker",
        "fast_io_fail_tmo", "dev_loss_tmo", "no_path_retry", "features", "hardware_handler",
        "prio", "failback", "detect_prio", "max_sectors_kb",
        "scheduler", "add_random", "rq_affinity", "device_timeout",
    ]

    /// Parses the text of the file at `path` (the path is only used in origins and errors).
    /// Unknown keys, bad values, bad section headers and invalid regular expressions are
    /// errors naming `path:line`.
    public static func parse(_ text: String, path: String) throws -> MultipathConfig {
        var sections: [Section] = []
        var lineNo = 0
        // Values are checked against a scratch settings value so bad values fail at parse time.
        var scratch = HardwareTable.generic
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {  // CRLF is one Character
            lineNo += 1
            let line = stripComment(rawLine).trimmingWhitespace()
            if line.isEmpty { continue }
            func fail(_ msg: String) -> PathCoreError {
                PathCoreError(.invalidValue, "\(path):\(lineNo): \(msg)", detail: "\(path):\(lineNo)")
            }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("section header must end with ']'") }
                let inner = String(line.dropFirst().dropLast()).trimmingWhitespace()
                if inner == "defaults" {
                    sections.append(Section(vendorPattern: nil, productPattern: nil, line: lineNo, entries: []))
                    continue
                }
                guard inner.hasPrefix("device") else {
                    throw fail("unknown section '[\(inner)]' (expected [defaults] or [device \"VENDOR\" \"PRODUCT\"])")
                }
                let quoted = try quotedStrings(String(inner.dropFirst("device".count)), fail: fail)
                guard quoted.count == 2 else {
                    throw fail("[device] needs a quoted vendor and a quoted product regular expression")
                }
                for q in quoted {
                    do { _ = try Regex(q) } catch { throw fail("invalid regular expression '\(q)'") }
                }
                sections.append(Section(vendorPattern: quoted[0], productPattern: quoted[1], line: lineNo, entries: []))
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { throw fail("expected 'key = value'") }
            let key = String(line[..<eq]).trimmingWhitespace()
            var value = String(line[line.index(after: eq)...]).trimmingWhitespace()
            if value.hasPrefix("\"") {
                guard value.count >= 2, value.hasSuffix("\"") else { throw fail("unterminated quoted value") }
                value = String(value.dropFirst().dropLast())
            }
            guard knownKeys.contains(key) else { throw fail("unknown key '\(key)'") }
            guard !sections.isEmpty else { throw fail("'\(key)' outside a [defaults] or [device] section") }
            do {
                try scratch.set(key, value, origin: .configFile(path: path, line: lineNo))
            } catch let e as PathCoreError {
                throw fail(e.message)
            }
            sections[sections.count - 1].entries.append(Entry(key: key, value: value, line: lineNo))
        }
        return MultipathConfig(path: path, sections: sections)
    }

    private static func stripComment(_ s: Substring) -> Substring {
        var inQuote = false
        for i in s.indices {
            let c = s[i]
            if c == "\"" { inQuote.toggle() }
            if !inQuote && (c == "#" || c == ";") { return s[..<i] }
        }
        return s
    }

    private static func quotedStrings(_ s: String, fail: (String) -> PathCoreError) throws -> [String] {
        var out: [String] = []
        var cur: String? = nil
        for c in s {
            if c == "\"" {
                if let v = cur { out.append(v); cur = nil } else { cur = "" }
            } else if cur != nil {
                cur!.append(c)
            } else if c != " " && c != "\t" {
                throw fail("unexpected '\(c)' in section header (quote vendor and product)")
            }
        }
        if cur != nil { throw fail("unterminated quote in section header") }
        return out
    }

    /// True when a `[device]` section matches these INQUIRY vendor/product strings.
    public static func matches(_ section: Section, vendor: String, product: String) -> Bool {
        guard let vp = section.vendorPattern, let pp = section.productPattern else { return true }
        guard let vr = try? Regex(vp), let pr = try? Regex(pp) else { return false }
        return vendor.trimmingWhitespace().firstMatch(of: vr) != nil
            && product.trimmingWhitespace().firstMatch(of: pr) != nil
    }
}

extension MultipathSettings {
    /// Sets one setting from its config-file text (multipath.conf spelling).
    public mutating func set(_ key: String, _ value: String, origin: SettingOrigin) throws {
        func int(_ min: Int = 0) throws -> Int {
            guard let n = Int(value), n >= min else {
                throw PathCoreError(.invalidValue, "\(key) must be an integer >= \(min), got '\(value)'")
            }
            return n
        }
        func optInt(offWords: Set<String>) throws -> Int? {
            if offWords.contains(value) { return nil }
            return try int()
        }
        func counted() throws -> [String] {
            let w = value.split(separator: " ").map(String.init)
            guard let n = w.first.flatMap({ Int($0) }), n == w.count - 1 else {
                throw PathCoreError(.invalidValue, "\(key) must be '<count> <words...>' with a matching count, got '\(value)'")
            }
            return Array(w.dropFirst())
        }
        switch key {
        case "polling_interval": pollingInterval = Setting(try int(1), origin)
        case "path_selector":
            let w = value.split(separator: " ")
            guard let name = w.first, ["queue-length", "service-time", "round-robin", "historical-service-time"].contains(String(name)),
                  let n = w.dropFirst().first.flatMap({ Int($0) }), n == w.count - 2 else {
                throw PathCoreError(.invalidValue, "path_selector must be '<queue-length|service-time|round-robin|historical-service-time> <#args> [args]', got '\(value)'")
            }
            pathSelector = Setting(value, origin)
        case "path_grouping_policy":
            guard let p = PathGroupingPolicy(rawValue: value) else {
                throw PathCoreError(.invalidValue, "path_grouping_policy must be one of \(PathGroupingPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value)'")
            }
            pathGroupingPolicy = Setting(p, origin)
        case "path_checker":
            guard ["tur", "readsector0", "directio", "none"].contains(value) else {
                throw PathCoreError(.invalidValue, "path_checker must be tur, readsector0, directio or none, got '\(value)'")
            }
            pathChecker = Setting(value, origin)
        case "fast_io_fail_tmo": fastIOFailTmo = Setting(try optInt(offWords: ["off"]), origin)
        case "dev_loss_tmo": devLossTmo = Setting(value == "infinity" ? Int(Int32.max) : try int(), origin)
        case "no_path_retry": noPathRetry = Setting(try NoPathRetry(parsing: value), origin)
        case "features": features = Setting(try counted(), origin)
        case "hardware_handler": hardwareHandler = Setting(try counted(), origin)
        case "prio":
            guard ["const", "alua", "sysfs"].contains(value) else {
                throw PathCoreError(.invalidValue, "prio must be const, alua or sysfs, got '\(value)'")
            }
            prio = Setting(value, origin)
        case "failback": failback = Setting(try Failback(parsing: value), origin)
        case "detect_prio":
            guard value == "yes" || value == "no" else {
                throw PathCoreError(.invalidValue, "detect_prio must be yes or no, got '\(value)'")
            }
            detectPrio = Setting(value == "yes", origin)
        case "max_sectors_kb": maxSectorsKB = Setting(try int(4), origin)
        case "scheduler":
            guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw PathCoreError(.invalidValue, "scheduler must be a scheduler name such as none or mq-deadline, got '\(value)'")
            }
            scheduler = Setting(value, origin)
        case "add_random":
            guard value == "0" || value == "1" else {
                throw PathCoreError(.invalidValue, "add_random must be 0 or 1, got '\(value)'")
            }
            addRandom = Setting(Int(value)!, origin)
        case "rq_affinity":
            guard ["0", "1", "2"].contains(value) else {
                throw PathCoreError(.invalidValue, "rq_affinity must be 0, 1 or 2, got '\(value)'")
            }
            rqAffinity = Setting(Int(value)!, origin)
        case "device_timeout": deviceTimeout = Setting(try int(1), origin)
        default:
            throw PathCoreError(.unsupported, "unknown multipath setting '\(key)'")
        }
    }
}
