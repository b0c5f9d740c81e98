/// Kernel events about a path that must not wait for the next checker poll.
public enum PathEvent: Hashable, Sendable {
    /// udev `remove` of the path's block device.
    case udevRemove(DeviceNumber)
    /// The SCSI device state changed (udev `change` / sysfs `device/state`).
    case deviceState(DeviceNumber, SCSIDeviceState)
    /// A unit attention with its ASC/ASCQ: from sense data seen on I/O, or from the kernel's
    /// `SDEV_UA=<NAME>` change uevent (see `unitAttention(_:sdevUA:)`).
    case unitAttention(DeviceNumber, asc: UInt8, ascq: UInt8)
    /// A dm event whose status shows this path failed by the kernel (I/O error on the path).
    case dmPathFailed(DeviceNumber)
}

/// What the daemon does about an event, immediately.
public enum PathEventReaction: Hashable, Sendable {
    /// Send `fail_path` to the map now.
    case failPath(DeviceNumber)
    /// Take the path out of the map (table reload without it).
    case removeFromMap(DeviceNumber)
    /// Run the checker on this path now instead of at the next poll.
    case checkNow(DeviceNumber)
    /// Rescan the device (`device/rescan`) to pick up a new capacity, then resize the map
    /// when every path agrees on the new size.
    case rescanCapacityAndResize(DeviceNumber)
    /// Rescan the target the path belongs to (REPORT LUNS changed: LUNs added or removed).
    case rescanTarget(DeviceNumber)
    /// Re-read REPORT TARGET PORT GROUPS for the volume and regroup if needed.
    case rereadALUA(DeviceNumber)
    /// Re-read INQUIRY / VPD pages (3F/03 INQUIRY DATA HAS CHANGED).
    case rereadInquiry(DeviceNumber)
}

extension PathEvent {
    /// The `SDEV_UA` values drivers/scsi/scsi_lib.c `scsi_evt_emit` puts in a KOBJ_CHANGE
    /// uevent, with the ASC/ASCQ of the unit attention each stands for.
    public static let sdevUACodes: [String: (asc: UInt8, ascq: UInt8)] = [
        "INQUIRY_DATA_HAS_CHANGED": (0x3F, 0x03),
        "CAPACITY_DATA_HAS_CHANGED": (0x2A, 0x09),
        "THIN_PROVISIONING_SOFT_THRESHOLD_REACHED": (0x38, 0x07),
        "MODE_PARAMETERS_CHANGED": (0x2A, 0x01),
        "REPORTED_LUNS_DATA_HAS_CHANGED": (0x3F, 0x0E),
        "ASYMMETRIC_ACCESS_STATE_CHANGED": (0x2A, 0x06),
        "POWER_ON_RESET_OCCURRED": (0x29, 0x00),
    ]

    /// The event for a uevent's `SDEV_UA` value (e.g. `CAPACITY_DATA_HAS_CHANGED`).
    public static func unitAttention(_ device: DeviceNumber, sdevUA: String) throws -> PathEvent {
        guard let c = sdevUACodes[sdevUA.trimmingWhitespace()] else {
            throw PathCoreError(.unsupported, "unknown SDEV_UA value '\(sdevUA)'")
        }
        return .unitAttention(device, asc: c.asc, ascq: c.ascq)
    }
}

public enum PathEventPolicy {
    /// Maps an event to its immediate reactions, in the order to perform them.
    public static func react(to event: PathEvent) -> [PathEventReaction] {
        switch event {
        case .udevRemove(let d):
            return [.failPath(d), .removeFromMap(d)]
        case .deviceState(let d, let st):
            switch st {
            case .offline, .transportOffline, .deleted, .cancel: return [.failPath(d)]
            case .running: return [.checkNow(d)]
            case .blocked, .created, .quiesce: return []
            }
        case .unitAttention(let d, let asc, let ascq):
            switch (asc, ascq) {
            case (0x2A, 0x09): return [.rescanCapacityAndResize(d)]  // CAPACITY DATA HAS CHANGED
            case (0x3F, 0x0E): return [.rescanTarget(d)]             // REPORTED LUNS DATA HAS CHANGED
            case (0x2A, 0x06), (0x2A, 0x07): return [.rereadALUA(d)] // ASYMMETRIC ACCESS STATE CHANGED / IMPLICIT TRANSITION FAILED
            case (0x3F, 0x03): return [.rereadInquiry(d)]            // INQUIRY DATA HAS CHANGED
            default: return [.checkNow(d)]
            }
        case .dmPathFailed(let d):
            return [.checkNow(d)]
        }
    }
}
