/// Provisioning status of a block range, assembled from as many GET LBA STATUS responses
/// as it takes: each response describes a run of extents from its starting LBA; the
/// caller asks again from `nextLBA` until the range is covered.
///
///     var map = LBAStatusMap(range: r)
///     while let lba = map.nextLBA { try map.add(LBAStatus(send(getLBAStatus(startingLBA: lba)).data), queriedAt: lba) }
public struct LBAStatusMap: Sendable, Equatable, Codable {
    public typealias BlockRange = SCSICommands.BlockRange

    public struct Extent: Sendable, Equatable, Codable {
        public var lba: UInt64
        public var count: UInt64
        public var status: LBAStatus.ProvisioningStatus
        public var end: UInt64 { lba + count }
        public init(lba: UInt64, count: UInt64, status: LBAStatus.ProvisioningStatus) {
            self.lba = lba
            self.count = count
            self.status = status
        }
    }

    /// What was asked about.
    public var range: BlockRange
    /// Extents clipped to `range`, adjacent extents of one status merged, in LBA order.
    public private(set) var extents: [Extent] = []
    /// GET LBA STATUS commands consumed.
    public private(set) var responses: Int = 0
    private var covered: UInt64

    public init(range: BlockRange) {
        self.range = range
        self.covered = range.lba
    }

    /// The LBA to query next, nil once the range is covered.
    public var nextLBA: UInt64? { covered < range.end ? covered : nil }
    public var isComplete: Bool { nextLBA == nil }

    /// Adds one response to a query at `queriedAt` (which must be `nextLBA`). A response
    /// that does not describe `queriedAt` (no descriptor, or a first descriptor starting
    /// past it) is refused rather than looped on.
    public mutating func add(_ status: LBAStatus, queriedAt lba: UInt64) throws {
        guard lba == covered else {
            throw PathCoreError(.invalidValue, "GET LBA STATUS answer for LBA \(lba) while LBA \(covered) is next")
        }
        guard let first = status.descriptors.first else {
            throw PathCoreError(.truncated, "GET LBA STATUS at LBA \(lba) returned no descriptor")
        }
        guard first.startingLBA <= lba, first.end > lba else {
            throw PathCoreError(
                .invalidValue,
                "GET LBA STATUS at LBA \(lba) returned a first descriptor for LBA \(first.startingLBA)+\(first.blockCount), which does not contain it")
        }
        responses += 1
        var at = lba
        for d in status.descriptors {
            // descriptors must follow each other; stop at a gap or overlap (the next query resumes there)
            guard d.startingLBA <= at, d.end > at else { break }
            let end = min(d.end, range.end)
            guard end > at else { break }
            append(Extent(lba: at, count: end - at, status: d.status))
            at = end
            if at >= range.end { break }
        }
        covered = at
    }

    private mutating func append(_ e: Extent) {
        if let last = extents.last, last.status == e.status, last.end == e.lba {
            extents[extents.count - 1].count += e.count
        } else {
            extents.append(e)
        }
    }

    public var mappedBlocks: UInt64 { total { $0 == .mapped || $0 == .mappedOrUnknown } }
    public var deallocatedBlocks: UInt64 { total { $0 == .deallocated } }
    public var anchoredBlocks: UInt64 { total { $0 == .anchored } }
    /// Blocks with a reserved status code.
    public var otherBlocks: UInt64 { total { $0 == .reserved } }

    private func total(_ f: (LBAStatus.ProvisioningStatus) -> Bool) -> UInt64 {
        extents.filter { f($0.status) }.reduce(0) { $0 + $1.count }
    }

    /// The status of every block of `r` is `status` (r must lie inside `range`).
    public func all(_ r: BlockRange, are status: LBAStatus.ProvisioningStatus) -> Bool {
        var need = r.lba
        for e in extents where e.end > need && e.lba <= need {
            guard e.status == status else { return false }
            need = e.end
            if need >= r.end { return true }
        }
        return need >= r.end
    }
}

extension LBAStatusMap {
    /// Asks GET LBA STATUS from `range.lba` on, again from where each answer stops, until
    /// the range is covered (at most `maximumCommands`). A CHECK CONDITION stops with the
    /// LBA and the decoded sense.
    public static func read(
        _ transport: any SCSITransport, range: BlockRange, allocationLength: Int = 8 + 16 * 256, timeout: Int = 30,
        maximumCommands: Int = 1_000_000
    ) throws -> LBAStatusMap {
        var map = LBAStatusMap(range: range)
        var sent = 0
        while let lba = map.nextLBA {
            guard sent < maximumCommands else {
                throw PathCoreError(.invalidValue, "GET LBA STATUS did not cover LBA \(range.lba)+\(range.count) in \(maximumCommands) commands")
            }
            sent += 1
            let r = try transport.send(try SCSICommands.getLBAStatus(startingLBA: lba, allocationLength: allocationLength).request(timeout: timeout))
            guard r.isGood else {
                let why = (try? SenseData(r.sense).description) ?? SCSIStatus(rawValue: r.status).name
                throw PathCoreError(.unsupported, "GET LBA STATUS at LBA \(lba) failed on \(transport.endpoint): \(why)")
            }
            try map.add(try LBAStatus(r.data), queriedAt: lba)
        }
        return map
    }
}
