/// `GET /v1/version`.
public struct VersionResponse: Sendable, Equatable, Codable {
    /// pathagent's version (`0.1.0`).
    public var version: String
    /// API versions this daemon serves (`["v1"]`).
    public var apiVersions: [String]
    enum CodingKeys: String, CodingKey {
        case version
        case apiVersions = "api_versions"
    }
    public init(version: String, apiVersions: [String]) {
        self.version = version
        self.apiVersions = apiVersions
    }
}
