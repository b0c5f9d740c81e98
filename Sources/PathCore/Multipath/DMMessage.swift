/// Messages the dm-mpath target accepts (`dmsetup message <map> 0 <text>`, libdevmapper
/// DM_DEVICE_TARGET_MSG with sector 0), from drivers/md/dm-mpath.c `multipath_message`.
public enum DMMessage: Hashable, Sendable, CustomStringConvertible {
    case failPath(DeviceNumber)
    case reinstatePath(DeviceNumber)
    /// Stop queueing: fail I/O when no path is left.
    case failIfNoPath
    /// Queue I/O when no path is left.
    case queueIfNoPath
    /// Switch to path group N (1-based).
    case switchGroup(Int)
    case disableGroup(Int)
    case enableGroup(Int)

    /// The message text, e.g. `fail_path 8:16`.
    public var text: String {
        switch self {
        case .failPath(let d): "fail_path \(d)"
        case .reinstatePath(let d): "reinstate_path \(d)"
        case .failIfNoPath: "fail_if_no_path"
        case .queueIfNoPath: "queue_if_no_path"
        case .switchGroup(let n): "switch_group \(n)"
        case .disableGroup(let n): "disable_group \(n)"
        case .enableGroup(let n): "enable_group \(n)"
        }
    }

    public var description: String { text }

    /// Builds `switch_group`/`disable_group`/`enable_group`, refusing group numbers below 1.
    public static func group(_ verb: String, _ n: Int) throws -> DMMessage {
        guard n >= 1 else { throw PathCoreError(.invalidValue, "dm message: path group numbers start at 1, got \(n)") }
        switch verb {
        case "switch_group": return .switchGroup(n)
        case "disable_group": return .disableGroup(n)
        case "enable_group": return .enableGroup(n)
        default: throw PathCoreError(.unsupported, "dm message: unknown group verb '\(verb)'")
        }
    }
}
