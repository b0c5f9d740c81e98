/// The sysfs writes that put a volume's paths under its multipath settings when they
/// appear: SCSI command timeout and block queue settings per sd path, and the transport
/// timeouts (FC remote port fast_io_fail_tmo / dev_loss_tmo, iSCSI session recovery_tmo,
/// the iSCSI form of fast_io_fail_tmo). Only values that differ from what sysfs shows now
/// are written, so re-applying is cheap and a refused value names its file.
public enum PathTuning {
    public struct Write: Hashable, Sendable, CustomStringConvertible {
        /// Relative to the sysfs root.
        public var file: String
        public var value: String
        public var description: String { "\(file) = \(value)" }
    }

    /// `current` reads an attribute (relative to the sysfs root) for the comparison.
    /// `iscsiRecoveryTmo`, when given, is the agent's configured `iscsi.recovery_tmo`: it
    /// wins over the profile's fast_io_fail_tmo for iSCSI sessions (the same value the
    /// login set as `node.session.timeo.replacement_timeout`).
    public static func writes(for paths: [ScsiPath], settings s: MultipathSettings, iscsiRecoveryTmo: Int? = nil,
                              current: (String) -> String?) -> [Write] {
        var out: [Write] = []
        func want(_ file: String, _ value: String?, compare: (String) -> String = { $0 }) {
            guard let value else { return }
            if let now = current(file), compare(now) == value { return }
            if !out.contains(where: { $0.file == file }) { out.append(Write(file: file, value: value)) }
        }
        for p in paths {
            want("bus/scsi/devices/\(p.hctl)/timeout", s.deviceTimeout.value.map(String.init))
            if let sd = p.device {
                want("class/block/\(sd)/queue/scheduler", s.scheduler.value, compare: TopologyScanner.selectedScheduler)
                want("class/block/\(sd)/queue/add_random", s.addRandom.value.map(String.init))
                want("class/block/\(sd)/queue/rq_affinity", s.rqAffinity.value.map(String.init))
                want("class/block/\(sd)/queue/max_sectors_kb", s.maxSectorsKB.value.map(String.init))
            }
            if let fc = p.fc {
                // the kernel wants fast_io_fail_tmo < dev_loss_tmo: fast_io_fail first
                want("class/fc_remote_ports/\(fc.rport)/fast_io_fail_tmo", s.fastIOFailTmo.value.map(String.init))
                want("class/fc_remote_ports/\(fc.rport)/dev_loss_tmo", s.devLossTmo.value.map(String.init))
            }
            if let i = p.iscsi {
                want("class/iscsi_session/\(i.session)/recovery_tmo", (iscsiRecoveryTmo ?? s.iscsiRecoveryTmo.value).map(String.init))
            }
        }
        return out
    }
}
