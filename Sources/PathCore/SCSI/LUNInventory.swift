/// What a target's LUN inventory (REPORT LUNS, read after a REPORTED LUNS DATA HAS CHANGED
/// unit attention) means for this host: LUNs of the agent's volumes the target no longer
/// reports, and LUNs it reports that this host has no disk for. Reported only: the agent
/// never scans, attaches or removes anything because of it (an attach is made on request,
/// with the volume's WWN; a vanished LUN's disks stay until its volume is detached).
public struct LUNInventoryChange: Sendable, Equatable, Codable {
    /// A LUN (as Linux numbers it in H:C:T:L) that is a path of the agent's map `map`.
    public struct Owned: Sendable, Equatable, Hashable, Codable {
        public var lun: UInt64
        public var map: String
        public init(lun: UInt64, map: String) {
            self.lun = lun
            self.map = map
        }
    }

    /// `host:channel:target` of the I_T nexus whose inventory was read.
    public var nexus: String
    /// Every LUN the target reports (Linux numbers), sorted.
    public var reported: [UInt64]
    /// LUNs of the agent's maps on this nexus that the target no longer reports.
    public var vanished: [Owned]
    /// LUNs the target reports that have no disk on this nexus.
    public var unattached: [UInt64]

    /// `reported`: the target's LUNs now; `disks`: the LUNs with a SCSI device on this
    /// nexus; `owned`: the LUNs of the agent's maps' paths on it, with their map.
    public static func compare(nexus: String, reported: Set<UInt64>, disks: Set<UInt64>, owned: [UInt64: String]) -> Self {
        LUNInventoryChange(
            nexus: nexus, reported: reported.sorted(),
            vanished: owned.filter { !reported.contains($0.key) }.map { Owned(lun: $0.key, map: $0.value) }.sorted { $0.lun < $1.lun },
            unattached: reported.subtracting(disks).sorted())
    }

    /// One line for the log.
    public var summary: String {
        var parts: [String] = []
        if !vanished.isEmpty {
            parts.append("no longer reported: " + vanished.map { "LUN \($0.lun) of \($0.map)" }.joined(separator: ", "))
        }
        if !unattached.isEmpty {
            parts.append("reported with no disk on this host: LUN " + unattached.map(String.init).joined(separator: ", "))
        }
        return parts.isEmpty ? "every LUN of the agent's volumes is reported; every reported LUN has a disk" : parts.joined(separator: "; ")
    }
}
