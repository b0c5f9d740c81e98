import Synchronization

/// Prometheus text exposition format 0.0.4 (`Content-Type: text/plain; version=0.0.4`):
/// `# HELP` and `# TYPE` per family, one sample per line, label values escaped (`\\`,
/// `\"`, `\n`), histograms as cumulative `_bucket{le="..."}` series ending in `+Inf`
/// plus `_sum` and `_count`. Pure: a registry of values and a renderer, no I/O.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public enum MetricType: String, Sendable {
        case counter, gauge, histogram
    }

    /// A label value with `\`, `"` and newline escaped.
    public static func escapeLabelValue(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// HELP text with `\` and newline escaped.
    public static func escapeHelp(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// `1`, `0.25`, `+Inf`, `-Inf`, `NaN` (integers without a fraction).
    public static func value(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v == .infinity { return "+Inf" }
        if v == -.infinity { return "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    /// Metric and label names: `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels without `:`).
    public static func isValidName(_ s: String, label: Bool = false) -> Bool {
        guard let f = s.unicodeScalars.first else { return false }
        func ok(_ u: Unicode.Scalar, first: Bool) -> Bool {
            (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || u == "_" || (!label && u == ":") || (!first && u >= "0" && u <= "9")
        }
        return ok(f, first: true) && s.unicodeScalars.dropFirst().allSatisfy { ok($0, first: false) }
    }

    static func labelText(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
    }
}

/// Label values of one series, in the family's label-name order.
public struct LabelValues: Hashable, Sendable, Comparable {
    public var values: [String]
    public init(_ values: [String]) { self.values = values }
    public static func < (a: LabelValues, b: LabelValues) -> Bool { a.values.lexicographicallyPrecedes(b.values) }
}

/// A thread-safe set of metric families: counters, gauges and histograms with fixed label
/// names. Labels must be bounded (per map, per state, per error code), never per I/O.
public final class MetricsRegistry: Sendable {
    public struct Family: Sendable {
        public var name: String
        public var help: String
        public var type: PrometheusText.MetricType
        public var labelNames: [String]
        /// Histogram upper bounds, ascending, without +Inf.
        public var buckets: [Double]
    }

    struct Histogram: Sendable {
        var counts: [UInt64]
        var sum: Double
        var count: UInt64
    }

    struct Store: Sendable {
        var families: [String: Family] = [:]
        var values: [String: [LabelValues: Double]] = [:]
        var histograms: [String: [LabelValues: Histogram]] = [:]
    }

    private let store = Mutex(Store())

    public init() {}

    /// Defines a family (idempotent for the same definition). Traps on an invalid name or a
    /// conflicting redefinition: both are programmer errors.
    public func define(_ name: String, _ type: PrometheusText.MetricType, help: String, labels: [String] = [], buckets: [Double] = []) {
        precondition(PrometheusText.isValidName(name), "invalid metric name \(name)")
        precondition(labels.allSatisfy { PrometheusText.isValidName($0, label: true) && $0 != "le" && !$0.hasPrefix("__") }, "invalid label names \(labels)")
        precondition(type != .histogram || (!buckets.isEmpty && zip(buckets, buckets.dropFirst()).allSatisfy { $0 < $1 }), "histogram \(name) needs ascending buckets")
        let f = Family(name: name, help: help, type: type, labelNames: labels, buckets: buckets)
        store.withLock { s in
            if let old = s.families[name] {
                precondition(old.type == type && old.labelNames == labels && old.buckets == buckets, "metric \(name) redefined differently")
                return
            }
            s.families[name] = f
        }
    }

    private func check(_ s: Store, _ name: String, _ labels: [String], _ type: PrometheusText.MetricType) {
        guard let f = s.families[name] else { preconditionFailure("metric \(name) is not defined") }
        precondition(f.type == type, "metric \(name) is a \(f.type), not a \(type)")
        precondition(f.labelNames.count == labels.count, "metric \(name) takes labels \(f.labelNames), got \(labels.count) values")
    }

    /// Adds `by` (>= 0) to a counter.
    public func increment(_ name: String, _ labels: [String] = [], by: Double = 1) {
        precondition(by >= 0, "counters only go up")
        store.withLock { s in
            check(s, name, labels, .counter)
            s.values[name, default: [:]][LabelValues(labels), default: 0] += by
        }
    }

    public func set(_ name: String, _ labels: [String] = [], _ value: Double) {
        store.withLock { s in
            check(s, name, labels, .gauge)
            s.values[name, default: [:]][LabelValues(labels)] = value
        }
    }

    /// Replaces every series of a gauge family at once (e.g. paths by state after a scan),
    /// so states that no longer occur disappear instead of keeping stale values.
    public func replaceAll(_ name: String, _ series: [([String], Double)]) {
        store.withLock { s in
            for (l, _) in series { check(s, name, l, .gauge) }
            s.values[name] = Dictionary(series.map { (LabelValues($0.0), $0.1) }, uniquingKeysWith: { _, b in b })
        }
    }

    public func observe(_ name: String, _ labels: [String] = [], _ value: Double) {
        store.withLock { s in
            check(s, name, labels, .histogram)
            let f = s.families[name]!
            var h = s.histograms[name]?[LabelValues(labels)] ?? Histogram(counts: Array(repeating: 0, count: f.buckets.count), sum: 0, count: 0)
            if let i = f.buckets.firstIndex(where: { value <= $0 }) { h.counts[i] += 1 }
            h.sum += value
            h.count += 1
            s.histograms[name, default: [:]][LabelValues(labels)] = h
        }
    }

    /// Removes every series whose label `label` equals `value` (a detached map), in all families.
    public func forget(label: String, value: String) {
        store.withLock { s in
            for (name, f) in s.families {
                guard let i = f.labelNames.firstIndex(of: label) else { continue }
                s.values[name] = s.values[name]?.filter { $0.key.values[i] != value }
                s.histograms[name] = s.histograms[name]?.filter { $0.key.values[i] != value }
            }
        }
    }

    /// Current value of a counter or gauge series (nil when never set).
    public func value(_ name: String, _ labels: [String] = []) -> Double? {
        store.withLock { $0.values[name]?[LabelValues(labels)] }
    }

    /// The exposition text of every family, sorted by name, series sorted by label values.
    public func render() -> String {
        let s = store.withLock { $0 }
        var out = ""
        for name in s.families.keys.sorted() {
            let f = s.families[name]!
            out += "# HELP \(name) \(PrometheusText.escapeHelp(f.help))\n"
            out += "# TYPE \(name) \(f.type.rawValue)\n"
            switch f.type {
            case .counter, .gauge:
                let series = s.values[name] ?? [:]
                if series.isEmpty && f.labelNames.isEmpty {
                    out += "\(name) 0\n"
                }
                for key in series.keys.sorted() {
                    out += name + PrometheusText.labelText(Array(zip(f.labelNames, key.values))) + " " + PrometheusText.value(series[key]!) + "\n"
                }
            case .histogram:
                var series = s.histograms[name] ?? [:]
                if series.isEmpty && f.labelNames.isEmpty {
                    series[LabelValues([])] = Histogram(counts: Array(repeating: 0, count: f.buckets.count), sum: 0, count: 0)
                }
                for key in series.keys.sorted() {
                    let h = series[key]!
                    let base = Array(zip(f.labelNames, key.values))
                    var cumulative: UInt64 = 0
                    for (i, le) in f.buckets.enumerated() {
                        cumulative += h.counts[i]
                        out += "\(name)_bucket" + PrometheusText.labelText(base + [("le", PrometheusText.value(le))]) + " \(cumulative)\n"
                    }
                    out += "\(name)_bucket" + PrometheusText.labelText(base + [("le", "+Inf")]) + " \(h.count)\n"
                    out += "\(name)_sum" + PrometheusText.labelText(base) + " " + PrometheusText.value(h.sum) + "\n"
                    out += "\(name)_count" + PrometheusText.labelText(base) + " \(h.count)\n"
                }
            }
        }
        return out
    }
}
