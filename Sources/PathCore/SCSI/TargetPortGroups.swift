/// Asymmetric access state of a target port group (SPC-4 6.36.2 table 203).
public enum ALUAState: String, Hashable, Sendable, Codable, CaseIterable {
    case activeOptimized = "active/optimized"
    case activeNonOptimized = "active/non-optimized"
    case standby
    case unavailable
    case logicalBlockDependent = "logical-block-dependent"
    case offline
    case transitioning
    case reserved

    public init(code: UInt8) {
        switch code & 0x0F {
        case 0x0: self = .activeOptimized
        case 0x1: self = .activeNonOptimized
        case 0x2: self = .standby
        case 0x3: self = .unavailable
        case 0x4: self = .logicalBlockDependent
        case 0xE: self = .offline
        case 0xF: self = .transitioning
        default: self = .reserved
        }
    }

    /// The name the kernel's sysfs `access_state` shows (drivers/scsi/scsi_sysfs.c
    /// `sdev_access_states`: `active/optimized`, `active/non-optimized`, `standby`,
    /// `unavailable`, `lba-dependent`, `offline`, `transitioning`); nil for `unknown` or
    /// anything else.
    public init?(kernelAccessState s: String) {
        switch s.trimmingWhitespace() {
        case "active/optimized": self = .activeOptimized
        case "active/non-optimized": self = .activeNonOptimized
        case "standby": self = .standby
        case "unavailable": self = .unavailable
        case "lba-dependent": self = .logicalBlockDependent
        case "offline": self = .offline
        case "transitioning": self = .transitioning
        default: return nil
        }
    }

    /// I/O can be sent through ports in this state.
    public var acceptsIO: Bool { self == .activeOptimized || self == .activeNonOptimized }
}

/// REPORT TARGET PORT GROUPS parameter data (SPC-4 6.36.2), length-prefixed, in the
/// normal (one header word) or extended (format type 001b, implicit transition time) form.
public struct TargetPortGroups: Sendable, Equatable, Codable {
    public struct SupportedStates: Sendable, Equatable, Codable {
        /// T_SUP
        public var transitioning: Bool
        /// O_SUP
        public var offline: Bool
        /// LBD_SUP
        public var logicalBlockDependent: Bool
        /// U_SUP
        public var unavailable: Bool
        /// S_SUP
        public var standby: Bool
        /// AN_SUP
        public var activeNonOptimized: Bool
        /// AO_SUP
        public var activeOptimized: Bool
    }

    public enum StatusCode: String, Sendable, Codable {
        case none
        case alteredBySetTargetPortGroups = "altered_by_set_target_port_groups"
        case alteredByImplicitTransition = "altered_by_implicit_transition"
        case reserved
    }

    public struct Group: Sendable, Equatable, Codable {
        /// PREF: the preferred group.
        public var preferred: Bool
        public var state: ALUAState
        public var stateCode: UInt8
        public var supportedStates: SupportedStates
        public var groupID: UInt16
        public var status: StatusCode
        public var vendorSpecific: UInt8
        /// RELATIVE TARGET PORT IDENTIFIERs in the group.
        public var relativeTargetPorts: [UInt16]
    }

    public var extendedHeader: Bool
    /// IMPLICIT TRANSITION TIME (extended header only), seconds.
    public var implicitTransitionTime: UInt8?
    public var groups: [Group]

    public init(_ data: [UInt8]) throws {
        let v = ByteView(data)
        let returnLength = Int(try v.u32(0, "RETURN DATA LENGTH"))
        let end = 4 + returnLength
        _ = try v.slice(4, returnLength, "target port group descriptors (RETURN DATA LENGTH \(returnLength))")
        var at = 4
        if returnLength >= 4, (try v.u8(4, "FORMAT TYPE") >> 4) & 0x7 == 1 {
            extendedHeader = true
            implicitTransitionTime = try v.u8(5, "IMPLICIT TRANSITION TIME")
            at = 8
        } else {
            extendedHeader = false
            implicitTransitionTime = nil
        }
        var groups = [Group]()
        while at < end {
            let b0 = try v.u8(at, "PREF/ASYMMETRIC ACCESS STATE")
            let b1 = try v.u8(at + 1, "supported states")
            let id = try v.u16(at + 2, "TARGET PORT GROUP")
            let statusCode = try v.u8(at + 5, "STATUS CODE")
            let vendor = try v.u8(at + 6, "vendor specific")
            let count = Int(try v.u8(at + 7, "TARGET PORT COUNT"))
            var ports = [UInt16]()
            for i in 0..<count {
                ports.append(try v.u16(at + 8 + 4 * i + 2, "RELATIVE TARGET PORT IDENTIFIER"))
            }
            let status: StatusCode
            switch statusCode {
            case 0: status = .none
            case 1: status = .alteredBySetTargetPortGroups
            case 2: status = .alteredByImplicitTransition
            default: status = .reserved
            }
            groups.append(
                Group(
                    preferred: b0 & 0x80 != 0, state: ALUAState(code: b0), stateCode: b0 & 0x0F,
                    supportedStates: SupportedStates(
                        transitioning: b1 & 0x80 != 0, offline: b1 & 0x40 != 0, logicalBlockDependent: b1 & 0x10 != 0,
                        unavailable: b1 & 0x08 != 0, standby: b1 & 0x04 != 0, activeNonOptimized: b1 & 0x02 != 0,
                        activeOptimized: b1 & 0x01 != 0),
                    groupID: id, status: status, vendorSpecific: vendor, relativeTargetPorts: ports))
            at += 8 + 4 * count
        }
        guard at == end else {
            throw PathCoreError(
                .truncated, "last target port group descriptor runs past RETURN DATA LENGTH",
                detail: "descriptors end at \(at), data ends at \(end)")
        }
        self.groups = groups
    }

    /// The group holding a relative target port (from VPD 0x83 of that path).
    public func group(forRelativeTargetPort port: UInt16) -> Group? {
        groups.first { $0.relativeTargetPorts.contains(port) }
    }

    public func group(id: UInt16) -> Group? { groups.first { $0.groupID == id } }
}
