// Fuzz target `json`: JSONValue.parse (RFC 8259, strict) and the os-brick connection
// properties validators built on it (ConnectionProperties.iscsi / .fc, ConnectionValidators).
//
// Invariants beyond "no crash":
// - parse errors are `.malformed`, name a byte offset inside the input and never quote it;
// - `encoded` re-parses to an equal value and is a fixpoint (encode(parse(encode(v))) == encode(v));
// - nesting never exceeds the documented 64 levels;
// - `description` (the redacted text) does not depend on the values of secret keys;
// - a spec the validators accept holds only values that re-validate to themselves (portal,
//   iSCSI name, WWN, WWPN), ASCII names, LUNs a scan accepts, and properties rebuilt from
//   the spec validate to the same spec; its description never depends on the CHAP secrets;
// - every validation error names its key.
@testable import PathCore

func fuzzOne(_ bytes: [UInt8]) {
    let input = text(bytes)
    let v: JSONValue
    do {
        v = try JSONValue.parse(input)
    } catch let e as PathCoreError {
        invariant(e.code == .malformed, "parse error code \(e.code)")
        invariant(e.message.hasPrefix("malformed JSON: "), "parse error message \(e.message)")
        let offset = e.detail.flatMap { $0.hasPrefix("at byte ") ? Int($0.dropFirst(8)) : nil }
        invariant(offset != nil && offset! <= input.utf8.count, "parse error detail \(e.detail ?? "nil")")
        return
    } catch {
        invariant(false, "parse threw \(type(of: error))")
        return
    }

    let enc = v.encoded
    let again: JSONValue
    do { again = try JSONValue.parse(enc) } catch {
        invariant(false, "encoded value does not re-parse: \(error)")
        return
    }
    invariant(again == v, "re-parsed value differs")
    invariant(again.encoded == enc, "encoding is not a fixpoint")
    invariant(depth(v) <= 64, "nesting \(depth(v)) deeper than 64")
    invariant(v.description == otherSecrets(v).description, "description depends on a secret's value")
    invariant(v.redacted().secretValues.allSatisfy { $0 == JSONValue.redactedMarker }, "redacted() kept a secret")
    invariant(v.withoutSecrets().secretValues.isEmpty, "withoutSecrets() kept a secret")

    guard v.objectMembers != nil else { return }
    checkISCSI(v)
    checkFC(v)
}

/// Container nesting (a scalar is 0, `[]` is 1).
func depth(_ v: JSONValue) -> Int {
    switch v {
    case .array(let a): return 1 + (a.map(depth).max() ?? 0)
    case .object(let m): return 1 + (m.map { depth($0.value) }.max() ?? 0)
    default: return 0
    }
}

/// The same value with every secret key's value replaced by another value of the same shape.
func otherSecrets(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let m):
        return .object(m.map { k, x in
            if JSONValue.isSecretKey(k), !x.isNull { return (k, .string("another-secret")) }
            return (k, otherSecrets(x))
        })
    case .array(let a): return .array(a.map(otherSecrets))
    default: return v
    }
}

func isASCIIName(_ s: String) -> Bool { s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f } }
func isLowerHex(_ s: String) -> Bool { s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }

func checkWWN(_ w: WWN) {
    invariant(isLowerHex(w.value), "WWN \(w.value.debugDescription) is not lower-case ASCII hex")
    invariant((try? WWN(w.value)) == w, "WWN \(w.value) does not re-validate to itself")
}

func checkWWPN(_ w: WWPN) {
    invariant(w.value.utf8.count == 16 && isLowerHex(w.value), "WWPN \(w.value.debugDescription) is not 16 ASCII hex digits")
    invariant(w.value.utf8.contains { $0 != 0x30 }, "all-zero WWPN accepted")
    invariant((try? WWPN(w.value)) == w, "WWPN \(w.value) does not re-validate to itself")
    invariant((try? WWPN(w.sysfsForm)) == w, "WWPN \(w.sysfsForm) does not re-validate to itself")
}

func errorNamesKey(_ e: PathCoreError, _ what: String) {
    invariant(e.key.map { !$0.isEmpty } ?? false, "\(what) error without a key: \(e.message)")
}

func checkISCSI(_ v: JSONValue) {
    let spec: ISCSIConnectionSpec
    do { spec = try ConnectionProperties.iscsi(v) } catch let e as PathCoreError {
        errorNamesKey(e, "iscsi")
        return
    } catch {
        invariant(false, "iscsi threw \(type(of: error))")
        return
    }
    invariant(!spec.paths.isEmpty, "iSCSI spec without paths")
    invariant(Set(spec.paths).count == spec.paths.count, "duplicate iSCSI paths")
    for p in spec.paths {
        invariant(isASCIIName(p.iqn), "iSCSI name \(p.iqn.debugDescription) is not printable ASCII")
        invariant((try? ConnectionValidators.iscsiName(p.iqn, key: "k")) == p.iqn, "iSCSI name does not re-validate")
        invariant(isASCIIName(p.portal.argument), "portal \(p.portal.argument.debugDescription) is not printable ASCII")
        let portal = try? ConnectionValidators.portal(p.portal.argument, key: "k")
        invariant(portal == p.portal, "portal \(p.portal.argument) re-validates as \(portal.map { "\($0)" } ?? "an error")")
        invariant((1...65535).contains(p.portal.port), "port \(p.portal.port)")
        invariant(p.scsiLUN <= ConnectionValidators.maxKernelLUN, "scan LUN \(p.scsiLUN) out of range")
    }
    for a in [spec.auth, spec.discoveryAuth].compactMap({ $0 }) {
        invariant(!a.password.isEmpty && a.password.utf8.count <= 256, "CHAP password length")
        invariant(!a.username.isEmpty && a.username.utf8.count <= 256, "CHAP user length")
        invariant((try? ConnectionValidators.argvSafe(a.password, key: "k")) != nil, "CHAP password not argv-safe")
        invariant((try? ConnectionValidators.argvSafe(a.username, key: "k")) != nil, "CHAP user not argv-safe")
    }
    if let w = spec.wwn { checkWWN(w) }

    var other = spec
    other.auth?.password = "another-secret"
    other.discoveryAuth?.password = "another-secret-2"
    invariant(spec.description == other.description, "description depends on a CHAP secret")
    invariant(String(reflecting: spec) == String(reflecting: other), "debugDescription depends on a CHAP secret")
    var d1 = "", d2 = ""
    dump(spec, to: &d1)
    dump(other, to: &d2)
    invariant(d1 == d2, "dump depends on a CHAP secret")

    // Properties rebuilt from the spec (plural form) validate to the same spec.
    var m: [(key: String, value: JSONValue)] = [
        ("target_portals", .array(spec.paths.map { .string($0.portal.argument) })),
        ("target_iqns", .array(spec.paths.map { .string($0.iqn) })),
        ("target_luns", .array(spec.paths.map { .number(String($0.lun)) })),
        ("addressing_mode", .string(spec.addressingMode.rawValue)),
        ("target_discovered", .bool(spec.targetDiscovered)),
        ("access_mode", .string(spec.accessMode.rawValue)),
        ("encrypted", .bool(spec.encrypted)),
        ("discard", .bool(spec.discard)),
    ]
    if let q = spec.qosSpecs { m.append(("qos_specs", q)) }
    if let w = spec.wwn { m.append(("wwn", .string(w.value))) }
    if let id = spec.volumeID { m.append(("volume_id", .string(id))) }
    if let a = spec.auth {
        m += [("auth_method", .string("CHAP")), ("auth_username", .string(a.username)), ("auth_password", .string(a.password))]
    }
    if let a = spec.discoveryAuth {
        m += [("discovery_auth_method", .string("CHAP")), ("discovery_auth_username", .string(a.username)),
              ("discovery_auth_password", .string(a.password))]
    }
    do {
        var again = try ConnectionProperties.iscsi(.object(m))
        again.usedPluralKeys = spec.usedPluralKeys
        invariant(again == spec, "rebuilt iSCSI properties validate to another spec")
    } catch {
        invariant(false, "rebuilt iSCSI properties fail validation: \(error)")
    }
}

func checkFC(_ v: JSONValue) {
    let spec: FCConnectionSpec
    do { spec = try ConnectionProperties.fc(v) } catch let e as PathCoreError {
        errorNamesKey(e, "fc")
        return
    } catch {
        invariant(false, "fc threw \(type(of: error))")
        return
    }
    invariant(!spec.targets.isEmpty, "FC spec without targets")
    invariant(Set(spec.targets).count == spec.targets.count, "duplicate FC targets")
    for t in spec.targets {
        checkWWPN(t.wwpn)
        invariant(t.scsiLUN <= ConnectionValidators.maxKernelLUN, "scan LUN \(t.scsiLUN) out of range")
    }
    for (i, ts) in spec.initiatorTargetMap {
        checkWWPN(i)
        ts.forEach(checkWWPN)
        invariant(Set(ts).count == ts.count, "duplicate targets in the initiator map")
    }
    if let w = spec.wwn { checkWWN(w) }

    var m: [(key: String, value: JSONValue)] = [
        ("target_wwns", .array(spec.targets.map { .string($0.wwpn.value) })),
        ("target_luns", .array(spec.targets.map { .number(String($0.lun)) })),
        ("addressing_mode", .string(spec.addressingMode.rawValue)),
        ("enable_wildcard_scan", .bool(spec.enableWildcardScan)),
        ("target_discovered", .bool(spec.targetDiscovered)),
        ("access_mode", .string(spec.accessMode.rawValue)),
        ("discard", .bool(spec.discard)),
    ]
    if !spec.initiatorTargetMap.isEmpty {
        m.append(("initiator_target_map", .object(spec.initiatorTargetMap.sorted { $0.key < $1.key }.map {
            ($0.key.value, .array($0.value.map { .string($0.value) }))
        })))
    }
    if let w = spec.wwn { m.append(("wwn", .string(w.value))) }
    if let id = spec.volumeID { m.append(("volume_id", .string(id))) }
    // Distinct (WWPN, LUN) pairs can repeat a WWPN; the list form cannot say that, so only
    // specs with one LUN per port are rebuilt.
    guard Set(spec.targets.map(\.wwpn)).count == spec.targets.count else { return }
    do {
        let again = try ConnectionProperties.fc(.object(m))
        invariant(again == spec, "rebuilt FC properties validate to another spec")
    } catch {
        invariant(false, "rebuilt FC properties fail validation: \(error)")
    }
}
