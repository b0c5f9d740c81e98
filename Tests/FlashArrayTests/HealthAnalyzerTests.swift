import PathCore
import Testing
@testable import FlashArray

@Suite struct HealthAnalyzerTests {
    let fa1 = PathHealthAnalyzer.ArrayView(name: "fa-01", ports: [
        ArrayPort(name: "CT0.ETH4", iqn: "iqn.a", portal: "10.0.0.10:3260"), ArrayPort(name: "CT1.ETH4", iqn: "iqn.a", portal: "10.0.0.11:3260"),
    ], readyControllers: ["CT0", "CT1"])
    let fa2 = PathHealthAnalyzer.ArrayView(name: "fa-02", ports: [
        ArrayPort(name: "CT0.ETH4", iqn: "iqn.b", portal: "10.0.1.10:3260"), ArrayPort(name: "CT1.ETH4", iqn: "iqn.b", portal: "10.0.1.11:3260"),
    ], readyControllers: ["CT0", "CT1"])

    func path(_ portal: String, _ s: PathHealthReport.PathState) -> PathHealthReport.PathReport {
        .init(targetPortal: portal, state: s, alua: s == .active ? "active/optimized" : "unavailable")
    }
    func report(_ paths: [PathHealthReport.PathReport]) throws -> PathHealthReport {
        PathHealthReport(initiatorIQN: "iqn.host", reportedAt: 1000,
                         volumes: [.init(wwn: try WWN("3624a93709714b5cb91634c470002b2c8"), paths: paths, lastChange: 900)])
    }

    @Test func redundantIsOK() throws {
        let h = PathHealthAnalyzer.analyze(report: try report([path("10.0.0.10:3260", .active), path("10.0.0.11:3260", .active)]),
                                           host: "h", arrays: [fa1], uniformPair: false,
                                           arrayConnectivity: .init(details: "Redundant", status: "healthy"))
        #expect(h.status == .ok && h.flags.isEmpty)
        #expect(h.paths == PathCounts(total: 2, active: 2, failed: 0))
        #expect(h.perController == ["fa-01:CT0": PathCounts(total: 1, active: 1), "fa-01:CT1": PathCounts(total: 1, active: 1)])
    }

    @Test func singleControllerIsFlaggedAndArrayDisagreementToo() throws {
        let h = PathHealthAnalyzer.analyze(report: try report([path("10.0.0.10:3260", .active), path("10.0.0.11:3260", .failed)]),
                                           host: "h", arrays: [fa1], uniformPair: false,
                                           arrayConnectivity: .init(details: "Redundant", status: "healthy"))
        #expect(h.status == .degraded)
        #expect(h.flags == [.failedPaths, .singleController, .arrayDisagrees])
        #expect(h.flaggedVolumes == ["3624a93709714b5cb91634c470002b2c8"])
    }

    @Test func oneArrayOfAUniformPairIsFlagged() throws {
        let r = try report([path("10.0.0.10:3260", .active), path("10.0.0.11:3260", .active),
                            path("10.0.1.10:3260", .failed), path("10.0.1.11:3260", .failed)])
        let h = PathHealthAnalyzer.analyze(report: r, host: "h", arrays: [fa1, fa2], uniformPair: true, arrayConnectivity: nil)
        #expect(h.flags.contains(.singleArray))
        #expect(h.perArray == ["fa-01": PathCounts(total: 2, active: 2), "fa-02": PathCounts(total: 2, active: 0, failed: 2)])
    }

    @Test func noPathsIsCriticalAndUnknownTargetsAreFlagged() throws {
        let h = PathHealthAnalyzer.analyze(report: try report([path("10.9.9.9:3260", .failed)]), host: "h", arrays: [fa1],
                                           uniformPair: false, arrayConnectivity: nil)
        #expect(h.status == .critical)
        #expect(h.flags.contains(.noPaths) && h.flags.contains(.unknownTarget))
    }

    @Test func onlyNonOptimizedActivePathsAreFlagged() throws {
        let r = try report([.init(targetPortal: "10.0.0.10:3260", state: .active, alua: "active/non-optimized"),
                            .init(targetPortal: "10.0.0.11:3260", state: .active, alua: "active/non-optimized")])
        let h = PathHealthAnalyzer.analyze(report: r, host: "h", arrays: [fa1], uniformPair: false, arrayConnectivity: nil)
        #expect(h.flags == [.noOptimizedPath] && h.status == .degraded)
    }

    @Test func tagsRoundTrip() throws {
        let h = PathHealthAnalyzer.analyze(report: try report([path("10.0.0.10:3260", .active), path("10.0.0.11:3260", .failed)]),
                                           host: "h", arrays: [fa1], uniformPair: false, arrayConnectivity: nil)
        let tags = PathHealthAnalyzer.tags(h)
        #expect(tags.allSatisfy { $0.namespace == "pathagent" && $0.value.count <= 256 && $0.key.count <= 64 })
        let back = PathHealthAnalyzer.parse(host: "h", tags: tags, arrayConnectivity: nil)
        #expect(back == h)
    }
}
