import ArgumentParser
import HostStorage
import Logging
import PathCore

/// `pathctl`: the operator's diagnostic CLI for pathagent.
public struct PathCtl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pathctl",
        abstract: "Inspect and drive the host's storage paths (pathagent's operator CLI).",
        discussion: """
            Every read command takes --json. Exit status: 0 success; 1 the operation failed             (missing device, refused login, transport error); 2 the target is degraded             (paths) or errors were found (doctor); 64 bad command line.
            """,
        subcommands: [
            PathsCommand.self, InquiryCommand.self, ConnectCommand.self, DisconnectCommand.self, ExtendCommand.self,
            VolumePathsCommand.self, CheckValidDeviceCommand.self, ConnectorCommand.self, MapsCommand.self, SysfsHealthCommand.self, AgentHealthCommand.self,
            UnmapCommand.self, LBAStatusCommand.self, DiscardCheckCommand.self, DoctorCommand.self, ConfigCommand.self,
            AttachCommand.self, DetachCommand.self, ArrayHealthCommand.self,
        ]
    )
    public init() {}

    /// Installs the package's log handler (`ProcessLogging`) for pathctl (its FlashArray
    /// commands log through swift-log): call once, before `main()`.
    public static func bootstrapLogging(level: Logger.Level = .info) { ProcessLogging.bootstrap(level: level) }
}
