import Foundation

/// The simulated array: objects, sessions, and (optionally) the tgt data path.
/// All access goes through `lock`.
final class SimState: @unchecked Sendable {
    struct Options {
        var apiToken = ""
        var arrayName = "fa-sim"
        var arrayID = "6a2f5d8e-3c41-4b7a-9e0d-1f2a3b4c5d6e"
        var targetIQN = "iqn.2010-06.com.purestorage:flasharray.5e2d8c3a1b4f6e70"
        /// `NAME=portal` pairs, e.g. `CT0.ETH4=127.0.0.1:3260`.
        var iscsiPorts: [(String, String)] = [("CT0.ETH4", "127.0.0.1:3260"), ("CT1.ETH4", "127.0.0.2:3260")]
        /// `NAME=wwn` pairs for FC ports.
        var fcPorts: [(String, String)] = []
        var capacity: Int64 = 10 << 40
        var versions: [String] = (0...36).map { "2.\($0)" }
        var tgt: TgtBinding? = nil
        /// Print every request with the status it got on stderr.
        var logRequests = false
    }

    struct Volume {
        var id: String
        var name: String
        var serial: String
        var provisioned: Int64
        var created: Int64
        var destroyed = false
        var destroyedAt: Int64? = nil
        var tags: [String: [String: TagValue]] = [:]  // namespace -> key -> value
    }
    struct TagValue { var value: String; var copyable: Bool }
    struct HostObj {
        var name: String
        var iqns: [String] = []
        var wwns: [String] = []
        var personality: String? = nil
        var chapHostUser: String? = nil
        var chapHostPassword: String? = nil
        var chapTargetUser: String? = nil
        var chapTargetPassword: String? = nil
        var connectivity: (String, String)? = nil   // details, status override
        var tags: [String: [String: String]] = [:]  // namespace -> key -> value
    }
    struct Conn { var host: String; var volume: String; var lun: Int }

    let lock = NSLock()
    var opt: Options
    var sessions: Set<String> = []
    var volumes: [Volume] = []
    var hosts: [HostObj] = []
    var conns: [Conn] = []
    var controllersReady: [String: String] = ["CT0": "ready", "CT1": "ready"]
    var serialCounter: UInt32 = 0x10
    /// When the simulated array came up: its performance history starts here.
    let startedAt = Int64(Date().timeIntervalSince1970 * 1000)
    /// Test hook: answer the next N requests with this status.
    var injectStatus = 0
    var injectCount = 0
    var requestLog: [String] = []
    /// `STATUS METHOD /path<TAB>User-Agent` of every REST request (not the `/sim/` hooks).
    var responseLog: [String] = []

    init(_ o: Options) { opt = o }

    func nowMS() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func newSerial() -> String {
        serialCounter += 1
        // 24 hex digits: a fixed array part + a counter
        let arrayPart = opt.arrayID.replacingOccurrences(of: "-", with: "").prefix(16).uppercased()
        return arrayPart + String(format: "%08X", serialCounter)
    }

    // MARK: JSON shapes (REST 2.x)

    func volumeJSON(_ v: Volume) -> [String: Any] {
        var d: [String: Any] = [
            "id": v.id, "name": v.name, "serial": v.serial, "provisioned": v.provisioned, "created": v.created,
            "destroyed": v.destroyed, "connection_count": conns.filter { $0.volume == v.name }.count,
            "subtype": "regular",
            "space": ["data_reduction": 1.0, "thin_provisioning": 1.0, "total_physical": Int64(0), "total_provisioned": v.provisioned,
                      "total_reduction": 1.0, "unique": Int64(0), "snapshots": Int64(0), "shared": Int64(0), "system": Int64(0), "virtual": Int64(0),
                      "used_provisioned": v.provisioned] as [String: Any],
        ]
        if v.destroyed { d["time_remaining"] = Int64(86_400_000) - (nowMS() - (v.destroyedAt ?? nowMS())) }
        return d
    }

    func connectivity(_ h: HostObj) -> (String, String) {
        if let c = h.connectivity { return c }
        if conns.contains(where: { $0.host == h.name }) {
            if let t = opt.tgt, t.enabled {
                let ctls = Set(t.connectedControllers(initiators: h.iqns, ports: opt.iscsiPorts))
                switch ctls.count {
                case 0: return ("None", "critical")
                case 1: return ("Single Controller", "unhealthy")
                default: return ("Redundant", "healthy")
                }
            }
            return ("Redundant", "healthy")
        }
        return ("N/A", "healthy")
    }

    func hostJSON(_ h: HostObj) -> [String: Any] {
        let (details, status) = connectivity(h)
        var d: [String: Any] = [
            "name": h.name, "iqns": h.iqns, "wwns": h.wwns, "nqns": [String](), "is_local": true,
            "connection_count": conns.filter { $0.host == h.name }.count,
            "port_connectivity": ["details": details, "status": status],
            "preferred_arrays": [[String: Any]](), "destroyed": false, "vlan": "any",
            "host_group": [String: Any](),
        ]
        if let p = h.personality { d["personality"] = p }
        var chap: [String: Any] = [:]
        if let u = h.chapHostUser { chap["host_user"] = u }
        if h.chapHostPassword != nil { chap["host_password"] = "****" }
        if let u = h.chapTargetUser { chap["target_user"] = u }
        if h.chapTargetPassword != nil { chap["target_password"] = "****" }
        d["chap"] = chap
        return d
    }

    func connJSON(_ c: Conn) -> [String: Any] {
        let vid = volumes.first { $0.name == c.volume }?.id ?? ""
        return ["host": ["name": c.host], "host_group": [String: Any](), "lun": c.lun,
                "volume": ["id": vid, "name": c.volume], "protocol_endpoint": [String: Any]()]
    }

    func portsJSON() -> [[String: Any]] {
        var out: [[String: Any]] = []
        for (n, portal) in opt.iscsiPorts { out.append(["name": n, "iqn": opt.targetIQN, "portal": portal]) }
        for (n, w) in opt.fcPorts { out.append(["name": n, "wwn": w]) }
        return out.sorted { ($0["name"] as! String) < ($1["name"] as! String) }
    }

    func interfacesJSON() -> [[String: Any]] {
        var out: [[String: Any]] = []
        for (n, portal) in opt.iscsiPorts {
            let ip = portal.hasPrefix("[") ? String(portal.dropFirst().prefix { $0 != "]" }) : String(portal.split(separator: ":")[0])
            out.append(["name": n.lowercased(), "enabled": true, "interface_type": "eth", "services": ["iscsi"], "speed": Int64(25_000_000_000),
                        "eth": ["address": ip, "netmask": "255.0.0.0", "gateway": "127.0.0.1", "mtu": 9000,
                                "mac_address": "24:a9:37:00:00:0\(out.count)", "subtype": "physical", "subinterfaces": [[String: Any]]()] as [String: Any]])
        }
        for (n, w) in opt.fcPorts {
            out.append(["name": n.lowercased(), "enabled": true, "interface_type": "fc", "services": ["scsi-fc"], "speed": Int64(32_000_000_000),
                        "fc": ["wwn": w]])
        }
        return out
    }

    func spaceJSON() -> [String: Any] {
        let prov = volumes.filter { !$0.destroyed }.reduce(Int64(0)) { $0 + $1.provisioned }
        var used: Int64 = 0
        if let t = opt.tgt, t.enabled { used = volumes.reduce(Int64(0)) { $0 + t.allocatedBytes(serial: $1.serial) } }
        let reduction = used == 0 ? 1000.0 : max(1.0, Double(prov) / Double(used))
        return ["data_reduction": used == 0 ? 1.0 : 3.5, "thin_provisioning": prov == 0 ? 1.0 : max(0.0, 1.0 - Double(used) / Double(prov)),
                "total_physical": used, "total_provisioned": prov, "total_reduction": reduction, "unique": used,
                "snapshots": Int64(0), "shared": Int64(0), "system": Int64(0), "virtual": used, "used_provisioned": prov]
    }
}
