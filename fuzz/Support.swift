// Shared by every harness in fuzz/: the libFuzzer entry point and the invariant check.
// Each harness defines `fuzzOne(_ bytes: [UInt8])`; scripts/fuzz compiles this file, the
// harness and the sources it needs into one executable with `swiftc -sanitize=fuzzer`.

@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    fuzzOne(bytes)
    return 0
}

/// An invariant of the code under test: a violation is a crash for libFuzzer (it saves the
/// input), with the reason on stderr.
func invariant(_ ok: Bool, _ what: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !ok { fatalError("fuzz invariant violated: \(what())", file: file, line: line) }
}

/// Input bytes as text, as the agent gets them (files and sockets decode UTF-8 with repair).
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// True when `needle` occurs in `hay` byte for byte.
func containsBytes(_ hay: String, _ needle: String) -> Bool {
    let h = Array(hay.utf8), n = Array(needle.utf8)
    guard !n.isEmpty, n.count <= h.count else { return n.isEmpty }
    for i in 0...(h.count - n.count) where h[i] == n[0] && Array(h[i..<(i + n.count)]) == n { return true }
    return false
}
