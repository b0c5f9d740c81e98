import Foundation
import HostStorage
import PathAPI
import PathCore

/// `pathctl connect --plan`: the attach plan for the current host, as text or JSON.
/// Secrets are never printed (node settings come from `redactedSettings`).
enum AttachPlanText {
    struct PlanJSON: Encodable {
        var transport: String
        var expectedWWN: String?
        var logins: [[String: String]]
        var paths: [[String: String]]
        var scans: [String]
        var skipped: [String]
    }

    /// The plan's text, and why the attach could do nothing on this host (no login, no
    /// scan: the real connect would fail), or nil when it has something to do.
    struct Rendered {
        var text: String
        var nothingToDo: String?
    }

    static func render(request: ConnectVolumeRequest, topology: Topology, json: Bool) throws -> Rendered {
        var out = PlanJSON(transport: request.protocol.rawValue, expectedWWN: nil, logins: [], paths: [], scans: [], skipped: [])
        switch try request.spec() {
        case .iscsi(let spec):
            let plan = ISCSIPlanner.attach(spec, sessions: topology.sessionInfos)
            out.expectedWWN = plan.expectedWWN?.value
            for l in plan.logins {
                var d = ["portal": l.portal.argument, "iqn": l.iqn]
                for (k, v) in l.redactedSettings { d[k] = v }
                out.logins.append(d)
            }
            for p in plan.paths {
                var d = ["portal": p.path.portal.argument, "iqn": p.path.iqn, "lun": String(p.path.lun), "scsi_lun": String(p.path.scsiLUN)]
                switch p.session {
                case .reuse(let s):
                    d["session"] = "reuse session\(s.sessionID) (host\(s.hostNumber.map(String.init) ?? "?"))"
                    if let scan = p.immediateScan { out.scans.append(scan.description) }
                case .login(let i):
                    d["session"] = "log in (node \(i + 1) above), then scan the new session's host"
                    out.scans.append("host<new session of \(p.path.portal.argument)>: \(p.scan(host: 0).line)")
                case .waitForRecovery(let s):
                    d["session"] = "session\(s.sessionID) is recovering: not logged in again, path counted degraded"
                }
                out.paths.append(d)
            }
        case .fc(let spec):
            let plan = try FCPlanner.scan(spec, hosts: topology.fcHostInfos, remotePorts: topology.remotePortInfos)
            out.expectedWWN = plan.expectedWWN?.value
            out.scans = plan.scans.map(\.description)
            out.skipped = plan.skipped
        }
        let nothing: String? = out.logins.isEmpty && out.scans.isEmpty
            ? "the attach could do nothing on this host: " + (out.skipped.isEmpty ? "no path to scan" : out.skipped.joined(separator: "; "))
            : nil
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return Rendered(text: String(decoding: try e.encode(out), as: UTF8.self), nothingToDo: nothing)
        }
        var lines = ["attach plan (\(out.transport)); every new disk must show WWN \(out.expectedWWN ?? "(none given: all paths must agree)")"]
        if !out.logins.isEmpty { lines.append("node records to create and log in to:") }
        for l in out.logins {
            let settings = l.filter { $0.key != "portal" && $0.key != "iqn" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            lines.append("  \(l["portal"] ?? "?") \(l["iqn"] ?? "?")  \(settings.joined(separator: " "))")
        }
        if !out.paths.isEmpty { lines.append("paths:") }
        for p in out.paths {
            lines.append("  \(p["portal"] ?? "?") \(p["iqn"] ?? "?") LUN \(p["lun"] ?? "?") (SCSI LUN \(p["scsi_lun"] ?? "?")): \(p["session"] ?? "")")
        }
        lines.append("targeted scans (C T L to class/scsi_host/hostN/scan):")
        lines += out.scans.map { "  " + $0 }
        lines += out.skipped.map { "  skipped: " + $0 }
        return Rendered(text: lines.joined(separator: "\n"), nothingToDo: nothing)
    }
}
