// Stand-ins for the two types CinderConf.swift takes from RESTClient.swift, which needs
// AsyncHTTPClient and NIO: the `ini` harness compiles the cinder.conf reader without them.
// Only their shape matters here; the fuzzed code never connects anywhere.
public enum TLSVerification: Sendable, Equatable {
    case verify(caPath: String?)
    case insecure
}

public struct FlashArrayEndpoint: Sendable {
    public var address: String
    public var tls: TLSVerification
    public init(address: String, apiToken: Secret, tls: TLSVerification = .verify(caPath: nil)) {
        self.address = address
        self.tls = tls
    }
}
