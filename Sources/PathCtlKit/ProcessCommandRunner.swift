import Foundation
import PathCore

/// Runs diagnostic commands for `pathctl doctor` on the live host (`chronyc tracking`,
/// `ntpq -c rv`, `timedatectl show`), found on PATH plus the sbin directories, with a
/// deadline; nil when the command is not installed or does not finish in time.
struct ProcessCommandRunner: CommandRunner {
    var timeoutSeconds: Double = 5

    func run(_ argv: [String]) -> CommandOutput? {
        guard let name = argv.first, let exe = Self.find(name) else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = Array(argv.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        // Read while waiting so a chatty command cannot block on a full pipe.
        var data = Data()
        let reader = out.fileHandleForReading
        let done = DispatchSemaphore(value: 0)
        let box = DataBox()
        DispatchQueue.global().async {
            box.set(reader.readDataToEndOfFile())
            done.signal()
        }
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning {
            p.terminate()
            return nil
        }
        _ = done.wait(timeout: .now() + 1)
        data = box.get()
        return CommandOutput(status: p.terminationStatus, stdout: String(decoding: data, as: UTF8.self))
    }

    static func find(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let c = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: c) { return c }
        }
        return nil
    }

    final class DataBox: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
        func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
    }
}
