/// Standard INQUIRY data (SPC-4 6.6.2), decoded for operators.
///
/// At least 36 bytes are required (through PRODUCT REVISION LEVEL). A response cut short by
/// the allocation length is accepted: ADDITIONAL LENGTH only says how much more exists.
public struct StandardInquiry: Sendable, Equatable, Codable {
    /// How the initiator may reach the LU through this port (SPC-4 PERIPHERAL QUALIFIER).
    public enum PeripheralQualifier: String, Sendable, Codable {
        /// 000b: a device of this type is connected (or may be).
        case connected
        /// 001b: supported but not connected now.
        case notConnected = "not_connected"
        /// 011b: no logical unit at this LUN (tgt answers 0x7f for a LUN it does not have).
        case notSupported = "not_supported"
        case reserved
    }

    /// Asymmetric logical unit access support (TPGS field).
    public enum ALUASupport: String, Sendable, Codable {
        case none
        case implicit
        case explicit
        case implicitAndExplicit = "implicit_and_explicit"
        public var supportsImplicit: Bool { self == .implicit || self == .implicitAndExplicit }
        public var supportsExplicit: Bool { self == .explicit || self == .implicitAndExplicit }
    }

    public var peripheralQualifier: PeripheralQualifier
    /// PERIPHERAL DEVICE TYPE (0 = direct-access block device).
    public var deviceType: UInt8
    public var deviceTypeName: String
    /// RMB: removable medium.
    public var removable: Bool
    /// VERSION: 3 = SPC, 4 = SPC-2, 5 = SPC-3, 6 = SPC-4, 7 = SPC-5.
    public var version: UInt8
    public var versionName: String
    /// NORMACA
    public var normalACA: Bool
    /// HISUP: hierarchical LUN addressing.
    public var hierarchicalSupport: Bool
    /// RESPONSE DATA FORMAT (2 for every modern device).
    public var responseDataFormat: UInt8
    /// ADDITIONAL LENGTH + 5: how many bytes the device has; may exceed `bytesReturned`.
    public var availableLength: Int
    public var bytesReturned: Int
    /// SCCS: embedded storage array controller.
    public var storageArrayController: Bool
    /// ACC: access controls coordinator.
    public var accessControlsCoordinator: Bool
    public var alua: ALUASupport
    /// 3PC: third-party copy (EXTENDED COPY / ODX).
    public var thirdPartyCopy: Bool
    /// PROTECT: T10 protection information supported.
    public var protect: Bool
    /// ENCSERV
    public var enclosureServices: Bool
    /// MULTIP: multiple SCSI ports.
    public var multiPort: Bool
    /// CMDQUE: full task management model.
    public var commandQueueing: Bool
    public var vendor: String
    public var product: String
    public var revision: String
    /// VERSION DESCRIPTORs (bytes 58-73) present in the returned bytes, non-zero only.
    public var versionDescriptors: [UInt16]

    public init(_ data: [UInt8]) throws {
        let v = ByteView(data)
        _ = try v.slice(0, 36, "standard INQUIRY data (36 bytes through PRODUCT REVISION LEVEL)")
        let b0 = try v.u8(0, "PERIPHERAL QUALIFIER")
        switch b0 >> 5 {
        case 0: peripheralQualifier = .connected
        case 1: peripheralQualifier = .notConnected
        case 3: peripheralQualifier = .notSupported
        default: peripheralQualifier = .reserved
        }
        deviceType = b0 & 0x1F
        deviceTypeName = SCSIDeviceType.name(deviceType)
        removable = try v.bit(1, 7, "RMB")
        version = try v.u8(2, "VERSION")
        versionName = StandardInquiry.versionName(version)
        let b3 = try v.u8(3, "RESPONSE DATA FORMAT")
        normalACA = b3 & 0x20 != 0
        hierarchicalSupport = b3 & 0x10 != 0
        responseDataFormat = b3 & 0x0F
        availableLength = Int(try v.u8(4, "ADDITIONAL LENGTH")) + 5
        bytesReturned = data.count
        let b5 = try v.u8(5, "TPGS")
        storageArrayController = b5 & 0x80 != 0
        accessControlsCoordinator = b5 & 0x40 != 0
        switch (b5 >> 4) & 0x3 {
        case 1: alua = .implicit
        case 2: alua = .explicit
        case 3: alua = .implicitAndExplicit
        default: alua = .none
        }
        thirdPartyCopy = b5 & 0x08 != 0
        protect = b5 & 0x01 != 0
        let b6 = try v.u8(6, "MULTIP")
        enclosureServices = b6 & 0x40 != 0
        multiPort = b6 & 0x10 != 0
        commandQueueing = try v.bit(7, 1, "CMDQUE")
        vendor = try v.ascii(8, 8, "T10 VENDOR IDENTIFICATION")
        product = try v.ascii(16, 16, "PRODUCT IDENTIFICATION")
        revision = try v.ascii(32, 4, "PRODUCT REVISION LEVEL")
        var descriptors = [UInt16]()
        let end = min(data.count, availableLength, 74)
        var at = 58
        while at + 2 <= end {
            let d = try v.u16(at, "VERSION DESCRIPTOR")
            if d != 0 { descriptors.append(d) }
            at += 2
        }
        versionDescriptors = descriptors
    }

    static func versionName(_ v: UInt8) -> String {
        switch v {
        case 0: return "no standard claimed"
        case 3: return "SPC"
        case 4: return "SPC-2"
        case 5: return "SPC-3"
        case 6: return "SPC-4"
        case 7: return "SPC-5"
        default: return "version \(v)"
        }
    }
}

/// PERIPHERAL DEVICE TYPE names (SPC-4 table 141), the common ones.
public enum SCSIDeviceType {
    public static func name(_ t: UInt8) -> String {
        switch t {
        case 0x00: return "disk"
        case 0x01: return "tape"
        case 0x05: return "cd/dvd"
        case 0x07: return "optical memory"
        case 0x08: return "medium changer"
        case 0x0C: return "storage array controller"
        case 0x0D: return "enclosure services"
        case 0x0E: return "simplified direct-access"
        case 0x11: return "object storage"
        case 0x14: return "host managed zoned block"
        case 0x1E: return "well known logical unit"
        case 0x1F: return "unknown or no device"
        default: return "type 0x\(SCSIWire.hex2(t))"
        }
    }
}

/// The 4-byte header every VPD page starts with, and the payload it announces.
public struct VPDPage: Sendable, Equatable {
    public var pageCode: UInt8
    public var deviceType: UInt8
    public var peripheralQualifierBits: UInt8
    /// PAGE LENGTH: bytes after the header.
    public var pageLength: Int
    /// Bytes 4..<(4 + pageLength).
    public var payload: [UInt8]

    /// Checks the page code and that the whole announced page is present (a longer
    /// allocation length is needed otherwise: see `requiredLength`).
    public init(_ data: [UInt8], expecting code: UInt8? = nil) throws {
        let v = ByteView(data)
        let b0 = try v.u8(0, "VPD page header")
        pageCode = try v.u8(1, "VPD PAGE CODE")
        let length = Int(try v.u16(2, "VPD PAGE LENGTH"))
        if let code, code != pageCode {
            throw PathCoreError(
                .invalidValue, "expected VPD page 0x\(SCSIWire.hex2(code)), device returned page 0x\(SCSIWire.hex2(pageCode))")
        }
        peripheralQualifierBits = b0 >> 5
        deviceType = b0 & 0x1F
        pageLength = length
        payload = try v.slice(4, length, "VPD page 0x\(SCSIWire.hex2(pageCode)) (PAGE LENGTH \(length))")
    }

    /// Total bytes the page needs (header + PAGE LENGTH), from its first 4 bytes: a transport
    /// that received a cut-off page re-issues INQUIRY with this allocation length.
    public static func requiredLength(_ header: [UInt8]) throws -> Int {
        let v = ByteView(header)
        return 4 + Int(try v.u16(2, "VPD PAGE LENGTH"))
    }
}

/// VPD page 0x00: Supported VPD Pages.
public struct SupportedVPDPages: Sendable, Equatable, Codable {
    public var pages: [UInt8]
    public init(_ data: [UInt8]) throws {
        let page = try VPDPage(data, expecting: 0x00)
        pages = page.payload
    }
    public func supports(_ code: UInt8) -> Bool { pages.contains(code) }
}

/// VPD page 0x80: Unit Serial Number (ASCII, trimmed; tgt right-justifies it in spaces).
public struct UnitSerialNumber: Sendable, Equatable, Codable {
    public var serial: String
    public init(_ data: [UInt8]) throws {
        let page = try VPDPage(data, expecting: 0x80)
        serial = try ByteView(page.payload).ascii(0, page.pageLength, "PRODUCT SERIAL NUMBER")
    }
}
