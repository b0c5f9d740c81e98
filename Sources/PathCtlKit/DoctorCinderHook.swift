import PathCore

/// The cinder.conf slot of `pathctl doctor`. This build has no cinder.conf validator: the
/// FlashArray module owns cinder.conf parsing and validation. To plug it in after merging,
/// add "FlashArray" to PathCtlKit's dependencies in Package.swift and return its check
/// here, e.g. `FlashArrayCinderDoctorCheck()` (any type conforming to PathCore's
/// `DoctorCheck`; it reads `facts.cinderConf`, the file given with `--cinder-conf`).
/// While this is nil, `--cinder-conf` yields the explicit `cinder.unavailable` finding.
enum DoctorCinderHook {
    static var check: (any DoctorCheck)? { nil }
}
