// What must hold after decodeAndStitch on any bytes, checked by the fuzzer
// (Profiler/Fuzz/DecoderFuzz.swift, which traps on a violation) and by the
// fuzz regression tests (Tests/ProfileTests/FuzzRegressionTests.swift).
// Every check is linear in the input, so the fuzzer stays fast.

/// The first broken invariant of `result`, the outcome of
/// `decodeAndStitch(input)`, or nil when all hold.  Errors are fine as long
/// as they point into the input and name their offset; a decoded file must
/// be well formed (one META, first; known call ids) and its stitched counts
/// must add up; decoding is deterministic; a decoded file re-encodes to the
/// same records.
public func decodeInvariantViolation(input: UnsafeRawBufferPointer,
                                     result: Result<Stitched, ProfileFormatError>) -> String? {
    let again = Result { () throws(ProfileFormatError) -> DecodedProfile in try decodeProfile(input) }
    switch (result, again) {
    case (.failure(let error), .failure(let error2)):
        guard error == error2 else { return "decoding the same bytes twice gave \(error) and then \(error2)" }
        return errorViolation(error, inputCount: input.count)
    case (.success(let stitched), .success(let decoded)):
        guard stitch(decoded) == stitched else { return "stitching the same decoded file twice differs" }
        return fileViolation(decoded, inputCount: input.count)
            ?? stitchViolation(stitched, decoded)
            ?? roundTripViolation(decoded, inputCount: input.count)
    case (.success, .failure(let error)):
        return "decodeAndStitch succeeded but decodeProfile failed: \(error)"
    case (.failure(let error), .success):
        return "decodeAndStitch failed (\(error)) but decodeProfile succeeded"
    }
}

/// The offset is inside the input (or just past it), at the file header's
/// field or a record start, and the message names it.
private func errorViolation(_ e: ProfileFormatError, inputCount: Int) -> String? {
    guard e.offset >= 0 && e.offset <= inputCount else {
        return "error offset \(e.offset) outside the input of \(inputCount) bytes: \(e)"
    }
    switch e.kind {
    case .badMagic, .truncatedHeader:
        guard e.offset == 0 else { return "file header error not at offset 0: \(e)" }
    case .unsupportedMajorVersion:
        guard e.offset == 8 else { return "major version error not at offset 8: \(e)" }
    default:
        // Records start at 16 and their sizes are multiples of 8.
        guard e.offset >= ProfileFormat.fileHeaderSize && e.offset % 8 == 0 else {
            return "record error at offset \(e.offset), which is no record start: \(e)"
        }
    }
    guard e.message.contains("offset \(e.offset)") else {
        return "error message does not name its offset \(e.offset): \(e)"
    }
    return nil
}

/// One META, first; CALL ids non-zero and defined before the SAMPLEs that
/// use them; no more records than the bytes can hold.
private func fileViolation(_ d: DecodedProfile, inputCount: Int) -> String? {
    guard d.major == ProfileFormat.majorVersion else { return "decoded major version \(d.major)" }
    guard case .meta = d.records.first else { return "decoded file does not start with META" }
    let most = (inputCount - ProfileFormat.fileHeaderSize) / ProfileFormat.recordHeaderSize
    guard d.records.count + d.skippedRecords <= most else {
        return "\(d.records.count) records + \(d.skippedRecords) skipped in \(inputCount) bytes"
    }
    var calls = Set<UInt32>()
    for (i, record) in d.records.enumerated() {
        switch record {
        case .meta where i > 0: return "META at record index \(i)"
        case .call(let c) where c.id == 0: return "CALL id 0 at record index \(i)"
        case .call(let c): calls.insert(c.id)
        case .sample(let s) where s.call != 0 && !calls.contains(s.call):
            return "SAMPLE at record index \(i) names call \(s.call) before any CALL defines it"
        default: break
        }
    }
    return nil
}

/// samples = on-CPU + off-CPU = SAMPLE records; off-CPU = stitched + lost;
/// each sample's stack agrees with its call and the summary's counts.
private func stitchViolation(_ s: Stitched, _ d: DecodedProfile) -> String? {
    let m = s.summary
    var sampleRecords = 0, stackRecords = 0, onCPU = 0, frames = 0, lost = 0
    var periods: UInt64 = 0
    var lostCounts: [UInt64] = [0, 0, 0]
    for record in d.records {
        switch record {
        case .sample(let sample):
            sampleRecords += 1
            periods += UInt64(sample.periods)
        case .stack: stackRecords += 1
        case .lost(let l): lostCounts[Int(min(l.kind, 2))].addSaturating(l.count)
        default: break
        }
    }
    for sample in s.samples {
        switch sample.stack {
        case .onCPU, .copied:
            onCPU += 1
            guard sample.call == 0 else { return "on-CPU sample with call \(sample.call)" }
        case .frames(let ips):
            frames += 1
            guard sample.call != 0, !ips.isEmpty else { return "stitched sample with call 0 or no frames" }
        case .lost:
            lost += 1
            guard sample.call != 0 else { return "on-CPU sample kept as [stack lost]" }
        }
    }
    let checks: [(Bool, String)] = [
        (m.samples == sampleRecords && s.samples.count == sampleRecords, "samples \(m.samples) != \(sampleRecords) SAMPLE records"),
        (m.periods == periods, "periods \(m.periods) != \(periods) summed over the SAMPLE records"),
        (m.samples == m.onCPUSamples + m.offCPUSamples, "samples \(m.samples) != on-CPU \(m.onCPUSamples) + off-CPU \(m.offCPUSamples)"),
        (m.onCPUSamples == onCPU, "on-CPU count \(m.onCPUSamples) != \(onCPU) on-CPU samples"),
        (m.samplesWithLostStack <= m.offCPUSamples, "lost stacks \(m.samplesWithLostStack) > off-CPU \(m.offCPUSamples)"),
        (m.stitchedSamples + m.samplesWithLostStack == m.offCPUSamples, "stitched + lost != off-CPU"),
        (m.stitchedSamples == frames && m.samplesWithLostStack == lost, "stitched/lost counts disagree with the samples"),
        (m.stacks == stackRecords, "stacks \(m.stacks) != \(stackRecords) STACK records"),
        (m.stacksUsed + m.stacksUnused + m.duplicateStacks == m.stacks, "used + unused + duplicate stacks != stacks"),
        (m.stacksStitched <= m.stacksUsed && m.stacksStitched <= m.stitchedSamples, "more stacks stitched than used or than stitched samples"),
        ((m.stacksStitched == 0) == (m.stitchedSamples == 0), "stitched stacks and stitched samples disagree on zero"),
        (m.lostSamples == lostCounts[0] && m.lostStacks == lostCounts[1] && m.lostOther == lostCounts[2], "LOST sums disagree"),
        (m.skippedRecords == d.skippedRecords, "skipped records disagree"),
        (m.hasEnd == (s.end != nil), "hasEnd disagrees with the END record"),
        (!m.line.isEmpty, "empty summary line"),
    ]
    return checks.first { !$0.0 }?.1
}

/// Encoding the decoded records gives a file that decodes to the same
/// records (unknown records are not kept).  Only for inputs whose strings
/// cannot outgrow their u16 length fields when ill-formed UTF-8 becomes
/// U+FFFD (3 bytes per bad byte): 21,000 × 3 < 65,535.
private func roundTripViolation(_ d: DecodedProfile, inputCount: Int) -> String? {
    guard inputCount <= 21_000 else { return nil }
    var encoder = ProfileEncoder(major: d.major, minor: d.minor)
    for record in d.records { encoder.append(record) }
    do {
        let back = try decodeProfile(encoder.bytes)
        guard back.records == d.records else { return "re-encoded records decode differently" }
        guard back.minor == d.minor && back.skippedRecords == 0 else { return "re-encoded header or skips differ" }
    } catch {
        return "re-encoded records do not decode: \(error)"
    }
    return nil
}
