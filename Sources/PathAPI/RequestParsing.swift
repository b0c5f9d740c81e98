public import PathCore

/// Strict decoding of request bodies through `JSONValue.parse` (duplicate keys refused,
/// numbers exact), with errors that name the offending key, so the daemon needs no
/// mapping of Foundation's `DecodingError`. Use these in the server; the `Codable`
/// conformances are for clients and tests.
enum Envelope {
    static func object(_ v: JSONValue, _ what: String) throws -> JSONValue {
        guard v.objectMembers != nil else {
            throw PathCoreError(.invalidValue, "\(what) must be a JSON object, got a \(v.typeName)", key: what == "request body" ? nil : what)
        }
        return v
    }
    static func required(_ v: JSONValue, _ key: String) throws -> JSONValue {
        guard let x = v[key], !x.isNull else { throw PathCoreError(.missing, "missing \(key)", key: key) }
        return x
    }
    static func string(_ v: JSONValue, _ key: String) throws -> String? {
        guard let x = v[key], !x.isNull else { return nil }
        guard let s = x.stringValue else {
            throw PathCoreError(.invalidValue, "\(key) must be a string, got a \(x.typeName)", key: key)
        }
        try ConnectionValidators.argvSafe(s, key: key)
        return s
    }
    static func bool(_ v: JSONValue, _ key: String) throws -> Bool? {
        guard let x = v[key], !x.isNull else { return nil }
        guard let b = x.boolValue else {
            throw PathCoreError(.invalidValue, "\(key) must be true or false, got a \(x.typeName)", key: key)
        }
        return b
    }
}

extension VolumeRequestBase {
    /// `{"connection_properties": {...}, "protocol": "iscsi"|"fc"}`.
    public init(json: JSONValue) throws {
        let body = try Envelope.object(json, "request body")
        let props = try Envelope.object(try Envelope.required(body, "connection_properties"), "connection_properties")
        // before anything else can fail and quote the body: log lines never show these
        SecretRegistry.shared.register(props.secretValues)
        guard let p = try Envelope.string(body, "protocol") else {
            throw PathCoreError(.missing, "missing protocol (iscsi or fc)", key: "protocol")
        }
        self.init(connectionProperties: props, protocol: try VolumeProtocol(text: p))
    }
    public static func parse(_ text: String) throws -> VolumeRequestBase { try VolumeRequestBase(json: try JSONValue.parse(text)) }
}

extension ConnectVolumeRequest {
    public init(json: JSONValue) throws {
        let b = try VolumeRequestBase(json: json)
        self.init(connectionProperties: b.connectionProperties, protocol: b.protocol)
    }
    public static func parse(_ text: String) throws -> ConnectVolumeRequest { try ConnectVolumeRequest(json: try JSONValue.parse(text)) }
}

extension DeviceInfo {
    public init(json: JSONValue, key: String = "device_info") throws {
        let o = try Envelope.object(json, key)
        func sub(_ k: String) -> String { "\(key).\(k)" }
        func str(_ k: String) throws -> String? {
            do { return try Envelope.string(o, k) } catch var e as PathCoreError {
                e.key = sub(k)
                e.message = "\(key)." + e.message
                throw e
            }
        }
        guard let path = try str("path") else { throw PathCoreError(.missing, "missing \(sub("path"))", key: sub("path")) }
        self.init(type: try str("type") ?? "block", scsiWWN: try str("scsi_wwn"), path: path, multipathID: try str("multipath_id"))
    }
}

extension DisconnectVolumeRequest {
    public init(json: JSONValue) throws {
        let b = try VolumeRequestBase(json: json)
        var info: DeviceInfo? = nil
        if let d = json["device_info"], !d.isNull { info = try DeviceInfo(json: d) }
        self.init(
            connectionProperties: b.connectionProperties, protocol: b.protocol, deviceInfo: info,
            force: try Envelope.bool(json, "force") ?? false,
            ignoreErrors: try Envelope.bool(json, "ignore_errors") ?? false,
            skipMismatched: try Envelope.bool(json, "skip_mismatched") ?? false)
    }
    public static func parse(_ text: String) throws -> DisconnectVolumeRequest {
        try DisconnectVolumeRequest(json: try JSONValue.parse(text))
    }
}

extension CheckValidDeviceRequest {
    public init(json: JSONValue) throws {
        let body = try Envelope.object(json, "request body")
        guard let p = try Envelope.string(body, "path") else { throw PathCoreError(.missing, "missing path", key: "path") }
        self.init(path: p)
    }
    public static func parse(_ text: String) throws -> CheckValidDeviceRequest {
        try CheckValidDeviceRequest(json: try JSONValue.parse(text))
    }
}
