import Glibc
import PathCore

/// Gathers `HostFacts` for `pathctl doctor` from a host root: `/` on a live host, or a
/// fixture tree (`--root DIR`: DIR/sys, DIR/etc, DIR/run, DIR/proc, DIR/usr/sbin...).
///
/// Reads: sysfs topology plus each dm map's queue settings; `etc/multipath.conf`;
/// multipathd's binary (`sbin/`, `usr/sbin/`), pid file `run/multipathd.pid` checked
/// against `proc/<pid>/comm`, its abstract socket `@/org/kernel/linux/storage/multipathd`
/// in `proc/net/unix`, and `etc/systemd/system/*.wants/multipathd.{service,socket}`;
/// `etc/iscsi/iscsid.conf`, `etc/iscsi/initiatorname.iscsi`; nova.conf (given, or
/// `etc/nova/nova.conf` when present); cinder.conf only when given; time daemons
/// (`usr/sbin/chronyd`, `usr/sbin/ntpd`, `lib/systemd/systemd-timesyncd`),
/// `run/systemd/timesync/synchronized`, and through the `CommandRunner`:
/// `chronyc tracking`, `ntpq -c rv`, `timedatectl show`.
public struct DoctorFactsReader: Sendable {
    /// The host root without a trailing slash: "" for the live host.
    public var root: String
    public var runner: any CommandRunner
    /// `--nova-conf FILE` (taken as given, not below the root).
    public var novaConf: String?
    /// `--cinder-conf FILE` (taken as given, not below the root).
    public var cinderConf: String?

    public init(root: String?, runner: any CommandRunner, novaConf: String? = nil, cinderConf: String? = nil) {
        var r = root ?? ""
        while r.hasSuffix("/") { r.removeLast() }
        self.root = r
        self.runner = runner
        self.novaConf = novaConf
        self.cinderConf = cinderConf
    }

    public var roots: HostRoots { root.isEmpty ? .live : HostRoots(under: root) }

    func p(_ path: String) -> String { root + path }

    public func read() -> HostFacts {
        let topo = Inventory.scan(roots: roots, options: .init(queueSettings: true))
        let sysfs = DiskSysfs(root: roots.sys)
        var mapQueues: [String: QueueSettings] = [:]
        for m in topo.maps {
            let q = "class/block/\(m.device)/queue"
            mapQueues[m.device] = QueueSettings(
                scheduler: sysfs.attribute("\(q)/scheduler").map(TopologyScanner.selectedScheduler),
                addRandom: sysfs.attribute("\(q)/add_random").flatMap { Int($0) },
                rqAffinity: sysfs.attribute("\(q)/rq_affinity").flatMap { Int($0) },
                maxSectorsKB: sysfs.attribute("\(q)/max_sectors_kb").flatMap { Int($0) },
                discardMaxBytes: sysfs.attribute("\(q)/discard_max_bytes").flatMap { UInt64($0) })
        }
        let nova: ConfigText?
        if let n = novaConf {
            nova = Self.text(n)
        } else if Self.exists(p("/etc/nova/nova.conf")) {
            nova = Self.text(p("/etc/nova/nova.conf"))
        } else {
            nova = nil
        }
        return HostFacts(
            topology: topo, mapQueues: mapQueues,
            multipathConf: Self.text(p("/etc/multipath.conf")),
            multipathd: multipathd(),
            iscsidConf: Self.text(p("/etc/iscsi/iscsid.conf")),
            initiatorName: Self.text(p("/etc/iscsi/initiatorname.iscsi")),
            novaConf: nova,
            cinderConf: cinderConf.map(Self.text),
            timeSync: timeSync())
    }

    func multipathd() -> MultipathdFacts {
        let binary = ["/sbin/multipathd", "/usr/sbin/multipathd"].first { Self.exists(p($0)) }
        var running = false
        var evidence: String? = nil
        if let pidText = Self.text(p("/run/multipathd.pid")).text, let pid = Int(pidText.trimmingWhitespace()), pid > 0 {
            let comm = Self.text(p("/proc/\(pid)/comm")).text?.trimmingWhitespace()
            if comm == "multipathd" {
                running = true
                evidence = "pid \(pid) from /run/multipathd.pid"
            }
        }
        if !running, let unix = Self.text(p("/proc/net/unix")).text, unix.contains("@/org/kernel/linux/storage/multipathd") {
            running = true
            evidence = "its socket @/org/kernel/linux/storage/multipathd is listening"
        }
        let wants = ["sysinit.target.wants/multipathd.service", "multi-user.target.wants/multipathd.service",
                     "sockets.target.wants/multipathd.socket"]
        let enabled = wants.contains { Self.exists(p("/etc/systemd/system/" + $0)) }
        return MultipathdFacts(binary: binary, running: running, evidence: evidence, enabled: enabled)
    }

    func timeSync() -> TimeSyncFacts {
        var daemons: [String] = []
        if Self.exists(p("/usr/sbin/chronyd")) { daemons.append("chronyd") }
        if Self.exists(p("/usr/sbin/ntpd")) { daemons.append("ntpd") }
        if Self.exists(p("/lib/systemd/systemd-timesyncd")) || Self.exists(p("/usr/lib/systemd/systemd-timesyncd")) {
            daemons.append("systemd-timesyncd")
        }
        return TimeSyncFacts(
            daemons: daemons,
            timesyncdSynchronizedFile: Self.exists(p("/run/systemd/timesync/synchronized")),
            chronycTracking: daemons.contains("chronyd") ? runner.run(["chronyc", "tracking"]) : nil,
            ntpqReadvar: daemons.contains("ntpd") ? runner.run(["ntpq", "-c", "rv"]) : nil,
            timedatectlShow: runner.run(["timedatectl", "show"]))
    }

    /// Exists as a file, directory or (possibly dangling) symlink: lstat(2).
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func text(_ path: String) -> ConfigText {
        if let bytes = FileIO.readAll(path) { return ConfigText(path: path, text: String(decoding: bytes, as: UTF8.self)) }
        if exists(path) { return ConfigText(path: path, text: nil, error: "exists but cannot be read (errno \(errno))") }
        return ConfigText(path: path, text: nil)
    }
}

/// Command output read from files instead of running commands: `argv` joined with `_`
/// (`chronyc_tracking.txt`) below `dir`; a first line `# exit N` sets the exit status.
/// `pathctl doctor --root DIR` uses DIR/cmd so a fixture host never runs the live host's
/// commands; tests use it the same way.
public struct FixtureCommandRunner: CommandRunner {
    public let dir: String
    public init(dir: String) { self.dir = dir }

    public func run(_ argv: [String]) -> CommandOutput? {
        let name = argv.joined(separator: "_").map { $0 == "/" || $0 == " " ? "_" : $0 }
        guard let bytes = FileIO.readAll("\(dir)/\(String(name)).txt") else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        var status: Int32 = 0
        if text.hasPrefix("# exit "), let nl = text.firstIndex(of: "\n") {
            status = Int32(text[text.index(text.startIndex, offsetBy: 7)..<nl].trimmingWhitespace()) ?? 0
            text = String(text[text.index(after: nl)...])
        }
        return CommandOutput(status: status, stdout: text)
    }
}
