import Foundation
import Testing
@testable import FlashArray

@Suite struct CinderConfTests {
    @Test func goodISCSIBackendHasEveryOptionAndDefault() throws {
        let conf = CinderConf(text: try Fixtures.text("cinder/good-iscsi.conf"))
        #expect(conf.errors.isEmpty, "\(conf.errors)")
        #expect(conf.enabledBackends == ["pure-1", "lvm-1"])
        #expect(conf.backends.keys.sorted() == ["pure-1"])  // the LVM stanza is not ours
        let b = try conf.backend("pure-1")
        #expect(b.storageProtocol == .iscsi)
        #expect(b.volumeBackendName == "pure-iscsi")
        #expect(b.sanIP == "10.20.30.40")
        #expect(b.apiToken.reveal() == "9b2c8f14-0a6e-4d37-b5c1-3e7f2d9a8c60")
        #expect(b.useChapAuth)                 // "yes"
        #expect(b.useMultipathForImageXfer)
        #expect(b.maxOverSubscriptionRatio == "auto")
        #expect(b.pureAutomaticMaxOversubscriptionRatio)  // default True
        #expect(b.driverSSLCertVerify == true)            // "on"
        #expect(b.tls == .verify(caPath: "/etc/pki/pure/ca-bundle.pem"))
        #expect(b.imageVolumeCacheEnabled && b.imageVolumeCacheMaxSizeGB == 200 && b.imageVolumeCacheMaxCount == 0)
        #expect(b.pureISCSICIDR == "10.20.0.0/16" && b.iscsiCIDRs == ["10.20.0.0/16"])
        #expect(b.pureEradicateOnDelete)
        #expect(b.pureReplicaIntervalDefault == 3600 && b.pureReplicaRetentionShortTermDefault == 14400)
        #expect(b.pureReplicaRetentionLongTermPerDayDefault == 3 && b.pureReplicaRetentionLongTermDefault == 7)
        #expect(b.pureReplicationPGName == "cinder-group" && b.pureReplicationPodName == "cinder-pod")
        #expect(b.replicationDevices.count == 2)
        let sync = b.replicationDevices[0]
        #expect(sync.backendID == "pure-2" && sync.sanIP == "10.20.31.40" && sync.type == .sync && sync.uniform)
        let dr = b.replicationDevices[1]
        #expect(dr.backendID == "pure-dr" && dr.type == .async && !dr.uniform)  // type defaults to async
        #expect(b.uniformSyncTargets.map(\.backendID) == ["pure-2"])
    }

    @Test func goodFCBackendUsesBackendDefaultsQuotesAndColonSeparator() throws {
        let conf = CinderConf(text: try Fixtures.text("cinder/good-fc.conf"))
        #expect(conf.errors.isEmpty, "\(conf.errors)")
        let b = try conf.backend("pure-fc")
        #expect(b.storageProtocol == .fc)
        #expect(b.sanIP == "fa-01.example.net")   // quotes removed
        #expect(b.useMultipathForImageXfer)       // from [backend_defaults]
        #expect(b.maxOverSubscriptionRatio == "10.5")
        #expect(!b.pureAutomaticMaxOversubscriptionRatio)
        #expect(b.driverSSLCertVerify == nil)
        #expect(b.tls == .verify(caPath: nil))    // pathagent verifies unless told not to
        #expect(b.reservedPercentage == 0 && !b.useChapAuth && b.pureISCSICIDR == "0.0.0.0/0")
        #expect(conf.warnings.isEmpty, "\(conf.warnings)")
    }

    /// Each bad file's first line says `# expect: RULE LINE`; the checker must report that
    /// rule at that line, as an error, and `backend()` must refuse.
    @Test(arguments: [
        "bad-default-option", "bad-enabled-backend", "bad-repl-type", "bad-repl-key", "bad-repl-multiline",
        "bad-boolean", "bad-cidr", "bad-ratio", "bad-missing-token", "bad-syntax", "bad-reserved-range",
    ])
    func badFileNamesLineAndRule(_ name: String) throws {
        let text = try Fixtures.text("cinder/\(name).conf")
        let expect = text.split(separator: "\n")[0].split(separator: " ")
        #expect(expect[1] == "expect:")
        let rule = String(expect[2]), line = Int(expect[3])!
        let conf = CinderConf(text: text)
        let hit = conf.errors.first { $0.rule == rule }
        #expect(hit != nil, "expected rule \(rule) in \(conf.diagnostics)")
        #expect(hit?.line == line, "\(String(describing: hit))")
        #expect(hit?.description.contains("line \(line)") == true)
        #expect(throws: FlashArrayError.self) { try conf.backend("pure-1") }
    }

    @Test func reservedPercentageIsAWarningForPure() throws {
        let conf = CinderConf(text: """
            [DEFAULT]
            enabled_backends = p
            [p]
            volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
            san_ip = 10.0.0.1
            pure_api_token = x
            reserved_percentage = 10
            use_multipath_for_image_xfer = True
            """)
        #expect(conf.errors.isEmpty)
        let w = try #require(conf.warnings.first { $0.rule == "reserved-percentage" })
        #expect(w.line == 7)
        #expect(try conf.backend("p").reservedPercentage == 10)
    }

    @Test func tlsOffAndMultipathOffAreWarnings() throws {
        let conf = CinderConf(text: """
            [DEFAULT]
            enabled_backends = p
            [p]
            volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
            san_ip = 10.0.0.1
            pure_api_token = x
            driver_ssl_cert_verify = False
            """)
        #expect(conf.errors.isEmpty)
        #expect(conf.warnings.contains { $0.rule == "tls-verify-off" && $0.line == 7 })
        #expect(conf.warnings.contains { $0.rule == "multipath-image-xfer" })
        #expect(try conf.backend("p").tls == .insecure)
    }

    @Test func osloBooleansAndINISemantics() throws {
        for t in ["1", "t", "TRUE", "On", "y", "yes"] { #expect(osloBool(t) == true) }
        for f in ["0", "f", "False", "off", "N", "no"] { #expect(osloBool(f) == false) }
        for x in ["enabled", "2", "", "truee"] { #expect(osloBool(x) == nil) }
        let ini = try INIFile(text: "[s]\nk = a # not a comment\nm: v\nr = 1\nr = 2\n  cont\n")
        #expect(ini["s"]?.last("k")?.value == "a # not a comment")
        #expect(ini["s"]?.last("m")?.value == "v")
        #expect(ini["s"]?.all("r").map(\.value) == ["1", "2\ncont"])
        #expect(ini["s"]?.all("r").last?.continued == true)
    }

    @Test func cidrAndPortalParsing() {
        #expect(CIDR("10.20.0.0/16")!.contains("10.20.1.10"))
        #expect(!CIDR("10.20.0.0/16")!.contains("10.99.1.10"))
        #expect(CIDR("0.0.0.0/0")!.contains("192.0.2.1"))
        #expect(!CIDR("0.0.0.0/0")!.contains("fd00::1"))     // IPv4 CIDR never matches IPv6
        #expect(CIDR("fd00:20::/32")!.contains("fd00:20::11"))
        #expect(CIDR("10.0.0.0/33") == nil && CIDR("10.0.0/8") == nil && CIDR("fd00::/129") == nil)
        #expect(portalHost("[fd00:20::11]:3260") == "fd00:20::11")
        #expect(portalHost("10.20.1.10:3260") == "10.20.1.10")
    }
}
