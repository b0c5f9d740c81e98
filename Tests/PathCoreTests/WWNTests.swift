import Testing
@testable import PathCore

@Test func wwnFromPureSerial() throws {
    let w = try WWN.pure(serial: "9714B5CB91634C470002B2C8")
    #expect(w.value == "3624a93709714b5cb91634c470002b2c8")
    #expect(w.pureSerial == "9714B5CB91634C470002B2C8")
    #expect(try WWN("naa.624a93709714b5cb91634c470002b2c8") == w)
    #expect(throws: PathCoreError.self) { try WWN("xyz") }
}
