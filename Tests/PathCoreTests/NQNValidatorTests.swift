import PathCore
import Testing

@Suite struct NQNValidatorTests {
    @Test func validNames() throws {
        for n in ["nqn.2014-08.org.nvmexpress:uuid:4c4c4544-0047-3510-8052-B4C04F565931", "nqn.2014-08.org.nvmexpress.discovery",
                  "nqn.2010-06.com.purestorage:flasharray.1a2b3c", "nqn.2024-01.com.example:host-01:ä"] {
            #expect(try ConnectionValidators.nvmeQualifiedName(n, key: "nqn") == n)
        }
    }

    @Test func invalidNames() {
        for n in ["", "iqn.2014-08.org.example", "nqn.2014-13.org.example", "nqn.14-08.org.example", "nqn.2014-08", "nqn.2014-08.:x",
                  "nqn.2014-08.org..example", "nqn.2014-08.org.nvmexpress:uuid:not-a-uuid", "nqn.2014-08.org.example:a b",
                  "nqn.2014-08.org.example:a\nb", "nqn.2014-08.org.example:" + String(repeating: "x", count: 210)] {
            #expect(throws: PathCoreError.self, "\(n)") { try ConnectionValidators.nvmeQualifiedName(n, key: "nqn") }
        }
    }
}
