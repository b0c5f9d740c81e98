/// Built-in settings: multipath-tools-like conservative defaults for any array, and the
/// vendor profile for Pure FlashArray (the seed guide's table). Like libmultipath/hwtable.c
/// plus the compiled-in defaults of libmultipath/defaults.h.
public enum HardwareTable {
    public static let pureProfileName = "PURE/FlashArray"

    /// Defaults for arrays pathagent has no profile for, the multipath-tools compiled-in
    /// defaults: failover grouping (one path at a time: safe on arrays whose non-optimized
    /// paths are slow or that need explicit failover), `service-time 0`, `tur` every 5 s,
    /// no_path_retry `fail` (never hang I/O forever behind a host with no paths),
    /// failback manual, prio `const` with detect_prio yes (a TPGS-capable LU gets `alua`),
    /// fast_io_fail_tmo 5, dev_loss_tmo 600, queue settings left alone.
    public static var generic: MultipathSettings {
        let o = SettingOrigin.builtinDefault
        return MultipathSettings(
            pollingInterval: Setting(5, o),
            pathSelector: Setting("service-time 0", o),
            pathGroupingPolicy: Setting(.failover, o),
            pathChecker: Setting("tur", o),
            fastIOFailTmo: Setting(5, o),
            devLossTmo: Setting(600, o),
            noPathRetry: Setting(.fail, o),
            features: Setting([], o),
            hardwareHandler: Setting([], o),
            prio: Setting("const", o),
            failback: Setting(.manual, o),
            detectPrio: Setting(true, o),
            maxSectorsKB: Setting(nil, o),
            scheduler: Setting(nil, o),
            addRandom: Setting(nil, o),
            rqAffinity: Setting(nil, o),
            deviceTimeout: Setting(nil, o))
    }

    /// Pure's recommended settings (see DESIGN.md §3): multibus + queue-length 0, tur every
    /// 10 s, no_path_retry 0 (= fail), features 0, fast_io_fail_tmo 10 (iSCSI recovery_tmo 10),
    /// dev_loss_tmo 60, detect_prio no, max_sectors_kb 4096, and the udev queue settings
    /// scheduler none, add_random 0, rq_affinity 2, device/timeout 60.
    /// Not set here (inherits the generic value): prio const, failback manual, hardware handler 0.
    public static var pure: MultipathSettings {
        var s = generic
        let o = SettingOrigin.vendorProfile(pureProfileName)
        s.pollingInterval = Setting(10, o)
        s.pathSelector = Setting("queue-length 0", o)
        s.pathGroupingPolicy = Setting(.multibus, o)
        s.pathChecker = Setting("tur", o)
        s.fastIOFailTmo = Setting(10, o)
        s.devLossTmo = Setting(60, o)
        s.noPathRetry = Setting(.fail, o)
        s.features = Setting([], o)
        s.detectPrio = Setting(false, o)
        s.maxSectorsKB = Setting(4096, o)
        s.scheduler = Setting("none", o)
        s.addRandom = Setting(0, o)
        s.rqAffinity = Setting(2, o)
        s.deviceTimeout = Setting(60, o)
        return s
    }

    /// The built-in settings for a SCSI vendor/product (INQUIRY strings, trailing blanks ignored).
    public static func builtin(vendor: String, product: String) -> MultipathSettings {
        if vendor.trimmingWhitespace() == "PURE" && product.trimmingWhitespace().hasPrefix("FlashArray") {
            return pure
        }
        return generic
    }
}
