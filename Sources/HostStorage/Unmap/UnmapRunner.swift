import Glibc
import PathCore
import Synchronization

/// Tuning of an UNMAP run.
public struct UnmapOptions: Sendable, Equatable {
    /// Commands in flight at once: each has its own transport (its own sg fd, or its own
    /// iSCSI session, since one libiscsi session is serialized), spread over the usable paths.
    public var parallel: Int
    /// Timeout of each UNMAP / WRITE SAME command, seconds.
    public var timeoutSeconds: Int
    /// Smallest piece worth deallocating, in bytes: 4096 by default, because tgt (and
    /// filesystems behind file-backed LUNs) free only whole 4 KiB pieces even when the
    /// device reports granularity 0. The device's own OPTIMAL UNMAP GRANULARITY wins when larger.
    public var minimumGranularityBytes: Int
    public var planner: UnmapPlanner.Options
    /// Minimum seconds between two progress events.
    public var progressIntervalSeconds: Double
    /// Retries of one command on BUSY, TASK SET FULL, UNIT ATTENTION or ABORTED COMMAND.
    public var retriesPerCommand: Int
    /// Transport failures after which an endpoint is given up (1 reconnect by default).
    public var failuresPerEndpoint: Int

    public init(parallel: Int = 4, timeoutSeconds: Int = 60, minimumGranularityBytes: Int = 4096,
                planner: UnmapPlanner.Options = .init(), progressIntervalSeconds: Double = 0.2,
                retriesPerCommand: Int = 5, failuresPerEndpoint: Int = 2) {
        self.parallel = parallel
        self.timeoutSeconds = timeoutSeconds
        self.minimumGranularityBytes = minimumGranularityBytes
        self.planner = planner
        self.progressIntervalSeconds = progressIntervalSeconds
        self.retriesPerCommand = retriesPerCommand
        self.failuresPerEndpoint = failuresPerEndpoint
    }
}

/// What will be done, known once the device has been asked for its limits.
public struct UnmapPlanSummary: Sendable, Equatable, Codable {
    public typealias BlockRange = SCSICommands.BlockRange
    public var target: String
    public var endpoint: String
    public var method: UnmapPlan.Method
    public var blockLength: Int
    public var blockCount: UInt64
    public var requested: BlockRange
    public var deallocated: BlockRange?
    public var leftMapped: [BlockRange]
    public var granularity: UInt64
    public var alignment: UInt64
    public var blocksPerCommand: UInt64
    public var descriptorsPerCommand: Int
    public var commands: Int
    public var bytes: UInt64
    public var parallel: Int
}

public struct UnmapPathFailure: Sendable, Equatable, Codable {
    public var endpoint: String
    public var error: String
    /// The endpoint was given up after this failure.
    public var givenUp: Bool
}

/// Progress of a run, in order of occurrence (delivered on worker threads, serialized).
public enum UnmapEvent: Sendable, Equatable {
    case planned(UnmapPlanSummary)
    case progress(ProgressSnapshot)
    case pathFailed(UnmapPathFailure)
}

public struct UnmapResult: Sendable, Equatable, Codable {
    public var plan: UnmapPlanSummary
    public var bytesDeallocated: UInt64
    /// Commands that completed with GOOD status.
    public var commandsCompleted: Int
    /// Commands sent, retries and re-sends after a path failure included.
    public var commandsSent: Int
    public var retries: Int
    public var pathsUsed: [String]
    public var pathFailures: [UnmapPathFailure]
    public var elapsedSeconds: Double
    public var bytesPerSecond: Double
    public var complete: Bool { bytesDeallocated == plan.bytes }
}

/// An UNMAP run stopped: the message names the LBA ranges of the failing command and the
/// decoded sense; `partial` says what was done before the stop.
public struct UnmapError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var failedRanges: [SCSICommands.BlockRange]
    public var sense: SenseData?
    public var status: UInt8?
    public var partial: UnmapResult?
    public var description: String { message }
}

/// Executes UNMAP (or WRITE SAME(16) with UNMAP) plans from `UnmapPlanner` through one
/// or more paths of a volume, several commands in flight, with progress events. The
/// daemon's API and `pathctl unmap` both call this.
///
/// Failure handling: a transport failure (device gone, session lost, timeout) or an ALUA
/// "not accessible" sense marks the path failed and the command is re-sent on another
/// usable path (an endpoint is retried `failuresPerEndpoint - 1` times, so one iSCSI
/// reconnect); BUSY, TASK SET FULL, UNIT ATTENTION and ABORTED COMMAND are retried on the
/// same path; any other CHECK CONDITION stops the run with the command's LBA ranges named.
public enum UnmapRunner {
    /// Opens the target's endpoints as needed and runs the request.
    public static func run(
        target: SCSITarget, request: UnmapRequest, options: UnmapOptions = .init(),
        progress: @escaping @Sendable (UnmapEvent) -> Void = { _ in }
    ) throws -> UnmapResult {
        guard !target.endpoints.isEmpty else {
            throw HostStorageError(.notFound, "\(target.name): no usable path to send UNMAP through")
        }
        let t = target
        return try run(
            targetName: target.name, endpoints: target.endpoints.map(\.description),
            open: { i in try t.open(t.endpoints[i]) }, request: request, options: options, progress: progress)
    }

    /// The same, for async callers (the daemon): the blocking work runs on its own threads.
    public static func run(
        target: SCSITarget, request: UnmapRequest, options: UnmapOptions = .init(),
        progress: @escaping @Sendable (UnmapEvent) -> Void = { _ in }
    ) async throws -> UnmapResult {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<UnmapResult, any Error>) in
            WorkerThreads.detach {
                c.resume(with: Result { try run(target: target, request: request, options: options, progress: progress) })
            }
        }
    }

    /// Transport-agnostic core: `open(i)` opens endpoint `i` of `endpoints` (tests pass fakes).
    public static func run(
        targetName: String, endpoints: [String], open: @escaping @Sendable (Int) throws -> any SCSITransport,
        request: UnmapRequest, options: UnmapOptions = .init(),
        progress: @escaping @Sendable (UnmapEvent) -> Void = { _ in }
    ) throws -> UnmapResult {
        let t0 = MonotonicClock.nanos()
        let emitter = Emitter(progress)
        var failures: [UnmapPathFailure] = []
        var failureCounts = [Int](repeating: 0, count: endpoints.count)

        // 1. the first endpoint that opens and answers the capability commands
        var first: (index: Int, transport: any SCSITransport, caps: UnmapCapabilities)? = nil
        var lastError: (any Error)? = nil
        for i in endpoints.indices {
            do {
                let t = try open(i)
                let caps = try SCSIDeviceProbe.unmapCapabilities(t)
                first = (i, t, caps)
                break
            } catch let e as PathCoreError {
                throw e  // the device answered: it cannot deallocate; another path would say the same
            } catch {
                lastError = error
                failureCounts[i] += 1
                let f = UnmapPathFailure(endpoint: endpoints[i], error: "\(error)", givenUp: true)
                failures.append(f)
                emitter.emit(.pathFailed(f))
            }
        }
        guard let first else {
            throw lastError ?? HostStorageError(.notFound, "\(targetName): no endpoint to send UNMAP through")
        }

        // 2. the plan
        var plannerOptions = options.planner
        let bl = first.caps.blockLength
        plannerOptions.minimumGranularity = max(plannerOptions.minimumGranularity, UInt64(max(1, options.minimumGranularityBytes / max(1, bl))))
        let plan = try UnmapPlanner.plan(request, on: first.caps, options: plannerOptions)
        let bytes = plan.deallocatedBlocks * UInt64(bl)
        let parallel = max(1, min(options.parallel, plan.steps.count))
        let summary = UnmapPlanSummary(
            target: targetName, endpoint: endpoints[first.index], method: plan.method, blockLength: bl,
            blockCount: first.caps.blockCount, requested: plan.requested, deallocated: plan.deallocated,
            leftMapped: plan.leftMapped, granularity: plan.granularity, alignment: plan.alignment,
            blocksPerCommand: plan.blocksPerCommand, descriptorsPerCommand: plan.descriptorsPerCommand,
            commands: plan.steps.count, bytes: bytes, parallel: parallel)
        emitter.emit(.planned(summary))

        // 3. the steps, `parallel` at a time
        let state = RunState(
            steps: plan.steps.count, endpoints: endpoints.count, failureCounts: failureCounts, failures: failures,
            meter: ProgressMeter(totalBytes: bytes, totalCommands: plan.steps.count, startNanos: t0),
            interval: UInt64(max(0, options.progressIntervalSeconds) * 1e9))
        let firstTransport = UncheckedBox(first.transport)
        let firstIndex = first.index
        WorkerThreads.run(count: parallel) { w in
            Worker(
                id: w, plan: plan, endpoints: endpoints, open: open, options: options, state: state, emitter: emitter,
                blockLength: bl
            ).run(initial: w == 0 ? (firstIndex, firstTransport.value) : nil, start: (firstIndex + w) % endpoints.count)
        }

        // 4. the outcome
        let now = MonotonicClock.nanos()
        let snap = state.snapshot(now)
        let final = snap.inner
        if final.lastEmittedBytes != final.meter.doneBytes { emitter.emit(.progress(snap.progress)) }
        let elapsed = Double(now - t0) / 1e9
        let done = final.meter.doneBytes
        var used = final.used.sorted().map { endpoints[$0] }
        if used.isEmpty { used = [endpoints[first.index]] }
        let result = UnmapResult(
            plan: summary, bytesDeallocated: done, commandsCompleted: final.meter.doneCommands,
            commandsSent: final.sent, retries: final.retries, pathsUsed: used, pathFailures: final.failures,
            elapsedSeconds: elapsed, bytesPerSecond: elapsed > 0 ? Double(done) / elapsed : 0)
        if var err = final.fatal {
            err.partial = result
            throw err
        }
        return result
    }

    // MARK: internals

    struct UncheckedBox<T>: @unchecked Sendable {
        let value: T
        init(_ v: T) { value = v }
    }

    final class Emitter: Sendable {
        let lock = Mutex(0)
        let sink: @Sendable (UnmapEvent) -> Void
        init(_ sink: @escaping @Sendable (UnmapEvent) -> Void) { self.sink = sink }
        func emit(_ e: UnmapEvent) { lock.withLock { _ in sink(e) } }
    }

    struct Inner: Sendable {
        var next = 0
        var steps: Int
        var requeued: [Int] = []
        var fatal: UnmapError?
        var meter: ProgressMeter
        var sent = 0
        var retries = 0
        var failureCounts: [Int]
        var failures: [UnmapPathFailure]
        var used: Set<Int> = []
        var lastEmit: UInt64 = 0
        /// Bytes done in the last progress event sent (the final event is not repeated).
        var lastEmittedBytes: UInt64? = nil
        var interval: UInt64
    }

    final class RunState: Sendable {
        let m: Mutex<Inner>
        init(steps: Int, endpoints: Int, failureCounts: [Int], failures: [UnmapPathFailure], meter: ProgressMeter, interval: UInt64) {
            m = Mutex(Inner(steps: steps, meter: meter, failureCounts: failureCounts, failures: failures, interval: interval))
        }

        /// The next step to send, nil when none is left or the run stopped.
        func take() -> Int? {
            m.withLock { s in
                if s.fatal != nil { return nil }
                if let r = s.requeued.popLast() { return r }
                guard s.next < s.steps else { return nil }
                defer { s.next += 1 }
                return s.next
            }
        }
        func requeue(_ i: Int) { m.withLock { $0.requeued.append(i) } }
        func sent(retry: Bool) { m.withLock { s in s.sent += 1; if retry { s.retries += 1 } } }
        func stop(_ e: UnmapError) { m.withLock { s in if s.fatal == nil { s.fatal = e } } }
        func stopped() -> Bool { m.withLock { $0.fatal != nil } }
        func use(_ endpoint: Int) { _ = m.withLock { $0.used.insert(endpoint) } }

        /// Records a finished step; returns a snapshot when a progress event is due.
        func done(bytes: UInt64, now: UInt64) -> ProgressSnapshot? {
            m.withLock { s in
                s.meter.record(bytes: bytes)
                guard now >= s.lastEmit + s.interval else { return nil }
                s.lastEmit = now
                s.lastEmittedBytes = s.meter.doneBytes
                return s.meter.snapshot(nowNanos: now)
            }
        }

        /// Records a path failure; true when the endpoint is given up.
        func pathFailed(_ endpoint: Int, name: String, error: String, limit: Int) -> UnmapPathFailure {
            m.withLock { s in
                s.failureCounts[endpoint] += 1
                let f = UnmapPathFailure(endpoint: name, error: error, givenUp: s.failureCounts[endpoint] >= limit)
                s.failures.append(f)
                return f
            }
        }
        func alive(_ endpoint: Int, limit: Int) -> Bool { m.withLock { $0.failureCounts[endpoint] < limit } }
        func snapshot(_ now: UInt64) -> (inner: Inner, progress: ProgressSnapshot) {
            m.withLock { s in (s, s.meter.snapshot(nowNanos: now)) }
        }
    }

    enum Outcome {
        case good
        case retry(delayMs: Int, why: String)
        case pathDown(String)
        case fatal(String, SenseData?)
    }

    static func classify(_ r: SCSIResponse) -> Outcome {
        let status = SCSIStatus(rawValue: r.status)
        switch status {
        case .good, .conditionMet: return .good
        case .busy, .taskSetFull: return .retry(delayMs: 20, why: status.name)
        case .checkCondition:
            guard let sense = try? SenseData(r.sense) else {
                return .fatal("CHECK CONDITION with undecodable sense \(r.sense.hex)", nil)
            }
            switch sense.senseKey {
            case .unitAttention: return .retry(delayMs: 0, why: sense.description)
            case .abortedCommand: return .retry(delayMs: 10, why: sense.description)
            case .notReady:
                if sense.isALUANotAccessible { return .pathDown(sense.description) }
                if sense.asc == 0x04 && sense.ascq == 0x01 { return .retry(delayMs: 100, why: sense.description) }
                return .fatal(sense.description, sense)
            default: return .fatal(sense.description, sense)
            }
        default:
            return .fatal(status.name, nil)
        }
    }

    struct Worker {
        let id: Int
        let plan: UnmapPlan
        let endpoints: [String]
        let open: @Sendable (Int) throws -> any SCSITransport
        let options: UnmapOptions
        let state: RunState
        let emitter: Emitter
        let blockLength: Int

        func run(initial: (Int, any SCSITransport)?, start: Int) {
            var current: (index: Int, transport: any SCSITransport)? = initial
            var cursor = start
            let limit = max(1, options.failuresPerEndpoint)
            while let i = state.take() {
                let step = plan.steps[i]
                if current == nil {
                    current = openNext(&cursor, limit: limit)
                    guard current != nil else {
                        state.requeue(i)
                        state.stop(UnmapError(
                            message: "no usable path left for \(describe(step)): every endpoint failed (\(endpoints.joined(separator: ", ")))",
                            failedRanges: step.ranges, sense: nil, status: nil, partial: nil))
                        return
                    }
                }
                let request = step.command.request(timeout: options.timeoutSeconds)
                var attempt = 0
                while true {
                    guard let (ei, t) = current else { break }
                    state.sent(retry: attempt > 0)
                    let response: SCSIResponse
                    do {
                        response = try t.send(request)
                    } catch {
                        lose(ei, "\(error)", limit: limit)
                        current = nil
                        state.requeue(i)
                        break
                    }
                    switch UnmapRunner.classify(response) {
                    case .good:
                        state.use(ei)
                        if let snap = state.done(bytes: step.blocks * UInt64(blockLength), now: MonotonicClock.nanos()) {
                            emitter.emit(.progress(snap))
                        }
                    case .retry(let delay, let why):
                        attempt += 1
                        if attempt > options.retriesPerCommand {
                            state.stop(UnmapError(
                                message: "\(describe(step)) failed on \(endpoints[ei]) after \(attempt) attempts: \(why)",
                                failedRanges: step.ranges, sense: try? SenseData(response.sense), status: response.status, partial: nil))
                            return
                        }
                        if delay > 0 { WorkerThreads.sleep(milliseconds: delay * attempt) }
                        continue
                    case .pathDown(let why):
                        lose(ei, why, limit: limit)
                        current = nil
                        state.requeue(i)
                    case .fatal(let why, let sense):
                        state.stop(UnmapError(
                            message: "\(describe(step)) failed on \(endpoints[ei]): \(why)",
                            failedRanges: step.ranges, sense: sense, status: response.status, partial: nil))
                        return
                    }
                    break
                }
            }
        }

        func lose(_ ei: Int, _ why: String, limit: Int) {
            let f = state.pathFailed(ei, name: endpoints[ei], error: why, limit: limit)
            emitter.emit(.pathFailed(f))
        }

        /// Opens the next endpoint that is not given up, starting at `cursor`.
        func openNext(_ cursor: inout Int, limit: Int) -> (Int, any SCSITransport)? {
            for k in 0..<endpoints.count {
                let ei = (cursor + k) % endpoints.count
                while state.alive(ei, limit: limit), !state.stopped() {
                    do {
                        let t = try open(ei)
                        cursor = ei
                        return (ei, t)
                    } catch {
                        lose(ei, "\(error)", limit: limit)
                    }
                }
            }
            return nil
        }

        func describe(_ step: UnmapPlan.Step) -> String {
            let what = plan.method == .unmap ? "UNMAP" : "WRITE SAME(16) UNMAP"
            let ranges = step.ranges.map { "LBA \($0.lba)-\($0.end - 1)" }
            let shown = ranges.count > 4 ? ranges.prefix(4).joined(separator: ", ") + " and \(ranges.count - 4) more" : ranges.joined(separator: ", ")
            return "\(what) of \(shown)"
        }
    }
}
