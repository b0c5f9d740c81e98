/// Reads the storage topology from a sysfs tree. Pure: all access goes through the
/// `SysfsSource`, so the same code runs against `/sys` and against fixture trees.
///
/// What it reads (kernel ABI, Documentation/ABI and drivers/scsi/scsi_transport_*.c):
/// - `class/iscsi_session/sessionN/{targetname,state,recovery_tmo,ifacename,initiatorname,tpgt}`
///   and `class/iscsi_connection/connectionN:M/{persistent_address,persistent_port,address,port}`;
/// - `class/fc_host/hostN/{port_name,node_name,port_state,speed}` and
///   `class/fc_remote_ports/rport-H:B-R/{port_name,node_name,roles,port_state,scsi_target_id,fast_io_fail_tmo,dev_loss_tmo}`;
/// - `bus/scsi/devices/H:C:T:L` -> the device directory (`vendor`, `model`, `rev`, `state`,
///   `wwid`, `timeout`, `access_state`, `preferred_path`, `block/sdX`, `scsi_generic/sgN`, `scsi_disk/*/provisioning_mode`);
/// - `class/block/dm-N/{dev,size,dm/name,dm/uuid,dm/suspended,slaves/}`.
public struct TopologyScanner: Sendable {
    public struct Options: Sendable {
        /// Also read each path's tuning: block queue settings, SCSI command timeout and
        /// provisioning_mode (7 more reads a path; `doctor` and `paths --queue` want them,
        /// attach/detach and the plain inventory do not).
        public var queueSettings: Bool
        /// Keep SCSI devices of every peripheral type (CD-ROMs, LUN 0 controllers,
        /// enclosures); by default only disks (type 0) and RBC devices (type 14) are volumes.
        public var allDeviceTypes: Bool
        public init(queueSettings: Bool = false, allDeviceTypes: Bool = false) {
            self.queueSettings = queueSettings
            self.allDeviceTypes = allDeviceTypes
        }
    }

    public let sysfs: any SysfsSource
    public let options: Options

    public init(sysfs: any SysfsSource, options: Options = Options()) {
        self.sysfs = sysfs
        self.options = options
    }

    /// Scans everything. `inventory.micros` is left 0: the caller owns the clock.
    public func scan() -> Topology {
        scan(pathScanner: { names, sessions, fcHosts in scanPaths(names: names, sessions: sessions, fcHosts: fcHosts) })
    }

    /// Like `scan()`, with the per-device work handed to `pathScanner`, which gets the
    /// `bus/scsi/devices` names and may split them across threads (HostStorage's
    /// `Inventory` does, for large hosts); it must return `scanPaths(names:...)` results.
    public func scan(pathScanner: ([String], [ISCSISession], [FCHost]) -> [ScsiPath]) -> Topology {
        let sessions = scanSessions()
        let fcHosts = scanFCHosts()
        let maps = scanMaps()
        let names = sysfs.entries("bus/scsi/devices").filter { $0.first?.isNumber == true }
        let paths = pathScanner(names, sessions, fcHosts).sorted { $0.hctl < $1.hctl }
        let volumes = Self.group(paths: paths, maps: maps)
        return Topology(
            volumes: volumes, sessions: sessions, fcHosts: fcHosts, maps: maps,
            inventory: InventoryStats(paths: paths.count, micros: 0))
    }

    // MARK: iSCSI

    public func scanSessions() -> [ISCSISession] {
        var connections: [Int: [String]] = [:]
        for conn in sysfs.entries("class/iscsi_connection") {
            // connection<sid>:<cid>
            guard conn.hasPrefix("connection"),
                let sid = Int(conn.dropFirst("connection".count).split(separator: ":").first ?? "")
            else { continue }
            let base = "class/iscsi_connection/\(conn)"
            let addr = nonEmpty(sysfs.attribute("\(base)/persistent_address")) ?? nonEmpty(sysfs.attribute("\(base)/address"))
            let port = nonEmpty(sysfs.attribute("\(base)/persistent_port")) ?? nonEmpty(sysfs.attribute("\(base)/port"))
            if let addr, let port { connections[sid, default: []].append(Self.portal(address: addr, port: port)) }
        }
        var out: [ISCSISession] = []
        for name in sysfs.entries("class/iscsi_session") {
            guard name.hasPrefix("session"), let sid = Int(name.dropFirst("session".count)) else { continue }
            let base = "class/iscsi_session/\(name)"
            let devPath = sysfs.resolvedLink(base) ?? ""
            out.append(
                ISCSISession(
                    name: name, sid: sid,
                    target: sysfs.attribute("\(base)/targetname") ?? "",
                    state: sysfs.attribute("\(base)/state") ?? "UNKNOWN",
                    portals: connections[sid] ?? [],
                    host: Self.hostNumber(inDevicePath: devPath),
                    recoveryTmo: sysfs.attribute("\(base)/recovery_tmo").flatMap { Int($0) },
                    iface: nonEmpty(sysfs.attribute("\(base)/ifacename")),
                    initiator: nonEmpty(sysfs.attribute("\(base)/initiatorname")),
                    tpgt: sysfs.attribute("\(base)/tpgt").flatMap { Int($0) }))
        }
        return out.sorted { $0.sid < $1.sid }
    }

    /// `address:port`, with IPv6 addresses in brackets.
    public static func portal(address: String, port: String) -> String {
        address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    // MARK: Fibre Channel

    public func scanFCHosts() -> [FCHost] {
        var rports: [Int: [FCRemotePort]] = [:]
        for name in sysfs.entries("class/fc_remote_ports") {
            // rport-<host>:<bus>-<n>
            guard name.hasPrefix("rport-"),
                let host = Int(name.dropFirst("rport-".count).split(separator: ":").first ?? "")
            else { continue }
            let base = "class/fc_remote_ports/\(name)"
            rports[host, default: []].append(
                FCRemotePort(
                    name: name,
                    portName: Self.normalizeWWPN(sysfs.attribute("\(base)/port_name") ?? ""),
                    nodeName: sysfs.attribute("\(base)/node_name").map(Self.normalizeWWPN),
                    roles: sysfs.attribute("\(base)/roles") ?? "",
                    portState: sysfs.attribute("\(base)/port_state") ?? "Unknown",
                    scsiTargetID: sysfs.attribute("\(base)/scsi_target_id").flatMap { Int($0) },
                    fastIOFailTmo: sysfs.attribute("\(base)/fast_io_fail_tmo"),
                    devLossTmo: sysfs.attribute("\(base)/dev_loss_tmo").flatMap { Int($0) }))
        }
        var out: [FCHost] = []
        for name in sysfs.entries("class/fc_host") {
            guard name.hasPrefix("host"), let h = Int(name.dropFirst(4)) else { continue }
            let base = "class/fc_host/\(name)"
            out.append(
                FCHost(
                    host: h,
                    portName: Self.normalizeWWPN(sysfs.attribute("\(base)/port_name") ?? ""),
                    nodeName: Self.normalizeWWPN(sysfs.attribute("\(base)/node_name") ?? ""),
                    portState: sysfs.attribute("\(base)/port_state") ?? "Unknown",
                    speed: nonEmpty(sysfs.attribute("\(base)/speed")),
                    remotePorts: (rports[h] ?? []).sorted { $0.name < $1.name }))
        }
        return out.sorted { $0.host < $1.host }
    }

    /// `0x500a09c0000000c1` -> `500a09c0000000c1` (16 lower-case hex digits).
    public static func normalizeWWPN(_ s: String) -> String {
        var v = s.lowercased()
        if v.hasPrefix("0x") { v.removeFirst(2) }
        return v.filter { $0 != ":" }
    }

    // MARK: device-mapper

    public func scanMaps() -> [DMDevice] {
        var out: [DMDevice] = []
        for name in sysfs.entries("class/block") where name.hasPrefix("dm-") {
            let base = "class/block/\(name)"
            out.append(
                DMDevice(
                    name: sysfs.attribute("\(base)/dm/name") ?? "",
                    device: name,
                    uuid: sysfs.attribute("\(base)/dm/uuid") ?? "",
                    devNumber: sysfs.attribute("\(base)/dev"),
                    slaves: sysfs.entries("\(base)/slaves"),
                    sizeBytes: sysfs.attribute("\(base)/size").flatMap { UInt64($0) }.map { $0 * 512 },
                    suspended: sysfs.attribute("\(base)/dm/suspended") == "1",
                    queue: options.queueSettings ? readQueue("\(base)/queue") : nil))
        }
        return out.sorted { Self.numericSuffix($0.device) < Self.numericSuffix($1.device) }
    }

    // MARK: SCSI devices

    public func scanPaths(sessions: [ISCSISession], fcHosts: [FCHost]) -> [ScsiPath] {
        scanPaths(names: sysfs.entries("bus/scsi/devices"), sessions: sessions, fcHosts: fcHosts)
    }

    /// Reads the SCSI devices named (entries of `bus/scsi/devices`; others are skipped).
    public func scanPaths(names: [String], sessions: [ISCSISession], fcHosts: [FCHost]) -> [ScsiPath] {
        let sessionByName = Dictionary(sessions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var rportByName: [String: (FCHost, FCRemotePort)] = [:]
        for h in fcHosts { for r in h.remotePorts { rportByName[r.name] = (h, r) } }

        var out: [ScsiPath] = []
        out.reserveCapacity(names.count)
        for name in names {
            guard name.first?.isNumber == true, let hctl = try? HCTL(name) else { continue }
            let link = "bus/scsi/devices/\(name)"
            let dev = sysfs.resolvedLink(link) ?? link
            var transport = Transport.other
            var iscsi: ISCSIPathInfo? = nil
            var fc: FCPathInfo? = nil
            for comp in dev.split(separator: "/") {
                if comp.hasPrefix("session"), let s = sessionByName[String(comp)] {
                    transport = .iscsi
                    iscsi = ISCSIPathInfo(session: s.name, target: s.target, portal: s.portals.first, state: s.state)
                } else if comp.hasPrefix("rport-") {
                    transport = .fc
                    if let (h, r) = rportByName[String(comp)] {
                        fc = FCPathInfo(host: h.host, rport: r.name, hostPortName: h.portName,
                                        targetPortName: r.portName, portState: r.portState)
                    } else {
                        fc = FCPathInfo(host: hctl.host, rport: String(comp), hostPortName: nil, targetPortName: nil, portState: nil)
                    }
                }
            }
            let block = sysfs.entries("\(dev)/block").first
            let sg = sysfs.entries("\(dev)/scsi_generic").first
            var devNumber: String? = nil
            var size: UInt64? = nil
            var queue: QueueSettings? = nil
            if let block {
                let b = "\(dev)/block/\(block)"
                let a = sysfs.attributes(in: b, ["dev", "size"])
                devNumber = a[0]
                size = a[1].flatMap { UInt64($0) }.map { $0 * 512 }
                if options.queueSettings { queue = readQueue("\(b)/queue") }
            }
            var provisioning: String? = nil
            var timeout: Int? = nil
            if options.queueSettings {
                provisioning = sysfs.entries("\(dev)/scsi_disk").first.flatMap {
                    sysfs.attribute("\(dev)/scsi_disk/\($0)/provisioning_mode")
                }
                timeout = sysfs.attribute("\(dev)/timeout").flatMap { Int($0) }
            }
            let a = sysfs.attributes(in: dev, ["state", "vendor", "model", "rev", "wwid", "access_state", "type", "preferred_path"])
            if !options.allDeviceTypes, let t = a[6].flatMap({ Int($0) }), t != 0, t != 14 { continue }
            out.append(
                ScsiPath(
                    hctl: hctl, device: block, devNumber: devNumber, sg: sg, transport: transport,
                    state: a[0] ?? "unknown",
                    vendor: (a[1] ?? "").trimmingWhitespace(),
                    model: (a[2] ?? "").trimmingWhitespace(),
                    revision: (a[3] ?? "").trimmingWhitespace(),
                    wwn: a[4].flatMap { try? WWN($0).value },
                    sizeBytes: size,
                    timeoutSeconds: timeout,
                    queue: queue, provisioningMode: provisioning,
                    accessState: nonEmpty(a[5]),
                    iscsi: iscsi, fc: fc,
                    preferredPath: nonEmpty(a[7]).map { $0 == "1" }))
        }
        return out.sorted { $0.hctl < $1.hctl }
    }

    func readQueue(_ q: String) -> QueueSettings {
        QueueSettings(
            scheduler: sysfs.attribute("\(q)/scheduler").map(Self.selectedScheduler),
            addRandom: sysfs.attribute("\(q)/add_random").flatMap { Int($0) },
            rqAffinity: sysfs.attribute("\(q)/rq_affinity").flatMap { Int($0) },
            maxSectorsKB: sysfs.attribute("\(q)/max_sectors_kb").flatMap { Int($0) },
            discardMaxBytes: sysfs.attribute("\(q)/discard_max_bytes").flatMap { UInt64($0) })
    }

    /// `mq-deadline kyber [none]` -> `none`.
    public static func selectedScheduler(_ s: String) -> String {
        if let open = s.firstIndex(of: "["), let close = s[open...].firstIndex(of: "]") {
            return String(s[s.index(after: open)..<close])
        }
        return s.trimmingWhitespace()
    }

    // MARK: grouping

    public static func group(paths: [ScsiPath], maps: [DMDevice]) -> [Volume] {
        var order: [String] = []
        var byKey: [String: [ScsiPath]] = [:]
        for p in paths {
            let key = p.wwn ?? "unknown:\(p.hctl)"
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: []].append(p)
        }
        var volumes: [Volume] = []
        for key in order {
            let ps = byKey[key]!
            let devices = Set(ps.compactMap(\.device))
            let map = maps.first { $0.multipathWWN == key && !key.hasPrefix("unknown:") }
                ?? maps.first { !$0.slaves.isEmpty && Set($0.slaves).isSubset(of: devices) }
            volumes.append(
                Volume(
                    wwn: key, vendor: ps[0].vendor, model: ps[0].model,
                    sizeBytes: ps.compactMap(\.sizeBytes).first,
                    map: map.map { DMMapRef(name: $0.name, device: $0.device, uuid: $0.uuid) },
                    paths: ps))
        }
        return volumes.sorted { $0.wwn < $1.wwn }
    }

    static func hostNumber(inDevicePath p: String) -> Int? {
        for comp in p.split(separator: "/") where comp.hasPrefix("host") {
            if let n = Int(comp.dropFirst(4)) { return n }
        }
        return nil
    }

    static func numericSuffix(_ s: String) -> Int {
        Int(s.reversed().prefix(while: \.isNumber).reversed().map(String.init).joined()) ?? 0
    }
}

@inline(__always) func nonEmpty(_ s: String?) -> String? {
    guard let s, !s.isEmpty, s != "(null)", s != "<NULL>" else { return nil }
    return s
}
