import Foundation
import Testing
@testable import FlashArray

/// The real Cinder Pure driver (PyPI `cinder` + `py-pure-client`, see
/// `pyclient/cinder-requirements.txt`) against fa-sim: `pyclient/cinder_driver.py` builds
/// `PureISCSIDriver` (with and without CHAP) and `PureFCDriver` and checks every step
/// against the simulator's REST API. One Python process for the whole run: Cinder's
/// imports take most of its time.
///
/// Outside CI the test is off when the two packages are not installed (`scripts/test`
/// installs them); with `CI=true` it always runs, so a missing dependency fails it.
@Suite struct CinderDriverTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pyclient/cinder_driver.py").path

    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Whether python3 finds both packages (without importing them: that takes seconds).
    static var dependenciesInstalled: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import importlib.util as u, sys; sys.exit(0 if u.find_spec('cinder') and u.find_spec('pypureclient') else 1)"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// iSCSI and FC ports on one array, as a mixed-protocol FlashArray has.
    static let ports = ["--iscsi-port", "CT0.ETH4=127.0.0.1:3260", "--iscsi-port", "CT1.ETH4=127.0.0.2:3260",
                        "--fc-port", "CT0.FC0=52:4A:93:7D:F3:3B:A2:00", "--fc-port", "CT1.FC0=52:4A:93:7D:F3:3B:A2:10"]

    @Test(.enabled(if: inCI || dependenciesInstalled, "cinder and py-pure-client are not installed (pip install -r Tests/FlashArrayTests/pyclient/cinder-requirements.txt)"),
          .timeLimit(.minutes(5)))
    func realCinderPureDriverAgainstSimulator() async throws {
        try await withSimulator(extra: Self.ports) { sim in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", Self.script, sim.address, sim.pki.caPEM]
            var env = ProcessInfo.processInfo.environment
            env["FA_TOKEN"] = sim.token
            env["PYTHONWARNINGS"] = "ignore"
            p.environment = env
            let out = Pipe(), err = Pipe()
            p.standardOutput = out; p.standardError = err
            try p.run()
            // stderr is drained on its own thread: Cinder's warnings can fill the pipe
            let errBox = DataBox()
            let t = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
            t.start()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            while !errBox.done { usleep(10_000) }
            let errText = String(decoding: errBox.data, as: UTF8.self)
            try #require(p.terminationStatus == 0, "the Cinder driver run failed (exit \(p.terminationStatus)): \(errText.suffix(6000))")

            let line = try #require(String(decoding: o, as: UTF8.self).split(separator: "\n").last)
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let steps = obj["steps"] as? [String] ?? []
            for backend in ["pure-iscsi", "pure-chap", "pure-fc"] {
                for s in ["do_setup", "create_volume", "initialize_connection", "extend_volume", "get_volume_stats",
                          "terminate_connection", "delete_volume"] {
                    #expect(steps.contains("\(backend): \(s)"), "step \(backend): \(s) did not run: \(steps)")
                }
            }
            #expect((obj["checks"] as? Int ?? 0) >= 100, "\(obj)")

            // the simulator's side: what the driver (its User-Agent names Cinder, the script's
            // checks do not) asked for, and that every one of its requests succeeded
            let all = try await sim.responses()
            let driver = all.filter { $0.contains("\tOpenStack Cinder Pure") }.map { String($0.prefix { $0 != "\t" }) }
            for (method, resource) in [("PUT", "volumes/tags/batch"), ("GET", "protection-groups/volumes"), ("GET", "arrays/performance"),
                                       ("GET", "volume-snapshots"), ("GET", "protection-groups"), ("GET", "array-connections"),
                                       ("PATCH", "hosts"), ("DELETE", "volumes"), ("DELETE", "hosts"), ("DELETE", "connections")] {
                #expect(driver.contains { $0.hasPrefix("200 \(method) /api/2.") && $0.hasSuffix("/\(resource)") }, "the driver never got \(method) \(resource) served")
            }
            let failed = driver.filter { !$0.hasPrefix("200 ") }
            #expect(failed.isEmpty, "driver requests the simulator refused: \(failed)")
            #expect(driver.count >= 100 && all.count > driver.count, "\(driver.count) of \(all.count)")
        }
    }
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    var data: Data {
        get { lock.lock(); defer { lock.unlock() }; return _data }
        set { lock.lock(); _data = newValue; _done = true; lock.unlock() }
    }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
}
