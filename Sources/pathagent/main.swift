import ArgumentParser
import Logging
import PathAgentCore
import PathCore

@main
struct PathAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pathagent",
        abstract: "Host-side storage data-path agent (local API on a Unix socket).",
        discussion: """
            Serves HTTP/1.1 + JSON on api.socket (default /run/pathagent/pathagent.sock), \
            e.g. curl --unix-socket /run/pathagent/pathagent.sock http://pathagent/v1/health. \
            SIGTERM or SIGINT stop it gracefully. Options are read from --config; see \
            --help-config for every option, its type and default.
            """)

    @Option(name: .long, help: ArgumentHelp("Configuration file (INI).", valueName: "FILE"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Listen on this Unix socket (overrides api.socket).", valueName: "PATH"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp(
        "Read sys/, dev/, etc/ below DIR instead of / (overrides agent.roots; fixture or lab trees).", valueName: "DIR"))
    var root: String?

    @Flag(name: .customLong("help-config"), help: "Print every configuration option (name, type, default, meaning) and exit.")
    var helpConfig = false

    func run() async throws {
        if helpConfig {
            print(AgentConfig.helpText())
            return
        }
        var cfg: AgentConfig
        do {
            cfg = try Agent.loadConfig(file: config)
        } catch {
            throw ValidationError("\(error)")
        }
        if let socket { cfg.socketPath = socket }
        if let root { cfg.roots = root }
        let level = Agent.logLevel(cfg.logLevel)
        Agent.bootstrapLogging(level: level)
        try await Agent(config: cfg, logger: Logger(label: "pathagent")).run()
    }
}
