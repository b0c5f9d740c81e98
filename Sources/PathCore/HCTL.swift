/// A SCSI device address, host:channel:target:lun, as the kernel names it in sysfs
/// (`/sys/bus/scsi/devices/2:0:0:1`).
public struct HCTL: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var host: Int
    public var channel: Int
    public var target: Int
    public var lun: UInt64

    public init(host: Int, channel: Int, target: Int, lun: UInt64) {
        self.host = host
        self.channel = channel
        self.target = target
        self.lun = lun
    }

    public init(_ text: String) throws {
        let parts = text.trimmingWhitespace().split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, let h = Int(parts[0]), let c = Int(parts[1]), let t = Int(parts[2]),
            let l = UInt64(parts[3]), h >= 0, c >= 0, t >= 0
        else {
            throw PathCoreError(.invalidValue, "not a SCSI address H:C:T:L: '\(text)'")
        }
        self.init(host: h, channel: c, target: t, lun: l)
    }

    public var description: String { "\(host):\(channel):\(target):\(lun)" }

    public static func < (a: HCTL, b: HCTL) -> Bool {
        (a.host, a.channel, a.target, a.lun) < (b.host, b.channel, b.target, b.lun)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        try self.init(try c.decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
