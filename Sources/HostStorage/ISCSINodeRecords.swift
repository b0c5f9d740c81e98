import Glibc
import PathCore

/// open-iscsi's node database on disk, for the settings that must not go on an iscsiadm
/// command line (the CHAP secret: any user can read /proc/PID/cmdline).
///
/// What open-iscsi 2.1 (usr/idbm.c) does, and this follows:
/// - records live in `ISCSI_DB_ROOT/nodes` (`/etc/iscsi/nodes` upstream and on Debian,
///   `/var/lib/iscsi/nodes` on builds configured so): `<iqn>/<address>,<port>` is a record
///   written without a portal group tag (what `-o new -p address:port` creates), and
///   `<iqn>/<address>,<port>,<tpgt>/<iface>` one record per interface;
/// - a record is text: `# BEGIN RECORD <version>`, one `name = value` line per field,
///   `# END RECORD`; the reader strips each line, skips empty and `#` lines, takes the name
///   up to blank or `=`, the value after `=` and blanks, and lets a later line of the same
///   name win; lines are read into a 2048-byte buffer and values into 256 bytes (with NUL);
/// - writers take the lock `LOCK_DIR/lock.write` (a hard link to `LOCK_DIR/lock`, retried
///   while it exists) for their read-modify-write.
///
/// Files are replaced atomically: the new text goes into a 0600 temporary file in the
/// target's `<iqn>` directory (a name without `,`, which open-iscsi's portal scan skips;
/// the `<address>,<port>,<tpgt>` directories are not used because open-iscsi reads every
/// file in them as an interface record), then `rename(2)` onto the record.
public struct ISCSINodeRecords: Sendable {
    public var directory: String
    public var lockDirectory: String
    /// How long to wait for another writer's lock.
    public var lockTimeoutSeconds: Double

    public init(directory: String, lockDirectory: String, lockTimeoutSeconds: Double = 30) {
        self.directory = directory
        self.lockDirectory = lockDirectory
        self.lockTimeoutSeconds = lockTimeoutSeconds
    }

    /// Longest value open-iscsi keeps (VALUE_MAXVAL and AUTH_STR_MAX_LEN are 256 with the NUL).
    public static let maxValueBytes = 255

    /// The record files of (iqn, portal), as open-iscsi's iteration finds them: entries of
    /// `<iqn>/` named `<address>,<port>` (a file) or `<address>,<port>,<tpgt>` (a directory
    /// of interface records) whose address is the portal's host as iscsiadm stores it.
    public func recordFiles(iqn: String, portal: ISCSIPortal) -> [String] {
        let target = directory + "/" + iqn
        var out: [String] = []
        for name in Self.list(target) {
            let parts = name.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3, String(parts[0]) == portal.host, Int(parts[1]) == portal.port else { continue }
            let path = target + "/" + name
            switch (parts.count, Self.kind(path)) {
            case (2, S_IFREG): out.append(path)
            case (3, S_IFDIR):
                for iface in Self.list(path) where Self.kind(path + "/" + iface) == S_IFREG { out.append(path + "/" + iface) }
            default: continue
            }
        }
        return out
    }

    /// Sets `fields` (name, value) in each of `files` (all below `<directory>/<iqn>/`) under
    /// open-iscsi's lock, each file replaced atomically with mode 0600. Values that open-iscsi
    /// would not read back unchanged are refused (the message names the field, never the value).
    public func setFields(_ fields: [(name: String, value: String)], in files: [String], iqn: String) throws {
        for (name, value) in fields { try Self.checkValue(value, name: name) }
        try withLock {
            for f in files {
                let text = try Self.read(f)
                try Self.replace(f, contents: Self.updated(text, setting: fields), tempDirectory: directory + "/" + iqn)
            }
        }
    }

    // MARK: record text

    /// The field name of a record line, as idbm's reader takes it; nil for blank and `#` lines.
    static func fieldName(_ line: Substring) -> Substring? {
        let t = line.drop { $0 == " " || $0 == "\t" }
        guard let c = t.first, c != "#" else { return nil }
        return t.prefix { $0 != " " && $0 != "\t" && $0 != "=" }
    }

    /// `text` with each field set: the first line of that name takes the new value and later
    /// ones are dropped; a missing field goes after the field before it in `fields` (so the
    /// auth lines stay together, in open-iscsi's order), or before `# END RECORD`, or last.
    static func updated(_ text: String, setting fields: [(name: String, value: String)]) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var previous: Int? = nil
        for (name, value) in fields {
            let line = "\(name) = \(value)"
            let at = lines.indices.filter { fieldName(lines[$0][...]) == name[...] }
            if let first = at.first {
                lines[first] = line
                for i in at.dropFirst().reversed() { lines.remove(at: i) }
                previous = first
                continue
            }
            let end = lines.lastIndex { $0.trimmingWhitespace().hasPrefix("# END RECORD") }
            let i = previous.map { $0 + 1 } ?? end ?? lines.count
            lines.insert(line, at: i)
            previous = i
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func checkValue(_ value: String, name: String) throws {
        func bad(_ why: String) -> HostStorageError {
            HostStorageError(.invalidArgument, "\(name) cannot be stored in an open-iscsi node record: \(why)")
        }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { throw bad("it contains a control character") }
        if value.utf8.count > maxValueBytes { throw bad("it is longer than \(maxValueBytes) bytes") }
        if value.isEmpty { throw bad("it is empty") }
        if value.first!.isWhitespace || value.last!.isWhitespace {
            throw bad("it starts or ends with a blank, which open-iscsi strips when it reads the record")
        }
    }

    // MARK: files

    static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    /// `S_IFREG`, `S_IFDIR`, ... of `path` itself (symbolic links are not followed).
    static func kind(_ path: String) -> mode_t {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        return st.st_mode & S_IFMT
    }

    static func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw HostStorageError(.io, "cannot read the node record \(path)", errno: errno) }
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HostStorageError(.io, "cannot read the node record \(path)", errno: errno)
            }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `contents` to a new 0600 file in `tempDirectory`, syncs it, renames it onto
    /// `path` and syncs the directory. The temporary file is removed on failure.
    static func replace(_ path: String, contents: String, tempDirectory: String) throws {
        var template = Array((tempDirectory + "/.pathagent-record.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw HostStorageError(.io, "cannot create a temporary node record in \(tempDirectory)", errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temp = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var done = false
        defer {
            if !done { unlink(temp) }
        }
        func fail(_ what: String) -> HostStorageError {
            let e = errno
            close(fd)
            return HostStorageError(.io, "cannot \(what) the node record \(path)", errno: e)
        }
        guard fchmod(fd, 0o600) == 0 else { throw fail("protect") }
        let bytes = Array(contents.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("write")
            }
            off += n
        }
        guard fsync(fd) == 0 else { throw fail("sync") }
        close(fd)
        guard rename(temp, path) == 0 else { throw HostStorageError(.io, "cannot replace the node record \(path)", errno: errno) }
        done = true
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    // MARK: open-iscsi's lock

    /// Runs `body` holding open-iscsi's node-database lock (`lock.write` linked to `lock`),
    /// so no iscsiadm reads or rewrites a record in between.
    func withLock<T>(_ body: () throws -> T) throws -> T {
        if mkdir(lockDirectory, 0o770) != 0 && errno != EEXIST {
            throw HostStorageError(.io, "cannot create open-iscsi's lock directory \(lockDirectory)", errno: errno)
        }
        let lock = lockDirectory + "/lock", writeLock = lockDirectory + "/lock.write"
        let fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        if fd >= 0 { close(fd) }
        let deadline = MonotonicClock.nanos() + UInt64(lockTimeoutSeconds * 1e9)
        while link(lock, writeLock) != 0 {
            guard errno == EEXIST else {
                throw HostStorageError(.io, "cannot take open-iscsi's node-database lock \(writeLock)", errno: errno)
            }
            guard MonotonicClock.nanos() < deadline else {
                throw HostStorageError(
                    .busy, "open-iscsi's node-database lock \(writeLock) is still held after \(Int(lockTimeoutSeconds)) s (a stale lock left by a killed iscsiadm?)")
            }
            usleep(10_000)
        }
        defer { unlink(writeLock) }
        return try body()
    }
}
