// Fuzz target `ini`: the FlashArray module's oslo.config INI reader and the cinder.conf
// checker on top of it (Sources/FlashArray/INIFile.swift, CinderConf.swift, CIDR.swift,
// compiled into this harness with FlashArrayError.swift; PathCore linked).
//
// Invariants beyond "no crash":
// - CRLF line ends read like LF ones (INIFile strips the CR, as oslo.config's universal
//   newlines do): same sections, entries, values and line numbers, same diagnostics;
// - section names and keys are non-empty and trimmed; entry lines increase within a
//   section and stay within the file;
// - diagnostics name lines within the file; backends are enabled stanzas;
// - a backend's description does not depend on its API token, and no diagnostic shows a
//   pure_api_token or replication_device api_token (one that occurs only where it is set).
import PathCore

func fuzzOne(_ bytes: [UInt8]) {
    let t = text(bytes)
    let lines = t.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
    let lf = lfOnly(t)

    let ini = Result { try INIFile(text: t) }
    let iniLF = Result { try INIFile(text: lf) }
    invariant(describe(ini) == describe(iniLF), "CRLF reads differently from LF:\n\(describe(ini))\n---\n\(describe(iniLF))")
    if case .success(let f) = ini {
        for s in f.sections {
            invariant(!s.name.isEmpty && s.name == s.name.trimmingWhitespace(), "section name \(s.name.debugDescription)")
            var last = s.line
            for e in s.entries {
                invariant(!e.key.isEmpty && e.key == e.key.trimmingWhitespace(), "key \(e.key.debugDescription)")
                invariant(e.line > 0 && e.line <= lines, "entry line \(e.line) of \(lines)")
                invariant(e.line > last, "entry line \(e.line) after line \(last) in [\(s.name)]")
                last = e.line
            }
        }
    }

    let conf = CinderConf(text: t)
    let confLF = CinderConf(text: lf)
    invariant(conf.diagnostics.map(\.description) == confLF.diagnostics.map(\.description), "CRLF diagnostics differ from LF")
    invariant(conf.backends.keys.sorted() == confLF.backends.keys.sorted(), "CRLF backends differ from LF")
    for d in conf.diagnostics {
        invariant(d.line.map { $0 >= 1 && $0 <= lines } ?? true, "diagnostic line \(d.line!) of \(lines)")
        invariant(!d.rule.isEmpty && !d.message.isEmpty, "empty diagnostic")
    }
    for (name, b) in conf.backends {
        invariant(conf.enabledBackends.contains(name), "backend \(name) is not enabled")
        var other = b
        other.apiToken = Secret("another-token")
        invariant(b.description == other.description, "backend description depends on the API token")
        _ = try? conf.backend(name)
    }
    // Tokens never reach a diagnostic: each token that occurs once in the file is replaced by
    // a marker no message can contain by chance, and no diagnostic may show the marker.
    if case .success(let f) = ini {
        var tokens: [String] = []
        for s in f.sections {
            tokens += s.all("pure_api_token").map(\.value)
            for e in s.all("replication_device") {
                for item in e.value.split(separator: ",") {
                    let kv = item.split(separator: ":", maxSplits: 1)
                    if kv.count == 2, kv[0].trimmingWhitespace() == "api_token" { tokens.append(kv[1].trimmingWhitespace()) }
                }
            }
        }
        for token in tokens where token.utf8.count >= 4 && occurrences(t, token) == 1 {
            let marker = "TOKEN-MARKER-7f3a9c"
            let conf2 = CinderConf(text: replacingOnce(t, token, marker))
            invariant(!conf2.diagnostics.contains { containsBytes($0.description, marker) }, "a diagnostic quotes an API token")
        }
    }
}

func replacingOnce(_ s: String, _ what: String, _ with: String) -> String {
    let h = Array(s.utf8), n = Array(what.utf8)
    for i in 0...(h.count - n.count) where Array(h[i..<(i + n.count)]) == n {
        return String(decoding: h[..<i] + Array(with.utf8) + h[(i + n.count)...], as: UTF8.self)
    }
    return s
}

func lfOnly(_ s: String) -> String {
    var out = [UInt8]()
    let u = Array(s.utf8)
    for (i, b) in u.enumerated() where !(b == 0x0D && i + 1 < u.count && u[i + 1] == 0x0A) { out.append(b) }
    return String(decoding: out, as: UTF8.self)
}

func occurrences(_ hay: String, _ needle: String) -> Int {
    let h = Array(hay.utf8), n = Array(needle.utf8)
    guard !n.isEmpty, n.count <= h.count else { return 0 }
    var c = 0
    for i in 0...(h.count - n.count) where h[i] == n[0] && Array(h[i..<(i + n.count)]) == n { c += 1 }
    return c
}

func describe(_ r: Result<INIFile, any Error>) -> String {
    switch r {
    case .failure(let e): return "error \(e)"
    case .success(let f):
        return f.sections.map { s in
            "[\(s.name)]@\(s.line)\n" + s.entries.map { "\($0.key)=\($0.value.debugDescription)@\($0.line)\($0.continued ? "+" : "")" }.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
