import CSGUtils
import Glibc
import PathCore
import Synchronization

/// SCSI commands to a local sg or sd node through libsgutils2's pass-through layer
/// (`sg_pt`), i.e. the SG_IO ioctl. The file descriptor stays open for the object's
/// lifetime and every command is serialized on it.
public final class SGIOTransport: SCSITransport {
    public let endpoint: String
    private let fd: Mutex<Int32>

    /// Opens `device` (`/dev/sg3`, `/dev/sdb`, `/dev/dm-0` is refused: dm devices do not
    /// pass SCSI commands to a chosen path). The corresponding C function is
    /// `scsi_pt_open_device`.
    public init(device: String, readOnly: Bool = false) throws {
        guard access(device, F_OK) == 0 else {
            throw HostStorageError(.notFound, "no such device: \(device)", errno: ENOENT)
        }
        let r = scsi_pt_open_device(device, readOnly, 0)
        guard r >= 0 else { throw HostStorageError.posix("cannot open", device, -r) }
        self.endpoint = device
        self.fd = Mutex(r)
    }

    deinit {
        fd.withLock { if $0 >= 0 { _ = scsi_pt_close_device($0); $0 = -1 } }
    }

    public func send(_ request: SCSIRequest) throws -> SCSIResponse {
        try fd.withLock { fd in try Self.execute(fd: fd, endpoint: endpoint, request) }
    }

    static func execute(fd: Int32, endpoint: String, _ request: SCSIRequest) throws -> SCSIResponse {
        guard let obj = construct_scsi_pt_obj_with_fd(fd, 0) else {
            throw HostStorageError(.io, "out of memory building a SCSI command for \(endpoint)")
        }
        defer { destruct_scsi_pt_obj(obj) }
        var cdb = request.cdb
        var sense = [UInt8](repeating: 0, count: 64)
        var dataIn = [UInt8]()
        var dataOut = [UInt8]()
        var rc: Int32 = 0
        rc = cdb.withUnsafeMutableBufferPointer { cdbp in
            sense.withUnsafeMutableBufferPointer { sp in
                set_scsi_pt_cdb(obj, cdbp.baseAddress, Int32(cdbp.count))
                set_scsi_pt_sense(obj, sp.baseAddress, Int32(sp.count))
                switch request.direction {
                case .none:
                    return do_scsi_pt(obj, -1, Int32(request.timeoutSeconds), 0)
                case .fromDevice(let n):
                    dataIn = [UInt8](repeating: 0, count: n)
                    return dataIn.withUnsafeMutableBufferPointer { dp in
                        set_scsi_pt_data_in(obj, dp.baseAddress, Int32(n))
                        return do_scsi_pt(obj, -1, Int32(request.timeoutSeconds), 0)
                    }
                case .toDevice(let bytes):
                    dataOut = bytes
                    return dataOut.withUnsafeBufferPointer { dp in
                        set_scsi_pt_data_out(obj, dp.baseAddress, Int32(dp.count))
                        return do_scsi_pt(obj, -1, Int32(request.timeoutSeconds), 0)
                    }
                }
            }
        }
        if rc < 0 {
            // SCSI_PT_DO_BAD_PARAMS / _TIMEOUT / _NVME_STATUS, or -errno
            if rc == Int32(SCSI_PT_DO_TIMEOUT) {
                throw HostStorageError(.timeout, "SCSI command 0x\(String(request.cdb.first ?? 0, radix: 16)) to \(endpoint) timed out after \(request.timeoutSeconds) s")
            }
            throw HostStorageError.posix("SG_IO failed on", endpoint, -rc)
        }
        let category = get_scsi_pt_result_category(obj)
        switch category {
        case Int32(SCSI_PT_RESULT_OS_ERR):
            throw HostStorageError.posix("SG_IO failed on", endpoint, get_scsi_pt_os_err(obj))
        case Int32(SCSI_PT_RESULT_TRANSPORT_ERR):
            var buf = [CChar](repeating: 0, count: 256)
            let text = buf.withUnsafeMutableBufferPointer { b in
                String(cString: get_scsi_pt_transport_err_str(obj, Int32(b.count), b.baseAddress))
            }
            throw HostStorageError(.transport, "transport error on \(endpoint): \(text.trimmingWhitespace())",
                                   cause: "host/driver status 0x\(String(get_scsi_pt_transport_err(obj), radix: 16))")
        default:
            break
        }
        let status = UInt8(truncatingIfNeeded: get_scsi_pt_status_response(obj))
        let senseLen = max(0, min(Int(get_scsi_pt_sense_len(obj)), sense.count))
        var data: [UInt8] = []
        if case .fromDevice(let n) = request.direction {
            let resid = max(0, min(Int(get_scsi_pt_resid(obj)), n))
            data = Array(dataIn[0..<(n - resid)])
        }
        return SCSIResponse(status: status, data: data, sense: Array(sense[0..<senseLen]))
    }
}
