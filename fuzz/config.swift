// Fuzz target `config`: the host's configuration readers in PathCore, each run on every input:
// pathagent.conf (AgentConfig.parse), pathagent's multipath config (MultipathConfig.parse),
// /etc/multipath.conf (MultipathConfFile.parse with its blacklist and device matching, whose
// patterns are regular expressions from the file), nova.conf (OsloINI) and iscsid.conf
// (HostChecks.iscsidValues).
//
// Invariants beyond "no crash":
// - CRLF line ends read like LF ones (each reader trims CR as whitespace), with the same
//   values, origins and errors;
// - an accepted pathagent.conf holds values inside each option's documented range;
// - an accepted multipath config names only known keys, in sections whose patterns compile;
// - multipath.conf sections close in order and every entry has a key.
@testable import PathCore

func fuzzOne(_ bytes: [UInt8]) {
    let t = text(bytes)
    let lf = lfOnly(t)

    let agent = result { try AgentConfig.parse(t, file: "f") }
    invariant(agent == result { try AgentConfig.parse(lf, file: "f") }, "pathagent.conf: CRLF reads differently from LF")
    if case .success(let c) = agent {
        invariant((0...65535).contains(c.metricsPort) && (1024...(64 << 20)).contains(c.maxBodyBytes), "api ranges")
        invariant((1...256).contains(c.workers) && (1...3600).contains(c.recoveryTmo), "agent/iscsi ranges")
        invariant(c.statePollMillis == 0 || (50...60000).contains(c.statePollMillis), "state_poll_ms")
        for p in [c.socketPath, c.stateDir, c.roots] + [c.flashArrayCinderConf].compactMap({ $0 }) {
            invariant(p.hasPrefix("/") && !p.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "path \(p.debugDescription)")
        }
    }

    let mp = result { try MultipathConfig.parse(t, path: "f") }
    invariant(mp == result { try MultipathConfig.parse(lf, path: "f") }, "multipath config: CRLF reads differently from LF")
    if case .success(let c) = mp {
        for s in c.sections {
            for e in s.entries { invariant(MultipathConfig.knownKeys.contains(e.key), "unknown key \(e.key) accepted") }
            if let v = s.vendorPattern, let p = s.productPattern {
                invariant((try? Regex(v)) != nil && (try? Regex(p)) != nil, "a section pattern does not compile")
                _ = MultipathConfig.matches(s, vendor: "PURE", product: "FlashArray")
            }
        }
    }

    let conf = result { try MultipathConfFile.parse(t, path: "f") }
    invariant(conf == result { try MultipathConfFile.parse(lf, path: "f") }, "multipath.conf: CRLF reads differently from LF")
    if case .success(let f) = conf {
        check(f.root)
        _ = f.blacklistReason(wwid: "3624a93709714b5cb91634c470002b2c8", vendor: "PURE", product: "FlashArray")
        _ = f.matchingDevices(vendor: "PURE", product: "FlashArray")
        _ = (f.defaults, f.overrides, f.devices.count)
    }

    invariant(show(OsloINI(t).values) == show(OsloINI(lf).values), "nova.conf: CRLF reads differently from LF")
    invariant(show(HostChecks.iscsidValues(t)) == show(HostChecks.iscsidValues(lf)), "iscsid.conf: CRLF reads differently from LF")
}

func check(_ s: MultipathConfFile.Section) {
    for e in s.entries { invariant(!e.key.isEmpty && e.line >= 1, "multipath.conf entry without a key") }
    for c in s.children {
        invariant(!c.name.isEmpty && c.line >= s.line, "section \(c.name.debugDescription) at line \(c.line)")
        check(c)
    }
}

func lfOnly(_ s: String) -> String {
    var out = [UInt8]()
    let u = Array(s.utf8)
    for (i, b) in u.enumerated() where !(b == 0x0D && i + 1 < u.count && u[i + 1] == 0x0A) { out.append(b) }
    return String(decoding: out, as: UTF8.self)
}

func result<T>(_ body: () throws -> T) -> Result<T, PathCoreError> {
    do { return .success(try body()) } catch let e as PathCoreError { return .failure(e) } catch {
        invariant(false, "threw \(type(of: error)), not a PathCoreError")
        fatalError()
    }
}

func show(_ d: [String: [String: (value: String, line: Int)]]) -> String {
    d.keys.sorted().map { k in "[\(k)] " + show(d[k]!) }.joined(separator: "\n")
}

func show(_ d: [String: (value: String, line: Int)]) -> String {
    d.keys.sorted().map { "\($0)=\(d[$0]!.value.debugDescription)@\(d[$0]!.line)" }.joined(separator: "\n")
}
