/// Bridges discovery's `Topology` to the plain host-state snapshots the attach, detach
/// and reconciliation planners decide on.
extension Topology {
    /// Sessions with a parseable portal; channel/target ids come from the session's
    /// SCSI target when a LUN of it is present.
    public var sessionInfos: [ISCSISessionInfo] {
        sessions.compactMap { s in
            guard let first = s.portals.first, let portal = try? ISCSIPortal(first) else { return nil }
            let lun = allPaths.first { $0.iscsi?.session == s.name }
            return ISCSISessionInfo(
                sessionID: s.sid, targetIQN: s.target, portal: portal, hostNumber: s.host,
                channel: lun?.hctl.channel, targetID: lun?.hctl.target,
                state: .init(sysfs: s.state))
        }
    }

    public var deviceInfos: [SCSIDeviceInfo] {
        allPaths.map { p in
            SCSIDeviceInfo(hctl: p.hctl, name: p.device, wwn: p.wwn.flatMap { try? WWN($0) }, state: p.state)
        }
    }

    public var mapInfos: [DMMapInfo] {
        maps.map { DMMapInfo(name: $0.name, uuid: $0.uuid.isEmpty ? nil : $0.uuid, device: $0.device, slaves: $0.slaves) }
    }

    public var fcHostInfos: [FCHostInfo] {
        fcHosts.compactMap { h in
            guard let port = try? WWPN(h.portName) else { return nil }
            return FCHostInfo(hostNumber: h.host, portName: port, nodeName: try? WWPN(h.nodeName), portState: h.portState)
        }
    }

    public var remotePortInfos: [FCRemotePortInfo] {
        fcHosts.flatMap { h in
            h.remotePorts.compactMap { r -> FCRemotePortInfo? in
                guard let port = try? WWPN(r.portName) else { return nil }
                // rport-H:B-R: B is the channel
                let channel = r.name.split(separator: ":").last.flatMap { $0.split(separator: "-").first }.flatMap { Int($0) } ?? 0
                return FCRemotePortInfo(hostNumber: h.host, portName: port, scsiTargetID: r.scsiTargetID,
                                        portState: r.portState, channel: channel)
            }
        }
    }
}
