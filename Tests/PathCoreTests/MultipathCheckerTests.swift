import Testing
@testable import PathCore

@Suite struct MultipathCheckerTests {
    let sdb = DeviceNumber(major: 8, minor: 16)

    @Test func turClassificationFollowsTurC() {
        #expect(TURClassifier.classify(.good) == .state(.up))
        #expect(TURClassifier.classify(.reservationConflict) == .state(.up))
        #expect(TURClassifier.classify(.ioctlFailed(errno: 6)) == .state(.down))
        #expect(TURClassifier.classify(.timeout) == .state(.down))
        #expect(TURClassifier.classify(.hostError(hostByte: 0x01)) == .state(.down))    // DID_NO_CONNECT
        #expect(TURClassifier.classify(.hostError(hostByte: 0x0f)) == .state(.down))    // DID_TRANSPORT_FAILFAST
        #expect(TURClassifier.classify(.hostError(hostByte: 0x0e)) == .retryImmediately) // DID_TRANSPORT_DISRUPTED
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x6, asc: 0x29, ascq: 0x00)) == .retryImmediately)
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x2, asc: 0x04, ascq: 0x0b)) == .state(.ghost))
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x2, asc: 0x04, ascq: 0x0a)) == .state(.pending))
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x2, asc: 0x04, ascq: 0x01)) == .state(.pending))
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x2, asc: 0x04, ascq: 0x02)) == .state(.down))
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x2, asc: 0x3a, ascq: 0x00)) == .state(.down))
        #expect(TURClassifier.classify(.checkCondition(senseKey: 0x5, asc: 0x25, ascq: 0x00)) == .state(.down))
        #expect(TURClassifier.classify(.busy) == .retryImmediately)
        #expect(TURClassifier.classify(.taskSetFull) == .retryImmediately)
    }

    @Test func goodGoodTransportErrorFailsOnceThenUAGoodReinstates() {
        var c = PathChecker(device: sdb)
        #expect(c.record(.good, dmState: .active) == .checked(.up, .none))
        #expect(c.record(.good, dmState: .active) == .checked(.up, .none))
        #expect(c.record(.hostError(hostByte: 0x01), dmState: .active) == .checked(.down, .failPath(sdb)))
        // the map now says F: no second fail_path
        #expect(c.record(.timeout, dmState: .failed) == .checked(.down, .none))
        // next poll: unit attention is retried at once, then GOOD reinstates
        #expect(c.record(.checkCondition(senseKey: 0x6, asc: 0x2a, ascq: 0x09), dmState: .failed) == .retryNow)
        #expect(c.retriesThisCheck == 1)
        #expect(c.record(.good, dmState: .failed) == .checked(.up, .reinstatePath(sdb)))
        #expect(c.retriesThisCheck == 0)
        #expect(PathAction.reinstatePath(sdb).message?.text == "reinstate_path 8:16")
        #expect(PathAction.failPath(sdb).message?.text == "fail_path 8:16")
        #expect(PathAction.none.message == nil)
    }

    @Test func unitAttentionRetriesAreBounded() {
        var c = PathChecker(device: sdb)
        let ua = TURResult.checkCondition(senseKey: 0x6, asc: 0x29, ascq: 0x00)
        for _ in 0..<4 { #expect(c.record(ua, dmState: .active) == .retryNow) }
        #expect(c.record(ua, dmState: .active) == .checked(.down, .failPath(sdb)))  // fifth attempt: tur.c gives up
    }

    @Test func transitioningIsPendingThenDown() {
        var c = PathChecker(device: sdb, maxPendingChecks: 3)
        let trans = TURResult.checkCondition(senseKey: 0x2, asc: 0x04, ascq: 0x0a)
        #expect(c.record(trans, dmState: .active) == .checked(.pending, .none))
        #expect(c.record(trans, dmState: .active) == .checked(.pending, .none))
        #expect(c.record(trans, dmState: .active) == .checked(.down, .failPath(sdb)))
        // recovery resets the counter
        #expect(c.record(.good, dmState: .failed) == .checked(.up, .reinstatePath(sdb)))
        #expect(c.record(trans, dmState: .active) == .checked(.pending, .none))
        #expect(c.consecutivePending == 1)
    }

    @Test func standbyIsGhostAndReinstated() {
        var c = PathChecker(device: sdb)
        let standby = TURResult.checkCondition(senseKey: 0x2, asc: 0x04, ascq: 0x0b)
        #expect(c.record(standby, dmState: .failed) == .checked(.ghost, .reinstatePath(sdb)))
        #expect(c.record(standby, dmState: .active) == .checked(.ghost, .none))
        #expect(c.record(.reservationConflict, dmState: .active) == .checked(.up, .none))
        #expect(c.record(.checkCondition(senseKey: 0x2, asc: 0x3a, ascq: 0x00), dmState: .active) == .checked(.down, .failPath(sdb)))
    }

    @Test func shakyPathIsNotReinstatedUntilStable() {
        var c = PathChecker(device: sdb, shakyWindow: 3)
        #expect(c.record(.good, dmState: .active) == .checked(.up, .none))
        #expect(c.record(.timeout, dmState: .active) == .checked(.down, .failPath(sdb)))
        #expect(c.record(.good, dmState: .failed) == .checked(.up, .reinstatePath(sdb)))
        // fails again right after reinstatement: flapping
        #expect(c.record(.timeout, dmState: .active) == .checked(.down, .failPath(sdb)))
        #expect(c.record(.good, dmState: .failed) == .checked(.shaky, .none))
        #expect(c.record(.good, dmState: .failed) == .checked(.shaky, .none))
        #expect(c.record(.good, dmState: .failed) == .checked(.up, .reinstatePath(sdb)))
    }

    @Test func eventReactions() throws {
        #expect(PathEventPolicy.react(to: .udevRemove(sdb)) == [.failPath(sdb), .removeFromMap(sdb)])
        #expect(PathEventPolicy.react(to: .deviceState(sdb, .offline)) == [.failPath(sdb)])
        #expect(PathEventPolicy.react(to: .deviceState(sdb, .transportOffline)) == [.failPath(sdb)])
        #expect(PathEventPolicy.react(to: .deviceState(sdb, .running)) == [.checkNow(sdb)])
        #expect(PathEventPolicy.react(to: .deviceState(sdb, .blocked)) == [])
        #expect(PathEventPolicy.react(to: .unitAttention(sdb, asc: 0x2A, ascq: 0x09)) == [.rescanCapacityAndResize(sdb)])
        #expect(PathEventPolicy.react(to: .unitAttention(sdb, asc: 0x3F, ascq: 0x0E)) == [.rescanTarget(sdb)])
        #expect(PathEventPolicy.react(to: .unitAttention(sdb, asc: 0x2A, ascq: 0x06)) == [.rereadALUA(sdb)])
        #expect(PathEventPolicy.react(to: .unitAttention(sdb, asc: 0x3F, ascq: 0x03)) == [.rereadInquiry(sdb)])
        #expect(PathEventPolicy.react(to: .unitAttention(sdb, asc: 0x29, ascq: 0x00)) == [.checkNow(sdb)])
        #expect(PathEventPolicy.react(to: .dmPathFailed(sdb)) == [.checkNow(sdb)])
        // SDEV_UA uevent values (scsi_evt_emit) map to the same reactions
        #expect(PathEventPolicy.react(to: try PathEvent.unitAttention(sdb, sdevUA: "CAPACITY_DATA_HAS_CHANGED"))
            == [.rescanCapacityAndResize(sdb)])
        #expect(PathEventPolicy.react(to: try PathEvent.unitAttention(sdb, sdevUA: "REPORTED_LUNS_DATA_HAS_CHANGED"))
            == [.rescanTarget(sdb)])
        #expect(PathEventPolicy.react(to: try PathEvent.unitAttention(sdb, sdevUA: "ASYMMETRIC_ACCESS_STATE_CHANGED"))
            == [.rereadALUA(sdb)])
        #expect(throws: PathCoreError.self) { try PathEvent.unitAttention(sdb, sdevUA: "SOMETHING_ELSE") }
    }

    @Test func dmMessages() throws {
        #expect(DMMessage.failPath(sdb).text == "fail_path 8:16")
        #expect(DMMessage.reinstatePath(DeviceNumber(major: 65, minor: 32)).text == "reinstate_path 65:32")
        #expect(DMMessage.failIfNoPath.text == "fail_if_no_path")
        #expect(DMMessage.queueIfNoPath.text == "queue_if_no_path")
        #expect(DMMessage.switchGroup(2).text == "switch_group 2")
        #expect(try DMMessage.group("disable_group", 1).text == "disable_group 1")
        #expect(throws: PathCoreError.self) { try DMMessage.group("switch_group", 0) }
    }
}

@Suite struct MultipathNoPathRetryTests {
    @Test func retriesCountDownThenFailThenRequeue() {
        var t = NoPathQueueingTimer(policy: .retries(3))
        #expect(t.tick(activePaths: 2) == nil)
        #expect(t.tick(activePaths: 0) == nil)
        #expect(t.remaining == 2)
        #expect(t.tick(activePaths: 0) == nil)
        #expect(t.tick(activePaths: 0) == .failIfNoPath)
        #expect(t.queueingDisabled)
        #expect(t.tick(activePaths: 0) == nil)
        #expect(t.tick(activePaths: 1) == .queueIfNoPath)
        #expect(!t.queueingDisabled && t.remaining == nil)
    }

    @Test func failAndQueueNeverSendAnything() {
        var f = NoPathQueueingTimer(policy: .fail)
        var q = NoPathQueueingTimer(policy: .queue)
        for n in [2, 0, 0, 0, 0, 1] {
            #expect(f.tick(activePaths: n) == nil)
            #expect(q.tick(activePaths: n) == nil)
        }
    }
}
