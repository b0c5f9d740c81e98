import Foundation
import Testing

/// A real iSCSI target (Linux SCSI target framework, `tgtd`) on loopback for the tgt
/// tier: two portals, thin-provisioned file-backed LUNs, CHAP and an initiator ACL.
/// Started once per test process, stopped by PID at exit.
///
/// Needs root and the `tgt` package. When they are missing the tier is skipped, unless
/// `PATHAGENT_REQUIRE_TGT=1` (set by `scripts/test --tier tgt`), which turns that into
/// a failure so CI cannot pass without running it.
final class TgtLab: @unchecked Sendable {
    static let initiator = "iqn.2024-01.io.pathagent:tgt-tier-initiator"
    static let otherInitiator = "iqn.2024-01.io.pathagent:not-in-acl"
    static let chapUser = "pathagent-chap"
    static let chapSecret = "s3cr3t-chap-pass"
    static let target = "iqn.2024-01.io.pathagent:tgt-tier"
    static let chapTarget = "iqn.2024-01.io.pathagent:tgt-tier-chap"

    let dir: URL
    let control: Int
    let portal1: String
    let portal2: String
    let process: Process
    /// Backing file of LUN 1 on the open target.
    var lun1File: URL { dir.appendingPathComponent("lun1.img") }

    static let shared: Result<TgtLab, TgtLabError> = {
        do { return .success(try TgtLab()) } catch let e as TgtLabError { return .failure(e) } catch {
            return .failure(TgtLabError(message: "\(error)"))
        }
    }()

    /// The lab, or a skip/failure that explains why it is not available.
    static func require() throws -> TgtLab {
        switch shared {
        case .success(let lab): return lab
        case .failure(let e):
            if ProcessInfo.processInfo.environment["PATHAGENT_REQUIRE_TGT"] == "1" {
                Issue.record("tgt tier required but unavailable: \(e.message)")
                throw e
            }
            throw e
        }
    }

    static var available: Bool {
        if case .success = shared { return true }
        return ProcessInfo.processInfo.environment["PATHAGENT_REQUIRE_TGT"] == "1"
    }

    private init() throws {
        guard getuid() == 0 else { throw TgtLabError(message: "the tgt tier needs root (tgtd binds 127.0.0.x and manages ACLs)") }
        guard let tgtd = Self.which("tgtd"), Self.which("tgtadm") != nil else {
            throw TgtLabError(message: "tgtd/tgtadm not installed (apt-get install tgt)")
        }
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        control = 100 + pid % 800
        let base = 20000 + (pid % 2000) * 2
        portal1 = "127.0.0.1:\(base)"
        portal2 = "127.0.0.2:\(base + 1)"
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pathagent-tgt-\(pid)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: tgtd)
        process.arguments = ["-f", "-C", String(control), "--iscsi", "portal=\(portal1)"]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        atexit { TgtLab.stopShared() }
        // wait until the control socket answers (tgtd is ready in ~20 ms)
        var ready = false
        for _ in 0..<100 {
            if (try? tgtadm(["--op", "show", "--mode", "sys"])) != nil { ready = true; break }
            usleep(20_000)
        }
        guard ready else { throw TgtLabError(message: "tgtd did not start on control port \(control)") }
        try tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", "portal=\(portal2)"])
        // target 1: ACL by initiator name, thin LUN 1 (64 MiB) and LUN 2 (32 MiB)
        try tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", Self.target])
        for (lun, mb) in [(1, 64), (2, 32)] {
            let f = dir.appendingPathComponent("lun\(lun).img").path
            _ = FileManager.default.createFile(atPath: f, contents: nil)
            try FileHandle(forWritingAtPath: f)!.truncate(atOffset: UInt64(mb) << 20)
            try tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", String(lun), "-b", f])
            try tgtadm(["--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", String(lun),
                        "--params", "thin_provisioning=1"])
        }
        try tgtadm(["--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-Q", Self.initiator])
        // target 2: CHAP required
        try tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "2", "-T", Self.chapTarget])
        let f = dir.appendingPathComponent("chap.img").path
        _ = FileManager.default.createFile(atPath: f, contents: nil)
        try FileHandle(forWritingAtPath: f)!.truncate(atOffset: 16 << 20)
        try tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "2", "--lun", "1", "-b", f])
        try tgtadm(["--lld", "iscsi", "--op", "new", "--mode", "account", "--user", Self.chapUser, "--password", Self.chapSecret])
        try tgtadm(["--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "2", "--user", Self.chapUser])
        try tgtadm(["--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "2", "-I", "ALL"])
    }

    static func stopShared() {
        if case .success(let lab) = shared, lab.process.isRunning {
            // at exit Foundation's run loop is gone: wait with waitpid, not waitUntilExit
            // tgtd ignores SIGTERM while targets exist: ask it to shut down, then make sure
            let pid = lab.process.processIdentifier
            _ = try? lab.tgtadm(["--op", "delete", "--mode", "system", "--force"])
            var status: Int32 = 0
            var gone = false
            for _ in 0..<50 {
                if waitpid(pid, &status, WNOHANG) != 0 { gone = true; break }
                usleep(20_000)
            }
            if !gone {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
            }
            try? FileManager.default.removeItem(at: lab.dir)
        }
    }

    @discardableResult
    func tgtadm(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.which("tgtadm") ?? "/usr/sbin/tgtadm")
        p.arguments = ["-C", String(control)] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        var status: Int32 = 0
        _ = waitpid(p.processIdentifier, &status, 0)
        let text = String(decoding: data, as: UTF8.self)
        guard status == 0 else {
            throw TgtLabError(message: "tgtadm \(args.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    func url(portal: String? = nil, target: String = TgtLab.target, lun: Int = 1, user: String? = nil, password: String? = nil) -> String {
        let cred = user.map { u in u + (password.map { "%" + $0 } ?? "") + "@" } ?? ""
        return "iscsi://\(cred)\(portal ?? portal1)/\(target)/\(lun)"
    }

    /// Allocated 512-byte blocks of a backing file (what `stat -c %b` prints).
    func allocatedBlocks(_ file: URL) -> Int {
        var st = stat()
        guard stat(file.path, &st) == 0 else { return -1 }
        return Int(st.st_blocks)
    }

    static func which(_ name: String) -> String? {
        for d in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let p = d + "/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}

struct TgtLabError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
