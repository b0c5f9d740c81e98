import ArgumentParser
import Foundation
import HostStorage
import PathCore

/// How SCSI-command commands reach their TARGET.
struct TargetOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "A device (/dev/sdX, /dev/sgN, /dev/dm-N, /dev/mapper/NAME), a volume WWN, or iscsi://[user%pass@]host[:port]/IQN/LUN.",
        valueName: "TARGET"))
    var target: String

    @Option(name: .long, help: ArgumentHelp(
        "Initiator IQN for iscsi:// targets (default: InitiatorName from etc/iscsi/initiatorname.iscsi under --root, else \(SCSITargetOpener.defaultInitiator)).",
        valueName: "IQN"))
    var initiator: String?

    func opener(_ global: GlobalOptions) -> SCSITargetOpener {
        SCSITargetOpener(roots: global.roots, initiator: initiator)
    }
}

struct InquiryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inquiry",
        abstract: "Decode a logical unit's INQUIRY, VPD pages, capacity and ALUA state.",
        discussion: """
            Sends standard INQUIRY, INQUIRY VPD 0x00 (supported pages), 0x80 (unit serial \
            number), 0x83 (device identification, every designator), 0xB0 (block limits, every \
            field), 0xB2 (logical block provisioning), READ CAPACITY(16) and, when the LU \
            reports TPGS != 0, REPORT TARGET PORT GROUPS. A page the device does not support \
            is reported as such, not as an error; a page longer than the first allocation \
            length is asked again with the length its header announces.

            TARGET is a local device (SG_IO through its sg node), a volume WWN (through a \
            running path, ALUA active first) or an iscsi:// URL (libiscsi login; needs no \
            kernel session). Exit status: 0 decoded, 1 the target could not be reached.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetOptions

    func run() throws {
        do {
            let t = try target.opener(global).resolve(target.target)
            let (_, transport) = try t.openFirst()
            let report = try SCSIDeviceProbe.inquire(transport)
            if global.json {
                try Output.json(report)
            } else {
                print(InquiryText.render(report))
            }
        } catch {
            throw CLIError(describe(error))
        }
    }
}
