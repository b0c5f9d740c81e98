import HostStorage
import PathAPI
import PathCore

extension MapsResponse {
    /// Builds the view from the monitor's snapshot, the dm tables and the topology: the
    /// agent's maps (claimed in `owned`, name -> dm uuid) with the monitor's path state,
    /// then every other multipath map of the host as `foreign`, with its paths' dm state
    /// read from its status (read-only: nothing is sent to a foreign map).
    public static func build(monitored: [MonitoredMap], topology: Topology, dm: any DeviceMapperControl,
                             owned: [String: String] = [:], config: MultipathConfig? = nil) -> MapsResponse {
        var out: [Map] = []
        var byDev: [String: ScsiPath] = [:]
        for p in topology.allPaths { if let n = p.devNumber { byDev[n] = p } }
        let dmByName = Dictionary(topology.maps.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for m in monitored {
            let line = try? dm.table(m.name).first
            let table = line.flatMap { try? DMTable.parse(params: $0.params, start: $0.start, length: $0.length) }
            let volume = topology.volumes.first { $0.map?.name == m.name }
            // the paths of the live table as the planner sees them now (ALUA states included)
            let infos = (table?.devices ?? []).compactMap { byDev[$0.description].flatMap { try? MultipathPathInfo(path: $0) } }
            var settings: [Setting] = []
            var grouping: String? = nil
            if let v = volume, let base = try? PropertySelection.select(vendor: v.vendor, product: v.model, config: config) {
                let s = PathGrouping.applyALUARule(base, paths: infos)
                settings = s.listing.map { Setting(key: $0.key, value: $0.value, origin: $0.origin.description) }
                grouping = PathGrouping.reason(s, paths: infos)
                if let table, infos.count == table.devices.count,
                    let want = try? PathGrouping.group(infos, policy: s.pathGroupingPolicy.value, prio: s.prio.value),
                    want.map({ $0.map(\.device) }) != table.groups.map({ $0.paths.map(\.device) })
                {
                    grouping! += "; the live table is grouped otherwise (a regroup is pending or failed: see the daemon's log)"
                }
            }
            out.append(Map(
                name: m.name, device: m.device, owner: .pathagent, uuid: dmByName[m.name]?.uuid ?? owned[m.name],
                table: line.map { "\($0.start) \($0.length) \($0.type) \($0.params)" },
                vendor: volume?.vendor, product: volume?.model, paths: m.paths, activePaths: m.active, settings: settings,
                groups: groups(table: table, status: status(dm, m.name), byDev: byDev), grouping: grouping))
        }
        let watched = Set(monitored.map(\.name))
        var names: [String: String] = [:]
        for p in topology.allPaths { if let n = p.devNumber, let dev = p.device { names[n] = dev } }
        for d in topology.maps where !d.name.isEmpty && !watched.contains(d.name) {
            guard let line = try? dm.table(d.name).first, line.type == "multipath" else { continue }
            // claimed but not in the snapshot yet (an attach that just finished): the
            // agent's, with the kernel's path states until the monitor's next refresh
            let owner: Owner = !d.uuid.isEmpty && owned[d.name] == d.uuid ? .pathagent : .foreign
            var paths: [MonitoredPath] = []
            if let st = try? dm.status(d.name).first,
                let parsed = try? DMStatus.parse(params: st.params, start: st.start, length: st.length)
            {
                paths = parsed.paths.map { p in
                    MonitoredPath(device: p.device.description, name: names[p.device.description],
                                  dmState: p.state == .active ? "active" : "failed", failCount: p.failCount, checker: nil,
                                  lastChangeMicros: 0, reason: nil)
                }
            }
            let volume = topology.volumes.first { $0.map?.name == d.name }
            out.append(Map(
                name: d.name, device: d.device, owner: owner, uuid: d.uuid.isEmpty ? nil : d.uuid,
                table: "\(line.start) \(line.length) \(line.type) \(line.params)", vendor: volume?.vendor, product: volume?.model,
                paths: paths, activePaths: paths.filter { $0.dmState == "active" }.count, settings: [],
                groups: groups(table: try? DMTable.parse(params: line.params, start: line.start, length: line.length),
                               status: status(dm, d.name), byDev: byDev)))
        }
        return MapsResponse(maps: out)
    }

    static func status(_ dm: any DeviceMapperControl, _ name: String) -> DMStatus? {
        (try? dm.status(name).first).flatMap { try? DMStatus.parse(params: $0.params, start: $0.start, length: $0.length) }
    }

    /// The live table's groups in table order, each path with the kernel's ALUA view of it.
    static func groups(table: DMTable?, status: DMStatus?, byDev: [String: ScsiPath]) -> [PathGroup] {
        guard let table else { return [] }
        return table.groups.enumerated().map { i, g in
            let gs = status.flatMap { i < $0.groups.count ? $0.groups[i].state : nil }
            return PathGroup(
                number: i + 1,
                state: gs.map { s in s == .active ? "active" : s == .enabled ? "enabled" : "disabled" },
                paths: g.paths.map { p in
                    let sp = byDev[p.device.description]
                    let ds = status?.path(p.device).map { $0.state == .active ? "active" : "failed" }
                    return GroupPath(device: p.device.description, name: sp?.device, alua: sp?.accessState, preferred: sp?.preferredPath,
                                     dmState: ds)
                })
        }
    }
}
