import CISCSI
import Glibc
import PathCore

/// SendTargets discovery: the seam the engine asks "which targets and portals does this
/// portal report". Returns the reply raw (names and `address:port,tpgt` strings);
/// `SendTargets.parse` validates it.
public protocol ISCSIDiscovery: Sendable {
    func sendTargets(portal: ISCSIPortal, initiator: String?, auth: CHAPCredentials?, timeoutSeconds: Int) throws
        -> [(name: String, portals: [String])]
}

/// SendTargets over a libiscsi discovery session, in this process: a discovery login to
/// the portal (with discovery CHAP when given), one SendTargets=All text request, a
/// logout. Unlike `iscsiadm -m discovery` it writes no node or discovery record (nothing
/// is left on the host, no record of other volumes' targets, and no CHAP secret on disk or
/// in an argv); the kernel's sessions are still made by open-iscsi.
public struct LibISCSIDiscovery: ISCSIDiscovery {
    public init() {}

    public func sendTargets(portal: ISCSIPortal, initiator: String?, auth: CHAPCredentials?, timeoutSeconds: Int) throws
        -> [(name: String, portals: [String])]
    {
        guard let initiator, !initiator.isEmpty else {
            throw HostStorageError(.invalidArgument, "no initiator name for a discovery session (is /etc/iscsi/initiatorname.iscsi there?)")
        }
        guard let ctx = iscsi_create_context(initiator) else {
            throw HostStorageError(.invalidArgument, "libiscsi refused the initiator name '\(initiator)'")
        }
        var loggedIn = false
        defer {
            if loggedIn { _ = iscsi_logout_sync(ctx) }
            iscsi_destroy_context(ctx)
        }
        func failure(_ what: String) -> HostStorageError {
            var raw = String(cString: iscsi_get_error(ctx))
            if let pw = auth?.password, !pw.isEmpty { raw = raw.replacingAll(pw, with: "***") }
            let code: HostStorageError.Code = raw.contains("Authentication failure") ? .authFailed
                : (raw.contains("Authorization failure") ? .loginRefused
                : (raw.contains("onnect") || raw.contains("refused") || raw.contains("timed out") ? .transport : .loginRefused))
            return HostStorageError(code, "SendTargets discovery at \(portal): \(what)", cause: raw.isEmpty ? nil : raw)
        }
        guard iscsi_set_session_type(ctx, ISCSI_SESSION_DISCOVERY) == 0 else { throw failure("cannot make a discovery session") }
        iscsi_set_timeout(ctx, Int32(timeoutSeconds))
        if let auth, iscsi_set_initiator_username_pwd(ctx, auth.username, auth.password) != 0 {
            throw failure("libiscsi refused the discovery CHAP credentials")
        }
        guard iscsi_connect_sync(ctx, portal.argument) == 0 else { throw failure("cannot connect") }
        guard iscsi_login_sync(ctx) == 0 else { throw failure("discovery login failed") }
        loggedIn = true
        guard let reply = iscsi_discovery_sync(ctx) else { throw failure("the SendTargets request failed") }
        defer { iscsi_free_discovery_data(ctx, reply) }
        var out: [(name: String, portals: [String])] = []
        var a: UnsafeMutablePointer<iscsi_discovery_address>? = reply
        while let entry = a {
            var portals: [String] = []
            var p = entry.pointee.portals
            while let portalEntry = p {
                if let s = portalEntry.pointee.portal { portals.append(String(cString: s)) }
                p = portalEntry.pointee.next
            }
            out.append((entry.pointee.target_name.map { String(cString: $0) } ?? "", portals))
            a = entry.pointee.next
        }
        return out
    }
}
