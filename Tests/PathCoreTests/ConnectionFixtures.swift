import Foundation
import Testing
@testable import PathCore

/// Loads `Tests/Fixtures/props/<name>` relative to this source file.
func propsFixture(_ name: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/props/\(name)")
    return try String(contentsOf: url, encoding: .utf8)
}

/// Replaces (or with nil removes) a top-level key of a properties object.
func setting(_ v: JSONValue, _ key: String, _ new: JSONValue?) -> JSONValue {
    guard case .object(var members) = v else { return v }
    if let i = members.firstIndex(where: { $0.key == key }) {
        if let new { members[i].value = new } else { members.remove(at: i) }
    } else if let new {
        members.append((key, new))
    }
    return .object(members)
}

/// Runs `body`, requires a PathCoreError, and returns it.
func expectPathCoreError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> PathCoreError? {
    do {
        try body()
        Issue.record("expected a PathCoreError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let e as PathCoreError {
        return e
    } catch {
        Issue.record("expected a PathCoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
