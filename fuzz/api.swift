// Fuzz target `api`: the request parsing the daemon does itself on a request body
// (Sources/PathAPI/RequestParsing.swift, compiled into this harness), in the order
// PathAgentCore's APIRouter.dispatch runs it: the UTF-8 body through each route's parser,
// then, for volume requests, the redacted properties text and the spec for the protocol;
// errors mapped to the API error shape with the request's secrets scrubbed.
// (The HTTP head itself is NIO's parser; what the daemon adds to it, cutting the query
// string off the URI and reading Content-Length with Int(_:), is in APIServer.)
//
// Invariants beyond "no crash":
// - every error is a PathCoreError whose API code maps to a 4xx status;
// - an accepted body's connection_properties is an object and the protocol is iscsi or fc;
// - the logged properties text (redacted) does not depend on the secrets' values;
// - scrubbed error texts contain no secret of 4 bytes or more;
// - a path accepted by check-device is an argv-safe /dev path without '..'.
import PathCore

func fuzzOne(_ bytes: [UInt8]) {
    let body = String(decoding: bytes, as: UTF8.self)  // as APIRouter.dispatch decodes it
    route("connect") { () -> VolumeRequestBase in try ConnectVolumeRequest.parse(body).base }
    route("disconnect") { () -> VolumeRequestBase in
        let r = try DisconnectVolumeRequest.parse(body)
        if let d = r.deviceInfo {
            for s in [d.type, d.path, d.scsiWWN, d.multipathID].compactMap({ $0 }) {
                invariant((try? ConnectionValidators.argvSafe(s, key: "k")) != nil, "device_info value not argv-safe")
            }
        }
        return r.base
    }
    route("extend") { try VolumeRequestBase.parse(body) }
    do {
        let r = try CheckValidDeviceRequest.parse(body)
        if let p = try? r.validatedPath() {
            invariant(p.hasPrefix("/dev/") && !p.split(separator: "/").contains(".."), "check-device path \(p.debugDescription)")
            invariant((try? ConnectionValidators.argvSafe(p, key: "k")) != nil, "check-device path not argv-safe")
        }
    } catch {
        mapped(error, secrets: [])
    }
}

/// One volume route: parse, note (redacted text + spec) as the router does, map errors.
func route(_ name: String, _ parse: () throws -> VolumeRequestBase) {
    var secrets: [String] = []
    do {
        let base = try parse()
        secrets = base.secrets
        invariant(base.connectionProperties.objectMembers != nil, "\(name): connection_properties is not an object")
        let logged = base.connectionProperties.redacted().encoded
        invariant(logged == otherSecrets(base.connectionProperties).redacted().encoded,
                  "\(name): the logged properties depend on a secret's value")
        _ = try base.spec()
    } catch {
        mapped(error, secrets: secrets)
    }
}

func mapped(_ error: any Error, secrets: [String]) {
    guard let e = error as? PathCoreError else {
        invariant(false, "request parsing threw \(type(of: error)), not a PathCoreError")
        return
    }
    let api = APIErrorResponse(e, scrubbing: secrets)
    invariant((400..<500).contains(api.httpStatus), "input error \(e.code) maps to HTTP \(api.httpStatus)")
    for s in secrets where s.utf8.count >= 4 {
        for t in [api.error.message, api.error.detail ?? "", api.error.key ?? ""] {
            invariant(!t.contains(s), "a secret survives scrubbing")
        }
    }
}

func otherSecrets(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let m):
        return .object(m.map { k, x in
            if JSONValue.isSecretKey(k), !x.isNull { return (k, .string("another-secret")) }
            return (k, otherSecrets(x))
        })
    case .array(let a): return .array(a.map(otherSecrets))
    default: return v
    }
}
