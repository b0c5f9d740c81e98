public import HostStorage
public import PathAPI
public import PathCore

/// os-brick's `get_connector_properties`, read from the host (roots from `HostRoots`, so
/// tests and `--root` use fixture trees).
public struct ConnectorPropertiesReader: Sendable {
    public var roots: HostRoots
    public var useMultipath: Bool
    public var enforceMultipath: Bool
    /// Host name and first non-loopback IPv4; injectable for tests.
    public var hostname: @Sendable () -> String
    public var ipv4: @Sendable () -> String?
    /// Where blocking reads run (sysfs scan); nil = inline.
    public var workers: BlockingWorkers?

    public init(
        roots: HostRoots, useMultipath: Bool, enforceMultipath: Bool, workers: BlockingWorkers? = nil,
        hostname: @escaping @Sendable () -> String = { HostIdentity.hostname() },
        ipv4: @escaping @Sendable () -> String? = { HostIdentity.firstIPv4() }
    ) {
        self.roots = roots
        self.useMultipath = useMultipath
        self.enforceMultipath = enforceMultipath
        self.workers = workers
        self.hostname = hostname
        self.ipv4 = ipv4
    }

    public func read() async throws -> ConnectorProperties {
        if let workers { return try await workers.run { self.readNow() } }
        return readNow()
    }

    /// Blocking read of everything.
    public func readNow() -> ConnectorProperties {
        let initiator = HostFiles.readText(roots.etc + "/iscsi/initiatorname.iscsi").flatMap(Self.initiatorName)
        let fc = TopologyScanner(sysfs: DiskSysfs(root: roots.sys)).scanFCHosts().filter { $0.portState == "Online" }
        let uuid = HostFiles.readText(roots.sys + "/class/dmi/id/product_uuid")
            .map { $0.trimmingWhitespace().lowercased() }.flatMap { $0.isEmpty ? nil : $0 }
        return ConnectorProperties(
            initiator: initiator,
            wwpns: fc.isEmpty ? nil : fc.map(\.portName),
            wwnns: fc.isEmpty ? nil : fc.map(\.nodeName),
            host: hostname(), ip: ipv4(),
            multipath: useMultipath, enforceMultipath: enforceMultipath,
            platform: Self.platform, osType: "linux2", systemUUID: uuid)
    }

    /// The `InitiatorName=` value of initiatorname.iscsi (comments and other lines ignored).
    public static func initiatorName(_ text: String) -> String? {
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let l = line.trimmingWhitespace()
            guard !l.hasPrefix("#"), l.hasPrefix("InitiatorName=") else { continue }
            let v = String(l.dropFirst("InitiatorName=".count)).trimmingWhitespace()
            return v.isEmpty ? nil : v
        }
        return nil
    }

    public static var platform: String {
        #if arch(x86_64)
        "x86_64"
        #elseif arch(arm64)
        "aarch64"
        #else
        "unknown"
        #endif
    }
}
