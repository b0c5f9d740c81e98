import Testing
@testable import PathCore

private let pureSecret = "Zq8vR2xT5mWk9LpA"
private let pureIQN = "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873"

private func pureISCSI() throws -> JSONValue { try JSONValue.parse(try propsFixture("pure_iscsi_chap.json")) }
private func pureFC() throws -> JSONValue { try JSONValue.parse(try propsFixture("pure_fc.json")) }

// MARK: - good inputs

@Test func pureISCSIWithCHAPAndSAM2() throws {
    let spec = try ConnectionProperties.iscsi(try pureISCSI())
    #expect(spec.usedPluralKeys)
    #expect(spec.paths.map(\.portal.argument) == ["10.0.1.11:3260", "10.0.1.12:3260", "10.0.2.11:3260", "10.0.2.12:3260"])
    #expect(spec.paths.allSatisfy { $0.iqn == pureIQN && $0.lun == 1 && $0.scsiLUN == 1 })
    #expect(spec.auth == CHAPCredentials(username: "compute-01", password: pureSecret))
    #expect(spec.discoveryAuth == nil)
    #expect(spec.wwn == (try WWN.pure(serial: "9714B5CB91634C470002B2C8")))
    #expect(spec.addressingMode == .sam2)
    #expect(spec.discard && !spec.targetDiscovered && !spec.encrypted)
    #expect(spec.accessMode == .rw)

    // The secret never shows in any printable form.
    var dumped = ""
    dump(spec, to: &dumped)
    for text in [spec.description, spec.debugDescription, String(describing: spec), String(reflecting: spec), dumped,
                 "\(spec.auth!)", String(reflecting: spec.auth!), "\(spec.redacted())"] {
        #expect(!text.contains(pureSecret), "secret leaked in: \(text)")
    }
    #expect(spec.redacted().auth?.password == "<redacted>")
    #expect(spec.redacted().auth?.username == "compute-01")
}

@Test func pureConnectionInfoWrapperIPv6AndLargeLUN() throws {
    let spec = try ConnectionProperties.iscsi(json: try propsFixture("pure_iscsi_connection_info.json"))
    #expect(spec.paths.count == 3)
    #expect(spec.paths[1].portal == ISCSIPortal(host: "fd00:10::11", port: 3260, isIPv6: true))
    #expect(spec.paths[1].portal.argument == "[fd00:10::11]:3260")
    // SAM2: LUN 300 is at or above 256, so flat space: 300 + 16384.
    #expect(spec.paths.allSatisfy { $0.lun == 300 && $0.scsiLUN == 16684 })
    #expect(spec.auth == nil)
    #expect(spec.qosSpecs == nil)
    #expect(spec.volumeID == "0ee5d1a8-3bd2-4d3f-9e2b-1b0b8e1c0a17")
    #expect(spec.wwn?.value == "3624a93709714b5cb91634c470002b2c9")
}

@Test func osBrickSingularISCSIForm() throws {
    let spec = try ConnectionProperties.iscsi(json: try propsFixture("osbrick_iscsi_single.json"))
    #expect(!spec.usedPluralKeys)
    #expect(spec.paths == [ISCSITargetPath(portal: ISCSIPortal(host: "10.0.2.15"), iqn: "iqn.2010-10.org.openstack:volume-00000001", lun: 1, scsiLUN: 1)])
    #expect(spec.auth?.username == "fake_username")
    #expect(spec.discoveryAuth == CHAPCredentials(username: "fake_disc_username", password: "fake_disc_password_456"))
    #expect(spec.accessMode == .ro)
    #expect(spec.encrypted && spec.targetDiscovered)
    #expect(spec.qosSpecs?["total_iops_sec"] == .string("1000"))
    #expect(spec.addressingMode == .transparent)
    #expect(spec.wwn == nil)
    #expect(!spec.description.contains("fake_password_123") && !spec.description.contains("fake_disc_password_456"))
}

@Test func pluralPortalsWithSingularLUN() throws {
    var v = try pureISCSI()
    v = setting(v, "target_luns", nil)
    v = setting(v, "target_lun", .number("7"))
    let spec = try ConnectionProperties.iscsi(v)
    #expect(spec.paths.count == 4 && spec.paths.allSatisfy { $0.lun == 7 })
}

@Test func duplicatePathsAreMergedInOrder() throws {
    let text = """
        {"target_portals": ["10.0.0.1:3260", "10.0.0.2:3260", "10.0.0.1:3260"],
         "target_iqns": ["iqn.2010-06.com.purestorage:fa", "iqn.2010-06.com.purestorage:fa", "iqn.2010-06.com.purestorage:fa"],
         "target_luns": [3, 3, 3]}
        """
    let spec = try ConnectionProperties.iscsi(json: text)
    #expect(spec.paths.map(\.portal.host) == ["10.0.0.1", "10.0.0.2"])
}

@Test func pureFCWithInitiatorTargetMap() throws {
    let spec = try ConnectionProperties.fc(try pureFC())
    #expect(spec.targets.map(\.wwpn.value) == ["524a937d4c0e6a00", "524a937d4c0e6a01", "524a937d4c0e6a10", "524a937d4c0e6a11"])
    #expect(spec.targets.allSatisfy { $0.lun == 1 && $0.scsiLUN == 1 })
    let i0 = try WWPN("21000024ff2c2d70"), i1 = try WWPN("21000024ff2c2d71")
    #expect(spec.initiatorTargetMap.count == 2)
    #expect(spec.initiatorTargetMap[i0]?.map(\.value) == ["524a937d4c0e6a00", "524a937d4c0e6a10"])
    // colon form, upper case and 0x prefix are normalized
    #expect(spec.initiatorTargetMap[i1]?.map(\.value) == ["524a937d4c0e6a01", "524a937d4c0e6a11"])
    #expect(spec.wwn?.isPure == true)
    #expect(spec.addressingMode == .sam2 && spec.discard && spec.targetDiscovered)
    #expect(!spec.enableWildcardScan)
}

@Test func osBrickFCSingleStringTarget() throws {
    let spec = try ConnectionProperties.fc(json: try propsFixture("osbrick_fc_single.json"))
    #expect(spec.targets == [FCTarget(wwpn: try WWPN("1234567890123456"), lun: 1, scsiLUN: 1)])
    #expect(spec.initiatorTargetMap.isEmpty)
    #expect(spec.enableWildcardScan)
}

@Test func fcTargetsFromMapWhenNoTargetList() throws {
    let text = """
        {"target_lun": 2, "initiator_target_map": {"10000000c9a1b2c3": ["50:0a:09:81:00:00:00:01"]}}
        """
    let spec = try ConnectionProperties.fc(json: text)
    #expect(spec.targets.map(\.wwpn.value) == ["500a098100000001"])
}

// MARK: - addressing

@Test(arguments: [
    (SCSIAddressingMode.sam2, UInt64(0), UInt64(0)), (.sam2, 255, 255), (.sam2, 256, 16640), (.sam2, 16383, 32767),
    (.sam3Flat, 0, 16384), (.sam3Flat, 255, 16639), (.sam3Flat, 256, 16640), (.sam3Flat, 16383, 32767),
    (.sam, 256, 256), (.transparent, 16384, 16384), (.transparent, 4_294_967_295, 4_294_967_295),
])
func addressingArithmetic(mode: SCSIAddressingMode, lun: UInt64, expected: UInt64) throws {
    #expect(try mode.kernelLUN(for: lun, key: "target_lun") == expected)
}

@Test func addressingOutOfRange() throws {
    for (mode, lun) in [(SCSIAddressingMode.sam2, UInt64(16384)), (.sam3Flat, 16384), (.transparent, 4_294_967_296)] {
        let e = expectPathCoreError { _ = try mode.kernelLUN(for: lun, key: "target_luns[2]") }
        #expect(e?.code == .invalidValue && e?.key == "target_luns[2]")
    }
    #expect(throws: PathCoreError.self) { try SCSIAddressingMode(json: .string("SAM4")) }
    #expect(try SCSIAddressingMode(json: nil) == .transparent)
    #expect(try SCSIAddressingMode(json: .null) == .transparent)
}

// MARK: - bad inputs: each names its key and never echoes the secret

private struct Bad: Sendable, CustomStringConvertible {
    var name: String
    var key: String
    var code: PathCoreError.Code
    var mutate: @Sendable (JSONValue) -> JSONValue
    var description: String { name }
}

private let str: @Sendable (String) -> JSONValue = { .string($0) }
private func list(_ items: [String]) -> JSONValue { .array(items.map { .string($0) }) }
private let portals4 = ["10.0.1.11:3260", "10.0.1.12:3260", "10.0.2.11:3260", "10.0.2.12:3260"]

private let badISCSI: [Bad] = [
    Bad(name: "no LUNs", key: "target_luns", code: .missing) { setting($0, "target_luns", nil) },
    Bad(name: "no iqns and no singular form", key: "target_portal", code: .missing) { setting($0, "target_iqns", nil) },
    Bad(name: "singular portal without iqn", key: "target_iqn", code: .missing) {
        setting(setting(setting($0, "target_iqns", nil), "target_portal", str("10.0.0.1:3260")), "target_lun", .number("1"))
    },
    Bad(name: "unequal iqns", key: "target_iqns", code: .invalidValue) { setting($0, "target_iqns", list([pureIQN, pureIQN, pureIQN])) },
    Bad(name: "unequal luns", key: "target_luns", code: .invalidValue) { setting($0, "target_luns", .array([.number("1")])) },
    Bad(name: "empty portal list", key: "target_portals", code: .invalidValue) {
        setting(setting($0, "target_portals", .array([])), "target_iqns", .array([]))
    },
    Bad(name: "portal not a list", key: "target_portals", code: .invalidValue) { setting($0, "target_portals", str("10.0.0.1:3260")) },
    Bad(name: "portal entry not a string", key: "target_portals[1]", code: .invalidValue) {
        setting($0, "target_portals", .array([.string(portals4[0]), .number("3260"), .string(portals4[2]), .string(portals4[3])]))
    },
    Bad(name: "IPv4 octet out of range", key: "target_portals[0]", code: .invalidValue) {
        setting($0, "target_portals", list(["10.0.1.300:3260"] + portals4.dropFirst()))
    },
    Bad(name: "port 0", key: "target_portals[3]", code: .invalidValue) {
        setting($0, "target_portals", list(portals4.dropLast() + ["10.0.2.12:0"]))
    },
    Bad(name: "port 70000", key: "target_portals[2]", code: .invalidValue) {
        setting($0, "target_portals", list([portals4[0], portals4[1], "10.0.2.11:70000", portals4[3]]))
    },
    Bad(name: "bare IPv6", key: "target_portals[0]", code: .invalidValue) {
        setting($0, "target_portals", list(["fd00::1:3260"] + portals4.dropFirst()))
    },
    Bad(name: "shell metacharacters in portal", key: "target_portals[0]", code: .invalidValue) {
        setting($0, "target_portals", list(["10.0.0.1;reboot:3260"] + portals4.dropFirst()))
    },
    Bad(name: "IQN month 13", key: "target_iqns[1]", code: .invalidValue) {
        setting($0, "target_iqns", list([pureIQN, "iqn.2010-13.com.purestorage:fa", pureIQN, pureIQN]))
    },
    Bad(name: "IQN with space", key: "target_iqns[0]", code: .invalidValue) {
        setting($0, "target_iqns", list(["iqn.2010-06.com.pure storage:fa", pureIQN, pureIQN, pureIQN]))
    },
    Bad(name: "IQN without authority", key: "target_iqns[0]", code: .invalidValue) {
        setting($0, "target_iqns", list(["iqn.2010-06:fa", pureIQN, pureIQN, pureIQN]))
    },
    Bad(name: "IQN too long", key: "target_iqns[0]", code: .invalidValue) {
        setting($0, "target_iqns", list(["iqn.2010-06.com.purestorage:" + String(repeating: "a", count: 200), pureIQN, pureIQN, pureIQN]))
    },
    Bad(name: "newline in IQN", key: "target_iqns[2]", code: .invalidValue) {
        setting($0, "target_iqns", list([pureIQN, pureIQN, pureIQN + "\nnode.startup = automatic", pureIQN]))
    },
    Bad(name: "bad wwn", key: "wwn", code: .invalidValue) { setting($0, "wwn", str("3624a937zz")) },
    Bad(name: "negative LUN", key: "target_luns[1]", code: .invalidValue) {
        setting($0, "target_luns", .array([.number("1"), .number("-1"), .number("1"), .number("1")]))
    },
    Bad(name: "LUN 2^64", key: "target_luns[0]", code: .invalidValue) {
        setting($0, "target_luns", .array([.number("18446744073709551616"), .number("1"), .number("1"), .number("1")]))
    },
    Bad(name: "fractional LUN", key: "target_luns[3]", code: .invalidValue) {
        setting($0, "target_luns", .array([.number("1"), .number("1"), .number("1"), .number("1.5")]))
    },
    Bad(name: "LUN as string", key: "target_luns[0]", code: .invalidValue) {
        setting($0, "target_luns", .array([.string("1"), .number("1"), .number("1"), .number("1")]))
    },
    Bad(name: "SAM2 LUN beyond flat space", key: "target_luns[0]", code: .invalidValue) {
        setting($0, "target_luns", .array([.number("16384"), .number("1"), .number("1"), .number("1")]))
    },
    Bad(name: "unknown addressing mode", key: "addressing_mode", code: .invalidValue) { setting($0, "addressing_mode", str("SAM4")) },
    Bad(name: "NUL in user name", key: "auth_username", code: .invalidValue) { setting($0, "auth_username", str("comp\u{0}ute")) },
    Bad(name: "newline in password", key: "auth_password", code: .invalidValue) { setting($0, "auth_password", str(pureSecret + "\n")) },
    Bad(name: "password without CHAP", key: "auth_password", code: .invalidValue) { setting($0, "auth_method", nil) },
    Bad(name: "CHAP without password", key: "auth_password", code: .missing) { setting($0, "auth_password", nil) },
    Bad(name: "CHAP without user", key: "auth_username", code: .missing) { setting($0, "auth_username", nil) },
    Bad(name: "password as user name", key: "auth_username", code: .invalidValue) { setting($0, "auth_username", str(pureSecret)) },
    Bad(name: "unknown auth method", key: "auth_method", code: .invalidValue) { setting($0, "auth_method", str("KERBEROS")) },
    Bad(name: "discovery password without CHAP", key: "discovery_auth_password", code: .invalidValue) {
        setting($0, "discovery_auth_password", str(pureSecret))
    },
    Bad(name: "discard not a bool", key: "discard", code: .invalidValue) { setting($0, "discard", str("yes")) },
    Bad(name: "bad access mode", key: "access_mode", code: .invalidValue) { setting($0, "access_mode", str("rwx")) },
    Bad(name: "qos_specs not an object", key: "qos_specs", code: .invalidValue) { setting($0, "qos_specs", .array([])) },
    Bad(name: "properties not an object", key: "connection_properties", code: .invalidValue) { _ in .array([]) },
]

@Test(arguments: badISCSI)
private func badISCSIInputNamesKey(_ bad: Bad) throws {
    let input = bad.mutate(try pureISCSI())
    let e = expectPathCoreError { _ = try ConnectionProperties.iscsi(input) }
    #expect(e?.key == bad.key, "\(bad.name): \(e.map { "\($0.key ?? "nil"): \($0)" } ?? "no error")")
    #expect(e?.code == bad.code, "\(bad.name): \(e?.code.rawValue ?? "none")")
    if let e {
        #expect(e.message.contains(bad.key) || bad.key == "connection_properties", "message should name the key: \(e.message)")
        let all = "\(e) \(e.message) \(e.detail ?? "") \(e.key ?? "")"
        #expect(!all.contains(pureSecret), "\(bad.name): secret leaked: \(all)")
        #expect(!all.contains("\n") && !all.contains("\u{0}"), "\(bad.name): control characters echoed")
    }
}

private let badFC: [Bad] = [
    Bad(name: "target_wwn differs from target_wwns", key: "target_wwn", code: .conflict) {
        setting($0, "target_wwn", list(["524a937d4c0e6a00"]))
    },
    Bad(name: "15-digit WWPN", key: "target_wwns[0]", code: .invalidValue) {
        setting(setting($0, "target_wwns", list(["524a937d4c0e6a0"])), "target_wwn", nil)
    },
    Bad(name: "all-zero WWPN", key: "target_wwn", code: .invalidValue) {
        setting(setting($0, "target_wwns", nil), "target_wwn", str("00:00:00:00:00:00:00:00"))
    },
    Bad(name: "map value not a list", key: "initiator_target_map.21000024ff2c2d70", code: .invalidValue) {
        setting($0, "initiator_target_map", .object([("21000024ff2c2d70", .number("1"))]))
    },
    Bad(name: "bad target in map", key: "initiator_target_map.21000024ff2c2d70[1]", code: .invalidValue) {
        setting($0, "initiator_target_map", .object([("21000024ff2c2d70", list(["524a937d4c0e6a00", "xyz"]))]))
    },
    Bad(name: "bad initiator in map", key: "initiator_target_map", code: .invalidValue) {
        setting($0, "initiator_target_map", .object([("21000024ff2c2d7", list(["524a937d4c0e6a00"]))]))
    },
    Bad(name: "unequal FC luns", key: "target_luns", code: .invalidValue) { setting($0, "target_luns", .array([.number("1")])) },
    Bad(name: "no LUN", key: "target_lun", code: .missing) { setting(setting($0, "target_luns", nil), "target_lun", nil) },
    Bad(name: "no targets", key: "target_wwn", code: .missing) {
        setting(setting(setting($0, "target_wwns", nil), "target_wwn", nil), "initiator_target_map", nil)
    },
    Bad(name: "wildcard flag not a bool", key: "enable_wildcard_scan", code: .invalidValue) { setting($0, "enable_wildcard_scan", str("true")) },
]

@Test(arguments: badFC)
private func badFCInputNamesKey(_ bad: Bad) throws {
    let e = expectPathCoreError { _ = try ConnectionProperties.fc(bad.mutate(try pureFC())) }
    #expect(e?.key == bad.key, "\(bad.name): \(e.map { "\($0.key ?? "nil"): \($0)" } ?? "no error")")
    #expect(e?.code == bad.code, "\(bad.name)")
}

@Test func malformedJSONNeverEchoesTheInput() throws {
    let text = try propsFixture("malformed_truncated.json")
    let e = expectPathCoreError { _ = try ConnectionProperties.iscsi(json: text) }
    #expect(e?.code == .malformed)
    #expect(e.map { !"\($0)".contains("s3cretPassw0rd") } == true)
    #expect(e?.detail?.hasPrefix("at byte ") == true)
}

// MARK: - validators

@Test func iscsiNameForms() throws {
    for good in ["iqn.1993-08.org.debian:01:abcdef", "iqn.2010-06.com.purestorage:flasharray.3adbe40b49bac873",
                 "eui.02004567A425678D", "naa.52004567BA64678D", "naa.624a93709714b5cb91634c470002b2c8", "iqn.2001-04.com.example"] {
        #expect(try ConnectionValidators.iscsiName(good, key: "k") == good)
    }
    for bad in ["", "iqn.", "iqn.2001-4.com.example", "iqn.20x1-04.com.example", "eui.0200456", "naa.12345",
                "iqn.2001-04.com..example", "iqn.2001-04.com.ex_ample", "iqn.2001-04.com.example:a$b", "ign.2001-04.com.x"] {
        #expect(throws: PathCoreError.self, "\(bad)") { try ConnectionValidators.iscsiName(bad, key: "k") }
    }
}

@Test func portalForms() throws {
    #expect(try ISCSIPortal("10.0.0.1") == ISCSIPortal(host: "10.0.0.1", port: 3260))
    #expect(try ISCSIPortal("array-ct0.example.com:3261").argument == "array-ct0.example.com:3261")
    #expect(try ISCSIPortal("[fe80::1%eth0]:3260").host == "fe80::1%eth0")
    #expect(try ISCSIPortal("[::ffff:10.0.0.1]:3260").isIPv6)
    #expect(try ISCSIPortal("[2001:db8::]").port == 3260)
    for bad in ["10.0.0", "010.0.0.1:3260", "[fd00::1", "[fd00::g]:3260", "[1:2:3:4:5:6:7:8:9]:3260", "host:", "host:65536",
                "-bad.example:3260", "1.2.3.4:32 60", "[fd00::1]3260"] {
        #expect(throws: PathCoreError.self, "\(bad)") { try ISCSIPortal(bad) }
    }
}

@Test func wwpnForms() throws {
    #expect(try WWPN("0x21000024FF2C2D70").value == "21000024ff2c2d70")
    #expect(try WWPN("21:00:00:24:ff:2c:2d:70").sysfsForm == "0x21000024ff2c2d70")
    for bad in ["21000024ff2c2d7", "21:00:00:24:ff:2c:2d", "2100:0024:ff2c:2d70", "g1000024ff2c2d70", "0000000000000000"] {
        #expect(throws: PathCoreError.self, "\(bad)") { try WWPN(bad) }
    }
}

// MARK: - JSON value

@Test func jsonParserIsStrict() throws {
    let v = try JSONValue.parse(#"{"a": [1, -2, 3.5e2, true, null], "b": "x\u00e9\n\ud83d\ude00", "lun": 18446744073709551615}"#)
    #expect(v["a"] == .array([.number("1"), .number("-2"), .number("3.5e2"), .bool(true), .null]))
    #expect(v["b"] == .string("x\u{e9}\n\u{1F600}"))
    #expect(v["lun"]?.uint64Value == UInt64.max)
    for bad in [#"{"a": 1, "a": 2}"#, "{\"a\": 1} x", "[01]", "{\"a\": \"\u{1}\"}", #"{"a": tru}"#, "[1,]", #""\ud800""#, ""] {
        #expect(throws: PathCoreError.self, "\(bad)") { try JSONValue.parse(bad) }
    }
    let dup = expectPathCoreError { _ = try JSONValue.parse(#"{"target_lun": 1, "target_lun": 2}"#) }
    #expect(dup?.key == "target_lun" && dup?.code == .malformed)
}

@Test func jsonRedactionAndCanonicalEncoding() throws {
    let v = try JSONValue.parse(#"{"b": 1, "auth_password": "pw-123456", "nested": [{"discovery_auth_password": "pw-7890"}], "a": "x"}"#)
    #expect(v.redacted().encoded == #"{"a":"x","auth_password":"<redacted>","b":1,"nested":[{"discovery_auth_password":"<redacted>"}]}"#)
    #expect(v.withoutSecrets().encoded == #"{"a":"x","b":1,"nested":[{}]}"#)
    var dumped = ""
    dump(v, to: &dumped)
    for text in [v.description, v.debugDescription, dumped] {
        #expect(!text.contains("pw-123456") && !text.contains("pw-7890"))
    }
}

@Test func ipv6PortalsAreCanonicalSoSessionsMatch() throws {
    #expect(ConnectionValidators.canonicalIPv6("FD00:0010:0000:0000:0000:0000:0000:0011") == "fd00:10::11")
    #expect(ConnectionValidators.canonicalIPv6("2001:db8:0:1:0:0:0:1") == "2001:db8:0:1::1")
    #expect(ConnectionValidators.canonicalIPv6("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1")
    #expect(ConnectionValidators.canonicalIPv6("::") == "::")
    #expect(ConnectionValidators.canonicalIPv6("fe80::1%eth0") == "fe80::1%eth0")
    #expect(ConnectionValidators.canonicalIPv6("1:2:3:4:5:6:7") == nil)
    let fromProps = try ISCSIPortal("[FD00:10:0::11]:3260")
    let fromSysfs = try ISCSIPortal(address: "fd00:10:0:0:0:0:0:11", port: 3260)
    #expect(fromProps == fromSysfs && fromProps.argument == "[fd00:10::11]:3260")
    let s = ISCSISessionInfo(sessionID: 1, targetIQN: "iqn.2010-06.com.purestorage:fa", portal: fromSysfs, hostNumber: 2, state: .loggedIn)
    #expect(s.matches(portal: fromProps, iqn: "iqn.2010-06.com.purestorage:fa"))
    #expect(!s.matches(portal: try ISCSIPortal("[fd00:10::11]:3261"), iqn: "iqn.2010-06.com.purestorage:fa"))
    #expect(try ISCSIPortal(address: "10.0.0.1\n", port: 3260).argument == "10.0.0.1:3260")
}

@Test func aSecretMisplacedIntoAnotherKeyIsNotEchoed() throws {
    // The CHAP secret pasted where the IQN belongs: the IQN error would quote the value,
    // the parser scrubs every secret of the input from its errors.
    let v = setting(try pureISCSI(), "target_iqns", list([pureSecret, pureIQN, pureIQN, pureIQN]))
    let e = expectPathCoreError { _ = try ConnectionProperties.iscsi(v) }
    #expect(e?.key == "target_iqns[0]")
    #expect(e.map { !"\($0)".contains(pureSecret) && $0.message.contains("<redacted>") } == true)
}
