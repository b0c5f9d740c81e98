import Foundation

/// The simulator's data path: one tgt iSCSI target standing for the array (its IQN), one
/// thin file-backed LUN per connected volume, initiator ACLs per host. Every command runs
/// `tgtadm` with an argv array (no shell). tgt LUNs belong to the target, so every allowed
/// initiator sees every LUN: the simulator isolates hosts by ACL only.
final class TgtBinding: @unchecked Sendable {
    let tid: Int
    let targetIQN: String
    let dir: String
    let tgtadm: String
    let enabled: Bool
    /// tgtd's management port (`tgtd -C N`), when not the default.
    let controlPort: Int?
    var luns: [Int: String] = [:]      // lun -> serial
    var allowed: Set<String> = []
    var accounts: Set<String> = []

    init(tid: Int, targetIQN: String, dir: String, tgtadm: String = "/usr/sbin/tgtadm", controlPort: Int? = nil, enabled: Bool) {
        self.tid = tid; self.targetIQN = targetIQN; self.dir = dir; self.tgtadm = tgtadm; self.controlPort = controlPort; self.enabled = enabled
    }

    @discardableResult
    func run(_ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tgtadm)
        p.arguments = (controlPort.map { ["-C", "\($0)"] } ?? []) + ["--lld", "iscsi"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationStatus != 0 {
            FileHandle.standardError.write(Data("fa-sim: tgtadm \(args.joined(separator: " ")) -> \(p.terminationStatus): \(text)\n".utf8))
        }
        return (p.terminationStatus, text)
    }

    func setup() -> Bool {
        guard enabled else { return true }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return run(["--op", "new", "--mode", "target", "--tid", "\(tid)", "--targetname", targetIQN]).0 == 0
    }

    func teardown() {
        guard enabled else { return }
        run(["--op", "delete", "--mode", "target", "--tid", "\(tid)", "--force"])
    }

    func file(_ serial: String) -> String { (dir as NSString).appendingPathComponent("\(serial).img") }

    func createBacking(serial: String, bytes: Int64) -> Bool {
        guard FileManager.default.createFile(atPath: file(serial), contents: nil),
              let h = FileHandle(forWritingAtPath: file(serial)) else { return false }
        defer { try? h.close() }
        do { try h.truncate(atOffset: UInt64(bytes)) } catch { return false }
        return true
    }

    /// Grows the volume's backing file. tgt reads a LUN's size when the LUN is created, so
    /// a bound volume's LUN is exported again (deleted and made anew with the same
    /// identity) for READ CAPACITY to answer the new size, as an array's LUN does at once.
    func resize(serial: String, bytes: Int64) {
        guard enabled, let h = FileHandle(forWritingAtPath: file(serial)) else { return }
        try? h.truncate(atOffset: UInt64(bytes))
        try? h.close()
        for (lun, s) in luns where s == serial {
            // tgt refuses to delete a LUN with commands in flight ("this logical unit is
            // still active"; a path checker's TEST UNIT READY is enough): retry a while
            var deleted = false
            for _ in 0..<75 {
                if run(["--op", "delete", "--mode", "logicalunit", "--tid", "\(tid)", "--lun", "\(lun)"]).0 == 0 { deleted = true; break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            guard deleted else {
                FileHandle.standardError.write(Data("fa-sim: LUN \(lun) of \(serial) could not be exported again with its new size\n".utf8))
                continue
            }
            luns[lun] = nil
            _ = export(serial: serial, lun: lun)
        }
    }

    func removeBacking(serial: String) {
        guard enabled else { return }
        try? FileManager.default.removeItem(atPath: file(serial))
    }

    /// Exports the volume's file at `lun` and lets the host's initiators in.
    func bind(serial: String, lun: Int, initiators: [String]) -> Bool {
        guard luns[lun] != nil || export(serial: serial, lun: lun) else { return false }
        allow(initiators: initiators, chap: nil)
        return true
    }

    /// A tgt LUN for the volume's file with the volume's identity (vendor PURE, its serial,
    /// its WWN in VPD 0x83), thin.
    private func export(serial: String, lun: Int) -> Bool {
        guard run(["--op", "new", "--mode", "logicalunit", "--tid", "\(tid)", "--lun", "\(lun)",
                   "--backing-store", file(serial), "--bstype", "rdwr"]).0 == 0 else { return false }
        run(["--op", "update", "--mode", "logicalunit", "--tid", "\(tid)", "--lun", "\(lun)", "--params", "thin_provisioning=1"])
        run(["--op", "update", "--mode", "logicalunit", "--tid", "\(tid)", "--lun", "\(lun)",
             "--params", "vendor_id=PURE,product_id=FlashArray,scsi_sn=\(serial)"])
        // tgt derives the NAA 6 designator of VPD 0x83 from scsi_id read as hex: this makes
        // the LUN's WWN 3624a9370 + serial, as a FlashArray volume's
        run(["--op", "update", "--mode", "logicalunit", "--tid", "\(tid)", "--lun", "\(lun)",
             "--params", "scsi_id=624a9370\(serial.lowercased())"])
        luns[lun] = serial
        return true
    }

    func unbind(lun: Int) {
        guard luns[lun] != nil else { return }
        run(["--op", "delete", "--mode", "logicalunit", "--tid", "\(tid)", "--lun", "\(lun)"])
        luns[lun] = nil
    }

    func allow(initiators: [String], chap: (String, String)?) {
        guard enabled else { return }
        for i in initiators where !allowed.contains(i) {
            if run(["--op", "bind", "--mode", "target", "--tid", "\(tid)", "--initiator-name", i]).0 == 0 { allowed.insert(i) }
        }
        if let (u, p) = chap, !accounts.contains(u) {
            run(["--op", "new", "--mode", "account", "--user", u, "--password", p])
            if run(["--op", "bind", "--mode", "account", "--tid", "\(tid)", "--user", u]).0 == 0 { accounts.insert(u) }
        }
    }

    /// Blocks allocated to a volume's backing file (thin: only written data).
    func allocatedBytes(serial: String) -> Int64 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/stat")
        p.arguments = ["-c", "%b", file(serial)]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        guard (try? p.run()) != nil else { return 0 }
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (Int64(String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) * 512
    }

    /// Controllers that have a logged-in session from one of `initiators`, by matching the
    /// session's address (on loopback the initiator's source address is the portal's) to the ports.
    func connectedControllers(initiators: [String], ports: [(String, String)]) -> [String] {
        let (rc, text) = run(["--op", "show", "--mode", "target"])
        guard rc == 0 else { return [] }
        var out: [String] = []
        var currentInitiator: String?
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("Initiator:") {
                currentInitiator = t.dropFirst("Initiator:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init)
            } else if t.hasPrefix("IP Address:"), let ini = currentInitiator, initiators.contains(ini) {
                let ip = t.dropFirst("IP Address:".count).trimmingCharacters(in: .whitespaces)
                for (name, portal) in ports where portal.hasPrefix(ip + ":") || portal.hasPrefix("[\(ip)]:") {
                    out.append(String(name.split(separator: ".")[0]))
                }
            }
        }
        return out
    }
}
