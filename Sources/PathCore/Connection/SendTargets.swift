/// One target of a SendTargets reply: its name and the portals it is reachable at.
public struct DiscoveredTarget: Sendable, Equatable {
    public var iqn: String
    public var portals: [ISCSIPortal]
    public init(iqn: String, portals: [ISCSIPortal]) {
        self.iqn = iqn
        self.portals = portals
    }
}

/// SendTargets discovery, the way os-brick uses it and the way pathagent narrows it.
///
/// os-brick discovers when the connection properties carry a single portal (no
/// `target_portals`/`target_iqns` lists) and multipath is on: it asks that portal for
/// SendTargets and logs in to every (portal, target) pair of the reply, each at the
/// properties' LUN. Cinder's LVM/tgt reference driver works that way. pathagent asks the
/// same question but logs in only to the portals of the volume's own target (the reply's
/// entries whose name is `target_iqn`): another target on the same array is another
/// volume's (tgt and LIO give every Cinder volume its own target), and logging in to it
/// would make sessions and scan disks that are not this volume's.
public enum SendTargets {
    /// Validates a reply as libiscsi returns it: target names, and portals written
    /// `address:port,tpgt` (`[v6-address]:port,tpgt`). An entry whose name or portal does
    /// not validate is dropped with a note (a target answers what it likes; nothing of it
    /// reaches iscsiadm unchecked).
    public static func parse(_ raw: [(name: String, portals: [String])]) -> (targets: [DiscoveredTarget], notes: [String]) {
        var out: [DiscoveredTarget] = []
        var notes: [String] = []
        for (i, entry) in raw.enumerated() {
            let iqn: String
            do { iqn = try ConnectionValidators.iscsiName(entry.name, key: "SendTargets[\(i)].TargetName") } catch {
                notes.append("dropped a target with an invalid name: \(error)")
                continue
            }
            var portals: [ISCSIPortal] = []
            for p in entry.portals {
                // TargetAddress=domainname[:port][,portal-group-tag] (RFC 7143 section 13.8)
                let address = p.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? p
                do {
                    let portal = try ConnectionValidators.portal(address, key: "SendTargets[\(i)].TargetAddress")
                    if !portals.contains(portal) { portals.append(portal) }
                } catch {
                    notes.append("dropped a portal of \(iqn): \(error)")
                }
            }
            if let j = out.firstIndex(where: { $0.iqn == iqn }) {
                for p in portals where !out[j].portals.contains(p) { out[j].portals.append(p) }
            } else {
                out.append(DiscoveredTarget(iqn: iqn, portals: portals))
            }
        }
        return (out, notes)
    }

    /// Whether an attach of `spec` asks the portal for its targets first (os-brick's rule:
    /// singular properties and multipath on).
    public static func applies(to spec: ISCSIConnectionSpec, useMultipath: Bool) -> Bool {
        useMultipath && !spec.usedPluralKeys && spec.paths.count == 1
    }

    /// The spec with one path per portal of the volume's own target in the reply (the
    /// given portal first, then the reply's order), each at the given LUN. Other targets
    /// of the reply are ignored. `added` counts the portals the reply added.
    public static func expand(_ spec: ISCSIConnectionSpec, with targets: [DiscoveredTarget]) -> (spec: ISCSIConnectionSpec, added: Int) {
        guard let given = spec.paths.first, spec.paths.count == 1 else { return (spec, 0) }
        var out = spec
        for t in targets where t.iqn == given.iqn {
            for p in t.portals where !out.paths.contains(where: { $0.portal.sameEndpoint(as: p) }) {
                out.paths.append(ISCSITargetPath(portal: p, iqn: given.iqn, lun: given.lun, scsiLUN: given.scsiLUN))
            }
        }
        return (out, out.paths.count - spec.paths.count)
    }

    /// A detach with the singular properties of an attach that discovered its portals:
    /// the spec with one path per live session to the volume's target, whatever its
    /// portal (os-brick asks its discovery database; the kernel's sessions are the truth).
    /// The detach still deletes only disks that show the volume's WWN, and logs out only
    /// sessions nothing else uses.
    public static func widenForDetach(_ spec: ISCSIConnectionSpec, sessions: [ISCSISessionInfo]) -> ISCSIConnectionSpec {
        guard let given = spec.paths.first, spec.paths.count == 1 else { return spec }
        var out = spec
        for s in sessions where s.targetIQN == given.iqn && !out.paths.contains(where: { $0.portal.sameEndpoint(as: s.portal) }) {
            out.paths.append(ISCSITargetPath(portal: s.portal, iqn: given.iqn, lun: given.lun, scsiLUN: given.scsiLUN))
        }
        return out
    }
}
