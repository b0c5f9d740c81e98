// engine-probe: lab test support. Runs one attach/detach engine operation in-process
// (no daemon, no socket) so the kernel lab can exercise the engine directly:
//
//   engine-probe connect|disconnect|extend|paths REQUEST.json [--no-multipath]
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

LoggingSystem.bootstrap { label in
    var h = StreamLogHandler.standardError(label: label)
    h.logLevel = .info
    return h
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: engine-probe connect|disconnect|extend|paths REQUEST.json [--no-multipath]\n".utf8))
    exit(64)
}
let op = args[1]
let body = try Data(contentsOf: URL(fileURLWithPath: args[2]))
let engine = VolumeEngine(settings: EngineSettings(useMultipath: !args.contains("--no-multipath")))
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
