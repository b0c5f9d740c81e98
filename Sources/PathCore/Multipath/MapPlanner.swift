/// The map pathagent wants for one volume: name, dm uuid and table.
public struct MultipathMapPlan: Hashable, Sendable {
    public var wwn: WWN
    /// dm map name: the WWN (user_friendly_names no).
    public var name: String
    /// `DM_UUID`: `mpath-<wwn>`.
    public var dmUUID: String
    public var table: DMTable
    /// The settings after the ALUA rule (what the table was built from).
    public var settings: MultipathSettings
    /// Messages to send right after the table is loaded and resumed: `fail_path` for every
    /// path that is offline/blocked or whose last check said down (the kernel starts all
    /// paths active).
    public var messagesAfterLoad: [DMMessage]
}

/// How an existing map differs from the planned one.
public struct MapReloadPlan: Hashable, Sendable {
    public enum Resize: Hashable, Sendable {
        case unchanged
        case grow(from: UInt64, to: UInt64)
        case shrink(from: UInt64, to: UInt64)
    }
    public var addedPaths: [DeviceNumber]
    public var removedPaths: [DeviceNumber]
    public var resize: Resize
    /// Anything else differs (features, handler, grouping, selector, order); the initial group
    /// is ignored because the live table reports the current group there.
    public var tableChanged: Bool
    /// True when the desired table must be loaded (DM_TABLE_LOAD + suspend/resume).
    public var needsReload: Bool { tableChanged }
}

public enum MultipathMapPlanner {
    /// Plans the map of a volume.
    /// - Throws: `.missing` with no paths, `.conflict` when a path reports a size other than
    ///   `sizeSectors` (naming every path and its size), `.invalidValue` for a zero size,
    ///   `.unsupported` for a grouping policy or selector pathagent does not build.
    public static func plan(wwn: WWN, sizeSectors: UInt64, paths: [MultipathPathInfo],
                            settings: MultipathSettings) throws -> MultipathMapPlan {
        guard !paths.isEmpty else {
            throw PathCoreError(.missing, "volume \(wwn) has no paths to build a map from")
        }
        guard sizeSectors > 0 else {
            throw PathCoreError(.invalidValue, "volume \(wwn) has size 0")
        }
        var seen = Set<DeviceNumber>()
        for p in paths where !seen.insert(p.device).inserted {
            throw PathCoreError(.conflict, "path \(p.device) (\(p.name)) is listed twice for volume \(wwn)")
        }
        let sized = paths.filter { $0.sizeSectors != nil }
        if sized.contains(where: { $0.sizeSectors != sizeSectors }) {
            let list = paths.sorted { $0.device < $1.device }
                .map { "\($0.name) (\($0.device)) \($0.sizeSectors.map(String.init) ?? "unknown")" }
                .joined(separator: ", ")
            throw PathCoreError(.conflict,
                "paths of volume \(wwn) disagree on its size (expected \(sizeSectors) sectors): \(list); rescan the paths before resizing",
                detail: "sizes in 512-byte sectors")
        }
        let s = PathGrouping.applyALUARule(settings, paths: paths)
        let (selName, selArgs) = s.selectorNameAndArgs
        let args = try PathGrouping.pathArgs(forSelector: selName)
        let grouped = try PathGrouping.group(paths, policy: s.pathGroupingPolicy.value, prio: s.prio.value)
        let groups = grouped.map { g in
            DMTable.Group(selector: selName, selectorArgs: selArgs, pathArgCount: args.count,
                          paths: g.map { DMTable.Path(device: $0.device, args: args) })
        }
        let table = DMTable(start: 0, length: sizeSectors, features: s.effectiveFeatures,
                            hardwareHandler: s.hardwareHandler.value, initialGroup: groups.isEmpty ? 0 : 1,
                            groups: groups)
        try table.validate()
        let failNow = paths.sorted { $0.device < $1.device }.filter {
            switch $0.deviceState {
            case .offline, .transportOffline, .blocked, .deleted, .cancel: return true
            case .running, .created, .quiesce: return $0.checkState == .down
            }
        }
        return MultipathMapPlan(wwn: wwn, name: wwn.value, dmUUID: "mpath-" + wwn.value, table: table,
                                settings: s, messagesAfterLoad: failNow.map { .failPath($0.device) })
    }

    /// Compares the live table with the planned one.
    public static func reload(current: DMTable, desired: DMTable) -> MapReloadPlan {
        let cur = Set(current.devices), want = Set(desired.devices)
        let added = desired.devices.filter { !cur.contains($0) }
        let removed = current.devices.filter { !want.contains($0) }
        let resize: MapReloadPlan.Resize
        if desired.length > current.length {
            resize = .grow(from: current.length, to: desired.length)
        } else if desired.length < current.length {
            resize = .shrink(from: current.length, to: desired.length)
        } else {
            resize = .unchanged
        }
        return MapReloadPlan(addedPaths: added, removedPaths: removed, resize: resize,
                             tableChanged: !current.sameMap(as: desired))
    }
}
