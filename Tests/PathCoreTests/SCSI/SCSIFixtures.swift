import Foundation
import PathCore

/// Annotated hex goldens under Tests/Fixtures/scsi/, found relative to this source file.
enum SCSIFixture {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SCSI
        .deletingLastPathComponent()  // PathCoreTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures/scsi")

    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        return try [UInt8](hex: text)
    }
}

/// Every strict prefix of `data` at the given cut points (clamped), for truncation tests.
func prefixes(_ data: [UInt8], _ cuts: [Int]) -> [[UInt8]] {
    cuts.filter { $0 < data.count }.map { Array(data.prefix(max(0, $0))) }
}

func isTruncated(_ body: () throws -> Void) -> Bool {
    do {
        try body()
        return false
    } catch let e as PathCoreError {
        return e.code == .truncated
    } catch {
        return false
    }
}
