/// One check of the discard (UNMAP/TRIM) chain from the guest down to the array:
/// what was found, what it should be, and the command that fixes it.
public struct DiscardFinding: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable, Comparable {
        case ok, info, warning, error
        var rank: Int { [.ok: 0, .info: 1, .warning: 2, .error: 3][self]! }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    /// Stable id: `discard.device.lbpme`, `discard.device.lbpu`, `discard.path.provisioning_mode`,
    /// `discard.path.discard_max_bytes`, `discard.map.discard_max_bytes`, `discard.map.present`,
    /// `discard.properties.discard`.
    public var id: String
    public var severity: Severity
    /// What the finding is about: `device`, `sdb`, `dm-0`, `connection properties`.
    public var subject: String
    public var found: String
    public var recommended: String
    /// A command or setting that repairs the link (nil when nothing is to be done).
    public var fix: String?

    public init(id: String, severity: Severity, subject: String, found: String, recommended: String, fix: String? = nil) {
        self.id = id
        self.severity = severity
        self.subject = subject
        self.found = found
        self.recommended = recommended
        self.fix = fix
    }
}

/// What the logical unit itself says about deallocation (READ CAPACITY(16) and VPD 0xB2),
/// when the caller could ask it.
public struct DeviceProvisioning: Sendable, Equatable, Codable {
    /// LBPME
    public var provisioningEnabled: Bool
    /// LBPU
    public var unmapSupported: Bool
    /// LBPWS
    public var writeSameUnmapSupported: Bool
    /// Where it was read (`/dev/sg1`, an iSCSI URL without password).
    public var source: String

    public init(provisioningEnabled: Bool, unmapSupported: Bool, writeSameUnmapSupported: Bool, source: String) {
        self.provisioningEnabled = provisioningEnabled
        self.unmapSupported = unmapSupported
        self.writeSameUnmapSupported = writeSameUnmapSupported
        self.source = source
    }

    public init(_ caps: UnmapCapabilities, source: String) {
        self.init(provisioningEnabled: caps.provisioningEnabled, unmapSupported: caps.unmapSupported,
                  writeSameUnmapSupported: caps.writeSameUnmapSupported, source: source)
    }
}

public struct DiscardChainReport: Sendable, Equatable, Codable {
    public var volume: String
    public var findings: [DiscardFinding]
    /// The worst severity found.
    public var severity: DiscardFinding.Severity { findings.map(\.severity).max() ?? .ok }
    /// No warning or error.
    public var healthy: Bool { severity <= .info }
    public var problems: [DiscardFinding] { findings.filter { $0.severity >= .warning } }
}

/// Checks the discard chain of one volume (pure; `pathctl discard-check` and
/// `pathctl doctor` call it):
///
/// 1. the LU: LBPME=1 (thin) and LBPU=1 (UNMAP) from the device, when queried;
/// 2. the connection properties say `discard: true` (else Nova does not give the guest
///    `discard='unmap'`), when given;
/// 3. every sd path: `scsi_disk/*/provisioning_mode` is `unmap` and
///    `queue/discard_max_bytes` > 0 (the kernel zeroes it when it decides the LU cannot
///    deallocate, or after an UNMAP failed);
/// 4. the dm multipath map: `queue/discard_max_bytes` > 0 (dm-mpath passes discards only
///    when every path can).
public enum DiscardChain {
    public static func check(
        volume: Volume, topology: Topology, device: DeviceProvisioning? = nil, connectionDiscard: Bool? = nil
    ) -> DiscardChainReport {
        var out: [DiscardFinding] = []
        let rescanAll = volume.paths.map { "echo 1 > /sys/class/scsi_device/\($0.hctl)/device/rescan" }.joined(separator: "; ")

        if let d = device {
            out.append(
                d.provisioningEnabled
                    ? DiscardFinding(id: "discard.device.lbpme", severity: .ok, subject: "device", found: "LBPME=1 (thin provisioned)", recommended: "LBPME=1")
                    : DiscardFinding(
                        id: "discard.device.lbpme", severity: .error, subject: "device",
                        found: "LBPME=0: the LU is fully provisioned (READ CAPACITY(16) via \(d.source))",
                        recommended: "LBPME=1",
                        fix: "enable thin provisioning on the LU at the array (FlashArray volumes are always thin; tgt: tgtadm --op update --mode logicalunit --params thin_provisioning=1), then rescan: \(rescanAll)"))
            if d.unmapSupported {
                out.append(DiscardFinding(id: "discard.device.lbpu", severity: .ok, subject: "device", found: "LBPU=1 (UNMAP supported)", recommended: "LBPU=1"))
            } else if d.writeSameUnmapSupported {
                out.append(
                    DiscardFinding(
                        id: "discard.device.lbpu", severity: .warning, subject: "device",
                        found: "LBPU=0, LBPWS=1: only WRITE SAME(16) with UNMAP deallocates",
                        recommended: "LBPU=1",
                        fix: "enable UNMAP support on the LU at the array; until then the kernel uses provisioning_mode writesame_16 and pathctl unmap falls back to WRITE SAME(16)"))
            } else {
                out.append(
                    DiscardFinding(
                        id: "discard.device.lbpu", severity: .error, subject: "device",
                        found: "LBPU=0, LBPWS=0: the LU accepts neither UNMAP nor WRITE SAME with UNMAP (VPD 0xB2 via \(d.source))",
                        recommended: "LBPU=1",
                        fix: "enable UNMAP (SCSI logical block provisioning) on the LU at the array, then rescan: \(rescanAll)"))
            }
        }

        if let discard = connectionDiscard {
            out.append(
                discard
                    ? DiscardFinding(id: "discard.properties.discard", severity: .ok, subject: "connection properties", found: "discard: true", recommended: "discard: true")
                    : DiscardFinding(
                        id: "discard.properties.discard", severity: .warning, subject: "connection properties",
                        found: "discard is false or missing: Nova attaches the disk without discard='unmap', so guest TRIM never reaches the array",
                        recommended: "discard: true",
                        fix: "Cinder's Pure driver returns discard: true; for another backend set report_discard_supported = True in its cinder.conf stanza, and set [libvirt] hw_disk_discard = unmap in nova.conf"))
        }

        for p in volume.paths {
            let name = p.device ?? p.sg ?? p.hctl.description
            let disk = "/sys/class/scsi_disk/\(p.hctl)/provisioning_mode"
            switch p.provisioningMode {
            case "unmap":
                out.append(DiscardFinding(id: "discard.path.provisioning_mode", severity: .ok, subject: name, found: "unmap", recommended: "unmap"))
            case "writesame_16", "writesame_10":
                out.append(
                    DiscardFinding(
                        id: "discard.path.provisioning_mode", severity: .warning, subject: name,
                        found: p.provisioningMode!, recommended: "unmap",
                        fix: "echo unmap > \(disk) (if the LU reports LBPU=1); persist with a udev rule ACTION==\"add\", SUBSYSTEM==\"scsi_disk\", ATTR{provisioning_mode}=\"unmap\""))
            case "full":
                out.append(
                    DiscardFinding(
                        id: "discard.path.provisioning_mode", severity: .error, subject: name,
                        found: "full (the kernel saw LBPME=0)", recommended: "unmap",
                        fix: "enable thin provisioning on the LU, then rescan: echo 1 > /sys/class/scsi_device/\(p.hctl)/device/rescan"))
            case nil:
                out.append(
                    DiscardFinding(
                        id: "discard.path.provisioning_mode", severity: .warning, subject: name,
                        found: "not readable (no sd driver bound?)", recommended: "unmap",
                        fix: "check that the sd driver is bound: ls /sys/class/scsi_disk/\(p.hctl)"))
            default:
                out.append(
                    DiscardFinding(
                        id: "discard.path.provisioning_mode", severity: .error, subject: name,
                        found: p.provisioningMode!, recommended: "unmap",
                        fix: "echo unmap > \(disk), then rescan: echo 1 > /sys/class/scsi_device/\(p.hctl)/device/rescan"))
            }
            if let q = p.queue, let max = q.discardMaxBytes {
                out.append(
                    max > 0
                        ? DiscardFinding(id: "discard.path.discard_max_bytes", severity: .ok, subject: name, found: "\(max)", recommended: "> 0")
                        : DiscardFinding(
                            id: "discard.path.discard_max_bytes", severity: .error, subject: name,
                            found: "0: the block layer sends no discard to \(name)", recommended: "> 0",
                            fix: "echo unmap > \(disk) and rescan (echo 1 > /sys/class/scsi_device/\(p.hctl)/device/rescan); the kernel sets discard_max_bytes from the Block Limits page"))
            } else if p.device != nil {
                out.append(
                    DiscardFinding(
                        id: "discard.path.discard_max_bytes", severity: .warning, subject: name,
                        found: "not readable", recommended: "> 0", fix: "cat /sys/block/\(name)/queue/discard_max_bytes"))
            }
        }

        if let ref = volume.map {
            let dm = topology.maps.first { $0.device == ref.device }
            if let max = dm?.queue?.discardMaxBytes {
                out.append(
                    max > 0
                        ? DiscardFinding(id: "discard.map.discard_max_bytes", severity: .ok, subject: ref.device, found: "\(max)", recommended: "> 0")
                        : DiscardFinding(
                            id: "discard.map.discard_max_bytes", severity: .error, subject: ref.device,
                            found: "0: the multipath map \(ref.name) does not pass discards", recommended: "> 0",
                            fix: "repair every path first (each needs discard_max_bytes > 0), then reload the map so dm recomputes its limits: pathctl connect again, or dmsetup suspend \(ref.name); dmsetup reload \(ref.name) --table \"$(dmsetup table \(ref.name))\"; dmsetup resume \(ref.name)"))
            } else {
                out.append(
                    DiscardFinding(
                        id: "discard.map.discard_max_bytes", severity: .warning, subject: ref.device,
                        found: "not readable", recommended: "> 0", fix: "cat /sys/block/\(ref.device)/queue/discard_max_bytes"))
            }
        } else if volume.paths.count > 1 {
            out.append(
                DiscardFinding(
                    id: "discard.map.present", severity: .info, subject: volume.wwn,
                    found: "\(volume.paths.count) paths and no multipath map", recommended: "one dm multipath map",
                    fix: "pathctl connect builds the map; discards to a single sd use only that path"))
        }
        return DiscardChainReport(volume: volume.wwn, findings: out)
    }
}
