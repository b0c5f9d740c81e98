import HostStorage
import Logging
import PathAPI
import PathCore

extension VolumeEngine {
    /// Start-up reconciliation: finishes half-done detaches and rolls back half-done
    /// attaches recorded in the journal, touching only what those intents created.
    public func reconcile() async throws -> [IntentResolution] {
        guard let journal, kernel.acceptsWrites else { return [] }
        // claims of maps that no longer exist go (a later map of that name is not ours)
        for (name, _) in (try? ownership.ownedMaps()) ?? [:] where (try? dm.info(name)) == nil { try? ownership.release(map: name) }
        let open = try journal.unfinished()
        guard !open.isEmpty else { return [] }
        let topo = topology()
        // the intents' disks are judged as a detach judges them: by what they answer now
        // (the kernel's cached identity can be stale, re-read while the LUN was gone)
        var judged = Set<HCTL>()
        for intent in open {
            for t in intent.iscsiTargets {
                for s in topo.sessionInfos where s.matches(portal: t.portal, iqn: t.iqn) {
                    guard let h = s.hostNumber else { continue }
                    for d in topo.deviceInfos where d.hctl.host == h { judged.insert(d.hctl) }
                }
            }
            for case .scanned(let hctl, _) in intent.steps { judged.insert(hctl) }
            if let w = intent.wwn {
                for d in topo.deviceInfos where d.wwn == w { judged.insert(d.hctl) }
                judged.formUnion(volumeDisks(ofMap: w, topo: topo))
            }
        }
        let devices = await withFreshIdentities(topo.deviceInfos, judged: judged)
        let plan = IntentReconciler.plan(
            unfinished: open, kernel: KernelSnapshot(sessions: topo.sessionInfos, devices: devices, maps: topo.mapInfos))
        for r in plan {
            guard let record = open.first(where: { $0.id == r.intentID }) else { continue }
            logger.info("reconciling journal intent", metadata: [
                "intent.id": "\(r.intentID)", "intent.outcome": "\(r.outcome.rawValue)", "intent.steps": "\(r.steps.count)",
                "volume.wwn": "\(record.wwn?.value ?? "unknown")",
            ])
            let handle = IntentHandle(store: journal, id: r.intentID)
            _ = try await workers.run { [self] in
                try execute(r.steps, force: true, ignoreErrors: true, intent: handle, wwn: record.wwn)
            }
            try journal.finish(id: r.intentID)
        }
        return plan
    }
}
