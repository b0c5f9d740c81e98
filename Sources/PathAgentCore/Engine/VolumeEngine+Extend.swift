import HostStorage
import Logging
import PathAPI
import PathCore

extension VolumeEngine {
    // MARK: extend, paths, checks

    /// Rescans every path, refuses if they disagree on size, resizes the map; returns the
    /// new size in bytes.
    /// For in-process callers: validates the properties, then `extend(_:)` of the result.
    public func extend(_ request: ExtendVolumeRequest) async throws -> ExtendVolumeResponse { try await extend(try request.validated()) }

    public func extend(_ v: Validated<ExtendVolumeRequest>) async throws -> ExtendVolumeResponse {
        try requireLiveRoots()
        let spec = v.spec
        let key = volumeKey(spec.wwn, fallback: "")
        return try await locks.withLock(keys: [key]) { [self] in
            let devices = try volumeDevices(spec, topo: topology())
            guard !devices.isEmpty else { throw PathCoreError(.missing, "the volume has no SCSI device on this host", key: "wwn") }
            try await workers.run { [kernel] in for d in devices { try kernel.rescan(d.hctl) } }
            let after = topology().allPaths.filter { p in devices.contains { $0.hctl == p.hctl } }
            let size = try VolumeResize.agreedSize(after.map { ($0.device ?? $0.hctl.description, $0.sizeBytes ?? 0) })
            if settings.useMultipath, let wwn = spec.wwn ?? after.first?.wwn.flatMap({ try? WWN($0) }) {
                try await workers.run { [self] in
                    guard let st = try dm.info(wwn.value), let line = try dm.table(wwn.value).first else { return }
                    guard ownership.owns(map: wwn.value, uuid: st.uuid) else {
                        throw PathCoreError(.conflict, "multipath map \(wwn.value) is not pathagent's; its paths were rescanned, the map was not resized")
                    }
                    guard line.length != size / 512 else { return }
                    var table = try DMTable.parse(params: line.params, start: line.start, length: line.length)
                    table.length = size / 512
                    _ = try reloadFailingAgain(wwn.value, table: table, after: "extend")
                }
            }
            logger.info("volume extended", metadata: ["volume.wwn": "\(spec.wwn?.value ?? "?")", "volume.bytes": "\(size)"])
            return ExtendVolumeResponse(newSize: size)
        }
    }

    public func volumePaths(_ request: GetVolumePathsRequest) async throws -> GetVolumePathsResponse {
        try await volumePaths(try request.validated())
    }

    public func volumePaths(_ v: Validated<GetVolumePathsRequest>) async throws -> GetVolumePathsResponse {
        let spec = v.spec
        return GetVolumePathsResponse(paths: try volumeDevices(spec, topo: topology()).compactMap { $0.name.map { "/dev/\($0)" } })
    }

    func volumeDevices(_ spec: ConnectionSpec, topo: Topology) throws -> [SCSIDeviceInfo] {
        switch spec {
        case .iscsi(let s): ISCSIPlanner.devices(of: s, sessions: topo.sessionInfos, devices: topo.deviceInfos)
        case .fc(let s): FCPlanner.devices(of: s, hosts: topo.fcHostInfos, remotePorts: topo.remotePortInfos, devices: topo.deviceInfos)
        }
    }

    /// Reads the first 4 KiB of the device (as os-brick's check_valid_device does), but
    /// only from a block device that is a volume's: the path (symlinks under /dev such as
    /// by-id links are resolved first) must name a block device that is a multipath map
    /// or a SCSI disk with a WWN in the kernel's inventory. Anything else (a character
    /// device such as a watchdog, whose mere opening has effects; a partition; a loop
    /// device) is answered invalid without being opened.
    public func checkValidDevice(_ request: CheckValidDeviceRequest) async throws -> CheckValidDeviceResponse {
        let path = try request.validatedPath()
        let kernel = self.kernel
        let name: String
        do { name = try kernel.deviceName(ofPath: path) } catch {
            return CheckValidDeviceResponse(valid: false, reason: "\(error)")
        }
        let topo = topology()
        let isVolumeDevice = topo.maps.contains { $0.device == name && $0.multipathWWN != nil }
            || topo.allPaths.contains { $0.device == name && $0.wwn != nil }
        guard isVolumeDevice else {
            return CheckValidDeviceResponse(valid: false, reason: "\(path) (\(name)) is not a volume's multipath map or SCSI disk; not opened")
        }
        do {
            try await workers.run {
                let held = try kernel.openBlock(name)
                defer { held.close() }
                try held.readFirstBlock(bytes: 4096)
            }
            return CheckValidDeviceResponse(valid: true)
        } catch {
            return CheckValidDeviceResponse(valid: false, reason: "\(error)")
        }
    }
}
