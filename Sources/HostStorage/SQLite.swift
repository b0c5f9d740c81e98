import CSQLite
import Glibc
import PathCore

/// A value bound to or read from an SQLite statement.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)

    public var text: String? { if case .text(let s) = self { return s }; return nil }
    public var integer: Int64? { if case .integer(let i) = self { return i }; return nil }
}

/// One SQLite database connection (libsqlite3). Not thread-safe by itself: the owner
/// confines it (the intent journal keeps it behind a `Mutex`).
public final class SQLiteConnection {
    private var db: OpaquePointer?
    public let path: String

    /// Opens (creating) `path`. The corresponding C function is `sqlite3_open_v2`.
    public init(path: String) throws {
        self.path = path
        var h: OpaquePointer? = nil
        let rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let h else {
            let msg = h.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(h)
            throw HostStorageError(.io, "cannot open database \(path): \(msg)", cause: "sqlite rc \(rc)")
        }
        db = h
        sqlite3_busy_timeout(h, 5000)
    }

    /// Runs one or more statements without results (`sqlite3_exec`).
    public func execute(_ sql: String) throws {
        guard let db else { throw HostStorageError(.io, "database \(path) is closed") }
        var err: UnsafeMutablePointer<CChar>? = nil
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "rc \(rc)"
            sqlite3_free(err)
            throw HostStorageError(.io, "database \(path): \(msg)", cause: "sqlite rc \(rc)")
        }
    }

    /// Runs one statement with `?` parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ params: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        guard let db else { throw HostStorageError(.io, "database \(path) is closed") }
        var stmt: OpaquePointer? = nil
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw error("prepare")
        }
        defer { sqlite3_finalize(stmt) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, p) in params.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch p {
            case .null: rc = sqlite3_bind_null(stmt, idx)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, idx, v)
            case .text(let s): rc = sqlite3_bind_text(stmt, idx, s, -1, transient)
            }
            guard rc == SQLITE_OK else { throw error("bind") }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error("step") }
            var row: [SQLiteValue] = []
            for c in 0..<sqlite3_column_count(stmt) {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_NULL: row.append(.null)
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(stmt, c)))
                default:
                    if let t = sqlite3_column_text(stmt, c) {
                        row.append(.text(String(cString: t)))
                    } else {
                        row.append(.null)
                    }
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs `body` in one transaction (`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on error).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// `sqlite3_close_v2`. Further calls throw.
    public func close() {
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    deinit { close() }

    private func error(_ what: String) -> HostStorageError {
        let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        return HostStorageError(.io, "database \(path): \(what): \(msg)", cause: "sqlite rc \(db.map { sqlite3_errcode($0) } ?? 0)")
    }
}

/// Wall-clock seconds since the epoch (`clock_gettime(CLOCK_REALTIME)`), for journal rows.
public enum WallClock {
    public static func millis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
