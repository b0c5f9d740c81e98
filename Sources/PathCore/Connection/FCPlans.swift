/// What the daemon does to find an FC volume's paths: targeted scans, nothing else.
public struct FCScanPlan: Sendable, Equatable {
    /// Writes to `class/scsi_host/hostN/scan`, targeted (`<channel> <scsi_target_id> <lun>`, channel 0 in practice) or,
    /// only where allowed and no known target port is present, wildcard (`- - <lun>`).
    public var scans: [SCSIScanRequest]
    /// The (host, target id, LUN) addresses at which the volume is expected; the daemon
    /// waits for these and checks each one's WWN.
    public var expectedAddresses: [HCTL]
    /// Hosts not scanned and why (offline port, not in the initiator-target map...).
    public var skipped: [String]
    public var expectedWWN: WWN?
}

public enum FCPlanner {
    /// The target ports an initiator should reach: from `initiator_target_map` when the
    /// map exists (an initiator absent from it reaches nothing), else every target.
    static func targets(for initiator: WWPN, spec: FCConnectionSpec) -> [FCTarget]? {
        guard !spec.initiatorTargetMap.isEmpty else { return spec.targets }
        guard let mapped = spec.initiatorTargetMap[initiator] else { return nil }
        let defaultLUN = spec.targets.first
        return mapped.compactMap { w in
            if let t = spec.targets.first(where: { $0.wwpn == w }) { return t }
            guard let d = defaultLUN else { return nil }
            return FCTarget(wwpn: w, lun: d.lun, scsiLUN: d.scsiLUN)
        }
    }

    /// Plans the scans for an FC attach (or extend/rescan). Only online local ports
    /// and online remote ports with a SCSI target id are used.
    public static func scan(_ spec: FCConnectionSpec, hosts: [FCHostInfo], remotePorts: [FCRemotePortInfo]) -> FCScanPlan {
        var scans: [SCSIScanRequest] = []
        var expected: [HCTL] = []
        var skipped: [String] = []
        for h in hosts.sorted(by: { $0.hostNumber < $1.hostNumber }) {
            guard h.isOnline else {
                skipped.append("host\(h.hostNumber) (\(h.portName)): port state \(h.portState)")
                continue
            }
            guard let targets = targets(for: h.portName, spec: spec) else {
                skipped.append("host\(h.hostNumber) (\(h.portName)): not in initiator_target_map")
                continue
            }
            var matched = false
            for t in targets {
                for r in remotePorts where r.hostNumber == h.hostNumber && r.portName == t.wwpn {
                    guard r.isOnline, let tid = r.scsiTargetID, tid >= 0 else {
                        skipped.append("host\(h.hostNumber) target \(t.wwpn): remote port \(r.portState), target id \(r.scsiTargetID.map(String.init) ?? "none")")
                        continue
                    }
                    matched = true
                    let req = SCSIScanRequest(host: h.hostNumber, channel: r.channel, target: tid, lun: t.scsiLUN)
                    if !scans.contains(req) {
                        scans.append(req)
                        expected.append(HCTL(host: h.hostNumber, channel: r.channel, target: tid, lun: t.scsiLUN))
                    }
                }
            }
            if !matched {
                if spec.enableWildcardScan {
                    for lun in Set(targets.map(\.scsiLUN)).sorted() {
                        scans.append(SCSIScanRequest(host: h.hostNumber, channel: nil, target: nil, lun: lun))
                    }
                } else {
                    skipped.append("host\(h.hostNumber) (\(h.portName)): no online remote port of the volume's targets; wildcard scan not enabled")
                }
            }
        }
        return FCScanPlan(scans: scans, expectedAddresses: expected, skipped: skipped, expectedWWN: spec.wwn)
    }

    /// Plans an FC detach: the volume's disks are those at (host, 0, target id of one of
    /// its target ports, LUN) plus those below its map; same WWN rules as iSCSI
    /// (`ISCSIPlanner.detach`). FC has no sessions to log out.
    public static func detach(
        _ spec: FCConnectionSpec, volumeWWN: WWN, hosts: [FCHostInfo], remotePorts: [FCRemotePortInfo],
        devices: [SCSIDeviceInfo], maps: [DMMapInfo], options: DetachOptions = .init()
    ) throws -> DetachPlan {
        let candidates = Self.devices(of: spec, hosts: hosts, remotePorts: remotePorts, devices: devices)
        return try DetachCore.plan(volumeWWN: volumeWWN, candidates: candidates, devices: devices, maps: maps, options: options)
    }

    /// The disks at the volume's addresses (host, channel, target id of one of its target
    /// ports reachable from that host, LUN), whatever WWN they show (callers check it).
    public static func devices(
        of spec: FCConnectionSpec, hosts: [FCHostInfo], remotePorts: [FCRemotePortInfo], devices: [SCSIDeviceInfo]
    ) -> [SCSIDeviceInfo] {
        var candidates: [SCSIDeviceInfo] = []
        for h in hosts {
            let targets = targets(for: h.portName, spec: spec) ?? []
            for t in targets {
                for r in remotePorts where r.hostNumber == h.hostNumber && r.portName == t.wwpn {
                    guard let tid = r.scsiTargetID, tid >= 0 else { continue }
                    for d in devices where d.hctl.host == h.hostNumber && d.hctl.channel == r.channel && d.hctl.target == tid
                        && d.hctl.lun == t.scsiLUN
                        && !candidates.contains(d)
                    {
                        candidates.append(d)
                    }
                }
            }
        }
        return candidates.sorted { $0.hctl < $1.hctl }
    }
}
