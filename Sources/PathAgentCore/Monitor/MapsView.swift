import HostStorage
import PathAPI
import PathCore

extension MapsResponse {
    /// Builds the view from the monitor's snapshot, the dm tables and the topology.
    public static func build(monitored: [MonitoredMap], topology: Topology, dm: any DeviceMapperControl,
                             config: MultipathConfig? = nil) -> MapsResponse {
        var out: [Map] = []
        for m in monitored {
            let line = try? dm.table(m.name).first
            let volume = topology.volumes.first { $0.map?.name == m.name }
            var settings: [Setting] = []
            if let v = volume, let s = try? PropertySelection.select(vendor: v.vendor, product: v.model, config: config) {
                settings = s.listing.map { Setting(key: $0.key, value: $0.value, origin: $0.origin.description) }
            }
            out.append(Map(
                name: m.name, device: m.device, table: line.map { "\($0.start) \($0.length) \($0.type) \($0.params)" },
                vendor: volume?.vendor, product: volume?.model, paths: m.paths, activePaths: m.active, settings: settings))
        }
        return MapsResponse(maps: out)
    }
}
