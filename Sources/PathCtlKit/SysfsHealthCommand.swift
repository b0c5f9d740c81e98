import ArgumentParser
import Foundation
import HostStorage
import PathCore

struct SysfsHealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Path health per volume, read from sysfs.",
        discussion: """
            For each volume: active/total paths, the same per controller port (iSCSI portal or \
            FC target port) and per array (iSCSI target IQN or FC target WWPN prefix), and why \
            it is degraded: path_offline, session_failed, rport_offline, single_path, \
            single_controller, no_active_path. A volume with no active path is failed.

            --watch re-reads sysfs every --interval seconds and prints only what changed. \
            This polls (it is a diagnostic CLI option); the daemon itself is event driven and \
            serves the same view at /v1/health.

            Exit status: 0 every volume ok, 2 some volume degraded or failed (without --watch).
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Keep running; print changes only (polls sysfs).")
    var watch = false

    @Option(name: .long, help: "Seconds between reads with --watch.")
    var interval: Double = 2

    @Option(name: .long, help: ArgumentHelp("Stop --watch after N reads (0: never).", visibility: .hidden))
    var reads: Int = 0

    func validate() throws {
        guard interval >= 0.1 else { throw ValidationError("--interval must be at least 0.1 seconds") }
    }

    func run() throws {
        var report = HealthReport(Inventory.scan(roots: global.roots, options: .init(queueSettings: false)))
        if global.json { try Output.json(report) } else { print(Self.render(report)) }
        guard watch else {
            if report.status != .ok { throw ExitCode(ExitStatus.degradedOrErrors) }
            return
        }
        var n = 1
        while reads == 0 || n < reads {
            Thread.sleep(forTimeInterval: interval)
            n += 1
            let next = HealthReport(Inventory.scan(roots: global.roots, options: .init(queueSettings: false)))
            let changes = next.changes(since: report)
            report = next
            guard !changes.isEmpty else { continue }
            let stamp = ISO8601DateFormatter().string(from: Date())
            if global.json {
                try Output.jsonLine(WatchEvent(time: stamp, changes: changes, report: next))
            } else {
                for c in changes { Output.line("\(stamp) \(c)") }
            }
        }
    }

    struct WatchEvent: Encodable {
        var time: String
        var changes: [String]
        var report: HealthReport
    }

    static func render(_ r: HealthReport) -> String {
        var out: [String] = []
        if r.volumes.isEmpty { out.append("no volumes") }
        for v in r.volumes {
            out.append("\(v.wwn) \(v.map ?? "no map") \(v.status.rawValue) paths \(v.pathsActive)/\(v.pathsTotal)")
            for c in v.controllers { out.append("  controller \(c.key) \(c.active)/\(c.total)") }
            for a in v.arrays { out.append("  array \(a.key) \(a.active)/\(a.total)") }
            for reason in v.reasons { out.append("  ! \(reason.code): \(reason.detail)") }
        }
        out.append("status: \(r.status.rawValue)")
        return out.joined(separator: "\n")
    }
}
