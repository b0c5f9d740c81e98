import ArgumentParser
import Foundation
import HostStorage
import PathCore

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the host against Pure's recommended configuration.",
        discussion: """
            Checks, each with a stable id (match on it in --json output):
              multipath.*  multipathd present/running, whether it would claim the Pure volumes \
            pathagent manages (blacklist in /etc/multipath.conf), its PURE device settings vs \
            pathagent's table, user_friendly_names no, detect_prio no
              host.*       queue settings and SCSI timeout of every Pure path and map, iSCSI \
            replacement_timeout (iscsid.conf and live sessions), initiator name, FC rport timeouts
              nova.*       [libvirt] volume_use_multipath = True when iSCSI is used
              time.sync    chrony / ntpd / systemd-timesyncd synchronized (clock skew shows as REST 401s)
              discard.*    provisioning_mode unmap and discard_max_bytes > 0 on paths and maps
              cinder.*     cinder.conf checks (--cinder-conf): FlashArray's validator, one finding per rule

            Severities: ok, info, warning, error. With --root DIR the doctor reads DIR/sys, \
            DIR/etc, DIR/run, DIR/proc and, instead of running chronyc/ntpq/timedatectl, their \
            canned output from DIR/cmd/<argv joined by _>.txt.

            Exit status: 0 nothing worse than info, 1 warnings, 2 errors, 64 bad command line.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("cinder.conf to check (not read below --root).", valueName: "FILE"))
    var cinderConf: String?

    @Option(name: .long, help: ArgumentHelp("nova.conf to check (default: /etc/nova/nova.conf below the root, when present).", valueName: "FILE"))
    var novaConf: String?

    @Flag(name: .long, help: "Show only findings worse than ok.")
    var problems = false

    func run() throws {
        let runner: any CommandRunner = global.root.map { FixtureCommandRunner(dir: $0 + "/cmd") } ?? ProcessCommandRunner()
        let facts = DoctorFactsReader(root: global.root, runner: runner, novaConf: novaConf, cinderConf: cinderConf).read()
        var report = Doctor.run(Doctor.checks(cinderConf: DoctorCinderHook.check), on: facts)
        if problems { report.findings.removeAll { $0.severity == .ok } }
        if global.json {
            try Output.json(DoctorJSON(report))
        } else {
            print(Self.render(report))
        }
        let status = report.exitStatus
        if status != 0 { throw ExitCode(status) }
    }

    struct DoctorJSON: Encodable {
        var status: String
        var exitStatus: Int32
        var counts: [String: Int]
        var findings: [DoctorFinding]
        init(_ r: DoctorReport) {
            status = r.worst.rawValue
            exitStatus = r.exitStatus
            counts = Dictionary(uniqueKeysWithValues: DoctorSeverity.allCases.map { ($0.rawValue, r.count($0)) })
            findings = r.findings
        }
        enum CodingKeys: String, CodingKey {
            case status, counts, findings
            case exitStatus = "exit_status"
        }
    }

    static func render(_ r: DoctorReport) -> String {
        var out: [String] = []
        for f in r.findings {
            out.append("[\(Output.pad(f.severity.rawValue.uppercased(), 7))] \(f.id): \(f.found)")
            if f.severity >= .warning {
                out.append("            recommended: \(f.recommended)")
                if let fix = f.fix { out.append("            fix: \(fix)") }
            }
        }
        out.append("")
        out.append("\(r.count(.error)) errors, \(r.count(.warning)) warnings, \(r.count(.info)) info, \(r.count(.ok)) ok")
        return out.joined(separator: "\n")
    }
}
