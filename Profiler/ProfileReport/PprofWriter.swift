// `unwind-profile report --format pprof`: the model as a gzipped
// perftools.profiles.Profile (google/pprof proto/profile.proto), readable by
// `go tool pprof`, speedscope and the Firefox Profiler.  What it must satisfy
// (pprof's CheckValid): string_table[0] == ""; every sample has as many
// values as sample_type; mapping, location and function ids are non-zero,
// unique, and every reference resolves; location_id[0] is the leaf.

/// Field numbers of profile.proto (the messages this writer emits).
private enum Field {
    enum Profile {
        static let sampleType = 1, sample = 2, mapping = 3, location = 4, function = 5
        static let stringTable = 6, timeNanos = 9, durationNanos = 10, periodType = 11
        static let period = 12, comment = 13, defaultSampleType = 14
    }
    enum ValueType { static let type = 1, unit = 2 }
    enum Sample { static let locationID = 1, value = 2, label = 3 }
    enum Label { static let key = 1, str = 2, num = 3 }
    enum Mapping {
        static let id = 1, memoryStart = 2, memoryLimit = 3, fileOffset = 4
        static let filename = 5, buildID = 6, hasFunctions = 7
    }
    enum Location { static let id = 1, mappingID = 2, address = 3, line = 4 }
    enum Line { static let functionID = 1 }
    enum Function { static let id = 1, name = 2, systemName = 3, filename = 4 }
}

public enum PprofWriter {
    /// The gzipped profile.  Throws `PprofError` when zlib fails.
    public static func encode(_ profile: ReportProfile) throws -> [UInt8] {
        try PprofGzip.compress(serialize(profile))
    }

    /// The uncompressed protobuf (the tests decode it).
    static func serialize(_ profile: ReportProfile) -> [UInt8] {
        var tables = PprofTables(mappings: profile.mappings)
        for sample in profile.samples { tables.add(sample) }
        return tables.encode(profile)
    }
}

/// The profile's tables, filled sample by sample; ids are 1-based positions,
/// in first-seen order (no Dictionary iteration: the output is deterministic).
private struct PprofTables {
    struct LocationKey: Hashable { var address: UInt64; var name: String }
    struct FunctionKey: Hashable { var name: String; var module: String }
    struct SampleKey: Hashable { var locationIDs: [UInt64]; var tid: UInt32; var thread: String }
    struct Location { var mappingID: UInt64; var address: UInt64; var functionID: UInt64 }
    struct Function { var name: Int64; var filename: Int64 }
    struct Sample { var key: SampleKey; var count: Int64; var wall: Int64 }

    var strings: [String] = [""]
    var stringIndex: [String: Int64] = ["": 0]
    let mappings: [ReportMapping]
    /// Mapping positions sorted by start address, for the address lookup.
    let mappingsByStart: [Int]
    /// Per mapping: some code frame fell in it / some such frame had no symbol.
    var mappingUsed: [Bool]
    var mappingUnsymbolised: [Bool]
    var locations: [Location] = []
    var locationIDs: [LocationKey: UInt64] = [:]
    var functions: [Function] = []
    var functionIDs: [FunctionKey: UInt64] = [:]
    var samples: [Sample] = []
    /// Location ids (leaf first) of each stack id seen.
    var stackLocations: [Int: [UInt64]] = [:]
    var sampleIndex: [SampleKey: Int] = [:]

    init(mappings: [ReportMapping]) {
        self.mappings = mappings
        mappingsByStart = mappings.indices.sorted {
            (mappings[$0].start, $0) < (mappings[$1].start, $1)
        }
        mappingUsed = Array(repeating: false, count: mappings.count)
        mappingUnsymbolised = mappingUsed
    }

    mutating func string(_ value: String) -> Int64 {
        if let index = stringIndex[value] { return index }
        let index = Int64(strings.count)
        strings.append(value)
        stringIndex[value] = index
        return index
    }

    /// Position of the mapping holding `address` (start <= address < end).
    func mapping(containing address: UInt64) -> Int? {
        // Last mapping starting at or below the address, then its range.
        var low = 0, high = mappingsByStart.count
        while low < high {
            let middle = (low + high) / 2
            if mappings[mappingsByStart[middle]].start <= address { low = middle + 1 } else { high = middle }
        }
        var position = low - 1
        // Overlapping mappings (bad input): any earlier one may hold it too.
        while position >= 0 {
            let candidate = mappingsByStart[position]
            if address < mappings[candidate].end { return candidate }
            position -= 1
        }
        return nil
    }

    mutating func locationID(_ frame: ReportFrame) -> UInt64 {
        let key = LocationKey(address: frame.address, name: frame.name)
        if let id = locationIDs[key] { return id }
        var mappingID: UInt64 = 0
        if frame.kind == .code, let position = mapping(containing: frame.address) {
            mappingID = UInt64(position + 1)
            mappingUsed[position] = true
            // The symboliser sets symbolOffset exactly when it named the function.
            if frame.symbolOffset == nil { mappingUnsymbolised[position] = true }
        }
        let location = Location(mappingID: mappingID, address: frame.address,
                                functionID: functionID(name: frame.name, module: frame.module))
        locations.append(location)
        let id = UInt64(locations.count)
        locationIDs[key] = id
        return id
    }

    mutating func functionID(name: String, module: String) -> UInt64 {
        let key = FunctionKey(name: name, module: module)
        if let id = functionIDs[key] { return id }
        functions.append(Function(name: string(name), filename: string(module)))
        let id = UInt64(functions.count)
        functionIDs[key] = id
        return id
    }

    /// One sample: leaf first; identical stacks of one thread are summed.
    mutating func add(_ sample: ReportSample) {
        var ids: [UInt64] = []
        if sample.stackID >= 0, let known = stackLocations[sample.stackID] {
            ids = known
        } else {
            ids.reserveCapacity(sample.frames.count)
            for frame in sample.frames.reversed() { ids.append(locationID(frame)) }
            if sample.stackID >= 0 { stackLocations[sample.stackID] = ids }
        }
        let key = SampleKey(locationIDs: ids, tid: sample.tid, thread: sample.threadName)
        _ = string(sample.threadName)
        let wall = Int64(clamping: sample.periodNanoseconds)
        let count = Int64(max(sample.periods, 1))
        if let index = sampleIndex[key] {
            samples[index].count = saturatingAdd(samples[index].count, count)
            samples[index].wall = saturatingAdd(samples[index].wall, wall)
        } else {
            sampleIndex[key] = samples.count
            samples.append(Sample(key: key, count: count, wall: wall))
        }
    }

    private func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// The Profile message.  Interns every remaining string first: the table
    /// must be complete before it is written.
    mutating func encode(_ profile: ReportProfile) -> [UInt8] {
        let samplesType = string("samples"), count = string("count")
        let wallType = string("wall"), nanoseconds = string("nanoseconds")
        let threadKey = string("thread"), tidKey = string("tid")
        let mappingStrings = mappings.map { (string($0.path), string($0.buildID)) }
        let comment = string("unwind-profile (off-CPU, wall clock): pid \(profile.pid): "
                             + profile.commandLine.joined(separator: " "))

        var out = ProtobufEncoder()
        for (type, unit) in [(samplesType, count), (wallType, nanoseconds)] {
            out.message(Field.Profile.sampleType) {
                $0.int64(Field.ValueType.type, type)
                $0.int64(Field.ValueType.unit, unit)
            }
        }
        for sample in samples {
            out.message(Field.Profile.sample) { m in
                m.packed(Field.Sample.locationID, sample.key.locationIDs)
                m.packed(Field.Sample.value, [sample.count, sample.wall].map { UInt64(bitPattern: $0) })
                // str 0 ("") would read as a numeric label: no name, no label.
                if let name = stringIndex[sample.key.thread], name != 0 {
                    m.message(Field.Sample.label) {
                        $0.int64(Field.Label.key, threadKey)
                        $0.int64(Field.Label.str, name)
                    }
                }
                m.message(Field.Sample.label) {
                    $0.int64(Field.Label.key, tidKey)
                    $0.int64(Field.Label.num, Int64(sample.key.tid))
                }
            }
        }
        for (position, mapping) in mappings.enumerated() {
            out.message(Field.Profile.mapping) {
                $0.uint64(Field.Mapping.id, UInt64(position + 1))
                $0.uint64(Field.Mapping.memoryStart, mapping.start)
                $0.uint64(Field.Mapping.memoryLimit, mapping.end)
                $0.uint64(Field.Mapping.fileOffset, mapping.fileOffset)
                $0.int64(Field.Mapping.filename, mappingStrings[position].0)
                $0.int64(Field.Mapping.buildID, mappingStrings[position].1)
                $0.bool(Field.Mapping.hasFunctions,
                        mappingUsed[position] && !mappingUnsymbolised[position])
            }
        }
        for (index, location) in locations.enumerated() {
            out.message(Field.Profile.location) { m in
                m.uint64(Field.Location.id, UInt64(index + 1))
                m.uint64(Field.Location.mappingID, location.mappingID)
                m.uint64(Field.Location.address, location.address)
                m.message(Field.Location.line) { $0.uint64(Field.Line.functionID, location.functionID) }
            }
        }
        for (index, function) in functions.enumerated() {
            out.message(Field.Profile.function) {
                $0.uint64(Field.Function.id, UInt64(index + 1))
                $0.int64(Field.Function.name, function.name)
                // Only the demangled name is known: it is the system name too.
                $0.int64(Field.Function.systemName, function.name)
                $0.int64(Field.Function.filename, function.filename)
            }
        }
        for value in strings { out.string(Field.Profile.stringTable, value) }
        out.int64(Field.Profile.timeNanos, Int64(clamping: profile.startRealtimeNanoseconds))
        out.int64(Field.Profile.durationNanos, Int64(clamping: profile.durationNanoseconds))
        out.message(Field.Profile.periodType) {
            $0.int64(Field.ValueType.type, wallType)
            $0.int64(Field.ValueType.unit, nanoseconds)
        }
        let period = profile.frequencyHz == 0 ? 0 : 1_000_000_000 / Int64(profile.frequencyHz)
        out.int64(Field.Profile.period, period)
        out.packed(Field.Profile.comment, [UInt64(bitPattern: comment)])
        out.int64(Field.Profile.defaultSampleType, wallType)
        return out.bytes
    }
}
