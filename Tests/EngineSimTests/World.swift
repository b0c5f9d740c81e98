import Foundation
import HostStorage
import Logging
import PathAPI
@testable import PathAgentCore
import PathCore
import SimulatedHost

struct RawProps: @unchecked Sendable { var dict: [String: Any] }

/// One volume of the simulated arrays.
struct SimVolume: Sendable {
    var name: String
    var wwn: WWN
    var lun: UInt64
    var fc: Bool
    var array: String
    var properties: JSONValue
    /// The properties without `wwn`.
    var raw: RawProps
    var proto: VolumeProtocol { fc ? .fc : .iscsi }

    init(name: String, wwn: WWN, lun: UInt64, fc: Bool, array: String, properties: JSONValue, raw: [String: Any]) {
        self.name = name
        self.wwn = wwn
        self.lun = lun
        self.fc = fc
        self.array = array
        self.properties = properties
        self.raw = RawProps(dict: raw)
    }

    /// The same volume presented under another WWN (the array re-mapped its LUN).
    func withWWN(_ w: WWN) -> SimVolume {
        var v = self
        v.wwn = w
        var d = raw.dict
        d["wwn"] = w.value
        v.properties = World.json(d)
        return v
    }
}

/// Two iSCSI arrays (two portals each) and two FC arrays that give this host the same LUN
/// numbers, a foreign session with a non-Pure disk under a map multipathd made, and the
/// real engine, journal and monitor on top.
final class World: @unchecked Sendable {
    let sim: SimHost
    let dir: String
    let scanTimeout: Double
    let useMultipath: Bool
    let workers = BlockingWorkers(count: 4)
    let metrics = PathAgentMetrics()
    var journal: IntentJournalStore
    var engine: VolumeEngine
    var monitor: PathMonitor
    var volumes: [SimVolume] = []
    let foreignMapName = "36001405aaaabbbbccccddddeeeeffff0"

    static let iqnA = "iqn.2010-06.com.purestorage:flasharray.aaaa0000aaaa0000"
    static let iqnB = "iqn.2010-06.com.purestorage:flasharray.bbbb0000bbbb0000"
    static let iqnOther = "iqn.2003-01.org.linux-iscsi.other:sn.000000000001"
    static let portalsA = ["10.0.0.1:3260", "10.0.0.2:3260"]
    static let portalsB = ["10.0.1.1:3260", "10.0.1.2:3260"]
    static let hostWWPNs = ["10000000c9000001", "10000000c9000002"]
    static let portsC = ["524a937000000c01", "524a937000000c02"]
    static let portD = "524a937000000d01"

    /// The NAA WWN tgt's LUN 0 controller answers with (the lab's `wwn_of_lun 0`).
    static let tgtControllerWWN = try! WWN("360000000000000000e00000000010000")

    static func pureWWN(_ array: Int, _ n: Int) -> WWN {
        try! WWN.pure(serial: String(format: "%08X%016X", 0x9714B5CB + array, n))
    }

    init(seed: UInt64 = 1, scanTimeout: Double = 0.3, useMultipath: Bool = true) throws {
        sim = SimHost(seed: seed)
        self.scanTimeout = scanTimeout
        self.useMultipath = useMultipath
        dir = NSTemporaryDirectory() + "pa-sim-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        journal = try IntentJournalStore(directory: dir)
        engine = VolumeEngine(settings: EngineSettings(), workers: workers) // replaced below
        monitor = PathMonitor(ownership: InMemoryMapOwnership(), workers: workers)
        var vols: [SimVolume] = []
        try sim.mutate { s in
            func lun(_ w: WWN) -> SimLUN { SimLUN(wwn: w, sizeSectors: 2_097_152) }
            var aLUNs: [UInt64: SimLUN] = [:]
            var bLUNs: [UInt64: SimLUN] = [:]
            for n in 1...3 {
                let w = Self.pureWWN(0, n)
                aLUNs[UInt64(n)] = lun(w)
                vols.append(Self.iscsiVolume("A\(n)", w, UInt64(n), Self.iqnA, Self.portalsA))
            }
            for n in 1...2 {
                let w = Self.pureWWN(1, n)
                bLUNs[UInt64(n)] = lun(w)
                vols.append(Self.iscsiVolume("B\(n)", w, UInt64(n), Self.iqnB, Self.portalsB))
            }
            s.addISCSITarget(SimISCSITarget(iqn: Self.iqnA, portals: Self.portalsA.map { try! ISCSIPortal($0) }, luns: aLUNs))
            s.addISCSITarget(SimISCSITarget(iqn: Self.iqnB, portals: Self.portalsB.map { try! ISCSIPortal($0) }, luns: bLUNs))
            // a non-Pure target the host already uses, with a map multipathd made
            let other = try WWN(foreignMapName)
            s.addISCSITarget(SimISCSITarget(iqn: Self.iqnOther, portals: [try ISCSIPortal("10.0.9.1:3260")],
                                            luns: [0: SimLUN(wwn: other, sizeSectors: 4096, vendor: "LIO-ORG", model: "disk0")]))
            let sid = try s.foreignLogin(iqn: Self.iqnOther, portal: try ISCSIPortal("10.0.9.1:3260"))
            s.foreignScan(host: s.sessions[sid]!.host, lun: 0)
            let dev = s.disks.values.first { $0.cachedWWN == other }!.devNumber
            s.foreignMap(name: foreignMapName, uuid: "mpath-" + foreignMapName, over: [dev])
            // FC: two local ports; array C through one port each, array D through both
            let hosts = Self.hostWWPNs.map { s.addFCHost(wwpn: try! WWPN($0)) }
            var cLUNs: [UInt64: SimLUN] = [:]
            for n in 1...2 {
                let w = Self.pureWWN(2, n)
                cLUNs[UInt64(n)] = lun(w)
                vols.append(Self.fcVolume("C\(n)", w, UInt64(n), Self.portsC))
            }
            s.addFCTarget(SimFCTarget(wwpn: try WWPN(Self.portsC[0]), luns: cLUNs), reachableFrom: [hosts[0]])
            s.addFCTarget(SimFCTarget(wwpn: try WWPN(Self.portsC[1]), luns: cLUNs), reachableFrom: [hosts[1]])
            let d1 = Self.pureWWN(3, 1)
            vols.append(Self.fcVolume("D1", d1, 1, [Self.portD]))
            s.addFCTarget(SimFCTarget(wwpn: try WWPN(Self.portD), luns: [1: lun(d1)]), reachableFrom: hosts)
        }
        volumes = vols
        (engine, monitor) = makeAgent()
    }

    /// Stops the pool's threads (each world has its own).
    func shutdown() async { try? await workers.shutdown() }

    deinit {
        journal.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func makeAgent() -> (VolumeEngine, PathMonitor) {
        let e = VolumeEngine(
            settings: EngineSettings(useMultipath: useMultipath, scanTimeoutSeconds: scanTimeout), kernel: sim.kernel, admin: sim.admin,
            dm: sim.dm, discovery: sim.discovery, workers: workers,
            journal: journal, logger: Logger(label: "sim.engine", factory: { _ in SwiftLogNoOpLogHandler() }))
        let m = PathMonitor(kernel: sim.kernel, dm: sim.dm, ownership: journal, workers: workers, pollingInterval: 10, regrouper: e, healer: e,
                            resizer: e, metrics: metrics, logger: Logger(label: "sim.monitor", factory: { _ in SwiftLogNoOpLogHandler() }))
        return (e, m)
    }

    /// The agent was killed: the journal as it was on disk at that moment is all that
    /// survives; a new process opens it, reconciles, and serves again.
    func restart(journalSnapshot: String?) async throws -> [IntentResolution] {
        journal.close()
        if let snap = journalSnapshot {
            for ext in ["", "-wal"] {
                let dst = dir + "/" + IntentJournalStore.fileName + ext
                try? FileManager.default.removeItem(atPath: dst)
                if FileManager.default.fileExists(atPath: snap + ext) { try FileManager.default.copyItem(atPath: snap + ext, toPath: dst) }
            }
            try? FileManager.default.removeItem(atPath: dir + "/" + IntentJournalStore.fileName + "-shm")
        }
        sim.restart()
        // the kernel finished probing what the dead process's last scan found
        sim.settle()
        journal = try IntentJournalStore(directory: dir)
        (engine, monitor) = makeAgent()
        return try await engine.reconcile()
    }

    /// Copies the journal files as a crash would leave them (called from inside the
    /// simulated kernel at the moment of the crash).
    func snapshotJournal() -> String {
        let snap = dir + "/crash-\(UUID().uuidString.prefix(6)).sqlite"
        for ext in ["", "-wal"] {
            let src = dir + "/" + IntentJournalStore.fileName + ext
            if FileManager.default.fileExists(atPath: src) { try? FileManager.default.copyItem(atPath: src, toPath: snap + ext) }
        }
        return snap
    }

    static func json(_ dict: [String: Any]) -> JSONValue {
        let data = try! JSONSerialization.data(withJSONObject: dict, options: [.sortedKeys])
        return try! JSONValue.parse(String(decoding: data, as: UTF8.self))
    }

    static func iscsiProps(_ w: WWN?, _ lun: UInt64, _ iqn: String, _ portals: [String]) -> [String: Any] {
        var d: [String: Any] = [
            "target_discovered": false, "discard": true, "addressing_mode": "SAM2",
            "target_portals": portals, "target_iqns": portals.map { _ in iqn }, "target_luns": portals.map { _ in Int(lun) },
        ]
        if let w { d["wwn"] = w.value }
        return d
    }

    static func fcProps(_ w: WWN?, _ lun: UInt64, _ ports: [String]) -> [String: Any] {
        var itmap: [String: Any] = [:]
        for h in hostWWPNs { itmap[h] = ports }
        var d: [String: Any] = [
            "target_discovered": true, "discard": true, "addressing_mode": "SAM2", "target_lun": Int(lun),
            "target_luns": ports.map { _ in Int(lun) }, "target_wwn": ports, "target_wwns": ports, "initiator_target_map": itmap,
        ]
        if let w { d["wwn"] = w.value }
        return d
    }

    static func iscsiVolume(_ name: String, _ w: WWN, _ lun: UInt64, _ iqn: String, _ portals: [String]) -> SimVolume {
        SimVolume(name: name, wwn: w, lun: lun, fc: false, array: iqn, properties: json(iscsiProps(w, lun, iqn, portals)),
                  raw: iscsiProps(nil, lun, iqn, portals))
    }

    static func fcVolume(_ name: String, _ w: WWN, _ lun: UInt64, _ ports: [String]) -> SimVolume {
        SimVolume(name: name, wwn: w, lun: lun, fc: true, array: ports[0], properties: json(fcProps(w, lun, ports)), raw: fcProps(nil, lun, ports))
    }

    func connect(_ v: SimVolume, withoutWWN: Bool = false) async throws -> ConnectVolumeResponse {
        let p = withoutWWN ? Self.json(v.raw.dict) : v.properties
        return try await engine.connect(ConnectVolumeRequest(connectionProperties: p, protocol: v.proto))
    }

    func disconnect(_ v: SimVolume, force: Bool = false, ignoreErrors: Bool = false) async throws -> DisconnectVolumeResponse {
        try await engine.disconnect(DisconnectVolumeRequest(connectionProperties: v.properties, protocol: v.proto, force: force,
                                                            ignoreErrors: ignoreErrors))
    }

    /// What of volume `w` the host shows: disks whose LUN really is `w` now, and its map.
    func remains(of w: WWN) -> (disks: [String], map: Bool) {
        sim.read { s in
            let disks = s.disks.values.filter { d in
                s.lunBehind(host: d.hctl.host, channel: d.hctl.channel, target: d.hctl.target, lun: d.hctl.lun)?.wwn == w
            }.map(\.name)
            return (disks.sorted(), s.maps[w.value] != nil)
        }
    }
}

