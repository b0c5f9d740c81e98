// engine-probe: lab test support. Runs one attach/detach engine operation in-process
// (no daemon, no socket) so the kernel lab can exercise the engine directly:
//
//   engine-probe connect|disconnect|extend|paths REQUEST.json [--no-multipath]
//   engine-probe dm-stress [THREADS] [ROUNDS]  create/query/remove zero-target dm maps from
//                                    THREADS threads at once (libdevmapper thread safety)
//   engine-probe monitor [SECONDS]   run the path monitor; print each path change as a
//                                    JSON line with its wall-clock time ("wall", seconds)
//
// The journal lives in the daemon's state directory (PATHAGENT_STATE_DIR, default
// /var/lib/pathagent): the probe's attaches are journaled and their maps are the agent's.
//
// REQUEST.json is the daemon API's request body (for connect:
// {"connection_properties": {...}, "protocol": "iscsi"}). Prints the JSON response,
// or `error: <code>: <message>` and exits 1.
import Foundation
import HostStorage
import Logging
import PathAPI
import PathAgentCore
import PathCore
import Synchronization

ProcessLogging.bootstrap(level: .info)

let args = CommandLine.arguments
// the journal (and the record of which maps the agent created) is the daemon's own, so
// maps attached by the probe are the agent's maps for the daemon and the monitor too
let stateDir = ProcessInfo.processInfo.environment["PATHAGENT_STATE_DIR"] ?? AgentConfig().stateDir
let journal = try IntentJournalStore(directory: stateDir)
let workers = BlockingWorkers(count: 8)
if args.count >= 2 && args[1] == "monitor" {
    let seconds = args.count > 2 ? Double(args[2]) ?? 60 : 60
    let monitor = PathMonitor(ownership: journal, workers: workers, pollingInterval: 10)
    let stream = await monitor.changesStream()
    await monitor.refresh()
    let printer = Task {
        for await c in stream {
            let line = "{\"wall\": \(Date().timeIntervalSince1970), \"map\": \"\(c.map)\", \"device\": \"\(c.device)\", \"from\": \"\(c.from)\", \"to\": \"\(c.to)\", \"cause\": \"\(c.cause)\"}\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }
    // ready marker (the scenario waits for it): the initial map state has been read
    let maps = await monitor.snapshot()
    FileHandle.standardError.write(Data("monitoring \(maps.count) map(s): \(maps.map { "\($0.name) \($0.active)/\($0.paths.count)" }.joined(separator: ", "))\n".utf8))
    let runner = Task { await monitor.run() }
    try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
    runner.cancel()
    await monitor.stop()
    printer.cancel()
    exit(0)
}
if args.count >= 2 && args[1] == "dm-stress" {
    // THREADS threads each create, query, message and remove ROUNDS device-mapper maps
    // (zero targets, names pathagent-stress-T-R) through LibDeviceMapper at once, the way
    // parallel detaches and the monitor's polls reach libdevmapper from several workers.
    let threads = args.count > 2 ? Int(args[2]) ?? 16 : 16
    let rounds = args.count > 3 ? Int(args[3]) ?? 50 : 50
    let dm = LibDeviceMapper()
    let failures = Mutex<[String]>([])
    let group = DispatchGroup()
    for t in 0..<threads {
        group.enter()
        let th = Thread {
            defer { group.leave() }
            for r in 0..<rounds {
                let name = "pathagent-stress-\(t)-\(r)"
                do {
                    try dm.create(name, uuid: "stress-\(t)-\(r)", targets: [DMTargetLine(start: 0, length: 2048, type: "zero", params: "")], readOnly: false)
                    guard let i = try dm.info(name), i.liveTable else { throw HostStorageError(.deviceMapper, "\(name): no live table after create") }
                    let table = try dm.table(name)
                    guard table.count == 1, table[0].type == "zero" else { throw HostStorageError(.deviceMapper, "\(name): table \(table)") }
                    _ = try dm.status(name)
                    _ = try dm.list()
                    try dm.suspend(name, flush: true)
                    try dm.resume(name)
                    try dm.remove(name, deferred: false)
                    if try dm.info(name) != nil { throw HostStorageError(.deviceMapper, "\(name): still there after remove") }
                } catch {
                    failures.withLock { $0.append("\(name): \(error)") }
                }
            }
        }
        th.stackSize = 1 << 20
        th.start()
    }
    group.wait()
    let f = failures.withLock { $0 }
    print("dm-stress: \(threads) threads x \(rounds) rounds, \(threads * rounds) maps, \(f.count) failures")
    for line in f.prefix(20) { print("  \(line)") }
    exit(f.isEmpty ? 0 : 1)
}
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: engine-probe connect|disconnect|extend|paths REQUEST.json [--no-multipath]\n".utf8))
    exit(64)
}
let op = args[1]
let body = try Data(contentsOf: URL(fileURLWithPath: args[2]))
let engine = VolumeEngine(settings: EngineSettings(useMultipath: !args.contains("--no-multipath")), workers: workers, journal: journal)
let enc = JSONEncoder()
enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
do {
    let out: Data
    switch op {
    case "connect": out = try enc.encode(try await engine.connect(try JSONDecoder().decode(ConnectVolumeRequest.self, from: body)))
    case "disconnect": out = try enc.encode(try await engine.disconnect(try JSONDecoder().decode(DisconnectVolumeRequest.self, from: body)))
    case "extend": out = try enc.encode(try await engine.extend(try JSONDecoder().decode(ExtendVolumeRequest.self, from: body)))
    case "paths": out = try enc.encode(try await engine.volumePaths(try JSONDecoder().decode(GetVolumePathsRequest.self, from: body)))
    default:
        FileHandle.standardError.write(Data("unknown operation \(op)\n".utf8))
        exit(64)
    }
    FileHandle.standardOutput.write(out + Data("\n".utf8))
} catch let e as PathCoreError {
    FileHandle.standardError.write(Data("error: \(e.code): \(e.description)\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
