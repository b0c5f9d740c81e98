/// Everything `pathctl doctor` reads from a host, gathered by HostStorage's
/// `DoctorFactsReader` (from `/` or a `--root` tree) and handed to the pure checks.
public struct HostFacts: Sendable {
    public var topology: Topology
    /// Queue settings of each dm device, by kernel name (`dm-0`); discovery's `Topology`
    /// reads queue settings of sd paths only.
    public var mapQueues: [String: QueueSettings]
    /// `/etc/multipath.conf` (nil text: the file does not exist).
    public var multipathConf: ConfigText
    public var multipathd: MultipathdFacts
    /// `/etc/iscsi/iscsid.conf`.
    public var iscsidConf: ConfigText
    /// `/etc/iscsi/initiatorname.iscsi`.
    public var initiatorName: ConfigText
    /// nova.conf: `--nova-conf FILE` or `/etc/nova/nova.conf` when present; nil: none.
    public var novaConf: ConfigText?
    /// cinder.conf: only when `--cinder-conf FILE` was given.
    public var cinderConf: ConfigText?
    public var timeSync: TimeSyncFacts
    /// What the checks compare against: Pure's table (one source of truth).
    public var expected: MultipathSettings

    public init(topology: Topology, mapQueues: [String: QueueSettings], multipathConf: ConfigText,
                multipathd: MultipathdFacts, iscsidConf: ConfigText, initiatorName: ConfigText,
                novaConf: ConfigText?, cinderConf: ConfigText?, timeSync: TimeSyncFacts,
                expected: MultipathSettings = HardwareTable.pure) {
        self.topology = topology
        self.mapQueues = mapQueues
        self.multipathConf = multipathConf
        self.multipathd = multipathd
        self.iscsidConf = iscsidConf
        self.initiatorName = initiatorName
        self.novaConf = novaConf
        self.cinderConf = cinderConf
        self.timeSync = timeSync
        self.expected = expected
    }

    /// Pure volumes (vendor PURE) of the topology.
    public var pureVolumes: [Volume] { topology.volumes.filter(\.isPure) }

    /// dm devices that are Pure multipath maps: name or `mpath-<wwn>` uuid starts with `3624a937`.
    public var pureMaps: [DMDevice] {
        topology.maps.filter { $0.name.hasPrefix(pureWWNPrefix) || ($0.multipathWWN ?? "").hasPrefix(pureWWNPrefix) }
    }

    /// The host uses iSCSI: sessions exist or some path travels over iSCSI.
    public var usesISCSI: Bool {
        !topology.sessions.isEmpty || topology.allPaths.contains { $0.transport == .iscsi }
    }
}

/// `3` (NAA hex form) + `6` (NAA 6) + Pure's OUI `24a937`.
public let pureWWNPrefix = "3624a937"

/// A configuration file as read: its path (as shown to the operator) and its text, or nil
/// when it does not exist (`error` says why it could not be read, if it exists).
public struct ConfigText: Sendable, Equatable {
    public var path: String
    public var text: String?
    public var error: String?
    public init(path: String, text: String?, error: String? = nil) {
        self.path = path
        self.text = text
        self.error = error
    }
}

public struct MultipathdFacts: Sendable, Equatable {
    /// Where the multipathd binary is (`/sbin/multipathd`), nil when not installed.
    public var binary: String?
    /// Running, with the evidence (pid file + /proc comm, or its abstract socket in /proc/net/unix).
    public var running: Bool
    public var evidence: String?
    /// Enabled in systemd (a `*.wants/multipathd.{service,socket}` link exists).
    public var enabled: Bool
    public init(binary: String?, running: Bool, evidence: String?, enabled: Bool) {
        self.binary = binary
        self.running = running
        self.evidence = evidence
        self.enabled = enabled
    }
}

/// Output of a command the doctor ran (or read from a fixture).
public struct CommandOutput: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public init(status: Int32, stdout: String) {
        self.status = status
        self.stdout = stdout
    }
}

/// Runs a diagnostic command (`chronyc tracking`). Injectable so tests and `--root`
/// fixture hosts give canned output. Returns nil when the command cannot be run (not
/// installed, or not available in a fixture).
public protocol CommandRunner: Sendable {
    func run(_ argv: [String]) -> CommandOutput?
}

/// Raw time-synchronization evidence; `TimeSyncCheck` interprets it.
public struct TimeSyncFacts: Sendable, Equatable {
    /// Installed daemons among `chronyd`, `ntpd`, `systemd-timesyncd`.
    public var daemons: [String]
    /// `/run/systemd/timesync/synchronized` exists (systemd-timesyncd touches it once synchronized).
    public var timesyncdSynchronizedFile: Bool
    /// `chronyc tracking`.
    public var chronycTracking: CommandOutput?
    /// `ntpq -c rv` (ntpd).
    public var ntpqReadvar: CommandOutput?
    /// `timedatectl show` (the kernel's NTP-synchronized flag as systemd reports it).
    public var timedatectlShow: CommandOutput?
    public init(daemons: [String], timesyncdSynchronizedFile: Bool, chronycTracking: CommandOutput?,
                ntpqReadvar: CommandOutput?, timedatectlShow: CommandOutput?) {
        self.daemons = daemons
        self.timesyncdSynchronizedFile = timesyncdSynchronizedFile
        self.chronycTracking = chronycTracking
        self.ntpqReadvar = ntpqReadvar
        self.timedatectlShow = timedatectlShow
    }
}
