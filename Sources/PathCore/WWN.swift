/// A SCSI logical unit's world-wide name in the form device-mapper multipath uses for
/// map names and `DM_UUID=mpath-<wwn>`: the designator type digit followed by the
/// designator in lower-case hex (`3` = NAA, so a Pure volume is `3624a9370` + serial).
///
/// Accepts what the kernel and the tools print: `naa.624a9370...` (sysfs `wwid`),
/// `0x624a9370...`, `3624a9370...` (multipath), or bare NAA hex `624a9370...`.
public struct WWN: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// Canonical form, e.g. `3624a93709714b5cb91634c470002b2c8`.
    public let value: String

    /// Pure Storage's IEEE OUI in NAA 6 form: every FlashArray volume WWN starts with this.
    public static let pureNAAPrefix = "624a9370"
    public static let purePrefix = "3" + pureNAAPrefix

    public init(_ text: String) throws {
        var s = text.trimmingWhitespace().lowercased()
        if s.hasPrefix("naa.") {
            s = "3" + s.dropFirst(4)
        } else if s.hasPrefix("0x") {
            s = "3" + s.dropFirst(2)
        } else if s.hasPrefix("eui.") {
            s = "2" + s.dropFirst(4)
        } else if s.hasPrefix("t10.") {
            throw PathCoreError(.invalidValue, "T10 vendor-id designators are not usable as a WWN: \(text)")
        } else if let first = s.first, (first == "5" || first == "6"), s.count == 16 || s.count == 32 {
            // bare NAA hex: 5 = NAA registered (16 digits), 6 = NAA registered extended (32 digits)
            s = "3" + s
        }
        guard s.count >= 2, s.count <= 65, s.allSatisfy(\.isASCIIHexDigit) else {
            throw PathCoreError(.invalidValue, "not a well-formed WWN: '\(text)'")
        }
        if s.first == "3" {
            let naa = s.dropFirst()
            guard naa.count == 16 || naa.count == 32 else {
                throw PathCoreError(.invalidValue, "NAA WWN must have 16 or 32 hex digits after the type digit: '\(text)'")
            }
        }
        self.value = s
    }

    /// The WWN of a Pure FlashArray volume from its 24-hex-digit serial
    /// (`9714B5CB91634C470002B2C8` -> `3624a93709714b5cb91634c470002b2c8`).
    public static func pure(serial: String) throws -> WWN {
        let s = serial.lowercased()
        guard s.count == 24, s.allSatisfy(\.isASCIIHexDigit) else {
            throw PathCoreError(.invalidValue, "a Pure volume serial has 24 hex digits: '\(serial)'")
        }
        return try WWN(purePrefix + s)
    }

    /// The NAA designator as hex, without the type digit (what VPD 0x83 carries).
    public var designatorHex: Substring { value.dropFirst() }

    /// True for a Pure Storage FlashArray volume.
    public var isPure: Bool { value.hasPrefix(Self.purePrefix) }

    /// For a Pure volume, the 24-hex-digit serial (upper case, as Purity prints it).
    public var pureSerial: String? {
        guard isPure, value.count == Self.purePrefix.count + 24 else { return nil }
        return String(value.dropFirst(Self.purePrefix.count)).uppercased()
    }

    public var description: String { value }
    public static func < (a: WWN, b: WWN) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        try self.init(try c.decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}

extension Character {
    /// 0-9, a-f, A-F only (`isHexDigit` is also true for the fullwidth forms U+FF10...).
    var isASCIIHexDigit: Bool { isASCII && isHexDigit }
}

extension StringProtocol {
    /// Leading and trailing spaces, tabs, newlines and NULs removed (sysfs values end in `\n`).
    public func trimmingWhitespace() -> String {
        let isWS: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "\r\n" || $0 == "\0" }
        guard let start = firstIndex(where: { !isWS($0) }) else { return "" }
        let end = lastIndex(where: { !isWS($0) })!
        return String(self[start...end])
    }
}
