import Foundation
import PathCore
import Testing
@testable import FlashArray

/// The simulator tier: the module against fa-sim over TLS on loopback.
@Suite(.serialized) struct SimulatorTests {
    let connector = HostConnector(host: "compute-01.example.net", initiator: "iqn.1994-05.com.redhat:compute01",
                                  systemUUID: "4c4c4544-0047-3510-8052-b4c04f565931")

    func conf(_ sim: Simulator, extra: String = "", caPath: String? = nil) -> String {
        sim.cinderConf(extra: "pure_iscsi_cidr = 127.0.0.0/8\n" + extra, caPath: caPath)
    }

    @Test func tlsVerifiedWithCABundleAndCADirectory() async throws {
        try await withSimulator { sim in
            for ca in [sim.pki.caPEM, sim.pki.caDir] {
                let c = try FlashArrayClient(endpoint: sim.endpoint(tls: .verify(caPath: ca)))
                let arrays = try await c.arrays()
                #expect(arrays.first?.name == "fa-sim")
                #expect(try await c.apiVersion() == "2.36")
                try await c.shutdown()
            }
        }
    }

    @Test func wrongCAIsRefused() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint(tls: .verify(caPath: sim.pki.wrongCAPEM), retries: 0, connectTimeout: .seconds(1)))
            let e = await #expect(throws: FlashArrayError.self) { try await c.arrays() }
            #expect(e?.code == .tls, "\(String(describing: e))")
            // the system trust store does not know the test CA either
            let sys = try FlashArrayClient(endpoint: sim.endpoint(tls: .verify(caPath: nil), retries: 0, connectTimeout: .seconds(1)))
            let e2 = await #expect(throws: FlashArrayError.self) { try await sys.arrays() }
            #expect(e2?.code == .tls)
            try await c.shutdown(); try await sys.shutdown()
        }
    }

    @Test func insecureModeWorksButWarnsLoudly() async throws {
        try await withSimulator { sim in
            let log = MemoryLog()
            let c = try FlashArrayClient(endpoint: sim.endpoint(tls: .insecure), logger: log.logger())
            #expect(try await c.controllers().count == 2)
            #expect(log.all.contains("warning TLS certificate verification of the FlashArray is OFF"))
            try await c.shutdown()
        }
    }

    @Test func loginThen401ThenRelogin() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            _ = try await c.volumes()
            #expect(await c.loginCount == 1)
            try await sim.hook("/sim/expire-sessions")       // the array forgets the session
            _ = try await c.volumes()                          // 401 -> one re-login -> success
            #expect(await c.loginCount == 2)
            try await c.shutdown()
        }
    }

    @Test func persistent401MentionsClockSkew() async throws {
        try await withSimulator { sim in
            let bad = try FlashArrayClient(endpoint: sim.endpoint(token: "wrong-token-value"))
            let e = await #expect(throws: FlashArrayError.self) { try await bad.arrays() }
            #expect(e?.code == .authentication && e?.status == 401)
            #expect(e?.message.contains("clock") == true)
            #expect(e?.arrayMessages == ["Invalid API token."])
            try await bad.shutdown()
            // 401 again right after a successful re-login: the session is rejected twice
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            _ = try await c.arrays()
            try await sim.hook("/sim/inject?status=401&count=2")
            let e2 = await #expect(throws: FlashArrayError.self) { try await c.volumes() }
            #expect(e2?.code == .authentication)
            #expect(e2?.message.contains("synchronized") == true)
            try await c.shutdown()
        }
    }

    @Test func boundedRetriesOn5xx() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint(retries: 2))
            _ = try await c.arrays()
            try await sim.hook("/sim/inject?status=503&count=2")
            #expect(try await c.controllers().count == 2)        // 2 failures absorbed
            try await sim.hook("/sim/inject?status=500&count=3")
            let e = await #expect(throws: FlashArrayError.self) { try await c.controllers() }
            #expect(e?.code == .server && e?.status == 500)
            #expect(e?.arrayMessages == ["injected failure (simulator)"])
            try await c.shutdown()
        }
    }

    /// Host WWNs are kept as a FlashArray keeps them (upper case, no colons) whatever form
    /// they came in, and a `wwns='...'` filter finds them with or without colons, in either case.
    @Test func hostWWNsAsTheArrayKeepsThem() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            _ = try await c.createHost(name: "fc-1", HostPost(wwns: ["21:00:00:24:ff:7f:3e:00", "21000024ff7f3e01"]))
            #expect(try await c.hosts(names: ["fc-1"]).first?.wwns == ["21000024FF7F3E00", "21000024FF7F3E01"])
            for form in ["21000024FF7F3E00", "21000024ff7f3e00", "21:00:00:24:FF:7F:3E:00", "21:00:00:24:ff:7f:3e:00"] {
                let found = try await c.list("hosts", ArrayHost.self, query: [("filter", "wwns='\(form)' and is_local")])
                #expect(found.map(\.name) == ["fc-1"], "\(form)")
            }
            #expect(try await c.list("hosts", ArrayHost.self, query: [("filter", "wwns='21000024FF7F3E02'")]).isEmpty)
            // the same WWN in another form is the same WWN
            let dup = await #expect(throws: FlashArrayError.self) { try await c.createHost(name: "fc-2", HostPost(wwns: ["21000024FF7F3E01"])) }
            #expect(dup?.arrayMessages.first?.contains("already in use") == true)
            let bad = await #expect(throws: FlashArrayError.self) { try await c.createHost(name: "fc-3", HostPost(wwns: ["21:00:00:24"])) }
            #expect(bad?.status == 400)
            try await c.shutdown()
        }
    }

    /// A resource the array does not have is 404 (as the array answers), another method on
    /// one the simulator serves is 405; both with the array's `errors` body.
    @Test func unknownResourceIs404() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            let missing = await #expect(throws: FlashArrayError.self) { _ = try await c.request(.GET, "no-such-resource") }
            #expect(missing?.status == 404 && missing?.arrayMessages.isEmpty == false, "\(String(describing: missing))")
            let method = await #expect(throws: FlashArrayError.self) { _ = try await c.request(.PUT, "arrays/space") }
            #expect(method?.status == 405 && method?.arrayMessages.isEmpty == false)
            try await c.shutdown()
        }
    }

    @Test func volumeLifecycleAndTypedErrors() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            let v = try await c.createVolume(name: "vol-a", provisionedBytes: 1 << 30)
            #expect(v.provisioned == 1 << 30 && v.serial?.count == 24)
            let wwn = try await c.wwn(volume: "vol-a")
            #expect(wwn == (try WWN.pure(serial: v.serial!)))
            try await c.resizeVolume(name: "vol-a", provisionedBytes: 2 << 30)
            #expect(try await c.volume(named: "vol-a").provisioned == 2 << 30)
            let dup = await #expect(throws: FlashArrayError.self) { try await c.createVolume(name: "vol-a", provisionedBytes: 1 << 30) }
            #expect(dup?.status == 400 && dup?.arrayMessages == ["vol-a: Volume already exists."])
            let missing = await #expect(throws: FlashArrayError.self) { try await c.volume(named: "nope") }
            #expect(missing?.code == .notFound)
            try await c.destroyVolume(name: "vol-a", eradicate: false)
            #expect(try await c.volume(named: "vol-a").destroyed == true)      // pending eradication
            try await c.destroyVolume(name: "vol-a", eradicate: true)
            #expect(try await c.volumes().isEmpty)
            try await c.shutdown()
        }
    }

    @Test func connectBuildsPropertiesLikeTheDriver() async throws {
        try await withSimulator { sim in
            let cfg = try CinderConf(text: conf(sim, extra: "use_chap_auth = True\npure_eradicate_on_delete = True")).backend("pure-1")
            let backend = try PureBackend(config: cfg)
            let vol = try await backend.createVolume(name: "vol-b", sizeGiB: 1)
            let chap = ChapCredentials(username: "compute-01", secret: "chap-secret-0123456789")
            let info = try await backend.connect(volume: "vol-b", connector: connector, chap: chap)
            #expect(info.driverVolumeType == "iscsi")
            #expect(info.data.targetPortals == ["127.0.0.1:3260", "127.0.0.2:3260"])
            #expect(info.data.targetIQNs == Array(repeating: "iqn.2010-06.com.purestorage:flasharray.5e2d8c3a1b4f6e70", count: 2))
            #expect(info.data.targetLUNs == [1, 1])
            #expect(info.data.wwn == (try WWN.pure(serial: vol.serial!)).value)
            #expect(info.data.authMethod == "CHAP" && info.data.authUsername == "compute-01")
            // the host was registered with the IQN, a Cinder-style name and CHAP
            let hostName = PureBackend.purityHostName(connector)
            #expect(hostName == "compute-01-example-net-4c4c4544004735108052b4c04f565931-cinder")
            let h = try #require(try await backend.primary.host(initiator: connector.initiator!))
            #expect(h.name == hostName && h.iqns == [connector.initiator!] && h.chap?.hostUser == "compute-01")
            // connecting again reuses host and LUN
            #expect(try await backend.connect(volume: "vol-b", connector: connector, chap: chap).data.targetLUNs == [1, 1])
            #expect(try await backend.primary.hosts().count == 1)
            // a second volume gets the next LUN
            try await backend.createVolume(name: "vol-c", sizeGiB: 2)
            #expect(try await backend.connect(volume: "vol-c", connector: connector, chap: chap).data.targetLUNs == [2, 2])
            // a not-ready controller's ports are left out
            try await sim.hook("/sim/controller?name=CT1&status=not+ready")
            #expect(try await backend.connect(volume: "vol-c", connector: connector, chap: chap).data.targetPortals == ["127.0.0.1:3260"])
            try await backend.disconnect(volume: "vol-b", connector: connector)
            #expect(try await backend.primary.connections(host: hostName).map(\.volume?.name) == ["vol-c"])
            try await backend.deleteVolume(name: "vol-c")   // disconnects, destroys, eradicates
            #expect(try await backend.primary.volumes().map(\.name) == ["vol-b"])
            let stats = try await backend.capacity()
            #expect(stats.totalCapacityGB == 10240 && stats.provisionedCapacityGB == 1)
            await backend.shutdown()
        }
    }

    @Test func standaloneEntryPointFromCinderConf() async throws {
        try await withSimulator { sim in
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            try await c.createVolume(name: "vol-s", provisionedBytes: 1 << 30)
            try await c.shutdown()
            let info = try await PureBackend.connectionInfo(cinderConf: conf(sim), backend: "pure-1", volume: "vol-s", connector: connector)
            #expect(info.data.targetLUNs == [1, 1] && info.data.authMethod == nil)
            let missing = await #expect(throws: FlashArrayError.self) {
                try await PureBackend.connectionInfo(cinderConf: conf(sim), backend: "pure-9", volume: "vol-s", connector: connector)
            }
            #expect(missing?.code == .configuration)
        }
    }

    @Test func uniformSyncPairAddsTheSecondArraysPaths() async throws {
        try await withSimulator { a in
            try await withSimulator(extra: ["--array-name", "fa-sim-b", "--array-id", "7b3e6f9a-1d2c-4e5f-8a9b-0c1d2e3f4a5b",
                                            "--target-iqn", "iqn.2010-06.com.purestorage:flasharray.b",
                                            "--iscsi-port", "CT0.ETH4=127.0.1.1:3260", "--iscsi-port", "CT1.ETH4=127.0.1.2:3260"]) { b in
                let text = conf(a, extra: "replication_device = backend_id:pure-b,san_ip:\(b.address),api_token:\(b.token),type:sync,uniform:true,ssl_cert_verify:true,ssl_cert_path:\(b.pki.caPEM)")
                let cfg = try CinderConf(text: text).backend("pure-1")
                let backend = try PureBackend(config: cfg)
                // a stretched pod volume exists on both arrays
                for sim in [a, b] {
                    let c = try FlashArrayClient(endpoint: sim.endpoint())
                    try await c.createVolume(name: "cinder-pod::vol-p", provisionedBytes: 1 << 30)
                    try await c.shutdown()
                }
                let info = try await backend.connect(volume: "cinder-pod::vol-p", connector: connector)
                #expect(info.data.targetPortals == ["127.0.0.1:3260", "127.0.0.2:3260", "127.0.1.1:3260", "127.0.1.2:3260"])
                #expect(Set(info.data.targetIQNs ?? []) == ["iqn.2010-06.com.purestorage:flasharray.5e2d8c3a1b4f6e70", "iqn.2010-06.com.purestorage:flasharray.b"])

                // health: paths to array A only -> single-array flagged, recorded on both arrays
                let wwn = try WWN(info.data.wwn)
                let report = PathHealthReport(initiatorIQN: connector.initiator, reportedAt: 1_700_000_000_000, volumes: [
                    .init(wwn: wwn, paths: [
                        .init(device: "sdb", targetPortal: "127.0.0.1:3260", state: .active, alua: "active/optimized"),
                        .init(device: "sdc", targetPortal: "127.0.0.2:3260", state: .active, alua: "active/optimized"),
                        .init(device: "sdd", targetPortal: "127.0.1.1:3260", state: .failed, alua: "active/non-optimized"),
                        .init(device: "sde", targetPortal: "127.0.1.2:3260", state: .failed, alua: "active/non-optimized"),
                    ], lastChange: 1_699_999_999_000)])
                let h = try await backend.recordHealth(report)
                #expect(h.flags.contains(.singleArray) && h.flags.contains(.failedPaths))
                #expect(h.status == .degraded)
                let back = try await backend.hostHealth(h.host)
                #expect(back.status == .degraded && back.flags == h.flags && back.perArray == h.perArray)
                #expect(back.perArray == ["fa-sim": PathCounts(total: 2, active: 2), "fa-sim-b": PathCounts(total: 2, active: 0, failed: 2)])
                // the summary is on the second array too
                let tagsB = try await backend.uniformTargets[0].hostTags(host: h.host, namespace: "pathagent")
                #expect(tagsB.contains { $0.key == "status" && $0.value == "degraded" })
                await backend.shutdown()
            }
        }
    }

    @Test func healthSingleControllerAndArrayView() async throws {
        try await withSimulator { sim in
            let backend = try PureBackend(config: try CinderConf(text: conf(sim)).backend("pure-1"))
            try await backend.createVolume(name: "vol-h", sizeGiB: 1)
            let info = try await backend.connect(volume: "vol-h", connector: connector)
            let wwn = try WWN(info.data.wwn)
            func report(_ s2: PathHealthReport.PathState) -> PathHealthReport {
                PathHealthReport(initiatorIQN: connector.initiator, reportedAt: 2000, volumes: [.init(wwn: wwn, paths: [
                    .init(targetPortal: "127.0.0.1:3260", targetIQN: info.data.targetIQNs![0], state: .active),
                    .init(targetPortal: "127.0.0.2:3260", targetIQN: info.data.targetIQNs![1], state: s2),
                ], lastChange: 1500)])
            }
            let ok = try await backend.recordHealth(report(.active))
            #expect(ok.status == .ok && ok.flags.isEmpty && ok.arrayStatus == "healthy")
            let single = try await backend.recordHealth(report(.failed))
            #expect(single.flags == [.failedPaths, .singleController, .arrayDisagrees])   // the array still says Redundant
            try await sim.hook("/sim/port-connectivity?host=\(single.host)&status=unhealthy&details=Single+Controller")
            let agreed = try await backend.recordHealth(report(.failed))
            #expect(agreed.flags == [.failedPaths, .singleController])
            #expect(try await backend.primary.hostPortConnectivity(host: single.host) == HostPortConnectivity(details: "Single Controller", status: "unhealthy"))
            let read = try await backend.hostHealth(single.host)
            #expect(read.arrayDetails == "Single Controller" && read.perController["fa-sim:CT1"] == PathCounts(total: 1, active: 0, failed: 1))
            await backend.shutdown()
        }
    }

    @Test func secretsNeverInErrorsLogsOrDescriptions() async throws {
        try await withSimulator { sim in
            let log = MemoryLog()
            let cfg = try CinderConf(text: conf(sim, extra: "use_chap_auth = True")).backend("pure-1")
            let chapSecret = "chap-secret-DO-NOT-LEAK-42"
            let backend = try PureBackend(config: cfg, logger: log.logger())
            try await backend.createVolume(name: "vol-x", sizeGiB: 1)
            let info = try await backend.connect(volume: "vol-x", connector: connector, chap: ChapCredentials(username: "u", secret: Secret(chapSecret)))
            _ = try? await backend.connect(volume: "missing", connector: connector, chap: ChapCredentials(username: "u", secret: Secret(chapSecret)))
            await backend.shutdown()
            // wrong token: error + logs
            let bad = try FlashArrayClient(endpoint: sim.endpoint(token: "WRONG-TOKEN-DO-NOT-LEAK"), logger: log.logger())
            var errText = ""
            do { _ = try await bad.arrays() } catch { errText = "\(error) \(String(reflecting: error))" }
            try await bad.shutdown()
            let texts = [log.all, errText, "\(info)", String(reflecting: info), "\(cfg)", String(reflecting: cfg),
                         "\(sim.endpoint())", "\(cfg.replicationDevices)", dumpText(cfg), dumpText(info)]
            for t in texts {
                #expect(!t.contains(sim.token), "API token leaked: \(t)")
                #expect(!t.contains(chapSecret), "CHAP secret leaked: \(t)")
                #expect(!t.contains("WRONG-TOKEN-DO-NOT-LEAK"), "token leaked: \(t)")
            }
            #expect(!log.all.isEmpty && !errText.isEmpty)
            // a replication_device line with a bad item does not echo its token
            let d = CinderConf(text: conf(sim, extra: "replication_device = backend_id:b,san_ip:1.2.3.4,api_token:tok,SECRETPART"))
            #expect(!d.diagnostics.map(\.description).joined().contains("SECRETPART"))
        }
    }

    func dumpText<T>(_ v: T) -> String { var s = ""; dump(v, to: &s); return s }

    @Test func pyPureClientListsVolumesAndHosts() async throws {
        try await withSimulator { sim in
            let backend = try PureBackend(config: try CinderConf(text: conf(sim)).backend("pure-1"))
            let vol = try await backend.createVolume(name: "vol-py", sizeGiB: 3)
            let info = try await backend.connect(volume: "vol-py", connector: connector)
            _ = try await backend.recordHealth(PathHealthReport(initiatorIQN: connector.initiator, reportedAt: 5, volumes: [
                .init(wwn: try WWN(info.data.wwn), paths: [.init(targetPortal: "127.0.0.1:3260", state: .active),
                                                          .init(targetPortal: "127.0.0.2:3260", state: .active)], lastChange: 4)]))
            await backend.shutdown()

            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pyclient/list_sim.py").path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", script, sim.address, sim.pki.caPEM]
            var env = ProcessInfo.processInfo.environment
            env["FA_TOKEN"] = sim.token
            p.environment = env
            let out = Pipe(), err = Pipe()
            p.standardOutput = out; p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "py-pure-client run failed (\(p.terminationStatus)): \(String(decoding: e, as: UTF8.self))")
            let obj = try #require(try JSONSerialization.jsonObject(with: o) as? [String: Any])
            #expect(obj["version"] as? String == "2.36")
            let vols = (obj["volumes"] as? [[String: Any]] ?? []).filter { $0["name"] as? String != "vol-from-py" }
            #expect(vols.count == 1 && obj["volumes_total"] as? Int == 2)
            #expect(vols.first?["name"] as? String == "vol-py" && vols.first?["serial"] as? String == vol.serial)
            // what py-pure-client wrote, our client reads
            let c = try FlashArrayClient(endpoint: sim.endpoint())
            let fromPy = try await c.volume(named: "vol-from-py")
            #expect(fromPy.provisioned == 2 << 30 && fromPy.serial == obj["created_serial"] as? String)
            try await c.shutdown()
            #expect((vols.first?["provisioned"] as? NSNumber)?.int64Value == 3 << 30)
            let hosts = obj["hosts"] as? [[String: Any]] ?? []
            #expect(hosts.first?["name"] as? String == PureBackend.purityHostName(connector))
            #expect(hosts.first?["iqns"] as? [String] == [connector.initiator!])
            #expect(hosts.first?["connectivity"] as? String == "healthy")
            let conns = obj["connections"] as? [[String: Any]] ?? []
            #expect(conns.first?["lun"] as? Int == 1)
            #expect((obj["tags"] as? [String] ?? []).contains("status=ok"))
        }
    }
}
