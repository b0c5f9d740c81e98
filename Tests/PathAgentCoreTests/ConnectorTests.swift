import HostStorage
import PathAgentCore
import Testing

@Suite struct ConnectorTests {
    @Test func readsFromAFixtureRoot() throws {
        let r = ConnectorPropertiesReader(
            roots: HostRoots(under: Fixtures.path("agent-host")), useMultipath: true, enforceMultipath: true,
            hostname: { "compute-01" }, ipv4: { "192.0.2.10" })
        let p = r.readNow()
        #expect(p.initiator == "iqn.1993-08.org.debian:01:5c3a9e2b7f41")
        #expect(p.wwpns == ["21000024ff7f3e10"])  // host8 is Linkdown: not reported
        #expect(p.wwnns == ["20000024ff7f3e10"])
        #expect(p.systemUUID == "4c4c4544-0042-3510-8052-b4c04f4e3232")
        #expect(p.host == "compute-01")
        #expect(p.ip == "192.0.2.10")
        #expect(p.multipath && p.enforceMultipath)
        #expect(p.platform == "x86_64")
        #expect(p.osType == "linux2")
    }

    @Test func absentPiecesAreOmitted() throws {
        // iscsi-fc-dm has FC ports but no etc/ and no DMI: no initiator, no uuid.
        let r = ConnectorPropertiesReader(
            roots: HostRoots(under: Fixtures.path("iscsi-fc-dm")), useMultipath: false, enforceMultipath: false,
            hostname: { "h" }, ipv4: { nil })
        let p = r.readNow()
        #expect(p.initiator == nil)
        #expect(p.systemUUID == nil)
        #expect(p.ip == nil)
        #expect(p.wwpns == ["21000024ff7f3e00", "21000024ff7f3e01"])
        #expect(!p.multipath)
    }

    @Test func initiatorNameParsing() {
        #expect(ConnectorPropertiesReader.initiatorName("## c\n#InitiatorName=iqn.old\nInitiatorName= iqn.2004-10.com.ubuntu:01:ab \n") == "iqn.2004-10.com.ubuntu:01:ab")
        #expect(ConnectorPropertiesReader.initiatorName("InitiatorName=\n") == nil)
        #expect(ConnectorPropertiesReader.initiatorName("# nothing\n") == nil)
    }

    @Test func liveHostIdentityIsPlausible() {
        #expect(!HostIdentity.hostname().isEmpty)
        if let ip = HostIdentity.firstIPv4() {
            #expect(ip.split(separator: ".").count == 4)
            #expect(!ip.hasPrefix("127."))
        }
    }

    @Test func groupMembership() throws {
        #expect(UnixAccounts.userIsInGroup(uid: 0, gid: 0))  // root's primary group
        #expect(!UnixAccounts.userIsInGroup(uid: 0, gid: 4_000_000))
        #expect(try UnixAccounts.groupID("root") == 0)
        #expect(try UnixAccounts.groupID("123") == 123)
        #expect(throws: HostStorageError.self) { try UnixAccounts.groupID("no-such-group-pathagent") }
    }
}
