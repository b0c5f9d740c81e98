import HostStorage
import PathAPI
import PathAgentCore
import PathCore
import Testing

/// The router without a socket: health rules and log levels.
@Suite struct RouterTests {
    func router(_ fixture: String, _ log: LogRecorder) -> APIRouter {
        APIRouter(
            operations: ScriptedOperations(), inventory: { Inventory.scan(roots: HostRoots(under: Fixtures.path(fixture))) },
            logger: log.logger())
    }

    @Test func healthOfADegradedHost() async throws {
        let log = LogRecorder()
        let r = await router("iscsi-fc-dm-degraded", log).handle(APIRequest(method: "GET", path: "/v1/health"))
        #expect(r.status == 200)
        let h = try JSONValue.parse(String(decoding: r.body, as: UTF8.self))
        let topo = Inventory.scan(roots: HostRoots(under: Fixtures.path("iscsi-fc-dm-degraded")))
        // Compare with the path states the fixture holds.
        let expected = APIRouter.health(topo)
        #expect(expected.status != .ok)
        #expect(h["status"]?.stringValue == expected.status.rawValue)
        for v in expected.volumes {
            let vol = try #require(topo.volumes.first { $0.wwn == v.wwn.value })
            #expect(v.pathsTotal == vol.paths.count)
            #expect(v.pathsActive == vol.paths.filter(APIRouter.isActive).count)
            #expect(v.status == (v.pathsActive == 0 ? .failed : v.pathsActive < v.pathsTotal ? .degraded : .ok))
        }
        #expect(expected.volumes.contains { $0.status != .ok })
    }

    @Test func readsLogAtDebugAndErrorsAtWarning() async {
        let log = LogRecorder()
        let r = router("iscsi-fc-dm", log)
        _ = await r.handle(APIRequest(method: "GET", path: "/v1/version", id: "7"))
        _ = await r.handle(APIRequest(method: "DELETE", path: "/v1/version", id: "8"))
        let lines = log.all
        #expect(lines.contains { $0.hasPrefix("debug api request") && $0.contains("request.id=7") && $0.contains("http.status=200") })
        #expect(lines.contains { $0.hasPrefix("warning api request") && $0.contains("request.id=8") && $0.contains("error.code=method_not_allowed") })
        #expect(lines.allSatisfy { $0.contains("duration.ms=") })
    }
}
