import ArgumentParser
import Foundation
import HostStorage
import PathCore

struct PathsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paths",
        abstract: "Show every volume, its multipath map and its paths.",
        discussion: """
            Reads sysfs only (no SCSI commands, no root needed) and groups SCSI devices into \
            volumes by WWN, the way `multipath -ll` shows them:

              <wwn> <dm-N|no map> <vendor>,<model> size=<size> paths=<active>/<total>
                <H:C:T:L> <sdX> <maj:min> <transport> <portal or rport WWPN> <session> <state>

            The iSCSI sessions and FC HBA ports follow. A path whose SCSI state is not \
            `running`, or whose iSCSI session is not LOGGED_IN, is marked with `!`.

            Exit status: 0 all paths healthy, 2 at least one path is not healthy, \
            1 the tree could not be read.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Also read each path's block queue settings (scheduler, add_random, rq_affinity, max_sectors_kb, discard_max_bytes).")
    var queue = false

    func run() throws {
        let topo = Inventory.scan(roots: global.roots, options: .init(queueSettings: queue))
        if global.json {
            try Output.json(topo)
        } else {
            print(render(topo))
        }
        let unhealthy = topo.allPaths.contains { !Self.healthy($0) }
        if unhealthy { throw ExitCode(ExitStatus.degradedOrErrors) }
    }

    static func healthy(_ p: ScsiPath) -> Bool { p.isActive }

    func render(_ t: Topology) -> String {
        var out: [String] = []
        if t.volumes.isEmpty { out.append("no SCSI volumes found under \(global.roots.sys)") }
        for v in t.volumes {
            let map = v.map.map { $0.name == v.wwn ? $0.device : "\($0.device) (\($0.name))" } ?? "no map"
            out.append("\(v.wwn) \(map) \(v.vendor),\(v.model) size=\(Output.size(v.sizeBytes)) paths=\(v.activePaths)/\(v.paths.count)")
            for p in v.paths {
                let via: String
                switch p.transport {
                case .iscsi: via = "iscsi \(p.iscsi?.portal ?? "?") \(p.iscsi?.session ?? "?") \(p.iscsi?.state ?? "?")"
                case .fc: via = "fc host\(p.fc?.host ?? p.hctl.host) -> \(p.fc?.targetPortName ?? "?") \(p.fc?.portState ?? "?")"
                case .other: via = "local"
                }
                let mark = Self.healthy(p) ? " " : "!"
                out.append(" \(mark) \(Output.pad(p.hctl.description, 10)) \(Output.pad(p.device ?? "-", 5)) \(Output.pad(p.devNumber ?? "-", 7)) \(via) \(p.state)")
            }
        }
        if !t.sessions.isEmpty {
            out.append("")
            out.append("iSCSI sessions:")
            for s in t.sessions {
                out.append("  \(s.name) \(s.target) \(s.portals.joined(separator: ",")) \(s.state) host\(s.host.map(String.init) ?? "?") recovery_tmo=\(s.recoveryTmo.map(String.init) ?? "?")")
            }
        }
        if !t.fcHosts.isEmpty {
            out.append("")
            out.append("FC hosts:")
            for h in t.fcHosts {
                out.append("  host\(h.host) \(h.portName) \(h.portState) \(h.speed ?? "")")
                for r in h.remotePorts {
                    out.append("    \(r.name) \(r.portName) \(r.roles) \(r.portState) target_id=\(r.scsiTargetID.map(String.init) ?? "-") fast_io_fail_tmo=\(r.fastIOFailTmo ?? "-") dev_loss_tmo=\(r.devLossTmo.map(String.init) ?? "-")")
                }
            }
        }
        out.append("")
        out.append("\(t.inventory.paths) paths read in \(String(format: "%.2f", Double(t.inventory.micros) / 1000)) ms")
        return out.joined(separator: "\n")
    }
}
