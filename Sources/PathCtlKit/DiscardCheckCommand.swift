import ArgumentParser
import Foundation
import HostStorage
import PathCore

struct DiscardCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discard-check",
        abstract: "Check that discards (TRIM/UNMAP) reach the array through every layer.",
        discussion: """
            Checks, for one volume: the LU is thin (READ CAPACITY(16) LBPME=1) and accepts \
            UNMAP (VPD 0xB2 LBPU=1), asked through a usable path; every sd path has \
            provisioning_mode unmap and queue/discard_max_bytes > 0; the dm multipath map has \
            queue/discard_max_bytes > 0; and, with --properties, the os-brick connection \
            properties say discard: true. Each broken link is printed with its fix.

            With --root (a captured or fixture tree) or --no-device, the LU is not queried. \
            Exit status: 0 healthy, 1 warnings, 2 errors (as pathctl doctor).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A volume WWN or one of its devices (/dev/sdX, /dev/dm-N, /dev/mapper/NAME).", valueName: "VOLUME|DEVICE"))
    var target: String

    @Option(name: .long, help: ArgumentHelp("os-brick connection properties (JSON file) to check for discard: true.", valueName: "PROPS.json"))
    var properties: String?

    @Flag(name: .long, help: "Do not send SCSI commands to the LU (sysfs only).")
    var noDevice = false

    func run() throws {
        let report: DiscardChainReport
        do {
            let topo = Inventory.scan(roots: global.roots, options: .init(queueSettings: true))
            let spec = try TargetSpec.parse(target)
            let volume = try TargetResolver.volume(spec, in: topo)
            var device: DeviceProvisioning? = nil
            var notes: [DiscardFinding] = []
            if !noDevice && global.root == nil {
                do {
                    let t = try SCSITargetOpener(roots: global.roots).resolve(volume.wwn, topology: topo)
                    let (endpoint, transport) = try t.openFirst()
                    device = DeviceProvisioning(try SCSIDeviceProbe.unmapCapabilities(transport), source: endpoint.description)
                } catch {
                    notes.append(DiscardFinding(
                        id: "discard.device.query", severity: .warning, subject: "device",
                        found: "not queried: \(describe(error))", recommended: "LBPME=1, LBPU=1",
                        fix: "run as root on the host with a usable path, or check with pathctl inquiry"))
                }
            }
            var discard: Bool? = nil
            if let properties {
                guard let data = FileManager.default.contents(atPath: properties) else {
                    throw CLIError("cannot read --properties \(properties)")
                }
                var value = try JSONValue.parse(String(decoding: data, as: UTF8.self))
                if value["driver_volume_type"] != nil, let d = value["data"], d.objectMembers != nil { value = d }
                guard value.objectMembers != nil else { throw CLIError("--properties \(properties): not a JSON object") }
                discard = value["discard"]?.boolValue ?? false
            }
            var r = DiscardChain.check(volume: volume, topology: topo, device: device, connectionDiscard: discard)
            r.findings.insert(contentsOf: notes, at: 0)
            report = r
        } catch let e as CLIError {
            throw e
        } catch {
            throw CLIError(describe(error))
        }
        if global.json {
            try Output.json(report)
        } else {
            print(Self.render(report))
        }
        switch report.severity {
        case .error: throw ExitCode(ExitStatus.degradedOrErrors)
        case .warning: throw ExitCode(ExitStatus.failed)
        default: break
        }
    }

    static func render(_ r: DiscardChainReport) -> String {
        var out = ["discard chain of \(r.volume): \(r.healthy ? "ok" : r.severity.rawValue)"]
        for f in r.findings {
            let mark: String
            switch f.severity {
            case .ok: mark = "ok  "
            case .info: mark = "info"
            case .warning: mark = "WARN"
            case .error: mark = "FAIL"
            }
            out.append("  \(mark) \(Output.pad(f.subject, 12)) \(Output.pad(f.id, 32)) \(f.found)" + (f.severity >= .warning ? " (want \(f.recommended))" : ""))
            if f.severity >= .warning, let fix = f.fix { out.append("         fix: \(fix)") }
        }
        return out.joined(separator: "\n")
    }
}
