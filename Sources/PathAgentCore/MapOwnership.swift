import Synchronization

/// The device-mapper maps this agent created, by name with their dm uuid. A map is
/// claimed before `dm create` (so a crash right after the create still leaves it claimed)
/// and released after it is removed. The path monitor watches, messages and reloads only
/// claimed maps; a map of the same `mpath-` shape made by multipathd or by hand is
/// foreign and left alone. The daemon keeps the claims in its journal database, so they
/// survive restarts.
public protocol MapOwnership: Sendable {
    func claim(map name: String, uuid: String) throws
    func release(map name: String) throws
    /// name -> dm uuid
    func ownedMaps() throws -> [String: String]
}

extension MapOwnership {
    /// True when `name` was claimed with this uuid (a claimed name now carrying another
    /// uuid is not ours: the map was replaced behind our back).
    public func owns(map name: String, uuid: String) -> Bool {
        ((try? ownedMaps()) ?? [:])[name] == uuid
    }
}

/// Claims kept in memory (an engine run without a journal: tests, one-shot tools).
public final class InMemoryMapOwnership: MapOwnership {
    private let maps = Mutex<[String: String]>([:])
    public init() {}
    public func claim(map name: String, uuid: String) throws { maps.withLock { $0[name] = uuid } }
    public func release(map name: String) throws { _ = maps.withLock { $0.removeValue(forKey: name) } }
    public func ownedMaps() throws -> [String: String] { maps.withLock { $0 } }
}
