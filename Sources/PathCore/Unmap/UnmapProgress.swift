/// Progress of a long SCSI operation (UNMAP of a range): bytes done, rate and ETA.
/// Pure: the caller passes monotonic time in nanoseconds.
public struct ProgressMeter: Sendable, Equatable {
    public let totalBytes: UInt64
    public let totalCommands: Int
    public let startNanos: UInt64
    public private(set) var doneBytes: UInt64 = 0
    public private(set) var doneCommands: Int = 0

    public init(totalBytes: UInt64, totalCommands: Int, startNanos: UInt64) {
        self.totalBytes = totalBytes
        self.totalCommands = totalCommands
        self.startNanos = startNanos
    }

    /// Counts one finished command that deallocated `bytes`.
    public mutating func record(bytes: UInt64, commands: Int = 1) {
        doneBytes = min(totalBytes, doneBytes + bytes)
        doneCommands += commands
    }

    public func snapshot(nowNanos: UInt64) -> ProgressSnapshot {
        let elapsed = nowNanos > startNanos ? Double(nowNanos - startNanos) / 1e9 : 0
        var rate: Double? = nil
        var eta: Double? = nil
        if elapsed > 0, doneBytes > 0 {
            let r = Double(doneBytes) / elapsed
            rate = r
            eta = Double(totalBytes - doneBytes) / r
        }
        if doneBytes == totalBytes { eta = 0 }
        return ProgressSnapshot(
            totalBytes: totalBytes, doneBytes: doneBytes, totalCommands: totalCommands, doneCommands: doneCommands,
            elapsedSeconds: elapsed, bytesPerSecond: rate, etaSeconds: eta)
    }
}

/// One progress report (also the `--json` progress event's body).
public struct ProgressSnapshot: Sendable, Equatable, Codable {
    public var totalBytes: UInt64
    public var doneBytes: UInt64
    public var totalCommands: Int
    public var doneCommands: Int
    public var elapsedSeconds: Double
    /// Average since the start; nil before the first command finished.
    public var bytesPerSecond: Double?
    /// Remaining bytes at the average rate; nil while the rate is unknown.
    public var etaSeconds: Double?

    public init(totalBytes: UInt64, doneBytes: UInt64, totalCommands: Int, doneCommands: Int, elapsedSeconds: Double,
                bytesPerSecond: Double?, etaSeconds: Double?) {
        self.totalBytes = totalBytes
        self.doneBytes = doneBytes
        self.totalCommands = totalCommands
        self.doneCommands = doneCommands
        self.elapsedSeconds = elapsedSeconds
        self.bytesPerSecond = bytesPerSecond
        self.etaSeconds = etaSeconds
    }

    /// 0...1 (1 for an empty operation).
    public var fraction: Double { totalBytes == 0 ? 1 : Double(doneBytes) / Double(totalBytes) }

    /// `unmap 1.5 GiB / 4.0 GiB (37%) 812.3 MiB/s ETA 3s [120/320 cmds]`.
    public func line(_ verb: String = "unmap") -> String {
        let pct = Int((fraction * 100).rounded(.down))
        let rate = bytesPerSecond.map { ByteCount.format(UInt64($0)) + "/s" } ?? "-"
        let eta = etaSeconds.map { "ETA " + ByteCount.duration($0) } ?? "ETA ?"
        return "\(verb) \(ByteCount.format(doneBytes)) / \(ByteCount.format(totalBytes)) (\(pct)%) \(rate) \(eta) [\(doneCommands)/\(totalCommands) cmds]"
    }
}
