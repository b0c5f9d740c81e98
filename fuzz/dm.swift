// Fuzz target `dm`: the device-mapper multipath table and status parsers
// (Sources/PathCore/Multipath/DMTable.swift, DMStatus.swift, DMTokens.swift, DeviceNumber.swift).
//
// Invariants beyond "no crash":
// - a parsed table that validates re-renders to a line that parses to the same table, and
//   its parameters alone (`parse(params:)`) to the same table too; rendering is a fixpoint;
// - whitespace is only a separator: the line with every run of blanks (space, tab, CR, LF)
//   replaced by one space parses to the same result;
// - a parsed status has its group and path counts in range, and its path and group
//   states from the documented letters;
// - errors are PathCoreErrors that name a token within the line (or its end).
@testable import PathCore

func fuzzOne(_ bytes: [UInt8]) {
    let line = text(bytes)
    let spaced = normalizedBlanks(line)

    let table = result { try DMTable.parse(line) }
    invariant(table == result { try DMTable.parse(spaced) }, "whitespace changes the table parse")
    if case .success(let t) = table, let r = try? t.rendered() {
        let again = result { try DMTable.parse(r) }
        invariant(again == .success(t), "rendered table \(r.debugDescription) parses to \(again)")
        invariant((try? DMTable.parse(r).rendered()) == r, "rendering is not a fixpoint")
        let params = try? t.renderedParams()
        invariant(params.flatMap { try? DMTable.parse(params: $0, start: t.start, length: t.length) } == t, "params do not round-trip")
        invariant(t.sameMap(as: t) && t.devices.count == t.groups.reduce(0) { $0 + $1.paths.count }, "device list")
    }
    if case .failure(let e) = table { checkError(e, line) }

    let status = result { try DMStatus.parse(line) }
    invariant(status == result { try DMStatus.parse(spaced) }, "whitespace changes the status parse")
    switch status {
    case .success(let s):
        invariant(s.nextGroup >= 0 && s.nextGroup <= s.groups.count, "next group \(s.nextGroup) of \(s.groups.count)")
        invariant(s.failedDevices.count + s.activeDevices.count == s.paths.count, "path states")
        _ = (s.queueIO, s.pgInitCount)
    case .failure(let e): checkError(e, line)
    }

    // the device numbers of sysfs `dev` files and dm tables
    if let dn = try? DeviceNumber(line) {
        invariant((try? DeviceNumber(dn.description)) == dn, "device number \(dn) does not round-trip")
    }
}

func result<T>(_ body: () throws -> T) -> Result<T, PathCoreError> {
    do { return .success(try body()) } catch let e as PathCoreError { return .failure(e) } catch {
        invariant(false, "threw \(type(of: error)), not a PathCoreError")
        fatalError()
    }
}

func checkError(_ e: PathCoreError, _ line: String) {
    let words = line.unicodeScalars.split(whereSeparator: isBlank).count
    guard let d = e.detail, d.hasPrefix("token ") else { return }
    let n = Int(d.dropFirst(6))
    invariant(n != nil && n! >= 1 && n! <= words + 1, "error names token \(d) of \(words)")
}

/// The blanks the kernel's dm_split_args separates words with (bytes, so scalars here: a
/// Character may join a blank to what follows it).
func isBlank(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }

/// The line with every run of blanks replaced by one space.
func normalizedBlanks(_ s: String) -> String {
    s.unicodeScalars.split(whereSeparator: isBlank).map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
}
