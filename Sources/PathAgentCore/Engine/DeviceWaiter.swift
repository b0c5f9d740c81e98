import HostStorage
import PathCore
import Synchronization

/// Waits for a condition on the kernel's state, re-checking only when the kernel sends a
/// uevent (scsi/block devices appearing, changing or going away), with a deadline per
/// step: no sleep loops.
final class DeviceWaiter: Sendable {
    private let monitor: (any KernelEventWatch)?
    private let pulse = EventPulse()

    /// Start listening before acting, so no event between the action and the wait is lost.
    init(kernel: any KernelControl) {
        let p = pulse
        monitor = kernel.watchEvents(subsystems: ["scsi", "block", "iscsi_session", "scsi_disk", "scsi_device"]) { p.signal() }
    }

    deinit {
        monitor?.stop()
    }

    /// Returns `check()`'s first non-nil value; throws `.timeout` naming `what`.
    func wait<T>(_ what: String, timeoutSeconds: Double, check: () throws -> T?) async throws -> T {
        var seen = pulse.count
        if let v = try check() { return v }
        guard monitor != nil else {
            throw HostStorageError(.udev, "cannot watch kernel events to wait for \(what)")
        }
        let deadline = MonotonicClock.nanos() + UInt64(timeoutSeconds * 1e9)
        while MonotonicClock.nanos() < deadline {
            let remaining = Double(deadline - MonotonicClock.nanos()) / 1e9
            seen = await pulse.wait(after: seen, timeoutSeconds: remaining)
            if let v = try check() { return v }
        }
        if let v = try check() { return v }
        throw HostStorageError(.timeout, "timed out after \(Int(timeoutSeconds)) s waiting for \(what)")
    }
}

/// A counter of kernel events that tasks can wait on (with a timeout).
final class EventPulse: Sendable {
    private struct State {
        var count: UInt64 = 0
        var waiters: [(id: UInt64, after: UInt64, c: CheckedContinuation<UInt64, Never>)] = []
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    var count: UInt64 { state.withLock { $0.count } }

    func signal() {
        let ready = state.withLock { s -> [(CheckedContinuation<UInt64, Never>, UInt64)] in
            s.count += 1
            let r = s.waiters.map { ($0.c, s.count) }
            s.waiters.removeAll()
            return r
        }
        for (c, n) in ready { c.resume(returning: n) }
    }

    /// Returns the event count once it is past `after`, or at the timeout.
    func wait(after: UInt64, timeoutSeconds: Double) async -> UInt64 {
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        return await withCheckedContinuation { (c: CheckedContinuation<UInt64, Never>) in
            let now = state.withLock { s -> UInt64? in
                if s.count > after { return s.count }
                s.waiters.append((id, after, c))
                return nil
            }
            if let now { c.resume(returning: now); return }
            Task.detached { [self] in
                try? await Task.sleep(nanoseconds: UInt64(max(0.001, timeoutSeconds) * 1e9))
                let pending = state.withLock { s -> (CheckedContinuation<UInt64, Never>, UInt64)? in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return (s.waiters.remove(at: i).c, s.count)
                }
                if let (c, n) = pending { c.resume(returning: n) }
            }
        }
    }
}
