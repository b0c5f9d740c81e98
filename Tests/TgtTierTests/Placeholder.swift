import Testing
@testable import HostStorage
import PathCore

@Test func sysfsPathResolve() {
    #expect(SysfsPath.resolve("../../devices/x", relativeTo: "class/block") == "devices/x")
}
