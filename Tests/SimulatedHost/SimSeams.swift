import Foundation
import HostStorage
import PathCore
import Synchronization

extension SimState {
    /// Called before every kernel-changing call of the agent: counts down to a simulated
    /// crash; once crashed every call throws (the process is dead).
    mutating func agentCall() throws {
        if crashed { throw SimCrash() }
    }

    /// Called after a kernel-changing call took effect.
    mutating func agentCallDone() throws {
        guard crashCountdown > 0 else { return }
        crashCountdown -= 1
        if crashCountdown == 0 {
            crashed = true
            onCrash?()
            onCrash = nil
            throw SimCrash()
        }
    }
}

extension SimHost {
    /// A kernel-changing call of the agent: dead after a crash, counted toward the next.
    func agentWrite<T>(_ body: (inout SimState) throws -> T) throws -> T {
        try mutate { s in
            try s.agentCall()
            // a call that changes what sysfs or dm shows bumps `version` itself
            let r = try body(&s)
            try s.agentCallDone()
            return r
        }
    }
}

// MARK: - sysfs

/// The sysfs tree rendered from the model (cached until the model changes).
struct SimSysfsTree: Sendable {
    /// Resolved paths of this rendering (the tree does not change once rendered).
    final class ResolveCache: @unchecked Sendable {
        let lock = NSLock()
        var map: [String: String] = [:]
    }
    let cache = ResolveCache()
    var attrs: [String: String] = [:]
    var dirs: [String: Set<String>] = [:]
    var links: [String: String] = [:]
    var binaries: [String: [UInt8]] = [:]

    /// Adds `entry` to `path` and every ancestor to its parent.
    mutating func dir(_ path: String, _ entry: String) {
        var p = path
        var e = entry
        while true {
            let (inserted, _) = dirs[p, default: []].insert(e)
            guard inserted, !p.isEmpty else { return }
            let (parent, base) = Self.split(p)
            e = base
            p = parent
        }
    }

    static func split(_ p: String) -> (String, String) {
        guard let i = p.utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", p) }
        return (String(p[..<i]), String(p[p.utf8.index(after: i)...]))
    }
    mutating func attr(_ path: String, _ value: String) {
        attrs[path] = value
        let (parent, base) = Self.split(path)
        dir(parent, base)
    }
    mutating func link(_ path: String, to target: String) {
        links[path] = target
        let (parent, base) = Self.split(path)
        dir(parent, base)
    }

    static func render(_ s: SimState) -> SimSysfsTree {
        var t = SimSysfsTree()
        for (sid, ss) in s.sessions {
            let dev = "devices/platform/host\(ss.host)/session\(sid)"
            t.link("class/iscsi_session/session\(sid)", to: "/sys/\(dev)/iscsi_session/session\(sid)")
            let b = "class/iscsi_session/session\(sid)"
            t.attr("\(b)/targetname", ss.iqn)
            t.attr("\(b)/state", ss.state)
            t.attr("\(b)/recovery_tmo", "\(ss.recoveryTmo)")
            t.attr("\(b)/tpgt", "1")
            let c = "class/iscsi_connection/connection\(sid):0"
            t.link(c, to: "/sys/\(dev)/connection\(sid):0/iscsi_connection/connection\(sid):0")
            t.attr("\(c)/persistent_address", ss.portal.host)
            t.attr("\(c)/persistent_port", "\(ss.portal.port)")
            t.dir("class/scsi_host", "host\(ss.host)")
        }
        for (h, kind) in s.scsiHosts where kind.hasPrefix("fc:") {
            let b = "class/fc_host/host\(h)"
            t.link(b, to: "/sys/devices/pci0000:00/host\(h)/fc_host/host\(h)")
            t.attr("\(b)/port_name", "0x" + kind.dropFirst(3))
            t.attr("\(b)/node_name", "0x" + kind.dropFirst(3))
            t.attr("\(b)/port_state", "Online")
            t.dir("class/scsi_host", "host\(h)")
        }
        for r in s.rports {
            let b = "class/fc_remote_ports/\(r.name)"
            t.link(b, to: "/sys/devices/pci0000:00/host\(r.host)/\(r.name)/fc_remote_ports/\(r.name)")
            t.attr("\(b)/port_name", "0x" + r.wwpn.value)
            t.attr("\(b)/node_name", "0x" + r.wwpn.value)
            t.attr("\(b)/roles", "FCP Target")
            t.attr("\(b)/port_state", r.state)
            t.attr("\(b)/scsi_target_id", "\(r.targetID)")
            t.attr("\(b)/fast_io_fail_tmo", "off")
            t.attr("\(b)/dev_loss_tmo", "60")
        }
        for (hctl, d) in s.disks {
            let dev = devicePath(s, hctl)
            t.link("bus/scsi/devices/\(hctl)", to: "/sys/\(dev)")
            t.attr("\(dev)/state", d.state)
            t.attr("\(dev)/vendor", d.vendor)
            t.attr("\(dev)/model", d.model)
            t.attr("\(dev)/rev", "6.1")
            t.attr("\(dev)/type", "0")
            t.attr("\(dev)/wwid", "naa." + d.cachedWWN.designatorHex)
            t.attr("\(dev)/timeout", d.attrs["timeout"] ?? "30")
            if let a = d.accessState {
                t.attr("\(dev)/access_state", a)
                t.attr("\(dev)/preferred_path", d.preferredPath ? "1" : "0")
            }
            t.binaries["\(dev)/vpd_pg83"] = SimVPD.page83(d.cachedWWN, peripheralByte: d.cachedPeripheralByte)
            t.dir(dev, "vpd_pg83")
            let blk = "\(dev)/block/\(d.name)"
            t.attr("\(blk)/dev", d.devNumber)
            t.attr("\(blk)/size", "\(d.sizeSectors)")
            t.link("\(blk)/device", to: "/sys/\(dev)")
            t.dir("\(blk)/holders", ".")
            t.dirs["\(blk)/holders"] = Set(s.holders(of: d))
            t.link("block/\(d.name)", to: "/sys/\(blk)")
            t.link("class/block/\(d.name)", to: "/sys/\(blk)")
        }
        for m in s.maps.values {
            let b = "devices/virtual/block/dm-\(m.minor)"
            t.link("class/block/dm-\(m.minor)", to: "/sys/\(b)")
            t.link("block/dm-\(m.minor)", to: "/sys/\(b)")
            t.attr("\(b)/dev", m.devNumber)
            t.attr("\(b)/size", "\(m.table.length)")
            t.attr("\(b)/dm/name", m.name)
            t.attr("\(b)/dm/uuid", m.uuid)
            t.attr("\(b)/dm/suspended", "0")
            let slaves = m.table.groups.flatMap(\.paths).compactMap { p in s.disks.values.first { $0.devNumber == p.device.description }?.name }
            t.dirs["\(b)/slaves"] = Set(slaves)
            t.dir(b, "slaves")
            t.dirs["\(b)/holders"] = []
        }
        return t
    }

    static func devicePath(_ s: SimState, _ hctl: HCTL) -> String {
        if let ss = s.sessions.values.first(where: { $0.host == hctl.host }) {
            return "devices/platform/host\(hctl.host)/session\(ss.sid)/target\(hctl.host):0:0/\(hctl)"
        }
        if let r = s.rports.first(where: { $0.host == hctl.host && $0.targetID == hctl.target }) {
            return "devices/pci0000:00/host\(hctl.host)/\(r.name)/target\(hctl.host):0:\(hctl.target)/\(hctl)"
        }
        return "devices/platform/host\(hctl.host)/target\(hctl.host):\(hctl.channel):\(hctl.target)/\(hctl)"
    }

    /// Resolves every symlink component of a tree-relative path.
    func resolve(_ path: String) -> String {
        cache.lock.lock()
        if let r = cache.map[path] { cache.lock.unlock(); return r }
        cache.lock.unlock()
        let r = resolveUncached(path)
        cache.lock.lock()
        cache.map[path] = r
        cache.lock.unlock()
        return r
    }

    func resolveUncached(_ path: String) -> String {
        var parts = path.split(separator: "/").map(String.init)
        var i = 0
        var guardCount = 0
        while i < parts.count && guardCount < 64 {
            let prefix = parts[0...i].joined(separator: "/")
            if let target = links[prefix] {
                let resolved = SysfsPath.resolve(target, relativeTo: SysfsPath.parent(prefix))
                parts = resolved.split(separator: "/").map(String.init) + parts[(i + 1)...]
                i = 0
                guardCount += 1
                continue
            }
            i += 1
        }
        return parts.joined(separator: "/")
    }
}

public struct SimSysfs: SysfsSource {
    let host: SimHost
    func tree() -> SimSysfsTree {
        // the kernel's probe of what a scan found finishes a little later: after a few
        // more reads of sysfs (each waiter re-reads on the event the appearance sends)
        let due = host.state.withLock { s -> Bool in
            guard !s.pending.isEmpty else { return false }
            s.pendingReads -= 1
            return s.pendingReads <= 0
        }
        if due { host.settle() }
        return host.state.withLock { s in
            if let t = s.rendered { return t }
            let t = SimSysfsTree.render(s)
            s.rendered = t
            return t
        }
    }
    public func attribute(_ path: String) -> String? {
        let t = tree()
        return t.attrs[path] ?? t.attrs[t.resolve(path)]
    }
    public func entries(_ path: String) -> [String] {
        let t = tree()
        return (t.dirs[path] ?? t.dirs[t.resolve(path)] ?? []).filter { $0 != "." }.sorted()
    }
    /// As readlink(2): the links on the way are followed, the last one is read.
    public func link(_ path: String) -> String? {
        let t = tree()
        if let l = t.links[path] { return l }
        let (parent, base) = SimSysfsTree.split(path)
        return t.links[t.resolve(parent) + "/" + base]
    }
    public func binary(_ path: String) -> [UInt8]? {
        let t = tree()
        return t.binaries[path] ?? t.binaries[t.resolve(path)]
    }
}

// MARK: - KernelControl

public struct SimKernel: KernelControl {
    let host: SimHost
    public var sysfs: any SysfsSource { SimSysfs(host: host) }
    public var acceptsWrites: Bool { true }

    public func write(_ rel: String, _ value: String) throws {
        // the paths the agent writes resolve without rendering the tree
        let raw = rel.split(separator: "/").map(String.init)
        let path: String
        if raw.count == 4, raw[0] == "class", raw[1] == "scsi_host" || raw[1] == "iscsi_session" {
            path = rel
        } else if raw.count == 5, raw[0] == "bus", raw[1] == "scsi", raw[2] == "devices" {
            path = "devices/x/\(raw[3])/\(raw[4])"
        } else if raw.count >= 3, raw[0] == "class", raw[1] == "block" || raw[1] == "fc_remote_ports" {
            path = rel
        } else {
            path = SimSysfs(host: host).tree().resolve(rel)
        }
        try host.agentWrite { s in
            let parts = path.split(separator: "/").map(String.init)
            if parts.count == 4, parts[0] == "class", parts[1] == "scsi_host", parts[3] == "scan", parts[2].hasPrefix("host"),
                let h = Int(parts[2].dropFirst(4)) {
                try s.scan(host: h, line: value)
                return
            }
            if let last = parts.last, parts.count >= 2, let hctl = try? HCTL(parts[parts.count - 2]), s.disks[hctl] != nil {
                switch last {
                case "delete":
                    let d = s.disks[hctl]!
                    s.effects.append(.deletedDisk(hctl, name: d.name, wwn: SimVPD.truth(s, hctl) ?? d.cachedWWN))
                    s.removeDisk(hctl)
                    return
                case "rescan":
                    // a disk that is not running is not re-read (its commands fail or wait)
                    if s.disks[hctl]!.state == "running" { s.rereadIdentity(hctl) }
                    return
                case "state":
                    let was = s.disks[hctl]!.state
                    s.disks[hctl]!.state = value
                    s.version += 1
                    // scsi_sysfs store_state_field: a disk set back to running is rescanned
                    if value == "running" && was != "running" { s.rereadIdentity(hctl) }
                    return
                default:
                    if s.disks[hctl]!.attrs[last] != value {
                        s.disks[hctl]!.attrs[last] = value
                        if last == "timeout" { s.version += 1 }
                    }
                    s.effects.append(.attributeWritten(rel, value))
                    return
                }
            }
            if parts.count >= 4, parts[0] == "class", parts[1] == "iscsi_session", parts[3] == "recovery_tmo",
                let sid = Int(parts[2].dropFirst("session".count)), s.sessions[sid] != nil {
                s.sessions[sid]!.recoveryTmo = Int(value) ?? 120
                s.version += 1
                return
            }
            // queue settings, rport timeouts: accepted and logged
            s.effects.append(.attributeWritten(rel, value))
        }
    }

    public func openBlock(_ name: String) throws -> any HeldBlockDevice {
        try host.mutate { s in
            try s.agentCall()
            if let k = s.disks.first(where: { $0.value.name == name })?.key {
                if s.disks[k]!.opensRefused > 0 {
                    s.disks[k]!.opensRefused -= 1
                    throw HostStorageError(.notFound, "cannot open /dev/\(name): No such device or address", errno: ENXIO)
                }
                // sd_open: a disk that is offline (by hand, or its session's recovery timed out) is not opened
                if s.disks[k]!.state == "offline" || s.disks[k]!.state == "transport-offline" {
                    throw HostStorageError(.notFound, "cannot open /dev/\(name): No such device or address", errno: ENXIO)
                }
                s.disks[k]!.heldByAgent += 1
                return SimHeldDevice(host: host, name: name, devNumber: s.disks[k]!.devNumber, hctl: k, map: nil)
            }
            if let m = s.maps.values.first(where: { "dm-\($0.minor)" == name }) {
                return SimHeldDevice(host: host, name: name, devNumber: m.devNumber, hctl: nil, map: m.name)
            }
            if s.charDevices.contains(name) {
                throw HostStorageError(.invalidArgument, "/dev/\(name) is not a block device; refusing to open it")
            }
            throw HostStorageError(.notFound, "no such device: /dev/\(name)")
        }
    }

    public func deviceName(ofPath path: String) throws -> String {
        let name = String(path.dropFirst("/dev/".count))
        return try host.read { s in
            if s.disks.values.contains(where: { $0.name == name }) || s.maps.values.contains(where: { "dm-\($0.minor)" == name }) {
                return name
            }
            if s.charDevices.contains(name) { throw HostStorageError(.invalidArgument, "\(path) is not a block device; not opened") }
            throw HostStorageError(.notFound, "cannot resolve \(path)")
        }
    }

    public func mountPoints(devNumber: String) -> [String] {
        host.read { s in s.disks.values.filter { $0.devNumber == devNumber }.compactMap(\.mounted) }
    }

    public func exists(dev name: String) -> Bool {
        host.read { s in s.disks.values.contains { $0.name == name } || s.maps.values.contains { "dm-\($0.minor)" == name } }
    }

    public func watchEvents(subsystems: [String], _ onEvent: @escaping @Sendable () -> Void) -> (any KernelEventWatch)? {
        let id = host.state.withLock { s -> Int in
            s.nextWatcher += 1
            s.watchers[s.nextWatcher] = onEvent
            return s.nextWatcher
        }
        return SimWatch(host: host, id: id)
    }
}

struct SimWatch: KernelEventWatch {
    let host: SimHost
    let id: Int
    func stop() {
        _ = host.state.withLock { $0.watchers.removeValue(forKey: id) }
    }
}

final class SimHeldDevice: HeldBlockDevice {
    let host: SimHost
    let name: String
    let devNumber: String
    let hctl: HCTL?
    let map: String?
    let closed = Mutex(false)
    init(host: SimHost, name: String, devNumber: String, hctl: HCTL?, map: String?) {
        self.host = host
        self.name = name
        self.devNumber = devNumber
        self.hctl = hctl
        self.map = map
    }
    deinit { close() }

    func deviceIdentification() throws -> [UInt8] {
        try host.read { s in
            if s.crashed { throw SimCrash() }
            guard let hctl, s.disks[hctl]?.devNumber == devNumber else { throw HostStorageError(.notFound, "\(name) is gone") }
            guard s.disks[hctl]?.state == "running", let id = s.identityAnswer(hctl) else {
                throw HostStorageError(.transport, "transport error on /dev/\(name): DID_NO_CONNECT")
            }
            return SimVPD.page83(id.wwn, peripheralByte: id.peripheralByte)
        }
    }
    func flush() throws {
        try host.read { s in if s.crashed { throw SimCrash() } }
    }
    func readFirstBlock(bytes: Int) throws {
        try host.read { s in
            if s.crashed { throw SimCrash() }
            if let hctl {
                guard s.reachable(hctl) else { throw HostStorageError(.io, "cannot read /dev/\(name): I/O error") }
                return
            }
            if let map, let m = s.maps[map] {
                guard m.pathStates.values.contains(true) else { throw HostStorageError(.io, "cannot read /dev/\(name): I/O error") }
            }
        }
    }
    func testUnitReady(timeoutSeconds: Int) -> TURResult {
        host.read { s in
            guard let hctl, s.disks[hctl] != nil else { return .ioctlFailed(errno: 6) }
            return s.reachable(hctl) ? .good : .hostError(hostByte: 0x01)
        }
    }
    /// What the target behind the disk's I_T nexus reports now (Linux LUN numbers encoded
    /// as the target sends them); a transport error when nothing answers there.
    func reportLUNs(allocationLength: Int) throws -> [UInt8] {
        try host.read { s in
            if s.crashed { throw SimCrash() }
            guard let hctl, s.disks[hctl]?.devNumber == devNumber else { throw HostStorageError(.notFound, "\(name) is gone") }
            guard s.disks[hctl]?.state == "running", let luns = s.reportedLUNs(host: hctl.host, channel: hctl.channel, target: hctl.target)
            else { throw HostStorageError(.transport, "transport error on /dev/\(name): DID_NO_CONNECT") }
            let list = luns.sorted().flatMap { SCSILUN(linux: $0).bytes }
            let n = UInt32(list.count)
            let data = [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF), 0, 0, 0, 0] + list
            return Array(data.prefix(allocationLength))
        }
    }
    func close() {
        let was = closed.withLock { c -> Bool in
            defer { c = true }
            return c
        }
        guard !was, let hctl else { return }
        host.mutate { s in
            if s.disks[hctl] != nil { s.disks[hctl]!.heldByAgent = max(0, s.disks[hctl]!.heldByAgent - 1) }
        }
    }
}

enum SimVPD {
    /// What the array presents at the disk's address now.
    static func truth(_ s: SimState, _ hctl: HCTL) -> WWN? {
        s.lunBehind(host: hctl.host, channel: hctl.channel, target: hctl.target, lun: hctl.lun)?.wwn
    }

    /// VPD 0x83 with one NAA logical-unit designator; `peripheralByte` is byte 0
    /// (PERIPHERAL QUALIFIER and DEVICE TYPE: 0 for a disk).
    static func page83(_ w: WWN, peripheralByte: UInt8 = 0) -> [UInt8] {
        let hex = Array(w.designatorHex)
        var naa: [UInt8] = []
        var i = 0
        while i + 1 < hex.count {
            naa.append(UInt8(String(hex[i...i + 1]), radix: 16)!)
            i += 2
        }
        let desc: [UInt8] = [0x01, 0x03, 0x00, UInt8(naa.count)] + naa
        return [peripheralByte, 0x83, 0x00, UInt8(desc.count)] + desc
    }
}

// MARK: - open-iscsi

/// SendTargets as an array answers it: every target that listens on the asked portal,
/// each with all of its portals written `address:port,tpgt`. An unreachable target's
/// portal does not answer; a target with CHAP set refuses a discovery login without it
/// (the sim uses one secret for both, as the lab's tgt does).
public struct SimISCSIDiscovery: ISCSIDiscovery {
    let host: SimHost
    public func sendTargets(portal: ISCSIPortal, initiator: String?, auth: CHAPCredentials?, timeoutSeconds: Int) throws
        -> [(name: String, portals: [String])]
    {
        try host.agentWrite { s in
            s.effects.append(.discovered(portal: portal.argument))
            let here = s.iscsiTargets.values.filter { $0.portals.contains(where: { $0.sameEndpoint(as: portal) }) }
                .sorted { $0.iqn < $1.iqn }
            guard !here.isEmpty, here.allSatisfy(\.reachable), !s.failLogins.contains(portal.argument),
                  !s.failDiscovery.contains(portal.argument) else {
                throw HostStorageError(.transport, "SendTargets discovery at \(portal): cannot connect")
            }
            if let c = here.compactMap(\.chap).first, auth?.username != c.user || auth?.password != c.password {
                throw HostStorageError(.authFailed, "SendTargets discovery at \(portal): discovery login failed")
            }
            return here.map { t in (t.iqn, t.portals.enumerated().map { "\($0.element.argument),\($0.offset + 1)" }) }
        }
    }
}

public struct SimISCSIAdmin: ISCSIAdmin {
    let host: SimHost
    public func prepareNode(_ login: ISCSINodeLogin) throws {
        try host.agentWrite { s in _ = s.nodes.insert("\(login.iqn) \(login.portal.argument)") }
    }
    public func login(portal: ISCSIPortal, iqn: String) throws {
        try host.agentWrite { s in
            // `iscsiadm -m node -T -p --login` logs in from the node record
            guard s.nodes.contains("\(iqn) \(portal.argument)") else {
                throw HostStorageError(.toolFailed, "iscsiadm: No records found (\(portal.argument) \(iqn))")
            }
            let sid = try s.login(iqn: iqn, portal: portal, foreign: false)
            s.effects.append(.loggedIn(sid: sid, iqn: iqn, portal: portal.argument))
        }
    }
    public func logout(portal: ISCSIPortal, iqn: String) throws {
        try host.agentWrite { s in s.logout(iqn: iqn, portal: portal) }
    }
    public func deleteNode(portal: ISCSIPortal, iqn: String) throws {
        try host.agentWrite { s in _ = s.nodes.remove("\(iqn) \(portal.argument)") }
    }
}

// MARK: - device-mapper

public struct SimDM: DeviceMapperControl {
    let host: SimHost

    public func list() throws -> [(name: String, devNumber: String)] {
        host.read { s in s.maps.values.map { ($0.name, $0.devNumber) } }
    }
    public func info(_ name: String) throws -> DMDeviceState? {
        host.read { s in
            s.maps[name].map { m in
                DMDeviceState(name: m.name, uuid: m.uuid, major: 253, minor: m.minor, openCount: m.openCount, eventNumber: m.eventNumber,
                              suspended: false, liveTable: true, inactiveTable: false, readOnly: false, targetCount: 1,
                              deferredRemove: m.deferredRemove)
            }
        }
    }
    public func table(_ name: String) throws -> [DMTargetLine] {
        try host.read { s in
            guard let m = s.maps[name] else { throw HostStorageError(.notFound, "no map \(name)") }
            return [DMTargetLine(start: 0, length: m.table.length, type: "multipath", params: try m.table.renderedParams())]
        }
    }
    public func status(_ name: String) throws -> [DMTargetLine] {
        try host.read { s in
            guard let m = s.maps[name] else { throw HostStorageError(.notFound, "no map \(name)") }
            var p = "2 0 0 0 \(m.table.groups.count) 1"
            for g in m.table.groups {
                p += " A 0 \(g.paths.count) 1"
                for path in g.paths {
                    let dev = path.device.description
                    p += " \(dev) \(m.pathStates[dev] == true ? "A" : "F") \(m.failCounts[dev] ?? 0) 0"
                }
            }
            return [DMTargetLine(start: 0, length: m.table.length, type: "multipath", params: p)]
        }
    }
    public func create(_ name: String, uuid: String, targets: [DMTargetLine], readOnly: Bool) throws {
        try host.agentWrite { s in
            guard s.maps[name] == nil else { throw HostStorageError(.busy, "map \(name) exists") }
            guard let t = targets.first else { throw HostStorageError(.invalidArgument, "no table") }
            let table = try DMTable.parse(params: t.params, start: t.start, length: t.length)
            var states: [String: Bool] = [:]
            for p in table.groups.flatMap(\.paths) {
                guard let d = s.disks.values.first(where: { $0.devNumber == p.device.description }) else {
                    throw HostStorageError(.deviceMapper, "table refers to \(p.device), which does not exist")
                }
                states[p.device.description] = s.reachable(d.hctl)
                try Self.fits(table, on: d)
            }
            s.maps[name] = SimMap(name: name, uuid: uuid, minor: s.nextMapMinor, table: table, pathStates: states, foreign: false)
            s.nextMapMinor += 1
            s.version += 1
            s.effects.append(.mapCreated(name))
        }
    }
    public func reload(_ name: String, targets: [DMTargetLine]) throws {
        try host.agentWrite { s in
            guard var m = s.maps[name], let t = targets.first else { throw HostStorageError(.notFound, "no map \(name)") }
            let table = try DMTable.parse(params: t.params, start: t.start, length: t.length)
            // dm_get_device: a device number that names no disk fails the load, unless the
            // live table still holds it (dm reuses its open table device: a deleted disk stays
            // a dead, failed path of the map)
            var states: [String: Bool] = [:]
            for p in table.groups.flatMap(\.paths) {
                let dev = p.device.description
                if let d = s.disks.values.first(where: { $0.devNumber == dev }) {
                    // the kernel starts every path of a new table active (a path whose disk
                    // cannot carry I/O fails on its first I/O or checker round)
                    states[dev] = s.reachable(d.hctl)
                    try Self.fits(table, on: d)
                } else if m.pathStates[dev] != nil {
                    states[dev] = false
                } else {
                    throw HostStorageError(.deviceMapper, "table refers to \(p.device), which does not exist")
                }
            }
            m.table = table
            m.pathStates = states
            m.eventNumber += 1
            s.maps[name] = m
            s.version += 1
            s.effects.append(.mapReloaded(name))
        }
    }
    /// dm_table_add_target / device_area_is_invalid: a table longer than one of its
    /// devices is refused ("too small for target").
    static func fits(_ table: DMTable, on d: SimDisk) throws {
        guard table.length <= d.sizeSectors else {
            throw HostStorageError(.deviceMapper, "device-mapper: table: \(d.name) too small for target: len=\(table.length), dev_size=\(d.sizeSectors)")
        }
    }
    public func suspend(_ name: String, flush: Bool) throws { try host.agentWrite { _ in } }
    public func resume(_ name: String) throws { try host.agentWrite { _ in } }
    public func remove(_ name: String, deferred: Bool) throws {
        try host.agentWrite { s in
            guard let m = s.maps[name] else { return }
            if m.openCount > 0 {
                guard deferred else { throw HostStorageError(.busy, "map \(name) is open (\(m.openCount))") }
                s.maps[name]!.deferredRemove = true
                s.version += 1
                s.effects.append(.mapRemoved(name, deferred: true))
                return
            }
            s.maps[name] = nil
            s.version += 1
            s.effects.append(.mapRemoved(name, deferred: false))
        }
    }
    public func message(_ name: String, _ text: String) throws -> String? {
        try host.agentWrite { s in
            guard var m = s.maps[name] else { throw HostStorageError(.notFound, "no map \(name)") }
            s.effects.append(.mapMessaged(name, text))
            let w = text.split(separator: " ")
            switch w.first {
            case "fail_path":
                if w.count == 2, m.pathStates[String(w[1])] == true {
                    m.pathStates[String(w[1])] = false
                    m.failCounts[String(w[1]), default: 0] += 1
                    m.eventNumber += 1
                }
            case "reinstate_path":
                if w.count == 2, m.pathStates[String(w[1])] == false {
                    m.pathStates[String(w[1])] = true
                    m.eventNumber += 1
                }
            case "fail_if_no_path": m.queueIfNoPath = false
            case "queue_if_no_path": m.queueIfNoPath = true
            default: throw HostStorageError(.invalidArgument, "unknown message \(text)")
            }
            s.maps[name] = m
            s.version += 1
            return nil
        }
    }
    public func waitEvent(_ name: String, after: UInt32) throws -> UInt32 {
        throw HostStorageError(.notFound, "the simulated host has no blocking dm event wait")
    }
}
