import CUdev
import Glibc
import PathCore
import Synchronization

/// One device event (or one enumerated device) from udev.
public struct UdevEvent: Sendable, Equatable {
    /// add, remove, change, bind, unbind, online, offline; "enumerate" for enumeration.
    public var action: String
    public var subsystem: String
    public var devtype: String?
    public var sysname: String
    public var devpath: String
    public var devnode: String?
    public var seqnum: UInt64
    public var properties: [String: String]

    public subscript(_ key: String) -> String? { properties[key] }
}

/// libudev is not thread-safe: every call goes through this one lock
/// (as multipath-tools does in libmpathutil/mt-libudev.c).
private let udevLock = Mutex(())

/// The udev library context. The corresponding C function is `udev_new`.
final class UdevContext: @unchecked Sendable {
    let udev: OpaquePointer
    init() throws {
        guard let u = udevLock.withLock({ _ in udev_new() }) else {
            throw HostStorageError(.udev, "cannot create a udev context")
        }
        udev = u
    }
    deinit { udevLock.withLock { _ in _ = udev_unref(udev) } }
}

private func event(from dev: OpaquePointer, action fallback: String) -> UdevEvent {
    func s(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
    var props: [String: String] = [:]
    var e = udev_device_get_properties_list_entry(dev)
    while let entry = e {
        if let k = s(udev_list_entry_get_name(entry)) { props[k] = s(udev_list_entry_get_value(entry)) ?? "" }
        e = udev_list_entry_get_next(entry)
    }
    return UdevEvent(
        action: s(udev_device_get_action(dev)) ?? fallback,
        subsystem: s(udev_device_get_subsystem(dev)) ?? "",
        devtype: s(udev_device_get_devtype(dev)),
        sysname: s(udev_device_get_sysname(dev)) ?? "",
        devpath: s(udev_device_get_devpath(dev)) ?? "",
        devnode: s(udev_device_get_devnode(dev)),
        seqnum: udev_device_get_seqnum(dev),
        properties: props)
}

public enum Udev {
    /// Every device of the given subsystems as udev's database knows it (properties
    /// include udev rules' results: ID_VENDOR, ID_SERIAL, DM_NAME, DM_UUID...).
    /// The corresponding C functions are `udev_enumerate_*`.
    public static func enumerate(subsystems: [String]) throws -> [UdevEvent] {
        let ctx = try UdevContext()
        return try udevLock.withLock { _ in
            guard let en = udev_enumerate_new(ctx.udev) else { throw HostStorageError(.udev, "cannot create a udev enumeration") }
            defer { udev_enumerate_unref(en) }
            for s in subsystems { _ = udev_enumerate_add_match_subsystem(en, s) }
            _ = udev_enumerate_scan_devices(en)
            var out: [UdevEvent] = []
            var e = udev_enumerate_get_list_entry(en)
            while let entry = e {
                if let path = udev_list_entry_get_name(entry), let dev = udev_device_new_from_syspath(ctx.udev, path) {
                    out.append(event(from: dev, action: "enumerate"))
                    udev_device_unref(dev)
                }
                e = udev_list_entry_get_next(entry)
            }
            return out
        }
    }
}

/// Device events as an `AsyncSequence`. A dedicated thread waits on the netlink socket
/// with poll(2) (no busy polling) and yields each event; `stop()` wakes it through a
/// pipe and ends the stream (the thread keeps the monitor alive until then).
///
/// `source` is `.udev` (events after udevd's rules ran: what the agent normally wants)
/// or `.kernel` (raw kernel uevents: works where no udevd runs).
public final class UdevMonitor: AsyncSequence, @unchecked Sendable {
    public typealias Element = UdevEvent
    public enum Source: String, Sendable { case udev, kernel }

    private let ctx: UdevContext
    private let monitor: OpaquePointer
    private let wakeFD: Int32
    private let wakeWriteFD: Int32
    private let stream: AsyncStream<UdevEvent>
    private let continuation: AsyncStream<UdevEvent>.Continuation
    private let running = Mutex(false)
    private var thread = pthread_t()

    /// Starts listening at once (events between `init` and the first `next()` are buffered).
    public init(source: Source = .udev, subsystems: [String] = ["block", "scsi"], bufferLimit: Int = 4096) throws {
        let c = try UdevContext()
        ctx = c
        guard let m = udevLock.withLock({ _ in udev_monitor_new_from_netlink(c.udev, source.rawValue) }) else {
            throw HostStorageError(.udev, "cannot open the \(source.rawValue) netlink monitor (permission or no netlink support)")
        }
        monitor = m
        let rc: Int32 = udevLock.withLock { _ in
            for s in subsystems { _ = udev_monitor_filter_add_match_subsystem_devtype(m, s, nil) }
            _ = udev_monitor_set_receive_buffer_size(m, 8 << 20)
            return udev_monitor_enable_receiving(m)
        }
        guard rc >= 0 else {
            _ = udev_monitor_unref(m)
            throw HostStorageError(.udev, "cannot start receiving \(source.rawValue) events", errno: -rc)
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            _ = udev_monitor_unref(m)
            throw HostStorageError.posix("cannot create a wake-up pipe for", "the udev monitor")
        }
        wakeFD = pipeFDs[0]
        wakeWriteFD = pipeFDs[1]
        (stream, continuation) = AsyncStream.makeStream(of: UdevEvent.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        running.withLock { $0 = true }
        let box = Unmanaged.passRetained(self)
        let r = pthread_create(&thread, nil, { arg in
            let me = Unmanaged<UdevMonitor>.fromOpaque(arg!).takeRetainedValue()
            me.loop()
            return nil
        }, box.toOpaque())
        if r != 0 {
            box.release()
            throw HostStorageError(.udev, "cannot start the udev monitor thread", errno: r)
        }
    }

    private func loop() {
        let fd = udevLock.withLock { _ in udev_monitor_get_fd(monitor) }
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        while running.withLock({ $0 }) {
            let n = poll(&fds, 2, -1)
            if n < 0 { if errno == EINTR { continue } else { break } }
            if fds[1].revents != 0 { break }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let ev: UdevEvent? = udevLock.withLock { _ in
                    guard let dev = udev_monitor_receive_device(monitor) else { return nil }
                    defer { udev_device_unref(dev) }
                    return event(from: dev, action: "change")
                }
                if let ev { continuation.yield(ev) }
            }
        }
        continuation.finish()
    }

    /// Ends the stream; the monitor thread exits.
    public func stop() {
        let was = running.withLock { r -> Bool in let w = r; r = false; return w }
        if was {
            var one: UInt8 = 1
            _ = write(wakeWriteFD, &one, 1)
            pthread_join(thread, nil)
        }
    }

    deinit {
        stop()
        close(wakeFD)
        close(wakeWriteFD)
        udevLock.withLock { _ in _ = udev_monitor_unref(monitor) }
    }

    public func makeAsyncIterator() -> AsyncStream<UdevEvent>.AsyncIterator { stream.makeAsyncIterator() }
}
