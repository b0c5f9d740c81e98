import Foundation
import Testing
@testable import FlashArray

/// From the `ini` fuzz harness (fuzz/ini.swift): a cinder.conf with CRLF line ends was read
/// as one line (Swift treats "\r\n" as one Character, so splitting on "\n" never split it).
/// oslo.config reads such a file like an LF one; so must we.
@Suite struct INIFileCRLFTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz/ini/cinder-crlf.conf")

    @Test func crlfFileReadsLikeLF() throws {
        let text = try String(contentsOf: Self.fixture, encoding: .utf8)
        let crlf = try INIFile(text: text)
        let lf = try INIFile(text: text.replacingOccurrences(of: "\r\n", with: "\n"))
        #expect(crlf.sections.map(\.name) == ["DEFAULT", "pure-1"])
        #expect(crlf.sections.map(\.name) == lf.sections.map(\.name))
        #expect(crlf.sections.map(\.entries) == lf.sections.map(\.entries))
        #expect(crlf["pure-1"]?.last("san_ip") == .init(key: "san_ip", value: "10.0.0.1", line: 6, continued: false))
    }

    @Test func crlfCinderConfHasItsBackend() throws {
        let conf = CinderConf(text: try String(contentsOf: Self.fixture, encoding: .utf8))
        #expect(conf.errors.isEmpty, "\(conf.errors)")
        let b = try conf.backend("pure-1")
        #expect(b.sanIP == "10.0.0.1" && b.apiToken.reveal() == "9b2c8f14-0a6e-4d37-b5c1-3e7f2d9a8c60")
    }
}
