/// Property selection (multipath-tools' propsel.c): the settings for one array model with
/// every value's origin.
public enum PropertySelection {
    /// Built-in defaults, then the vendor profile, then the config file (`[defaults]`, then
    /// matching `[device]` sections in file order), then caller overrides (multipath.conf keys).
    public static func select(vendor: String, product: String, config: MultipathConfig? = nil,
                              overrides: [(key: String, value: String)] = []) throws -> MultipathSettings {
        var s = HardwareTable.builtin(vendor: vendor, product: product)
        if let config {
            let ordered = config.sections.filter { $0.vendorPattern == nil }
                + config.sections.filter { $0.vendorPattern != nil }
            for sec in ordered where MultipathConfig.matches(sec, vendor: vendor, product: product) {
                for e in sec.entries {
                    try s.set(e.key, e.value, origin: .configFile(path: config.path, line: e.line))
                }
            }
        }
        for o in overrides { try s.set(o.key, o.value, origin: .override) }
        return s
    }
}
