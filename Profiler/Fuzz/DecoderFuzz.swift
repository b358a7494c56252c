// libFuzzer entry for the record-file decoder and stitcher.  Built alone,
// with ProfileFormat's sources in the same module (no Foundation), by
// Scripts/fuzz-decoder.sh:
//   swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
//       Profiler/ProfileFormat/*.swift Profiler/Fuzz/DecoderFuzz.swift
// Any input must give a Stitched file or a ProfileFormatError.  A trap,
// crash, ASan report, timeout or OOM is a finding, and so is a broken
// invariant (decodeInvariantViolation): the entry traps on it, with the
// invariant in the message, so libFuzzer saves the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func decoderFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let result = Result { () throws(ProfileFormatError) -> Stitched in try decodeAndStitch(input) }
    if let violation = decodeInvariantViolation(input: input, result: result) {
        fatalError("decoder invariant broken on a \(size)-byte input: \(violation)")
    }
    return 0
}
