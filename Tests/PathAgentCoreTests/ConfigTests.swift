import PathAgentCore
import PathCore
import Testing

@Suite struct ConfigTests {
    @Test func defaultsRunWithoutAFile() throws {
        let c = try AgentConfig.parse("", file: "none")
        #expect(c == AgentConfig())
        #expect(c.socketPath == "/run/pathagent/pathagent.sock")
        #expect(c.stateDir == "/var/lib/pathagent")
        #expect(c.recoveryTmo == 10)
        #expect(c.workers == 8)
        #expect(c.metricsPort == 0)
        #expect(c.enforceMultipath == false)
        #expect(c.useMultipath == true)
        #expect(c.group == nil)
    }

    @Test func everyOptionParses() throws {
        let text = """
            # pathagent.conf
            [DEFAULT]
            log_level = DEBUG
            workers = 16   # inline comment

            [agent]
            state_dir = /srv/pathagent
            roots = /srv/lab

            [api]
            socket = /run/pa/api.sock
            group = storage-ops
            metrics_port = 9464
            max_body_bytes = 65536
            shutdown_grace = 3

            [iscsi]
            ; oslo style comment
            recovery_tmo = 5
            login_timeout = 20
            scan_timeout = 30

            [multipath]
            enforce = yes
            use_multipath = false
            polling_interval = 5
            state_poll_ms = 100
            """
        let c = try AgentConfig.parse(text, file: "pathagent.conf")
        #expect(c.logLevel == "debug")
        #expect(c.workers == 16)
        #expect(c.stateDir == "/srv/pathagent")
        #expect(c.roots == "/srv/lab")
        #expect(c.socketPath == "/run/pa/api.sock")
        #expect(c.group == "storage-ops")
        #expect(c.metricsPort == 9464)
        #expect(c.maxBodyBytes == 65536)
        #expect(c.shutdownGraceSeconds == 3)
        #expect(c.recoveryTmo == 5)
        #expect(c.loginTimeout == 20)
        #expect(c.scanTimeout == 30)
        #expect(c.enforceMultipath)
        #expect(!c.useMultipath)
        #expect(c.pollingInterval == 5)
        #expect(c.statePollMillis == 100)
    }

    @Test(arguments: [
        ("[iscsi]\nrecovery_tmo = ten\n", "agent.conf:2: iscsi.recovery_tmo: ten is not an integer"),
        ("[iscsi]\n\nrecovery_tmo = 0\n", "agent.conf:3: iscsi.recovery_tmo: 0 is out of range 1...3600"),
        ("[api]\nsocket = run/pa.sock\n", "agent.conf:2: api.socket: run/pa.sock is not an absolute path"),
        ("[api]\nmetrics_port = 70000\n", "agent.conf:2: api.metrics_port: 70000 is out of range 0...65535"),
        ("[multipath]\nenforce = maybe\n", "agent.conf:2: multipath.enforce: maybe is not true or false"),
        ("[agent]\nworkers = 4\nworkers = 5\n", "agent.conf:3: agent.workers: set twice (first on line 2)"),
        ("[agent]\nlog_level = loud\n", "agent.conf:2: agent.log_level: loud is not one of trace, debug, info, notice, warning, error, critical"),
        ("[iscsi]\nrecovery_time = 5\n", "agent.conf:2: iscsi.recovery_time: unknown option (iscsi has: recovery_tmo, login_timeout, scan_timeout)"),
        ("[nova]\n", "agent.conf:1: unknown section [nova] (known: [DEFAULT], [agent], [api], [iscsi], [multipath], [flasharray])"),
        ("[api\n", "agent.conf:1: section header [api has no closing ]"),
        ("[api]\nsocket\n", "agent.conf:2: expected key = value, got socket"),
        ("[api]\ngroup = a b\n", "agent.conf:2: api.group: a b is not a group name or number"),
        ("[multipath]\nstate_poll_ms = 10\n", "agent.conf:2: multipath.state_poll_ms: 10 is below 50 ms (use 0 to turn the state poll off)"),
        ("[multipath]\npolling_interval = 0\n", "agent.conf:2: multipath.polling_interval: 0 is out of range 1...300"),
    ])
    func errorsNameFileLineAndKey(text: String, message: String) {
        let e = #expect(throws: PathCoreError.self) { try AgentConfig.parse(text, file: "agent.conf") }
        #expect(e?.message == message)
    }

    @Test func helpTableListsEveryOption() {
        let help = AgentConfig.helpText()
        let names = AgentConfig.options.map(\.name)
        for required in [
            "api.socket", "api.group", "api.metrics_port", "agent.state_dir", "agent.log_level", "iscsi.recovery_tmo",
            "iscsi.login_timeout", "iscsi.scan_timeout", "multipath.enforce", "multipath.use_multipath", "agent.workers",
            "agent.roots",
        ] {
            #expect(names.contains(required), "missing \(required)")
        }
        for o in AgentConfig.options {
            let line = help.split(separator: "\n").first { $0.hasPrefix(o.name + " ") }
            #expect(line != nil, "no help line for \(o.name)")
            #expect(line?.contains(o.defaultText) == true)
            #expect(line?.contains(o.meaning) == true)
            // Every default in the table is what parsing yields with no file.
            if o.defaultText != "(none)" {
                let section = o.name.split(separator: ".")[0]
                let key = o.name.split(separator: ".")[1]
                #expect((try? AgentConfig.parse("[\(section)]\n\(key) = \(o.defaultText)\n", file: "x")) == AgentConfig(), "default of \(o.name)")
            }
        }
    }
}
