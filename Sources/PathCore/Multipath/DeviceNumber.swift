/// A device number as device-mapper prints it (`8:16`).
public struct DeviceNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var major: UInt32
    public var minor: UInt32

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// Parses `maj:min` (decimal), as in dm tables, status lines and sysfs `dev` files.
    public init(_ text: some StringProtocol) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let ma = UInt32(parts[0]), let mi = UInt32(parts[1]) else {
            throw PathCoreError(.invalidValue, "not a maj:min device number: '\(text)'")
        }
        self.init(major: ma, minor: mi)
    }

    public var description: String { "\(major):\(minor)" }
    public static func < (a: DeviceNumber, b: DeviceNumber) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }
}
