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
        let dmByName = Dictionary(topology.maps.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for m in monitored {
            let line = try? dm.table(m.name).first
            let volume = topology.volumes.first { $0.map?.name == m.name }
            var settings: [Setting] = []
            if let v = volume, let s = try? PropertySelection.select(vendor: v.vendor, product: v.model, config: config) {
                settings = s.listing.map { Setting(key: $0.key, value: $0.value, origin: $0.origin.description) }
            }
            out.append(Map(
                name: m.name, device: m.device, owner: .pathagent, uuid: dmByName[m.name]?.uuid ?? owned[m.name],
                table: line.map { "\($0.start) \($0.length) \($0.type) \($0.params)" },
                vendor: volume?.vendor, product: volume?.model, paths: m.paths, activePaths: m.active, settings: settings))
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
                paths: paths, activePaths: paths.filter { $0.dmState == "active" }.count, settings: []))
        }
        return MapsResponse(maps: out)
    }
}
