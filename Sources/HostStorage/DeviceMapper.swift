import CDevMapper
import CPathShims
import Glibc
import PathCore
import Synchronization

/// One target line of a dm table or status: `<start> <length> <type> <params>`.
public struct DMTargetLine: Sendable, Equatable {
    public var start: UInt64
    public var length: UInt64
    public var type: String
    public var params: String
    public init(start: UInt64, length: UInt64, type: String, params: String) {
        self.start = start
        self.length = length
        self.type = type
        self.params = params
    }
}

/// What DM_DEVICE_INFO says about a device.
public struct DMDeviceState: Sendable, Equatable {
    public var name: String
    public var uuid: String
    public var major: UInt32
    public var minor: UInt32
    public var openCount: Int32
    public var eventNumber: UInt32
    public var suspended: Bool
    public var liveTable: Bool
    public var inactiveTable: Bool
    public var readOnly: Bool
    public var targetCount: Int32
    public var deferredRemove: Bool
    public init(name: String, uuid: String, major: UInt32, minor: UInt32, openCount: Int32, eventNumber: UInt32, suspended: Bool,
                liveTable: Bool, inactiveTable: Bool, readOnly: Bool, targetCount: Int32, deferredRemove: Bool) {
        self.name = name
        self.uuid = uuid
        self.major = major
        self.minor = minor
        self.openCount = openCount
        self.eventNumber = eventNumber
        self.suspended = suspended
        self.liveTable = liveTable
        self.inactiveTable = inactiveTable
        self.readOnly = readOnly
        self.targetCount = targetCount
        self.deferredRemove = deferredRemove
    }
    /// `dm-N`
    public var kernelName: String { "dm-\(minor)" }
    public var devNumber: String { "\(major):\(minor)" }
}

/// Device-mapper control: the seam between the multipath engine and the kernel.
/// `LibDeviceMapper` is the real one (libdevmapper ioctls); tests use a fake.
public protocol DeviceMapperControl: Sendable {
    func list() throws -> [(name: String, devNumber: String)]
    func info(_ name: String) throws -> DMDeviceState?
    func table(_ name: String) throws -> [DMTargetLine]
    func status(_ name: String) throws -> [DMTargetLine]
    func create(_ name: String, uuid: String, targets: [DMTargetLine], readOnly: Bool) throws
    /// Loads a new table into the inactive slot and resumes (swaps it in).
    func reload(_ name: String, targets: [DMTargetLine]) throws
    func suspend(_ name: String, flush: Bool) throws
    func resume(_ name: String) throws
    /// Removes the device; `deferred` makes the kernel remove it on last close when busy.
    func remove(_ name: String, deferred: Bool) throws
    /// Sends a target message at sector 0 (`fail_path 8:16`, `fail_if_no_path`...).
    @discardableResult func message(_ name: String, _ text: String) throws -> String?
    /// Blocks until the device's event counter passes `after` (a path failed, a table
    /// was loaded...); returns the new event number. DM_DEVICE_WAITEVENT.
    func waitEvent(_ name: String, after: UInt32) throws -> UInt32
}

/// libdevmapper is not thread-safe: it keeps process-wide state without locks of its own
/// (the queue of `/dev/mapper` node operations that create, resume and remove stack and
/// `dm_udev_wait`/`update_devs` drain, the control fd opened on first use, the driver
/// version check). The agent's workers reach it from several threads at once (parallel
/// detaches removing maps while the monitor reads status), so every task, from
/// `dm_task_create` to `dm_task_destroy`, runs under this one lock, as multipath-tools does
/// (`libmp_dm_task_run`). The exception is DM_DEVICE_WAITEVENT, which blocks until the
/// next event and touches none of that state.
private let libdmLock = Mutex(())

/// The real device-mapper control through libdevmapper.
///
/// With `udevSync` (multipath-tools' way), create/resume/remove wait for udevd to finish
/// its rules for the device (a udev cookie), so `/dev/mapper/<name>` and the by-id links
/// exist when the call returns; under a slow udev that wait dominates an attach. Without
/// it (the agent's default), libdevmapper makes the `/dev/mapper` node itself, the kernel's
/// `/dev/dm-N` exists at once, and udev adds its links shortly after.
public final class LibDeviceMapper: DeviceMapperControl {
    private static let setup: Void = { cpathshims_dm_install_log() }()
    public let udevSync: Bool

    public init(udevSync: Bool = false) {
        _ = Self.setup
        self.udevSync = udevSync
    }

    private func locked<T: Sendable>(_ body: () throws -> T) throws -> T {
        try libdmLock.withLock { _ throws(any Error) -> T in try body() }
    }

    private func task(_ type: Int32, _ name: String?, _ what: String) throws -> OpaquePointer {
        cpathshims_dm_clear_error()
        guard let t = dm_task_create(type) else {
            throw HostStorageError(.deviceMapper, "cannot create a device-mapper task for \(what)")
        }
        if let name, dm_task_set_name(t, name) == 0 {
            dm_task_destroy(t)
            throw HostStorageError(.invalidArgument, "device-mapper refused the name '\(name)'")
        }
        return t
    }

    private func run(_ t: OpaquePointer, _ what: String) throws {
        if dm_task_run(t) == 0 {
            let e = errno
            let msg = String(cString: cpathshims_dm_last_error())
            let code: HostStorageError.Code = msg.contains("busy") || e == EBUSY ? .busy
                : (msg.contains("No such device") || e == ENXIO || e == ENODEV ? .notFound
                : (e == EACCES || e == EPERM ? .permission : .deviceMapper))
            throw HostStorageError(code, "device-mapper \(what) failed", errno: e, cause: msg.isEmpty ? nil : msg)
        }
    }

    private func udevSynced(_ t: OpaquePointer, _ body: () throws -> Void) throws {
        guard udevSync else {
            try body()
            return
        }
        var cookie: UInt32 = 0
        if dm_task_set_cookie(t, &cookie, 0) == 0 {
            try body()
            return
        }
        do { try body() } catch {
            _ = dm_udev_wait(cookie)
            throw error
        }
        _ = dm_udev_wait(cookie)
    }

    public func list() throws -> [(name: String, devNumber: String)] {
        try locked {
            let t = try task(Int32(DM_DEVICE_LIST), nil, "list")
            defer { dm_task_destroy(t) }
            try run(t, "list")
            var out: [(String, String)] = []
            var e = cpathshims_dm_names_first(dm_task_get_names(t))
            while let entry = e {
                let dev = cpathshims_dm_names_dev(entry)
                // kernel dev_t encoding (huge_encode_dev): major = bits 8..19, minor = low 8 + bits 20..
                let major = (dev >> 8) & 0xfff
                let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
                out.append((String(cString: cpathshims_dm_names_name(entry)), "\(major):\(minor)"))
                e = cpathshims_dm_names_next(entry)
            }
            return out
        }
    }

    public func info(_ name: String) throws -> DMDeviceState? {
        try locked {
            let t = try task(Int32(DM_DEVICE_INFO), name, "info \(name)")
            defer { dm_task_destroy(t) }
            try run(t, "info \(name)")
            var i = dm_info()
            guard dm_task_get_info(t, &i) != 0 else { throw HostStorageError(.deviceMapper, "device-mapper info \(name): no data") }
            guard i.exists != 0 else { return nil }
            let uuid = dm_task_get_uuid(t).map { String(cString: $0) } ?? ""
            return DMDeviceState(
                name: name, uuid: uuid, major: i.major, minor: i.minor, openCount: i.open_count, eventNumber: i.event_nr,
                suspended: i.suspended != 0, liveTable: i.live_table != 0, inactiveTable: i.inactive_table != 0,
                readOnly: i.read_only != 0, targetCount: i.target_count, deferredRemove: i.deferred_remove != 0)
        }
    }

    private func targets(_ type: Int32, _ name: String, _ what: String) throws -> [DMTargetLine] {
        let t = try task(type, name, "\(what) \(name)")
        defer { dm_task_destroy(t) }
        try run(t, "\(what) \(name)")
        var out: [DMTargetLine] = []
        var next: UnsafeMutableRawPointer? = nil
        repeat {
            var start: UInt64 = 0
            var length: UInt64 = 0
            var ttype: UnsafeMutablePointer<CChar>? = nil
            var params: UnsafeMutablePointer<CChar>? = nil
            next = dm_get_next_target(t, next, &start, &length, &ttype, &params)
            if let ttype {
                out.append(DMTargetLine(start: start, length: length, type: String(cString: ttype),
                                        params: params.map { String(cString: $0) } ?? ""))
            }
        } while next != nil
        return out
    }

    public func table(_ name: String) throws -> [DMTargetLine] {
        try locked {
            try targets(Int32(DM_DEVICE_TABLE), name, "table")
        }
    }

    public func status(_ name: String) throws -> [DMTargetLine] {
        try locked {
            try targets(Int32(DM_DEVICE_STATUS), name, "status")
        }
    }

    private func add(_ t: OpaquePointer, _ targets: [DMTargetLine], _ name: String) throws {
        guard !targets.isEmpty else { throw HostStorageError(.invalidArgument, "a table for \(name) needs at least one target") }
        for l in targets where dm_task_add_target(t, l.start, l.length, l.type, l.params) == 0 {
            throw HostStorageError(.deviceMapper, "device-mapper refused target '\(l.type) \(l.params)' for \(name)")
        }
    }

    public func create(_ name: String, uuid: String, targets: [DMTargetLine], readOnly: Bool) throws {
        try locked {
            let t = try task(Int32(DM_DEVICE_CREATE), name, "create \(name)")
            defer { dm_task_destroy(t) }
            if !uuid.isEmpty, dm_task_set_uuid(t, uuid) == 0 {
                throw HostStorageError(.invalidArgument, "device-mapper refused the uuid '\(uuid)'")
            }
            if readOnly { _ = dm_task_set_ro(t) }
            try add(t, targets, name)
            try udevSynced(t) { try run(t, "create \(name)") }
        }
    }

    public func reload(_ name: String, targets: [DMTargetLine]) throws {
        try locked {
            let t = try task(Int32(DM_DEVICE_RELOAD), name, "reload \(name)")
            defer { dm_task_destroy(t) }
            try add(t, targets, name)
            try run(t, "reload \(name)")
        }
        // its own task under its own hold of the lock (the lock is not recursive)
        try resume(name)
    }

    public func suspend(_ name: String, flush: Bool) throws {
        try locked {
            let t = try task(Int32(DM_DEVICE_SUSPEND), name, "suspend \(name)")
            defer { dm_task_destroy(t) }
            if !flush { _ = dm_task_no_flush(t) }
            try run(t, "suspend \(name)")
        }
    }

    public func resume(_ name: String) throws {
        try locked {
            let t = try task(Int32(DM_DEVICE_RESUME), name, "resume \(name)")
            defer { dm_task_destroy(t) }
            try udevSynced(t) { try run(t, "resume \(name)") }
        }
    }

    public func remove(_ name: String, deferred: Bool) throws {
        try locked {
            let t = try task(Int32(DM_DEVICE_REMOVE), name, "remove \(name)")
            defer { dm_task_destroy(t) }
            if deferred { _ = dm_task_deferred_remove(t) } else { _ = dm_task_retry_remove(t) }
            try udevSynced(t) { try run(t, "remove \(name)") }
        }
    }

    @discardableResult
    public func message(_ name: String, _ text: String) throws -> String? {
        try locked {
            let t = try task(Int32(DM_DEVICE_TARGET_MSG), name, "message \(name)")
            defer { dm_task_destroy(t) }
            _ = dm_task_set_sector(t, 0)
            guard dm_task_set_message(t, text) != 0 else {
                throw HostStorageError(.invalidArgument, "device-mapper refused the message '\(text)'")
            }
            try run(t, "message '\(text)' to \(name)")
            return dm_task_get_message_response(t).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// Not under `libdmLock` (it blocks until the next event; see the lock's note).
    public func waitEvent(_ name: String, after: UInt32) throws -> UInt32 {
        let t = try task(Int32(DM_DEVICE_WAITEVENT), name, "waitevent \(name)")
        defer { dm_task_destroy(t) }
        _ = dm_task_set_event_nr(t, after)
        try run(t, "waitevent \(name)")
        var i = dm_info()
        _ = dm_task_get_info(t, &i)
        return i.event_nr
    }
}
