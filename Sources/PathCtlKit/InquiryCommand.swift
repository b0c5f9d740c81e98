import ArgumentParser
import Foundation
import HostStorage
import PathCore

/// How SCSI-command commands reach their TARGET.
struct TargetOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "A device (/dev/sdX, /dev/sgN, /dev/dm-N, /dev/mapper/NAME), a volume WWN, or iscsi://[user@]host[:port]/IQN/LUN.",
        valueName: "TARGET"))
    var target: String

    @Option(name: .long, help: ArgumentHelp(
        "Initiator IQN for iscsi:// targets (default: InitiatorName from etc/iscsi/initiatorname.iscsi under --root, else \(SCSITargetOpener.defaultInitiator)).",
        valueName: "IQN"))
    var initiator: String?

    @Option(name: .customLong("chap-password-file"), help: ArgumentHelp(
        "CHAP password for an iscsi:// TARGET: the first line of FILE (- reads standard input).",
        discussion: """
            Or set LIBISCSI_CHAP_PASSWORD (and LIBISCSI_CHAP_USERNAME when the URL names no \
            user), the variables libiscsi itself reads; /proc/PID/environ is readable only by \
            the same user and root. A password inside the URL (iscsi://user%password@...) is \
            refused: a command line is readable by every local user (ps, /proc/PID/cmdline).
            """,
        valueName: "FILE"))
    var chapPasswordFile: String?

    static let passwordVariable = "LIBISCSI_CHAP_PASSWORD"
    static let userVariable = "LIBISCSI_CHAP_USERNAME"

    /// The opener, with the CHAP credentials of an iscsi:// TARGET from --chap-password-file
    /// or the environment. Refuses a password in the URL (it is already on the command line).
    func opener(_ global: GlobalOptions, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SCSITargetOpener {
        var o = SCSITargetOpener(roots: global.roots, initiator: initiator)
        guard case .iscsiURL(let text) = try TargetSpec.parse(target) else {
            if chapPasswordFile != nil { throw CLIError("--chap-password-file applies to iscsi:// targets only") }
            return o
        }
        let url = try ISCSIURL(text)
        if url.password != nil {
            throw CLIError("""
                \(url.redacted): a CHAP password inside the URL is on pathctl's command line, which every local user can read \
                (ps, /proc/PID/cmdline); give it with --chap-password-file FILE or the \(Self.passwordVariable) environment variable
                """)
        }
        var password: String? = nil
        if let f = chapPasswordFile {
            password = try Self.readPassword(f)
        } else if let p = environment[Self.passwordVariable], !p.isEmpty {
            password = p
        }
        let user = url.user ?? environment[Self.userVariable].flatMap { $0.isEmpty ? nil : $0 }
        if password != nil, user == nil {
            throw CLIError("a CHAP password needs a user name: iscsi://USER@host/IQN/LUN or \(Self.userVariable)")
        }
        if let password { SecretRegistry.shared.register(password) }
        o.chapUser = user
        o.chapPassword = password
        return o
    }

    /// The first line of `path` (`-`: standard input), without its line end.
    static func readPassword(_ path: String) throws -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: path) else { throw CLIError("--chap-password-file \(path): cannot read it") }
            data = d
        }
        // bytes, not Characters: "\r\n" is one Character
        var line = Array(data.prefix { $0 != 0x0A })
        if line.last == 0x0D { line.removeLast() }
        let pw = String(decoding: line, as: UTF8.self)
        guard !pw.isEmpty else { throw CLIError("--chap-password-file \(path): its first line is empty") }
        return pw
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
            kernel session). A CHAP password for an iscsi:// URL comes from \
            --chap-password-file FILE or LIBISCSI_CHAP_PASSWORD, never from the URL (a command \
            line is readable by every local user). Exit status: 0 decoded, 1 the target could \
            not be reached.
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
