/// The agent's metrics, with bounded labels: per map (a volume's WWN), per path state,
/// per transport, per error code; never per I/O. The daemon creates one instance, calls
/// the recording methods from its services, and serves `render()` at `GET /metrics`
/// with `PrometheusText.contentType`.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `pathagent_paths` | gauge | `transport`, `state` (active, failed, offline, ...) |
/// | `pathagent_maps` | gauge | `status` (ok, degraded, failed) |
/// | `pathagent_map_paths` | gauge | `map`, `state` (active, failed) |
/// | `pathagent_checker_duration_seconds` | histogram | `transport` |
/// | `pathagent_attach_duration_seconds` | histogram | `transport` |
/// | `pathagent_detach_duration_seconds` | histogram | `transport` |
/// | `pathagent_attach_failures_total` | counter | `transport`, `reason` (error code) |
/// | `pathagent_detach_failures_total` | counter | `transport`, `reason` (error code) |
/// | `pathagent_unmap_bytes_total` | counter | `map` |
/// | `pathagent_unmap_commands_total` | counter | `map`, `result` (ok, rejected) |
/// | `pathagent_journal_replays_total` | counter | `outcome` (completed, rolled_back, failed) |
/// | `pathagent_inventory_duration_seconds` | gauge | |
/// | `pathagent_unit_attentions_total` | counter | `kind` (the kernel's `SDEV_UA` name, lower case, or `other`) |
/// | `pathagent_map_resizes_total` | counter | `result` (grown, unchanged, refused, waiting) |
/// | `pathagent_lun_inventory_findings_total` | counter | `finding` (vanished, unattached) |
public final class PathAgentMetrics: Sendable {
    public let registry: MetricsRegistry

    /// Path checker (TUR over SG_IO) latency: 100 µs ... 30 s (the SCSI timeout is 60 s).
    public static let checkerBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    /// Attach/detach: 10 ms ... 2 min (os-brick's rescans reach tens of seconds).
    public static let operationBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        let r = registry
        r.define("pathagent_paths", .gauge, help: "SCSI paths to volumes by transport and state (active = carries I/O).", labels: ["transport", "state"])
        r.define("pathagent_maps", .gauge, help: "dm-multipath maps managed by the agent, by health status.", labels: ["status"])
        r.define("pathagent_map_paths", .gauge, help: "Paths of one multipath map by dm path state.", labels: ["map", "state"])
        r.define("pathagent_checker_duration_seconds", .histogram, help: "Path checker (TEST UNIT READY) round trip.", labels: ["transport"], buckets: Self.checkerBuckets)
        r.define("pathagent_attach_duration_seconds", .histogram, help: "Successful volume attach (connect_volume) duration.", labels: ["transport"], buckets: Self.operationBuckets)
        r.define("pathagent_detach_duration_seconds", .histogram, help: "Successful volume detach (disconnect_volume) duration.", labels: ["transport"], buckets: Self.operationBuckets)
        r.define("pathagent_attach_failures_total", .counter, help: "Failed attaches by error code.", labels: ["transport", "reason"])
        r.define("pathagent_detach_failures_total", .counter, help: "Failed detaches by error code.", labels: ["transport", "reason"])
        r.define("pathagent_unmap_bytes_total", .counter, help: "Bytes released with SCSI UNMAP per map.", labels: ["map"])
        r.define("pathagent_unmap_commands_total", .counter, help: "UNMAP commands per map and result (rejected = check condition).", labels: ["map", "result"])
        r.define("pathagent_journal_replays_total", .counter, help: "Intent-journal entries replayed at start-up, by outcome.", labels: ["outcome"])
        r.define("pathagent_inventory_duration_seconds", .gauge, help: "Duration of the last full sysfs inventory.")
        r.define("pathagent_unit_attentions_total", .counter, help: "Unit attentions the kernel reported on paths of the agent's maps, by kind.", labels: ["kind"])
        r.define("pathagent_map_resizes_total", .counter, help: "Map resizes after a volume's capacity changed (CAPACITY DATA HAS CHANGED), by result.", labels: ["result"])
        r.define("pathagent_lun_inventory_findings_total", .counter,
                 help: "LUNs found by re-reading a target's LUN inventory (REPORTED LUNS DATA HAS CHANGED): vanished LUNs of the agent's volumes, reported LUNs with no disk here.",
                 labels: ["finding"])
    }

    /// After an inventory: path counts by transport and state, map counts by status.
    public func recordInventory(_ t: Topology, durationSeconds: Double? = nil) {
        var paths: [[String]: Double] = [:]
        for p in t.allPaths {
            let state = VolumeHealth.isActive(p) ? "active" : (p.iscsi.map { $0.state != "LOGGED_IN" } == true ? "session_failed" : p.state)
            paths[[p.transport.rawValue, state], default: 0] += 1
        }
        registry.replaceAll("pathagent_paths", paths.map { ($0.key, $0.value) })
        let report = HealthReport(t)
        var maps: [String: Double] = ["ok": 0, "degraded": 0, "failed": 0]
        for v in report.volumes where v.map != nil { maps[v.status.rawValue, default: 0] += 1 }
        registry.replaceAll("pathagent_maps", maps.map { ([$0.key], $0.value) })
        if let d = durationSeconds { registry.set("pathagent_inventory_duration_seconds", [], d) }
    }

    /// A map's dm path states (from its dm status line): counts of active and failed paths.
    public func setMapPaths(map wwn: String, active: Int, failed: Int) {
        registry.set("pathagent_map_paths", [wwn, "active"], Double(active))
        registry.set("pathagent_map_paths", [wwn, "failed"], Double(failed))
    }

    public func observeChecker(transport: Transport, seconds: Double) {
        registry.observe("pathagent_checker_duration_seconds", [transport.rawValue], seconds)
    }

    public func attachSucceeded(transport: Transport, seconds: Double) {
        registry.observe("pathagent_attach_duration_seconds", [transport.rawValue], seconds)
    }

    /// `reason`: the error's stable code (`PathCoreError.Code`, `HostStorageError.Code`), not its message.
    public func attachFailed(transport: Transport, reason: String) {
        registry.increment("pathagent_attach_failures_total", [transport.rawValue, reason])
    }

    public func detachSucceeded(transport: Transport, seconds: Double) {
        registry.observe("pathagent_detach_duration_seconds", [transport.rawValue], seconds)
    }

    public func detachFailed(transport: Transport, reason: String) {
        registry.increment("pathagent_detach_failures_total", [transport.rawValue, reason])
    }

    public func unmapped(map wwn: String, bytes: UInt64, commands: Int = 1, rejected: Int = 0) {
        registry.increment("pathagent_unmap_bytes_total", [wwn], by: Double(bytes))
        if commands > 0 { registry.increment("pathagent_unmap_commands_total", [wwn, "ok"], by: Double(commands)) }
        if rejected > 0 { registry.increment("pathagent_unmap_commands_total", [wwn, "rejected"], by: Double(rejected)) }
    }

    public enum ReplayOutcome: String, Sendable {
        case completed
        case rolledBack = "rolled_back"
        case failed
    }

    public func journalReplayed(_ outcome: ReplayOutcome, count: Int = 1) {
        registry.increment("pathagent_journal_replays_total", [outcome.rawValue], by: Double(count))
    }

    /// `kind`: the `SDEV_UA` name in lower case (a bounded set), or `other`.
    public func unitAttention(kind: String) { registry.increment("pathagent_unit_attentions_total", [kind]) }

    public func mapResized(result: String) { registry.increment("pathagent_map_resizes_total", [result]) }

    public func lunInventoryFindings(vanished: Int, unattached: Int) {
        if vanished > 0 { registry.increment("pathagent_lun_inventory_findings_total", ["vanished"], by: Double(vanished)) }
        if unattached > 0 { registry.increment("pathagent_lun_inventory_findings_total", ["unattached"], by: Double(unattached)) }
    }

    /// Drops every per-map series of a detached volume so the label set stays bounded.
    public func forgetMap(_ wwn: String) { registry.forget(label: "map", value: wwn) }

    public func render() -> String { registry.render() }
}
