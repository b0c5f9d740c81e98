import Foundation
import HostStorage
import PathAPI
@testable import PathAgentCore
import PathCore
import PropertyBased
import SimulatedHost
import Synchronization
import Testing

/// Seeded randomized campaigns: random sequences of attach, detach (force /
/// ignore_errors), extend, path faults, third-party logouts, LUNs re-mapped by the array,
/// held disks, monitor rounds and kills at a random kernel write followed by a restart
/// and reconcile, over two iSCSI arrays and two FC arrays with colliding LUN numbers.
/// After every step the safety invariants are checked against what the simulated kernel
/// saw the agent do. A failure prints the seed (`.fixedSeed(...)` reproduces it) and the
/// sequence shrunk to the smallest that still fails.
///
/// Size: `PATHAGENT_CAMPAIGN_SEQUENCES` sequences (default 300, about 10,000 operations),
/// run as two halves in parallel, each with its own seed; `PATHAGENT_CAMPAIGN_BUDGET_S`
/// (default 300) bounds the time spent, shrinking included.
@Suite("Randomized campaign on the simulated host")
struct CampaignTests {
    static let totals = Mutex([Int: CampaignFigures]())

    @Test(arguments: [0, 1]) func safetyInvariantsHoldUnderRandomFaults(half: Int) async throws {
        let count = ((Int(ProcessInfo.processInfo.environment["PATHAGENT_CAMPAIGN_SEQUENCES"] ?? "") ?? 300) + 1) / 2
        let t0 = Date()
        // a failure is shrunk until this budget is spent; the smallest failing sequence
        // found by then is reported with its seed
        let budget = Double(ProcessInfo.processInfo.environment["PATHAGENT_CAMPAIGN_BUDGET_S"] ?? "") ?? 300
        let deadline = t0.addingTimeInterval(budget)
        await propertyCheck(count: count, input: Gen.uint64(in: 0...UInt64.max).array(of: 20...48)) { codes in
            guard Date() < deadline else { return }
            let violations = try await Campaign.run(codes, half: half)
            #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
        }
        let f = Self.totals.withLock { $0[half] ?? CampaignFigures() }
        if ProcessInfo.processInfo.environment["PATHAGENT_CAMPAIGN_TRACE"] != nil {
            print("time by op group (x10): \(opTimes.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key): \(String(format: "%.2f", $0.value))" })")
        }
        print("campaign half \(half): \(f.sequences) sequences, \(f.operations) operations (\(f.attaches) attaches, \(f.detaches) detaches, "
              + "\(f.crashes) kills and reconciles), \(f.faults) faults injected, \(f.violations) violations, "
              + "\(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        #expect(f.violations == 0)
    }
}

struct CampaignFigures: Sendable {
    var sequences = 0
    var operations = 0
    var attaches = 0
    var detaches = 0
    var crashes = 0
    var faults = 0
    var violations = 0
}

let traceViolations = Mutex<[String]?>(nil)
let opTimes = Mutex<[Int: Double]>([:])

enum Campaign {
    struct Before {
        var disks: [HCTL: SimDisk]
        var truth: [HCTL: WWN]
        var foreignMaps: Set<String>
        var maps: Set<String>
        var sessions: [Int: SimSession]
        var effects: Int
        /// Each map's table devices.
        var tables: [String: Set<String>]
    }

    static func snapshot(_ w: World) -> Before {
        w.sim.read { s in
            var truth: [HCTL: WWN] = [:]
            for h in s.disks.keys {
                if let l = s.lunBehind(host: h.host, channel: h.channel, target: h.target, lun: h.lun) { truth[h] = l.wwn }
            }
            return Before(disks: s.disks, truth: truth, foreignMaps: Set(s.maps.values.filter(\.foreign).map(\.name)),
                          maps: Set(s.maps.keys), sessions: s.sessions, effects: s.effects.count,
                          tables: s.maps.mapValues { Set($0.table.groups.flatMap(\.paths).map(\.device.description)) })
        }
    }

    enum Kind { case attach, detach(force: Bool), monitor, other }

    /// The invariants over what the agent did in one step about volume `v`. An attach
    /// without `wwn` in its properties is about whatever volume the LUN presents: `also`
    /// is the WWN it returned.
    static func check(_ w: World, _ before: Before, _ kind: Kind, _ v: SimVolume, _ label: String, also: WWN? = nil) -> [String] {
        var out: [String] = []
        let effects = w.sim.read { Array($0.effects[before.effects...]) }
        for e in effects {
            switch e {
            case .deletedDisk(let hctl, let name, _):
                guard let old = before.disks[hctl] else { continue }  // appeared during this step
                if case .monitor = kind { out.append("\(label): the monitor deleted \(name)") }
                if old.cachedWWN != v.wwn && before.truth[hctl] != v.wwn {
                    out.append("\(label): deleted \(name) (\(hctl)) of another volume \(old.cachedWWN)")
                }
                if old.extraHolder != nil { out.append("\(label): deleted \(name), held by \(old.extraHolder!)") }
                if old.mounted != nil, case .detach(force: true) = kind {} else if old.mounted != nil {
                    out.append("\(label): deleted mounted \(name)")
                }
            case .mapRemoved(let m, _), .mapReloaded(let m):
                if before.foreignMaps.contains(m) { out.append("\(label): touched foreign map \(m)") }
                // a map this step created (and rolled back) is its own; the monitor heals
                // (reloads) any map of the agent's, never removes one
                if case .monitor = kind, case .mapReloaded = e {} else if m != v.wwn.value && m != also?.value && before.maps.contains(m) {
                    out.append("\(label): removed/reloaded map \(m) of another volume")
                }
            case .mapMessaged(let m, let text):
                if before.foreignMaps.contains(m) { out.append("\(label): messaged foreign map \(m): \(text)") }
                if case .monitor = kind {} else if m != v.wwn.value && m != also?.value && before.maps.contains(m) {
                    out.append("\(label): messaged map \(m) of another volume")
                }
            case .loggedOut(let sid, let iqn, _, let left):
                if left > 0 { out.append("\(label): logged out session \(sid) with \(left) LUN(s) in use") }
                if iqn == World.iqnOther { out.append("\(label): logged out the foreign session \(sid)") }
                if case .attach = kind, before.sessions[sid] != nil { out.append("\(label): an attach logged out existing session \(sid)") }
            default: continue
            }
        }
        // a path any step put into a map (attach, or the monitor's healing) is a disk
        // whose LUN is that map's volume now
        out += w.sim.read { s in
            var bad: [String] = []
            for m in s.maps.values where !m.foreign {
                for dev in Set(m.table.groups.flatMap(\.paths).map(\.device.description)).subtracting(before.tables[m.name] ?? []) {
                    guard let d = s.disks.values.first(where: { $0.devNumber == dev }) else { continue }
                    let truth = s.lunBehind(host: d.hctl.host, channel: d.hctl.channel, target: d.hctl.target, lun: d.hctl.lun)?.wwn
                    if truth?.value != m.name { bad.append("\(label): added \(d.name) (\(d.hctl), LUN of \(truth?.value ?? "none")) to map \(m.name)") }
                }
            }
            return bad
        }
        return out
    }

    static func run(_ codes: [UInt64], half: Int) async throws -> [String] {
        let t0 = Date()
        defer {
            if ProcessInfo.processInfo.environment["PATHAGENT_CAMPAIGN_TRACE"] != nil {
                FileHandle.standardError.write(Data("sequence of \(codes.count) steps: \(String(format: "%.2f", Date().timeIntervalSince(t0))) s\n".utf8))
                if let v = traceViolations.withLock({ $0 }), !v.isEmpty { FileHandle.standardError.write(Data("  \(v.joined(separator: "\n  "))\n".utf8)) }
            }
        }
        let w = try World(seed: codes.first ?? 1, scanTimeout: 0.05)
        do {
            let v = try await steps(w, codes, half: half)
            await w.shutdown()
            return v
        } catch {
            await w.shutdown()
            throw error
        }
    }

    static func steps(_ w: World, _ codes: [UInt64], half: Int) async throws -> [String] {
        var violations: [String] = []
        var figures = CampaignFigures()
        figures.sequences = 1
        var remapped: [String: SimLUN] = [:]   // volume name -> the LUN it had
        for (i, code) in codes.enumerated() {
            let v = w.volumes[Int((code >> 8) % UInt64(w.volumes.count))]
            let flags = code >> 20
            let before = snapshot(w)
            var kind = Kind.other
            var also: WWN? = nil
            let label = "step \(i) (\(code % 100)) \(v.name)"
            figures.operations += 1
            let opStart = Date()
            defer { opTimes.withLock { $0[Int(code % 100) / 10, default: 0] += Date().timeIntervalSince(opStart) } }
            switch code % 100 {
            case 0..<30:
                kind = .attach
                figures.attaches += 1
                let anonymous = flags & 1 == 1 && flags & 2 == 2
                if let r = try? await w.connect(v, withoutWWN: anonymous) {
                    violations += verifyAttached(w, r, v, label, requested: !anonymous)
                    if anonymous { also = r.deviceInfo.scsiWWN.flatMap { try? WWN($0) } }
                }
            case 30..<55:
                let force = flags & 3 == 3
                kind = .detach(force: force)
                figures.detaches += 1
                if let r = try? await w.disconnect(v, force: force, ignoreErrors: flags & 4 == 4), r.ignoredErrors.isEmpty {
                    let left = w.remains(of: v.wwn)
                    if !left.disks.isEmpty || left.map { violations.append("\(label): detach answered done but left \(left)") }
                }
            case 55..<60:
                let grow = UInt64(2048 * (1 + flags % 8))
                w.sim.mutate { s in
                    for (iqn, t) in s.iscsiTargets { for (n, l) in t.luns where l.wwn == v.wwn { s.iscsiTargets[iqn]!.luns[n]!.sizeSectors += grow } }
                    for (p, t) in s.fcTargets { for (n, l) in t.luns where l.wwn == v.wwn { s.fcTargets[p]!.luns[n]!.sizeSectors += grow } }
                }
                _ = try? await w.engine.extend(ExtendVolumeRequest(connectionProperties: v.properties, protocol: v.proto))
            case 60..<68:
                figures.faults += 1
                w.sim.mutate { s in
                    let mine = s.disks.keys.filter { s.disks[$0]!.cachedWWN == v.wwn }.sorted()
                    switch flags % 4 {
                    case 0: if let k = mine.first { s.setDiskState(k, "offline") }
                    case 1: for k in mine { s.setDiskState(k, "running") }
                    case 2: if !v.fc { s.setTargetReachable(v.array, false) }
                    default: for iqn in s.iscsiTargets.keys { s.setTargetReachable(iqn, true) }
                    }
                }
            case 68..<72:
                figures.faults += 1
                w.sim.mutate { s in
                    let agents = s.sessions.values.filter { !$0.foreign }.map(\.sid).sorted()
                    if !agents.isEmpty { s.thirdPartyLogout(sid: agents[Int(flags % UInt64(agents.count))]) }
                }
            case 72..<80:
                figures.crashes += 1
                figures.faults += 1
                let snap = SnapshotBox()
                w.sim.crash(afterWrites: Int(1 + flags % 7)) { snap.path = w.snapshotJournal() }
                let had = w.remains(of: v.wwn)
                if flags & 8 == 8 {
                    kind = .attach
                    _ = try? await w.connect(v)
                } else {
                    kind = .detach(force: true)
                    _ = try? await w.disconnect(v, force: true, ignoreErrors: true)
                }
                let crashed = w.sim.read(\.crashed)
                w.sim.crash(afterWrites: 0)
                if crashed {
                    _ = try await w.restart(journalSnapshot: snap.path)
                    if !(try w.journal.unfinished().isEmpty) { violations.append("\(label): journal not empty after reconcile") }
                    let held = w.sim.read { s in s.disks.values.contains { $0.extraHolder != nil } }
                    // a killed attach is rolled back: nothing of the volume that was not there
                    // before it is left
                    if case .attach = kind, !held {
                        let left = w.remains(of: v.wwn)
                        let newDisks = Set(left.disks).subtracting(had.disks)
                        if !newDisks.isEmpty || (left.map && !had.map) {
                            violations.append("\(label): killed attach left \(newDisks.sorted()) map \(left.map && !had.map) after reconcile")
                        }
                    }
                }
            case 80..<85:
                figures.faults += 1
                w.sim.mutate { s in
                    if let old = remapped[v.name] {
                        // the array gives the LUN back to the volume
                        if v.fc { for p in s.fcTargets.keys { for (n, l) in s.fcTargets[p]!.luns where n == v.lun && l.wwn != old.wwn && s.fcTargets[p]!.luns[n] != nil { s.remapFCLUN(wwpn: p, lun: n, to: old) } } }
                        else { s.remapLUN(iqn: v.array, lun: v.lun, to: old) }
                        remapped[v.name] = nil
                    } else if !v.fc, let old = s.iscsiTargets[v.array]?.luns[v.lun] {
                        remapped[v.name] = old
                        s.remapLUN(iqn: v.array, lun: v.lun, to: SimLUN(wwn: World.pureWWN(9, Int(code % 100_000)), sizeSectors: 4096))
                    }
                }
            case 85..<92:
                kind = .monitor
                await w.monitor.startForTests()
                await w.monitor.refresh()
                _ = await w.monitor.pollEvents()
                _ = await w.monitor.pollDeviceStates()
                await w.monitor.checkAll()
                await w.monitor.healAll()
            case 92..<96:
                w.sim.mutate { s in
                    let mine = s.disks.keys.filter { s.disks[$0]!.cachedWWN == v.wwn }.sorted()
                    guard let k = mine.first else { return }
                    switch flags % 4 {
                    case 0: s.disks[k]!.mounted = "/mnt/\(v.name)"
                    case 1: s.disks[k]!.extraHolder = "md\(k.host)"
                    default:
                        for k in mine {
                            s.disks[k]!.mounted = nil
                            s.disks[k]!.extraHolder = nil
                        }
                    }
                    s.version += 1
                }
            default:
                let names = w.sim.read { s in s.disks.values.map(\.name) + s.maps.values.map { "dm-\($0.minor)" } + ["watchdog"] }
                let name = names[Int(flags % UInt64(names.count))]
                _ = try? await w.engine.checkValidDevice(CheckValidDeviceRequest(path: "/dev/" + name))
                if name == "watchdog", w.sim.read({ _ in false }) { violations.append("\(label): opened the watchdog") }
            }
            w.sim.settle()
            violations += check(w, before, kind, v, label, also: also)
            if !w.sim.read(\.crashed), !(try w.journal.unfinished().isEmpty) {
                violations.append("\(label): an intent stayed open after the operation returned")
            }
        }
        figures.violations = violations.count
        traceViolations.withLock { $0 = violations }
        CampaignTests.totals.withLock { all in
            var t = all[half] ?? CampaignFigures()
            defer { all[half] = t }
            t.sequences += figures.sequences
            t.operations += figures.operations
            t.attaches += figures.attaches
            t.detaches += figures.detaches
            t.crashes += figures.crashes
            t.faults += figures.faults
            t.violations += figures.violations
        }
        return violations
    }

    /// A returned device carries the requested WWN: its map is the volume's and every
    /// path below it answers with the volume's WWN now.
    /// Without a `wwn` in the properties the volume is whatever the LUN presents: then the
    /// returned WWN must be what every path answers with.
    static func verifyAttached(_ w: World, _ r: ConnectVolumeResponse, _ requestedVolume: SimVolume, _ label: String,
                               requested: Bool) -> [String] {
        var v = requestedVolume
        if !requested, let got = r.deviceInfo.scsiWWN.flatMap({ try? WWN($0) }) { v = v.withWWN(got) }
        return w.sim.read { s in
            var out: [String] = []
            if r.deviceInfo.scsiWWN != v.wwn.value { out.append("\(label): returned WWN \(r.deviceInfo.scsiWWN ?? "?")") }
            guard let m = s.maps.values.first(where: { "/dev/dm-\($0.minor)" == r.deviceInfo.path }) else {
                out.append("\(label): returned \(r.deviceInfo.path), which is no map")
                return out
            }
            if m.name != v.wwn.value { out.append("\(label): returned map \(m.name)") }
            for p in m.table.groups.flatMap(\.paths) {
                guard let d = s.disks.values.first(where: { $0.devNumber == p.device.description }) else { continue }
                let truth = s.lunBehind(host: d.hctl.host, channel: d.hctl.channel, target: d.hctl.target, lun: d.hctl.lun)?.wwn
                if let truth, truth != v.wwn { out.append("\(label): map path \(d.name) answers as \(truth)") }
            }
            return out
        }
    }
}
