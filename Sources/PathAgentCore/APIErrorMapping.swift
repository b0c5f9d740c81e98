public import HostStorage
public import PathAPI
public import PathCore

/// Maps whatever an operation throws to the API's one error shape, scrubbing the request's
/// secrets from every text (a last line of defence: messages should not hold them anyway).
public enum APIErrorMapping {
    public static func response(for error: any Error, secrets: [String] = []) -> APIErrorResponse {
        switch error {
        case let e as APIErrorResponse:
            var body = e.error
            let s = PathCoreError(.invalidValue, body.message, detail: body.detail, key: body.key).scrubbing(secrets)
            body.message = s.message
            body.detail = s.detail
            body.key = s.key
            return APIErrorResponse(error: body)
        case let e as PathCoreError:
            return APIErrorResponse(e, scrubbing: secrets)
        case let e as HostStorageError:
            let detail = [e.cause, e.errno.map { "errno \($0)" }].compactMap { $0 }.joined(separator: "; ")
            let s = PathCoreError(.invalidValue, e.message, detail: detail.isEmpty ? nil : detail).scrubbing(secrets)
            return APIErrorResponse(error: APIErrorBody(code: code(e.code), message: s.message, detail: s.detail))
        case is CancellationError:
            return APIErrorResponse(
                error: APIErrorBody(code: .unavailable, message: "the request was cancelled (agent shutting down)"))
        default:
            let s = PathCoreError(.invalidValue, "internal error", detail: "\(error)").scrubbing(secrets)
            return APIErrorResponse(error: APIErrorBody(code: .internal, message: s.message, detail: s.detail))
        }
    }

    /// API code for an OS-boundary error code.
    public static func code(_ c: HostStorageError.Code) -> APIErrorBody.Code {
        switch c {
        case .notFound: .notFound
        case .invalidArgument: .invalidValue
        case .timeout: .timeout
        case .busy: .conflict
        case .permission, .transport, .loginRefused, .authFailed, .deviceMapper, .udev, .toolFailed, .io: .hostError
        default: .hostError
        }
    }
}
