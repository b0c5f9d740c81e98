import ArgumentParser
import PathCore

/// `pathctl`: the operator's diagnostic CLI for pathagent.
public struct PathCtl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pathctl",
        abstract: "Inspect and drive the host's storage paths (pathagent's operator CLI).",
        subcommands: []
    )
    public init() {}
}
