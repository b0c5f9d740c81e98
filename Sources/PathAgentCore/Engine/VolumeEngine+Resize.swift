import HostStorage
import Logging
import PathAPI
import PathCore

/// What a capacity change of a volume (CAPACITY DATA HAS CHANGED on one of its paths) did
/// to the agent's map.
public enum ResizeOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Every path re-read the same larger size; the map was reloaded with it.
    case grown(fromSectors: UInt64, toSectors: UInt64)
    /// Every path re-read the map's own size: nothing to do.
    case unchanged
    /// The paths agree on a size the map must not take (smaller: never shrunk under its user).
    case refused(String)
    /// A path cannot be re-read now (no disk, not running) or the paths disagree: tried
    /// again at the next checker round.
    case waiting(String)
    /// Not the agent's map, or gone.
    case notResized

    public var description: String {
        switch self {
        case .grown(let a, let b): "grown from \(a) to \(b) sectors"
        case .unchanged: "unchanged"
        case .refused(let why): "refused: \(why)"
        case .waiting(let why): "waiting: \(why)"
        case .notResized: "not the agent's map"
        }
    }
}

/// Resizing a map when its volume's capacity changed on the array (the path monitor asks,
/// on the unit attention the kernel reports).
public protocol MapResizing: Sendable {
    func capacityChanged(map name: String, cause: String) async -> ResizeOutcome
}

extension VolumeEngine: MapResizing {
    /// Under the volume's lock (never interleaved with an attach, detach, extend, regroup or
    /// healing of the volume), for a map this agent created: every path of the live table
    /// must have its disk and be running (a blocked or offline disk cannot re-read its
    /// capacity: the resize waits); each is rescanned (`device/rescan`: the kernel re-reads
    /// READ CAPACITY, also on the paths that did not report the unit attention yet); when
    /// they all show the same size and it is larger than the map, the map is reloaded with
    /// the same paths and grouping and the new length, and paths that were failed are failed
    /// again. A smaller size is refused: a map is never shrunk under its user. Nothing is
    /// deleted, scanned or logged out.
    public func capacityChanged(map name: String, cause: String) async -> ResizeOutcome {
        guard kernel.acceptsWrites, let wwn = try? WWN(name) else { return .notResized }
        do {
            return try await locks.withLock(keys: [volumeKey(wwn, fallback: name)]) { [self] in
                try await workers.run { [self] in try resizeLocked(name, cause: cause) }
            }
        } catch {
            logger.error("cannot resize the map for its volume's new capacity", metadata: [
                "dm.map": "\(name)", "resize.cause": "\(cause)", "error": "\(error)",
            ])
            return .waiting("\(error)")
        }
    }

    func resizeLocked(_ name: String, cause: String) throws -> ResizeOutcome {
        guard let st = try dm.info(name), let line = try dm.table(name).first, line.type == "multipath" else { return .notResized }
        guard ownership.owns(map: name, uuid: st.uuid) else {
            logger.warning("not resizing a map this agent did not create", metadata: ["dm.map": "\(name)", "dm.uuid": "\(st.uuid)"])
            return .notResized
        }
        let table = try DMTable.parse(params: line.params, start: line.start, length: line.length)
        let inTable = Set(table.devices)
        func paths() -> [ScsiPath] {
            mapPaths(kernelName: st.kernelName).filter { p in p.devNumber.flatMap { try? DeviceNumber($0) }.map(inTable.contains) ?? false }
        }
        func label(_ p: ScsiPath) -> String { "\(p.device ?? "?") (\(p.hctl))" }
        let before = paths()
        let have = Set(before.compactMap { $0.devNumber.flatMap { try? DeviceNumber($0) } })
        let missing = table.devices.filter { !have.contains($0) }
        guard missing.isEmpty else {
            return .waiting("path \(missing.map(\.description).joined(separator: ",")) of the map has no SCSI device now")
        }
        let notRunning = before.filter { $0.state != "running" }
        guard notRunning.isEmpty else {
            return .waiting(notRunning.map { "\(label($0)) is \($0.state)" }.joined(separator: ", ") + ": its capacity cannot be re-read now")
        }
        for p in before { try kernel.rescan(p.hctl) }
        let after = paths()
        let bytes: UInt64
        do {
            bytes = try VolumeResize.agreedSize(after.map { (label($0), $0.sizeBytes ?? 0) })
        } catch {
            return .waiting("\(error)")
        }
        let sectors = bytes / 512
        if sectors == table.length { return .unchanged }
        guard sectors > table.length else {
            let why = "every path now shows \(bytes) bytes (\(sectors) sectors), less than the map's \(table.length) sectors:"
                + " a map is never shrunk under its user (detach it and attach it again)"
            logger.error("volume capacity shrank: the map was not resized", metadata: ["dm.map": "\(name)", "resize.cause": "\(cause)", "resize.why": "\(why)"])
            return .refused(why)
        }
        var grown = table
        grown.length = sectors
        let failedAgain = try reloadFailingAgain(name, table: grown, after: "resize")
        logger.notice("map resized for its volume's new capacity", metadata: [
            "dm.map": "\(name)", "resize.cause": "\(cause)", "resize.from_sectors": "\(table.length)", "resize.to_sectors": "\(sectors)",
            "resize.paths": "\(after.map(label).joined(separator: ","))",
            "path.failed_again": "\(failedAgain.map(\.description).joined(separator: ","))",
        ])
        return .grown(fromSectors: table.length, toSectors: sectors)
    }
}
