import ArgumentParser
import Foundation
import HostStorage
import PathCore

struct UnmapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmap",
        abstract: "Deallocate (UNMAP / TRIM) a range of a thin volume, honouring its Block Limits.",
        discussion: """
            Reads READ CAPACITY(16), VPD 0xB0 and 0xB2, plans UNMAP commands (or WRITE \
            SAME(16) with UNMAP when the LU has no UNMAP) that respect MAXIMUM UNMAP LBA \
            COUNT, MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT and OPTIMAL UNMAP GRANULARITY (at \
            least 4 KiB), and sends them several at a time (--parallel), spread over the \
            volume's usable paths. A path that fails mid-run is left and its commands are \
            re-sent on another. Any other error (a CHECK CONDITION) stops the run with the \
            failing LBA range and the decoded sense.

            --range START:LEN: bytes by default, K/M/G/T binary suffixes (1M = 1048576), or \
            the LBA suffix for logical blocks; a bare number takes the other value's unit \
            when that one is in LBAs (0:100LBA = blocks 0-99, 1M:4M = 4 MiB from 1 MiB). \
            Partial granules at either end of the range stay mapped (the result says which). \
            --all deallocates the whole device and needs --yes.

            Safety: a local target is refused while it (any path, its multipath map, a \
            partition or a holder) is mounted, held by LVM/md/dm/kpartx, or open exclusively \
            (O_EXCL open fails with EBUSY); --force overrides. An iscsi:// target cannot be \
            checked that way: make sure nothing uses the LU.

            Progress goes to stderr as one updating line when stderr is a terminal. With \
            --json, stdout carries one JSON object per line: a "plan" event, "progress" and \
            "path_failed" events, then a final "result" (ok true/false). Exit status: 0 done, \
            1 failed or refused, 64 bad command line.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: ArgumentHelp("Range to deallocate (format above).", valueName: "START:LEN"))
    var range: String?

    @Flag(name: .long, help: "Deallocate the whole device (requires --yes).")
    var all = false

    @Flag(name: .long, help: "Confirm a whole-device unmap.")
    var yes = false

    @Flag(name: .long, help: "Unmap even when the device is mounted or in use.")
    var force = false

    @Option(name: .long, help: "Commands in flight at once (1-64).")
    var parallel: Int = 4

    func validate() throws {
        guard (range != nil) != all else { throw ValidationError("give exactly one of --range START:LEN or --all") }
        if all && !yes { throw ValidationError("--all deallocates every block of the device: add --yes to confirm") }
        if let range { _ = try parseRange(range) }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be 1...64") }
    }

    func parseRange(_ text: String) throws -> RangeSpec {
        do { return try RangeSpec(parsing: text) } catch { throw ValidationError(describe(error)) }
    }

    // JSON lines
    struct PlanLine: Encodable { var event = "plan"; var plan: UnmapPlanSummary }
    struct ProgressLine: Encodable { var event = "progress"; var progress: ProgressSnapshot }
    struct PathFailedLine: Encodable { var event = "path_failed"; var failure: UnmapPathFailure }
    struct ResultLine: Encodable {
        var event = "result"
        var ok: Bool
        var result: UnmapResult?
        var error: String?
        var failedRanges: [SCSICommands.BlockRange]?
        var sense: SenseData?
    }

    static func line<T: Encodable>(_ v: T) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let d = try? enc.encode(v) {
            FileHandle.standardOutput.write(d)
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }

    func run() throws {
        let json = global.json
        let tty = !json && Terminal.stderrIsTTY
        do {
            let t = try target.opener(global).resolve(target.target)
            if let resolved = t.resolved {
                let reasons = VolumeUse.reasons(resolved, roots: global.roots)
                if !reasons.isEmpty {
                    if force {
                        if !json { Terminal.writeStderr("warning: --force: unmapping although " + reasons.joined(separator: "; ") + "\n") }
                    } else {
                        throw CLIError("refusing to unmap \(target.target): " + reasons.joined(separator: "; ") + " (use --force to override)")
                    }
                }
            }
            let request: UnmapRequest
            if all {
                request = .wholeDevice
            } else {
                // the block length is known only after READ CAPACITY: resolve LBAs then
                let spec = try parseRange(range!)
                request = try Self.provisionalRequest(spec, target: t)
            }
            var options = UnmapOptions()
            options.parallel = parallel
            let progress: @Sendable (UnmapEvent) -> Void = { e in
                switch e {
                case .planned(let p):
                    if json { Self.line(PlanLine(plan: p)) } else if tty {
                        Terminal.writeStderr("\(p.method == .unmap ? "UNMAP" : "WRITE SAME(16) UNMAP") \(ByteCount.format(p.bytes)) in \(p.commands) command\(p.commands == 1 ? "" : "s"), \(p.parallel) in flight, via \(p.endpoint)\n")
                    }
                case .progress(let s):
                    if json { Self.line(ProgressLine(progress: s)) } else if tty { Terminal.writeStderr("\r\u{1B}[K" + s.line()) }
                case .pathFailed(let f):
                    if json { Self.line(PathFailedLine(failure: f)) } else {
                        Terminal.writeStderr((tty ? "\r\u{1B}[K" : "") + "path \(f.endpoint) failed: \(f.error)\(f.givenUp ? " (given up)" : "")\n")
                    }
                }
            }
            let result: UnmapResult
            do {
                result = try UnmapRunner.run(target: t, request: request, options: options, progress: progress)
            } catch let e as UnmapError {
                if tty { Terminal.writeStderr("\n") }
                if json {
                    Self.line(ResultLine(ok: false, result: e.partial, error: e.message, failedRanges: e.failedRanges, sense: e.sense))
                    throw ExitCode(ExitStatus.failed)
                }
                throw CLIError(e.message + (e.partial.map { " (\(ByteCount.format($0.bytesDeallocated)) deallocated before the stop)" } ?? ""))
            }
            if tty { Terminal.writeStderr("\n") }
            if json {
                Self.line(ResultLine(ok: true, result: result))
            } else {
                print(Self.render(result))
            }
        } catch let e as ExitCode {
            throw e
        } catch let e as CLIError {
            if json { Self.line(ResultLine(ok: false, error: e.message)) ; throw ExitCode(ExitStatus.failed) }
            throw e
        } catch {
            if json { Self.line(ResultLine(ok: false, error: describe(error))) ; throw ExitCode(ExitStatus.failed) }
            throw CLIError(describe(error))
        }
    }

    /// Ranges in LBAs need the block length: ask READ CAPACITY(16) once through the first path.
    static func provisionalRequest(_ spec: RangeSpec, target: SCSITarget) throws -> UnmapRequest {
        switch (spec.start, spec.length) {
        case (.bytes(let o), .bytes(let l)): return .bytes(offset: o, length: l)
        case (.blocks(let lba), .blocks(let n)): return .blocks(lba: lba, count: n)
        default:
            let (_, t) = try target.openFirst()
            let rc = try t.send(try SCSICommands.readCapacity16().request(timeout: 10))
            guard rc.isGood else { throw PathCoreError(.unsupported, "READ CAPACITY(16) failed on \(t.endpoint)") }
            return try spec.request(blockLength: Int(try ReadCapacity16(rc.data).blockLength))
        }
    }

    static func render(_ r: UnmapResult) -> String {
        let p = r.plan
        let bl = UInt64(p.blockLength)
        var out: [String] = []
        let what = p.method == .unmap ? "UNMAP" : "WRITE SAME(16) UNMAP"
        if let d = p.deallocated {
            out.append("deallocated LBA \(d.lba)-\(d.end - 1) (\(ByteCount.format(r.bytesDeallocated))) of \(p.target) with \(r.commandsCompleted) \(what) command\(r.commandsCompleted == 1 ? "" : "s") in \(ByteCount.oneDecimal(r.elapsedSeconds)) s (\(ByteCount.format(UInt64(r.bytesPerSecond)))/s)")
        } else {
            out.append("nothing deallocated: the range holds no whole \(p.granularity)-block granule")
        }
        for m in p.leftMapped {
            out.append("left mapped: LBA \(m.lba)-\(m.end - 1) (\(ByteCount.format(m.count * bl)), not a whole granule of \(p.granularity) blocks)")
        }
        out.append("limits: granularity \(p.granularity) blocks, alignment \(p.alignment), \(p.blocksPerCommand) blocks and \(p.descriptorsPerCommand) descriptors per command; \(p.parallel) in flight; paths \(r.pathsUsed.joined(separator: ", "))")
        if r.commandsSent != r.commandsCompleted || r.retries > 0 {
            out.append("commands sent \(r.commandsSent), retries \(r.retries)")
        }
        for f in r.pathFailures {
            out.append("path failure: \(f.endpoint): \(f.error)\(f.givenUp ? " (given up)" : "")")
        }
        return out.joined(separator: "\n")
    }
}
