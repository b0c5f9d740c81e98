import Dispatch
import Glibc
import PathCore
import Synchronization

/// The kernel and configuration roots the agent reads. Every piece of logic takes these
/// as a parameter so tests and `pathctl --root DIR` can point them at a fixture tree
/// (DIR/sys, DIR/dev, DIR/etc).
public struct HostRoots: Sendable, Equatable {
    public var sys: String
    public var dev: String
    public var etc: String
    public var run: String

    public init(sys: String = "/sys", dev: String = "/dev", etc: String = "/etc", run: String = "/run") {
        self.sys = sys
        self.dev = dev
        self.etc = etc
        self.run = run
    }

    /// All roots below one directory, as `--root DIR` means.
    public init(under dir: String) {
        let d = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        self.init(sys: d + "/sys", dev: d + "/dev", etc: d + "/etc", run: d + "/run")
    }

    public static let live = HostRoots()
    public var isLive: Bool { self == .live }
}

/// Monotonic time for measuring operations (CLOCK_MONOTONIC).
public enum MonotonicClock {
    public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Reads the whole topology from `roots.sys` and records how long it took.
public enum Inventory {
    /// Devices are read on up to `threads` threads (default: one per CPU) when there
    /// are many of them; sysfs reads are independent system calls.
    public static func scan(roots: HostRoots = .live, options: TopologyScanner.Options = .init(), threads: Int? = nil) -> Topology {
        scan(sysfs: DiskSysfs(root: roots.sys), options: options, threads: threads)
    }

    public static func scan(sysfs: any SysfsSource, options: TopologyScanner.Options = .init(), threads: Int? = nil) -> Topology {
        let t0 = MonotonicClock.nanos()
        let scanner = TopologyScanner(sysfs: sysfs, options: options)
        let n = max(1, threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var topo = scanner.scan { names, sessions, fcHosts in
            guard n > 1, names.count >= 128 else {
                return scanner.scanPaths(names: names, sessions: sessions, fcHosts: fcHosts)
            }
            let chunk = (names.count + n - 1) / n
            let results = Mutex([[ScsiPath]](repeating: [], count: n))
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let part = Array(names[min(names.count, i * chunk)..<min(names.count, (i + 1) * chunk)])
                let paths = scanner.scanPaths(names: part, sessions: sessions, fcHosts: fcHosts)
                results.withLock { $0[i] = paths }
            }
            return results.withLock { $0.flatMap { $0 } }
        }
        topo.inventory.micros = Int64((MonotonicClock.nanos() - t0) / 1000)
        return topo
    }
}
