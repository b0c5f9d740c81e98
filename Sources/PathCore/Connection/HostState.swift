/// Plain snapshots of host state that the planners decide on. HostStorage fills them from
/// sysfs (`class/iscsi_session`, `class/fc_host`, `class/fc_remote_ports`,
/// `bus/scsi/devices`, `block/dm-*`); tests build them by hand.

/// An open-iscsi session as sysfs shows it (`class/iscsi_session/sessionN`).
public struct ISCSISessionInfo: Hashable, Sendable, Codable {
    /// The sysfs session number (N of `sessionN`), also iscsiadm's SID.
    public var sessionID: Int
    public var targetIQN: String
    /// From the session's connection (`persistent_address`/`persistent_port`).
    public var portal: ISCSIPortal
    /// The SCSI host number (`hostN`) the session created; nil if not known.
    public var hostNumber: Int?
    /// Channel and target id of the session's SCSI target (`targetH:C:T`); nil if no
    /// target exists yet.
    public var channel: Int?
    public var targetID: Int?
    public var state: State

    public enum State: Hashable, Sendable, Codable {
        case loggedIn, failed, free
        case other(String)
        /// From sysfs `state`: `LOGGED_IN`, `FAILED`, `FREE`.
        public init(sysfs: String) {
            switch sysfs.trimmingWhitespace() {
            case "LOGGED_IN": self = .loggedIn
            case "FAILED": self = .failed
            case "FREE": self = .free
            case let s: self = .other(s)
            }
        }
    }

    public init(
        sessionID: Int, targetIQN: String, portal: ISCSIPortal, hostNumber: Int?, channel: Int? = nil, targetID: Int? = nil,
        state: State
    ) {
        self.sessionID = sessionID
        self.targetIQN = targetIQN
        self.portal = portal
        self.hostNumber = hostNumber
        self.channel = channel
        self.targetID = targetID
        self.state = state
    }

    /// True when this session goes to `portal` and `iqn`. Host names compare
    /// case-insensitively; a portal given by host name does not match a session whose
    /// address is an IP (no name resolution in pure code).
    public func matches(portal p: ISCSIPortal, iqn: String) -> Bool {
        targetIQN == iqn && portal.sameEndpoint(as: p)
    }
}

/// A SCSI disk as the kernel shows it now.
public struct SCSIDeviceInfo: Hashable, Sendable, Codable {
    public var hctl: HCTL
    /// Block device name (`sdb`); nil when the disk has no block device (yet).
    public var name: String?
    /// The WWN read from the device (VPD 0x83 / sysfs `wwid`); nil when it could not be read.
    public var wwn: WWN?
    /// sysfs `device/state` (`running`, `offline`, `blocked`, `transport-offline`).
    public var state: String?
    public init(hctl: HCTL, name: String?, wwn: WWN?, state: String? = nil) {
        self.hctl = hctl
        self.name = name
        self.wwn = wwn
        self.state = state
    }
}

/// A device-mapper map as the kernel shows it now.
public struct DMMapInfo: Hashable, Sendable, Codable {
    /// Map name (the WWN, with `user_friendly_names no`).
    public var name: String
    /// DM uuid (`mpath-<wwn>` for multipath maps); nil when unknown.
    public var uuid: String?
    /// `dm-N`, when known.
    public var device: String?
    /// Names of the block devices below the map (`slaves/`), e.g. `["sdb", "sdc"]`.
    public var slaves: [String]
    public init(name: String, uuid: String?, device: String? = nil, slaves: [String] = []) {
        self.name = name
        self.uuid = uuid
        self.device = device
        self.slaves = slaves
    }
    /// The WWN a multipath map claims, from its uuid (`mpath-<wwn>`), else from its name.
    public var claimedWWN: WWN? {
        if let uuid, uuid.hasPrefix("mpath-") { return try? WWN(String(uuid.dropFirst(6))) }
        return try? WWN(name)
    }
}

/// A local FC HBA port (`class/fc_host/hostN`).
public struct FCHostInfo: Hashable, Sendable, Codable {
    public var hostNumber: Int
    public var portName: WWPN
    public var nodeName: WWPN?
    /// sysfs `port_state`: `Online`, `Linkdown`, `Offline`...
    public var portState: String
    public init(hostNumber: Int, portName: WWPN, nodeName: WWPN? = nil, portState: String) {
        self.hostNumber = hostNumber
        self.portName = portName
        self.nodeName = nodeName
        self.portState = portState
    }
    public var isOnline: Bool { portState.trimmingWhitespace() == "Online" }
}

/// A remote FC port seen by a host (`class/fc_remote_ports/rport-H:B-R`).
public struct FCRemotePortInfo: Hashable, Sendable, Codable {
    public var hostNumber: Int
    public var portName: WWPN
    /// `scsi_target_id`; -1 (or nil) when the port has no SCSI target role.
    public var scsiTargetID: Int?
    public var portState: String
    /// The SCSI channel (bus) of the port: B of `rport-H:B-R`, C of
    /// `fc_transport/targetH:C:T`. 0 on every FC HBA driver in practice.
    public var channel: Int
    public init(hostNumber: Int, portName: WWPN, scsiTargetID: Int?, portState: String, channel: Int = 0) {
        self.hostNumber = hostNumber
        self.portName = portName
        self.scsiTargetID = scsiTargetID
        self.portState = portState
        self.channel = channel
    }
    public var isOnline: Bool { portState.trimmingWhitespace() == "Online" }
}

/// One write to `/sys/class/scsi_host/hostN/scan`: "C T L", where C and T may be `-`
/// (wildcard). The daemon writes `line` to `sysfsPath` under its sysfs root.
public struct SCSIScanRequest: Hashable, Sendable, Codable, CustomStringConvertible {
    public var host: Int
    /// nil = wildcard `-`.
    public var channel: Int?
    public var target: Int?
    public var lun: UInt64
    public init(host: Int, channel: Int?, target: Int?, lun: UInt64) {
        self.host = host
        self.channel = channel
        self.target = target
        self.lun = lun
    }
    /// Tree-relative sysfs attribute to write (`class/scsi_host/host3/scan`).
    public var sysfsPath: String { "class/scsi_host/host\(host)/scan" }
    /// What to write, e.g. `0 0 1` or `- - 1`.
    public var line: String { "\(channel.map(String.init) ?? "-") \(target.map(String.init) ?? "-") \(lun)" }
    public var isWildcard: Bool { channel == nil || target == nil }
    public var description: String { "host\(host): \(line)" }
}
