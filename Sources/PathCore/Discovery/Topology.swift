/// The host's storage topology as discovery reads it from sysfs: every SCSI path, the
/// iSCSI sessions and FC ports they travel over, and the device-mapper maps above them,
/// grouped into volumes by WWN.
public struct Topology: Sendable, Codable, Equatable {
    public var volumes: [Volume]
    public var sessions: [ISCSISession]
    public var fcHosts: [FCHost]
    public var maps: [DMDevice]
    /// How long the scan took, for operators and the inventory benchmark.
    public var inventory: InventoryStats

    public init(volumes: [Volume], sessions: [ISCSISession], fcHosts: [FCHost], maps: [DMDevice], inventory: InventoryStats) {
        self.volumes = volumes
        self.sessions = sessions
        self.fcHosts = fcHosts
        self.maps = maps
        self.inventory = inventory
    }

    /// Every path of every volume.
    public var allPaths: [ScsiPath] { volumes.flatMap(\.paths) }

    public func volume(_ wwn: WWN) -> Volume? { volumes.first { $0.wwn == wwn.value } }
}

public struct InventoryStats: Sendable, Codable, Equatable {
    public var paths: Int
    public var micros: Int64
    public init(paths: Int, micros: Int64) {
        self.paths = paths
        self.micros = micros
    }
}

/// One logical unit seen through one or more paths. `wwn` is the canonical WWN
/// (`3` + NAA hex) or, for a device that reports no designator, `unknown:<H:C:T:L>`.
public struct Volume: Sendable, Codable, Equatable {
    public var wwn: String
    public var vendor: String
    public var model: String
    public var sizeBytes: UInt64?
    public var map: DMMapRef?
    public var paths: [ScsiPath]

    public init(wwn: String, vendor: String, model: String, sizeBytes: UInt64?, map: DMMapRef?, paths: [ScsiPath]) {
        self.wwn = wwn
        self.vendor = vendor
        self.model = model
        self.sizeBytes = sizeBytes
        self.map = map
        self.paths = paths
    }

    public var isPure: Bool { vendor == "PURE" }
    public var activePaths: Int { paths.filter(\.isActive).count }
}

public struct DMMapRef: Sendable, Codable, Equatable {
    public var name: String
    public var device: String
    public var uuid: String
    public init(name: String, device: String, uuid: String) {
        self.name = name
        self.device = device
        self.uuid = uuid
    }
}

/// A device-mapper device as sysfs shows it (`/sys/block/dm-N/dm/{name,uuid}`, `slaves/`).
public struct DMDevice: Sendable, Codable, Equatable {
    public var name: String
    public var device: String
    public var uuid: String
    public var devNumber: String?
    public var slaves: [String]
    public var sizeBytes: UInt64?
    public var suspended: Bool
    /// Block queue settings of the map (`queue/`): `discardMaxBytes` 0 means the map
    /// does not pass discards down.
    public var queue: QueueSettings?
    public init(name: String, device: String, uuid: String, devNumber: String?, slaves: [String], sizeBytes: UInt64?, suspended: Bool,
                queue: QueueSettings? = nil) {
        self.queue = queue
        self.name = name
        self.device = device
        self.uuid = uuid
        self.devNumber = devNumber
        self.slaves = slaves
        self.sizeBytes = sizeBytes
        self.suspended = suspended
    }
    /// The WWN a multipath map's uuid names (`mpath-<wwn>`), if it is one.
    public var multipathWWN: String? {
        uuid.hasPrefix("mpath-") ? String(uuid.dropFirst(6)) : nil
    }
}

public enum Transport: String, Sendable, Codable, Equatable {
    case iscsi, fc, other
}

/// One SCSI device (one path to a logical unit).
public struct ScsiPath: Sendable, Codable, Equatable {
    public var hctl: HCTL
    /// Block device name (`sdb`), nil when the device has no disk driver bound.
    public var device: String?
    /// Kernel `maj:min` of the block device.
    public var devNumber: String?
    /// SCSI generic node name (`sg1`).
    public var sg: String?
    public var transport: Transport
    /// SCSI device state: running, offline, blocked, transport-offline, created, cancel, deleted.
    public var state: String
    public var vendor: String
    public var model: String
    public var revision: String
    public var wwn: String?
    public var sizeBytes: UInt64?
    /// SCSI command timeout in seconds (`device/timeout`).
    public var timeoutSeconds: Int?
    public var queue: QueueSettings?
    public var provisioningMode: String?
    /// ALUA access state as the kernel's scsi_dh_alua reports it (`access_state`); nil when
    /// no device handler is attached (the kernel then refuses the read).
    public var accessState: String?
    public var iscsi: ISCSIPathInfo?
    public var fc: FCPathInfo?
    /// The PREF bit of the path's target port group as scsi_dh_alua reports it
    /// (`preferred_path`); nil when no device handler is attached.
    public var preferredPath: Bool?

    /// `accessState` as a typed ALUA state (nil when absent or `unknown`).
    public var aluaState: ALUAState? { accessState.flatMap { ALUAState(kernelAccessState: $0) } }

    /// The one definition of a path that carries I/O: SCSI state running, its iSCSI
    /// session LOGGED_IN, its FC remote port Online.
    public var isActive: Bool {
        state == "running" && (iscsi?.state ?? "LOGGED_IN") == "LOGGED_IN" && (fc?.portState ?? "Online") == "Online"
    }

    /// The path's state as the API reports it: `active`, else the SCSI device state.
    public var apiState: String { state == "running" ? "active" : state }

    public init(hctl: HCTL, device: String?, devNumber: String?, sg: String?, transport: Transport, state: String,
                vendor: String, model: String, revision: String, wwn: String?, sizeBytes: UInt64?,
                timeoutSeconds: Int?, queue: QueueSettings?, provisioningMode: String?, accessState: String?,
                iscsi: ISCSIPathInfo?, fc: FCPathInfo?, preferredPath: Bool? = nil) {
        self.hctl = hctl
        self.device = device
        self.devNumber = devNumber
        self.sg = sg
        self.transport = transport
        self.state = state
        self.vendor = vendor
        self.model = model
        self.revision = revision
        self.wwn = wwn
        self.sizeBytes = sizeBytes
        self.timeoutSeconds = timeoutSeconds
        self.queue = queue
        self.provisioningMode = provisioningMode
        self.accessState = accessState
        self.iscsi = iscsi
        self.fc = fc
        self.preferredPath = preferredPath
    }
}

public struct QueueSettings: Sendable, Codable, Equatable {
    public var scheduler: String?
    public var addRandom: Int?
    public var rqAffinity: Int?
    public var maxSectorsKB: Int?
    public var discardMaxBytes: UInt64?
    public init(scheduler: String?, addRandom: Int?, rqAffinity: Int?, maxSectorsKB: Int?, discardMaxBytes: UInt64?) {
        self.scheduler = scheduler
        self.addRandom = addRandom
        self.rqAffinity = rqAffinity
        self.maxSectorsKB = maxSectorsKB
        self.discardMaxBytes = discardMaxBytes
    }
}

public struct ISCSIPathInfo: Sendable, Codable, Equatable {
    public var session: String
    public var target: String
    public var portal: String?
    public var state: String
    public init(session: String, target: String, portal: String?, state: String) {
        self.session = session
        self.target = target
        self.portal = portal
        self.state = state
    }
}

public struct FCPathInfo: Sendable, Codable, Equatable {
    public var host: Int
    public var rport: String
    public var hostPortName: String?
    public var targetPortName: String?
    public var portState: String?
    public init(host: Int, rport: String, hostPortName: String?, targetPortName: String?, portState: String?) {
        self.host = host
        self.rport = rport
        self.hostPortName = hostPortName
        self.targetPortName = targetPortName
        self.portState = portState
    }
}

/// An iSCSI session (`/sys/class/iscsi_session/sessionN`) and its connection.
public struct ISCSISession: Sendable, Codable, Equatable {
    public var name: String
    public var sid: Int
    public var target: String
    /// LOGGED_IN, FAILED or FREE.
    public var state: String
    public var portals: [String]
    /// SCSI host number the session's LUNs appear under.
    public var host: Int?
    public var recoveryTmo: Int?
    public var iface: String?
    public var initiator: String?
    public var tpgt: Int?
    public init(name: String, sid: Int, target: String, state: String, portals: [String], host: Int?, recoveryTmo: Int?,
                iface: String?, initiator: String?, tpgt: Int?) {
        self.name = name
        self.sid = sid
        self.target = target
        self.state = state
        self.portals = portals
        self.host = host
        self.recoveryTmo = recoveryTmo
        self.iface = iface
        self.initiator = initiator
        self.tpgt = tpgt
    }
}

/// An FC HBA port (`/sys/class/fc_host/hostN`) with its remote ports.
public struct FCHost: Sendable, Codable, Equatable {
    public var host: Int
    public var portName: String
    public var nodeName: String
    public var portState: String
    public var speed: String?
    public var remotePorts: [FCRemotePort]
    public init(host: Int, portName: String, nodeName: String, portState: String, speed: String?, remotePorts: [FCRemotePort]) {
        self.host = host
        self.portName = portName
        self.nodeName = nodeName
        self.portState = portState
        self.speed = speed
        self.remotePorts = remotePorts
    }
}

public struct FCRemotePort: Sendable, Codable, Equatable {
    public var name: String
    public var portName: String
    public var nodeName: String?
    public var roles: String
    public var portState: String
    public var scsiTargetID: Int?
    public var fastIOFailTmo: String?
    public var devLossTmo: Int?
    public init(name: String, portName: String, nodeName: String?, roles: String, portState: String, scsiTargetID: Int?,
                fastIOFailTmo: String?, devLossTmo: Int?) {
        self.name = name
        self.portName = portName
        self.nodeName = nodeName
        self.roles = roles
        self.portState = portState
        self.scsiTargetID = scsiTargetID
        self.fastIOFailTmo = fastIOFailTmo
        self.devLossTmo = devLossTmo
    }
    public var isTarget: Bool { roles.contains("FCP Target") }
}
