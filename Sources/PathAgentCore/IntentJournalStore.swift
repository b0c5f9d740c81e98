import FoundationEssentials
public import HostStorage
public import PathCore
import Synchronization

/// The durable intent journal: SQLite in WAL mode (`synchronous=NORMAL`) at
/// `<state_dir>/journal.sqlite`, one row per intent (`id, kind, wwn, created, updated,
/// state, record`) with the `IntentRecord` as JSON.
///
/// Steps are written BEFORE they are carried out: `IntentHandle.step(_:_:)` records the
/// step, then runs the work. After a crash, `unfinished()` returns every intent that was
/// begun and never finished, with every step it announced; `IntentReconciler` compares
/// them with what the kernel shows. Calls are short synchronous writes (no fsync per
/// commit in WAL/NORMAL mode), safe from any thread.
public final class IntentJournalStore: MapOwnership {
    public static let fileName = "journal.sqlite"
    public let path: String
    /// Serializes every use of `connection` (SQLite handles are not shared across threads).
    private let lock = Mutex(())
    nonisolated(unsafe) private var connection: SQLiteConnection?

    /// Opens (creating) `<directory>/journal.sqlite`, making the directory (0700) if needed.
    public convenience init(directory: String) throws {
        try UnixSocketPath.makeDirectories(directory, mode: 0o700)
        try self.init(path: directory + "/" + Self.fileName)
    }

    public init(path: String) throws {
        self.path = path
        let c = try SQLiteConnection(path: path)
        let mode = try c.query("PRAGMA journal_mode=WAL").first?.first?.text
        guard mode?.lowercased() == "wal" else {
            throw HostStorageError(.io, "journal \(path): WAL mode refused (journal_mode=\(mode ?? "?"))")
        }
        try c.execute(
            """
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS intents (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                wwn TEXT NOT NULL,
                created INTEGER NOT NULL,
                updated INTEGER NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('open', 'finished')),
                record TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS intents_open ON intents(state, created);
            CREATE TABLE IF NOT EXISTS owned_maps (
                name TEXT PRIMARY KEY,
                uuid TEXT NOT NULL,
                created INTEGER NOT NULL
            );
            """)
        connection = c
    }

    /// Records a new intent (state `open`) and returns a handle for its steps.
    @discardableResult
    public func begin(_ record: IntentRecord) throws -> IntentHandle {
        let now = WallClock.millis()
        try withDB { c in
            try c.query(
                "INSERT INTO intents (id, kind, wwn, created, updated, state, record) VALUES (?, ?, ?, ?, ?, 'open', ?)",
                [.text(record.id), .text(record.kind.rawValue), .text(record.volumeWWN?.value ?? ""), .integer(now), .integer(now),
                 .text(try Self.encode(record))])
        }
        return IntentHandle(store: self, id: record.id)
    }

    /// Appends a step to an open intent (durable when this returns).
    public func append(id: String, _ step: IntentStep) throws {
        try withDB { c in
            try c.transaction {
                guard let row = try c.query("SELECT record, state FROM intents WHERE id = ?", [.text(id)]).first,
                    let text = row[0].text
                else { throw PathCoreError(.missing, "no intent \(id) in the journal") }
                guard row[1].text == "open" else { throw PathCoreError(.conflict, "intent \(id) is already finished") }
                var record = try Self.decode(text)
                record.steps.append(step)
                try c.query(
                    "UPDATE intents SET record = ?, updated = ? WHERE id = ?",
                    [.text(try Self.encode(record)), .integer(WallClock.millis()), .text(id)])
            }
        }
    }

    /// Marks an intent finished; it no longer shows in `unfinished()`.
    public func finish(id: String) throws {
        try withDB { c in
            try c.query(
                "UPDATE intents SET state = 'finished', updated = ? WHERE id = ?", [.integer(WallClock.millis()), .text(id)])
        }
    }

    /// Intents begun and never finished, oldest first, each with all its recorded steps.
    public func unfinished() throws -> [IntentRecord] {
        try withDB { c in
            try c.query("SELECT record FROM intents WHERE state = 'open' ORDER BY created, rowid").map { row in
                try Self.decode(row[0].text ?? "")
            }
        }
    }

    // MARK: map ownership

    public func claim(map name: String, uuid: String) throws {
        try withDB { c in
            try c.query("INSERT OR REPLACE INTO owned_maps (name, uuid, created) VALUES (?, ?, ?)",
                        [.text(name), .text(uuid), .integer(WallClock.millis())])
        }
    }

    public func release(map name: String) throws {
        try withDB { c in try c.query("DELETE FROM owned_maps WHERE name = ?", [.text(name)]) }
    }

    public func ownedMaps() throws -> [String: String] {
        try withDB { c in
            var out: [String: String] = [:]
            for row in try c.query("SELECT name, uuid FROM owned_maps") {
                if let n = row[0].text, let u = row[1].text { out[n] = u }
            }
            return out
        }
    }

    /// Deletes finished intents last updated before `olderThanMillis` (epoch ms).
    public func prune(olderThanMillis: Int64) throws {
        try withDB { c in
            try c.query("DELETE FROM intents WHERE state = 'finished' AND updated < ?", [.integer(olderThanMillis)])
        }
    }

    /// The SQLite journal mode in effect (`wal`).
    public func journalMode() throws -> String {
        try withDB { c in try c.query("PRAGMA journal_mode").first?.first?.text ?? "?" }
    }

    /// Closes the database; later calls throw.
    public func close() {
        lock.withLock { _ in
            connection?.close()
            connection = nil
        }
    }

    private func withDB<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try lock.withLock { _ in
            guard let c = connection else { throw HostStorageError(.io, "journal \(path) is closed") }
            return try body(c)
        }
    }

    static func encode(_ r: IntentRecord) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(r), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> IntentRecord {
        do {
            return try JSONDecoder().decode(IntentRecord.self, from: Data(text.utf8))
        } catch {
            throw PathCoreError(.malformed, "journal record does not decode", detail: "\(error)")
        }
    }
}

/// One open intent. `step(_:_:)` writes the step to the journal before doing it.
public struct IntentHandle: Sendable {
    public let store: IntentJournalStore
    public let id: String

    /// Records `step`, then runs `work`. If `work` fails or the process dies during it,
    /// the step stays recorded: the reconciler checks the kernel for its effect.
    public func step<T>(_ step: IntentStep, _ work: () throws -> T) throws -> T {
        try store.append(id: id, step)
        return try work()
    }

    public func step<T>(_ step: IntentStep, _ work: () async throws -> T) async throws -> T {
        try store.append(id: id, step)
        return try await work()
    }

    public func finish() throws { try store.finish(id: id) }
}
