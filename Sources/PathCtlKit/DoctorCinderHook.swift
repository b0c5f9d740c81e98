import FlashArray
import PathCore

/// The cinder.conf slot of `pathctl doctor`: FlashArray's cinder.conf reader and validator
/// (`CinderDoctorCheck`), run on the file given with `--cinder-conf`.
enum DoctorCinderHook {
    static var check: (any DoctorCheck)? { CinderDoctorCheck() }
}
