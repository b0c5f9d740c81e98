import ArgumentParser
import Foundation
import HostStorage
import PathCore

/// Options every read command shares.
public struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    public var json = false

    @Option(name: .long, help: ArgumentHelp(
        "Read the kernel and configuration roots below DIR (DIR/sys, DIR/dev, DIR/etc) instead of /.",
        discussion: "Used to inspect a captured or fixture tree, e.g. --root Tests/Fixtures/iscsi-fc-dm.",
        valueName: "DIR"))
    public var root: String?

    public init() {}

    public var roots: HostRoots { root.map { HostRoots(under: $0) } ?? .live }

    public func validate() throws {
        if let root {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--root \(root): no such directory")
            }
            guard FileManager.default.fileExists(atPath: root + "/sys") else {
                throw ValidationError("--root \(root): it has no sys/ directory to read")
            }
        }
    }
}

/// Exit codes of pathctl (documented in `pathctl --help`).
public enum ExitStatus {
    /// Success.
    public static let ok: Int32 = 0
    /// The operation failed (device missing, login refused, transport error...), or for
    /// `doctor`, warnings were found.
    public static let failed: Int32 = 1
    /// `doctor`: errors were found. Other commands: the target is degraded.
    public static let degradedOrErrors: Int32 = 2
    /// Bad command line (ArgumentParser's EX_USAGE).
    public static let usage: Int32 = 64
}

/// An operator-facing one-line error; ArgumentParser prints it as `Error: <message>`.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}

enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try enc.encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// One compact JSON object per line (for streams such as `health --watch --json`).
    static func jsonLine<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try enc.encode(value))
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    static func line(_ s: String = "") {
        FileHandle.standardOutput.write(Data((s + "\n").utf8))
    }

    /// `4294967296` -> `4.0G` (binary units, as multipath -ll prints sizes).
    static func size(_ bytes: UInt64?) -> String {
        guard let b = bytes else { return "?" }
        let units = ["B", "K", "M", "G", "T", "P"]
        var v = Double(b)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(b)B" : String(format: "%.1f%@", v, units[i])
    }

    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}

/// Maps any thrown error to a one-line message without a stack trace.
func describe(_ error: any Error) -> String {
    if let e = error as? HostStorageError { return e.description }
    if let e = error as? PathCoreError { return e.description }
    return "\(error)"
}
