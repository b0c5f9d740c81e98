import ArgumentParser
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
            VolumePathsCommand.self, ConnectorCommand.self, MapsCommand.self, SysfsHealthCommand.self, AgentHealthCommand.self,
            UnmapCommand.self, LBAStatusCommand.self, DiscardCheckCommand.self, DoctorCommand.self, ConfigCommand.self,
            AttachCommand.self, DetachCommand.self, ArrayHealthCommand.self,
        ]
    )
    public init() {}
}
