import Foundation
import Testing
import HostStorage
@testable import PathCore

/// The metrics text goes through the Prometheus reference parser (prometheus_client's
/// `text_string_to_metric_families`, via scripts/check-prometheus-text) and what the
/// parser read back is compared with what was recorded.
@Suite("metrics in Prometheus text format 0.0.4")
struct MetricsTests {
    struct Family: Decodable {
        var name: String
        var type: String
        var help: String
        var samples: [Sample]
    }

    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double?
        var special: String?
        init(from d: Decoder) throws {
            var c = try d.unkeyedContainer()
            name = try c.decode(String.self)
            labels = try c.decode([String: String].self)
            if let v = try? c.decode(Double.self) { value = v; special = nil } else { special = try c.decode(String.self); value = nil }
        }
    }

    func parse(_ text: String) throws -> [Family] {
        let r = try Repo.run(["python3", Repo.path("scripts/check-prometheus-text")], stdin: text)
        try #require(r.status == 0, "prometheus_client parser rejected the text (exit \(r.status)): \(r.stderr)\n\(text)")
        return try JSONDecoder().decode([Family].self, from: Data(r.stdout.utf8))
    }

    func sample(_ fams: [Family], _ name: String, _ labels: [String: String]) -> Double? {
        fams.flatMap(\.samples).first { $0.name == name && $0.labels == labels }?.value
    }

    @Test func agentMetricsParseAndRoundTrip() throws {
        let m = PathAgentMetrics()
        let topo = TopologyScanner(sysfs: DiskSysfsFixture.degraded).scan()
        m.recordInventory(topo, durationSeconds: 0.0042)
        m.setMapPaths(map: "3624a93709714b5cb91634c4700000001", active: 1, failed: 1)
        for s in [0.0003, 0.0007, 0.002, 0.5] { m.observeChecker(transport: .iscsi, seconds: s) }
        m.attachSucceeded(transport: .iscsi, seconds: 0.8)
        m.attachSucceeded(transport: .iscsi, seconds: 1.7)
        m.attachFailed(transport: .fc, reason: "not_found")
        m.detachSucceeded(transport: .fc, seconds: 0.3)
        m.detachFailed(transport: .iscsi, reason: "busy")
        m.unmapped(map: "3624a93709714b5cb91634c4700000001", bytes: 1 << 30, commands: 256)
        m.unmapped(map: "3624a93709714b5cb91634c4700000001", bytes: 4096, commands: 0, rejected: 1)
        m.journalReplayed(.completed, count: 2)
        m.journalReplayed(.rolledBack)
        let fams = try parse(m.render())

        let byName = Dictionary(uniqueKeysWithValues: fams.map { ($0.name, $0) })
        #expect(byName["pathagent_paths"]?.type == "gauge")
        #expect(byName["pathagent_attach_duration_seconds"]?.type == "histogram")
        // prometheus_client strips the _total suffix from counter family names
        #expect(byName["pathagent_unmap_bytes"]?.type == "counter")
        #expect(byName["pathagent_journal_replays"]?.help == "Intent-journal entries replayed at start-up, by outcome.")

        // degraded fixture: 3 iSCSI paths on the failed session, 1 offline FC path
        #expect(sample(fams, "pathagent_paths", ["transport": "iscsi", "state": "active"]) == 3)
        #expect(sample(fams, "pathagent_paths", ["transport": "iscsi", "state": "session_failed"]) == 3)
        #expect(sample(fams, "pathagent_paths", ["transport": "fc", "state": "offline"]) == 1)
        #expect(sample(fams, "pathagent_maps", ["status": "degraded"]) == 2)
        #expect(sample(fams, "pathagent_maps", ["status": "ok"]) == 0)
        #expect(sample(fams, "pathagent_inventory_duration_seconds", [:]) == 0.0042)

        // histogram: cumulative buckets, +Inf == count, sum
        let h = "pathagent_checker_duration_seconds"
        #expect(sample(fams, h + "_bucket", ["transport": "iscsi", "le": "0.0005"]) == 1)
        #expect(sample(fams, h + "_bucket", ["transport": "iscsi", "le": "0.001"]) == 2)
        #expect(sample(fams, h + "_bucket", ["transport": "iscsi", "le": "0.5"]) == 4)
        #expect(sample(fams, h + "_bucket", ["transport": "iscsi", "le": "+Inf"]) == 4)
        #expect(sample(fams, h + "_count", ["transport": "iscsi"]) == 4)
        #expect(abs((sample(fams, h + "_sum", ["transport": "iscsi"]) ?? 0) - 0.503) < 1e-9)
        #expect(sample(fams, "pathagent_attach_duration_seconds_bucket", ["transport": "iscsi", "le": "1"]) == 1)
        #expect(sample(fams, "pathagent_attach_duration_seconds_count", ["transport": "iscsi"]) == 2)

        #expect(sample(fams, "pathagent_attach_failures_total", ["transport": "fc", "reason": "not_found"]) == 1)
        #expect(sample(fams, "pathagent_detach_failures_total", ["transport": "iscsi", "reason": "busy"]) == 1)
        #expect(sample(fams, "pathagent_unmap_bytes_total", ["map": "3624a93709714b5cb91634c4700000001"]) == Double((1 << 30) + 4096))
        #expect(sample(fams, "pathagent_unmap_commands_total", ["map": "3624a93709714b5cb91634c4700000001", "result": "rejected"]) == 1)
        #expect(sample(fams, "pathagent_journal_replays_total", ["outcome": "rolled_back"]) == 1)
        #expect(sample(fams, "pathagent_map_paths", ["map": "3624a93709714b5cb91634c4700000001", "state": "failed"]) == 1)

        // forgetting a detached map drops its series
        m.forgetMap("3624a93709714b5cb91634c4700000001")
        let after = try parse(m.render())
        #expect(sample(after, "pathagent_unmap_bytes_total", ["map": "3624a93709714b5cb91634c4700000001"]) == nil)
        #expect(sample(after, "pathagent_map_paths", ["map": "3624a93709714b5cb91634c4700000001", "state": "failed"]) == nil)
        #expect(sample(after, "pathagent_attach_failures_total", ["transport": "fc", "reason": "not_found"]) == 1)
    }

    @Test func labelAndHelpEscapingSurvivesTheParser() throws {
        let r = MetricsRegistry()
        r.define("t_escape", .gauge, help: "back\\slash and\nnewline", labels: ["v"])
        let nasty = "quote\" back\\slash new\nline"
        r.set("t_escape", [nasty], 1.5)
        r.define("t_special", .gauge, help: "special values", labels: ["k"])
        r.set("t_special", ["inf"], .infinity)
        r.set("t_special", ["nan"], .nan)
        let text = r.render()
        #expect(text.contains(#"t_escape{v="quote\" back\\slash new\nline"} 1.5"#))
        #expect(text.contains("# HELP t_escape back\\\\slash and\\nnewline"))
        let fams = try parse(text)
        #expect(fams.first { $0.name == "t_escape" }?.samples.first?.labels["v"] == nasty)
        #expect(fams.first { $0.name == "t_escape" }?.help == "back\\slash and\nnewline")
        #expect(fams.first { $0.name == "t_special" }?.samples.compactMap(\.special).sorted() == ["+Inf", "NaN"])
    }

    @Test func emptyRegistryAndUnlabelledFamiliesRender() throws {
        let r = MetricsRegistry()
        r.define("t_c_total", .counter, help: "c")
        r.define("t_h", .histogram, help: "h", buckets: [1, 2])
        let fams = try parse(r.render())
        #expect(sample(fams, "t_c_total", [:]) == 0)
        #expect(sample(fams, "t_h_bucket", ["le": "+Inf"]) == 0)
        #expect(sample(fams, "t_h_count", [:]) == 0)
    }

    @Test func parserRejectsBrokenText() throws {
        // the checker is not vacuous: malformed exposition fails
        let r = try Repo.run(["python3", Repo.path("scripts/check-prometheus-text")], stdin: "# TYPE x gauge\nx{a=\"unterminated} 1\n")
        #expect(r.status == 1)
    }
}

enum DiskSysfsFixture {
    static var degraded: DiskSysfs { DiskSysfs(root: Repo.path("Tests/Fixtures/iscsi-fc-dm-degraded/sys")) }
}
