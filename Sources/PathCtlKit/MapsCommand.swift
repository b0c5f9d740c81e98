import ArgumentParser
import Foundation
import PathAPI
import PathCore

struct MapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maps",
        abstract: "Show the host's multipath maps: pathagent's own, their paths and settings, and foreign ones.",
        discussion: """
            Asks the daemon (GET /v1/maps). Each map is marked owner=pathagent (the agent \
            created it and watches it) or owner=foreign (multipathd or another tool made it: \
            the agent never messages or reloads it, and only shows its table and the paths' dm \
            state). For each of the agent's maps: the live dm table, every path with its dm \
            state (active/failed), the last TEST UNIT READY verdict of the agent's checker (up, \
            down, ghost, pending, shaky), the kernel's fail count and the cause of its last \
            change; each path group of the live table (group 1 is tried first) with its dm \
            state and its paths' ALUA states (the kernel's access_state), and why the paths \
            are grouped so (multibus when they agree, group_by_prio with the optimized paths \
            first when they disagree); then each multipath setting in force and where its value came from \
            (built-in default, the PURE/FlashArray profile, a config file line, or a rule such \
            as mixed ALUA states).

            Exit status: 0 every path of the agent's maps active; 2 some path of one of them \
            failed (a foreign map's paths do not count); 1 the daemon could not be asked.
            """)

    @OptionGroup var client: ClientOptions

    @Flag(name: .long, help: "Leave out the settings table.")
    var noSettings = false

    func run() throws {
        let c = try client.client()
        let r: MapsResponse = try callDaemon { try c.call("GET", "/v1/maps") }
        if client.json {
            try Output.json(r)
        } else {
            if !r.maps.contains(where: { $0.owner == .pathagent }) { Output.line("no multipath maps managed by pathagent") }
            for m in r.maps {
                Output.line("\(m.name) \(m.device) owner=\(m.owner.rawValue) \(m.vendor ?? "?"),\(m.product ?? "?") paths=\(m.activePaths)/\(m.paths.count)")
                if let t = m.table { Output.line("  table: \(t)") }
                if let g = m.grouping { Output.line("  grouping: \(g)") }
                for g in m.groups {
                    let paths = g.paths.map { p in
                        "\(p.device) \(p.name ?? "-") \(p.alua ?? "no-alua")\(p.preferred == true ? " preferred" : "")\(p.dmState == "failed" ? " failed" : "")"
                    }
                    Output.line("  group \(g.number) (\(g.state ?? "?")): \(paths.joined(separator: "; "))")
                }
                for p in m.paths {
                    let mark = p.dmState == "active" ? " " : "!"
                    Output.line(" \(mark) \(Output.pad(p.device, 7)) \(Output.pad(p.name ?? "-", 5)) \(Output.pad(p.dmState, 7)) checker=\(Output.pad(p.checker ?? "-", 7)) fail_count=\(p.failCount)\(p.reason.map { "  last change: \($0)" } ?? "")")
                }
                if !noSettings && m.owner == .pathagent {
                    Output.line("  settings:")
                    for s in m.settings { Output.line("    \(Output.pad(s.key, 22)) \(Output.pad(s.value, 20)) (\(s.origin))") }
                }
            }
        }
        if r.maps.contains(where: { $0.owner == .pathagent && $0.activePaths < $0.paths.count }) {
            throw ExitCode(ExitStatus.degradedOrErrors)
        }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print configuration snippets for coexisting tools.",
        subcommands: [MultipathConfigCommand.self])
}

struct MultipathConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multipath",
        abstract: "Print a multipath.conf snippet so multipathd and pathagent coexist.",
        discussion: """
            Default (--mode agent): pathagent owns the maps of Pure volumes, so multipathd must \
            leave them alone: the snippet blacklists Pure devices (vendor PURE, product \
            FlashArray, and WWIDs starting 3624a937) in multipathd. The Pure device stanza with \
            the guide's values follows inside the blacklist comment for reference.

            --mode multipathd: multipathd owns the maps; the snippet is the Pure device stanza \
            (the values pathagent would use) to put in /etc/multipath.conf, and pathagent only \
            attaches and asks multipathd (set multipath.use_multipath = false in pathagent.conf).

            Every value comes from pathagent's PURE/FlashArray profile, the same table \
            `pathctl doctor` checks against.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable { case agent, multipathd }

    @Option(name: .long, help: "Who owns the Pure maps: agent (default) or multipathd.")
    var mode: Mode = .agent

    func run() throws {
        print(Self.snippet(mode: mode))
    }

    static func deviceStanza(indent: String) throws -> String {
        let s = try PropertySelection.select(vendor: "PURE", product: "FlashArray")
        var lines = ["device {", "    vendor \"PURE\"", "    product \"FlashArray\""]
        let keys: Set<String> = ["path_selector", "path_grouping_policy", "path_checker", "fast_io_fail_tmo", "dev_loss_tmo",
                                 "no_path_retry", "features", "hardware_handler", "prio", "failback", "detect_prio", "max_sectors_kb"]
        for (k, v, _) in s.listing where keys.contains(k) {
            let quoted = v.contains(" ") || k == "path_selector" || k == "features" || k == "hardware_handler" ? "\"\(v)\"" : v
            lines.append("    \(k) \(quoted)")
        }
        lines.append("}")
        return lines.map { indent + $0 }.joined(separator: "\n")
    }

    static func snippet(mode: Mode) -> String {
        let stanza = (try? deviceStanza(indent: "    ")) ?? "    # (profile unavailable)"
        let polling = (try? PropertySelection.select(vendor: "PURE", product: "FlashArray").pollingInterval.value) ?? 10
        switch mode {
        case .agent:
            return """
                # /etc/multipath.conf: pathagent manages Pure FlashArray maps itself.
                defaults {
                    user_friendly_names no
                    polling_interval \(polling)
                }
                blacklist {
                    wwid "3624a937.*"
                    device {
                        vendor "PURE"
                        product "FlashArray"
                    }
                }
                # For reference, the settings pathagent applies to these maps:
                \(stanza.split(separator: "\n").map { "# " + $0 }.joined(separator: "\n"))
                """
        case .multipathd:
            return """
                # /etc/multipath.conf: multipathd manages Pure FlashArray maps with Pure's settings.
                defaults {
                    user_friendly_names no
                    polling_interval \(polling)
                }
                devices {
                \(stanza)
                }
                """
        }
    }
}
