import Foundation
import PathCore
import Testing
@testable import FlashArray

/// The host lookup by initiator builds a REST 2.x `filter`: the initiator is validated
/// (IQN / EUI / NAA, FC WWPN, NQN) before it goes into the filter, so a value with a quote,
/// a wildcard or filter syntax can never change what the filter means, and the query is
/// percent-encoded byte for byte.
@Suite(.serialized) struct HostFilterTests {
    static let mine = "iqn.2024-01.com.example:mine"

    @Test func anInitiatorCannotChangeTheFiltersMeaning() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            try await c.createHost(name: "victim", HostPost(iqns: ["iqn.2024-01.com.example:victim"]))
            try await c.createHost(name: "mine", HostPost(iqns: [Self.mine]))
            let hostile = [
                Self.mine + "' or name='victim",
                Self.mine + "' or iqns='*",
                "iqn.2024-01.com.example:*",
                "iqn.2024-01.com.example:vic\\'tim",
                "21:00:00:24:ff:4c:a0:01' or name='victim",
                "nqn.2014-08.org.nvmexpress:uuid:1' or name='victim",
                "' or name='victim",
                "",
            ]
            for bad in hostile {
                await #expect(throws: FlashArrayError.self, "\(bad)") { _ = try await c.host(initiator: bad) }
            }
            #expect(try await c.host(initiator: Self.mine)?.name == "mine")
            let lookups = try await sim.requests().filter { $0.contains("/hosts filter=") }
            // only the valid lookup reached the array, with its value quoted as a literal
            #expect(lookups.count == 1, "\(lookups)")
            #expect(lookups.allSatisfy { $0.hasSuffix("/hosts filter=iqns='\(Self.mine)'") }, "\(lookups)")
            try await c.shutdown()
        }
    }

    @Test func filtersForEachInitiatorKind() throws {
        #expect(try FlashArrayClient.hostFilter(initiator: "iqn.1994-05.com.redhat:compute01").filter == "iqns='iqn.1994-05.com.redhat:compute01'")
        #expect(try FlashArrayClient.hostFilter(initiator: "eui.02004567A425678D").filter == "iqns='eui.02004567A425678D'")
        // a FlashArray keeps host WWNs in upper case without colons (py-pure-client's `Host.wwns`
        // as the Cinder driver filters them: `wwns='21000024FF7F3E00'`), whatever form came in
        for given in ["0x21000024FF4CA001", "21:00:00:24:ff:4c:a0:01", "21000024ff4ca001"] {
            let fc = try FlashArrayClient.hostFilter(initiator: given)
            #expect(fc.filter == "wwns='21000024FF4CA001'" && fc.normalized == "21000024ff4ca001", "\(given)")
        }
        #expect(FlashArrayClient.fcWWN("21:00:00:24:ff:4c:a0:01") == "21000024FF4CA001")
        let nqn = "nqn.2014-08.org.nvmexpress:uuid:4c4c4544-0047-3510-8052-b4c04f565931"
        #expect(try FlashArrayClient.hostFilter(initiator: nqn).filter == "nqns='\(nqn)'")
        #expect(throws: FlashArrayError.self) { _ = try FlashArrayClient.hostFilter(initiator: "nqn.2014-08.org.example:a'b") }
    }

    /// The literal quoting refuses what Purity's filter syntax gives a meaning inside a
    /// value (the quote that ends it, the `*` wildcard) or that it documents no escape for.
    @Test func literalsRefuseWhatTheSyntaxWouldInterpret() throws {
        #expect(try PurityFilter.equals("iqns", "iqn.2024-01.x:a") == "iqns='iqn.2024-01.x:a'")
        for v in ["a'b", "a\"b", "a\\b", "a*", "a\nb", ""] {
            #expect(throws: FlashArrayError.self, "\(v)") { _ = try PurityFilter.equals("iqns", v) }
        }
    }

    /// Query values are percent-encoded as UTF-8 bytes: only ASCII letters, digits and
    /// `-._~,` stay as they are.
    @Test func queryValuesArePercentEncodedByteForByte() {
        #expect(FlashArrayClient.percentEncode("iqns='iqn.x:ä' and x") == "iqns%3D%27iqn.x%3A%C3%A4%27%20and%20x")
        #expect(FlashArrayClient.percentEncode("a,b&c=d+e#f") == "a,b%26c%3Dd%2Be%23f")
        #expect(FlashArrayClient.percentEncode("Az09-._~") == "Az09-._~")
    }
}
