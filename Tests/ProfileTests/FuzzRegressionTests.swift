// Replays the decoder fuzzer's inputs (Scripts/fuzz-decoder.sh): the
// committed corpus and every input that once crashed or broke an invariant.
// Each must decode to a ProfileFormatError or a valid file, with the
// fuzzer's own invariants (decodeInvariantViolation); a trap would kill the
// test process.  The files are found beside this source (#filePath), not as
// SwiftPM resources.

import Foundation
import ProfileFormat
import Testing

@Suite("Fuzz regression: corpus and crash inputs", .timeLimit(.minutes(1)))
struct FuzzRegressionTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    /// The files of Fuzz/<name>, sorted, with their bytes.
    static func inputs(_ name: String) throws -> [(name: String, bytes: [UInt8])] {
        let dir = fuzzDirectory.appendingPathComponent(name)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        return try names.map { file in
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            return (file, [UInt8](data))
        }
    }

    /// The outcome of decodeAndStitch, and the first broken invariant.
    static func replay(_ bytes: [UInt8]) -> (Result<Stitched, ProfileFormatError>, String?) {
        let result = Result { () throws(ProfileFormatError) -> Stitched in try decodeAndStitch(bytes) }
        let violation = bytes.withUnsafeBytes { decodeInvariantViolation(input: $0, result: result) }
        return (result, violation)
    }

    @Test("every corpus file decodes or fails cleanly; named seeds as their names say")
    func corpus() throws {
        let files = try Self.inputs("corpus")
        // Not vacuous: the 32 named seeds at least.
        #expect(files.count >= 32, "corpus has \(files.count) files")
        for (name, bytes) in files {
            let (result, violation) = Self.replay(bytes)
            #expect(violation == nil, "corpus/\(name): \(violation ?? "")")
            // The generator's seeds (Profiler/Fuzz/SeedCorpus.swift) say what they are.
            if name.hasPrefix("ok-") {
                if case .failure(let error) = result { Issue.record("corpus/\(name) should decode: \(error)") }
            } else if name.hasPrefix("bad-") {
                if case .success = result { Issue.record("corpus/\(name) should not decode") }
            }
        }
    }

    @Test("every input that once crashed the decoder now decodes or fails cleanly")
    func crashes() throws {
        let files = try Self.inputs("crashes").filter { $0.name != "README.md" }
        #expect(!files.isEmpty, "no crash inputs: the test would pass vacuously")
        for (name, bytes) in files {
            let (_, violation) = Self.replay(bytes)
            #expect(violation == nil, "crashes/\(name): \(violation ?? "")")
        }
    }
}
