// Stitching (Docs/ProfileFormat.md, Stitching): as perf merges a deferred
// callchain into every sample carrying its cookie, a SAMPLE with a cookie
// gets the frames of the STACK with the same (tid, cookie), wherever that
// STACK is in the file (rings drain in any order).  Samples whose stack never
// arrived, failed to be requested, or came back empty are kept as lost.

/// Why an off-CPU sample has no frames.
public enum StackLoss: Equatable, Sendable {
    /// The request failed (cookie 0 or SAMPLE flag bit 2).
    case requestFailed
    /// No STACK with the sample's (tid, cookie) is in the file.
    case neverArrived
    /// The STACK says the thread was exiting (no unwind).
    case exiting
    /// The STACK says the unwinder had no memory.
    case noMemory
    /// The STACK has no addresses.
    case empty
}

/// One sample after stitching.
public struct StitchedSample: Equatable, Sendable {
    public enum Stack: Equatable, Sendable {
        /// On-CPU: the one frame is the sample's `pc`.
        case onCPU
        /// Off-CPU: return addresses of the STACK, innermost first.
        case frames([UInt64])
        /// Off-CPU without a stack.
        case lost(StackLoss)
    }
    public var tid: UInt32
    public var timeNanoseconds: UInt64
    /// 0 on-CPU, else the CALL id the thread was blocked in.
    public var call: UInt32
    public var cookie: UInt64
    public var pc: UInt64
    public var stack: Stack
    /// Sampling periods it stands for (SampleRecord.periods: 1 + overruns).
    public var periods: UInt32

    public init(tid: UInt32, timeNanoseconds: UInt64, call: UInt32, cookie: UInt64, pc: UInt64, stack: Stack,
                periods: UInt32 = 1) {
        self.tid = tid
        self.timeNanoseconds = timeNanoseconds
        self.call = call
        self.cookie = cookie
        self.pc = pc
        self.stack = stack
        self.periods = periods
    }
}

/// The decoded file with its samples stitched.
public struct Stitched: Equatable, Sendable {
    public var meta: MetaRecord
    /// Call id -> name (the latest CALL record of each id).
    public var calls: [UInt32: String]
    /// Tid -> name (the latest THREAD record of each tid).
    public var threads: [UInt32: String]
    /// MAP records without repeats, in first-seen order.
    public var maps: [MapRecord]
    /// In file order.
    public var samples: [StitchedSample]
    public var end: EndRecord?
    public var summary: StitchSummary
}

/// The key of a deferred stack: cookies are unique per process, and the
/// tid keeps two threads' contexts apart even if a cookie repeated.
struct StackKey: Hashable {
    var tid: UInt32
    var cookie: UInt64
}

/// Stitches a decoded file.  Never fails: every problem the format defines
/// was reported by the decoder.
public func stitch(_ profile: DecodedProfile) -> Stitched {
    var meta = MetaRecord(pid: 0, frequencyHz: 0, startNanoseconds: 0, startRealtimeNanoseconds: 0,
                          signal: 0, commandLine: [])
    var calls: [UInt32: String] = [:]
    var threads: [UInt32: String] = [:]
    var maps: [MapRecord] = []
    var seenMaps = Set<MapRecord>()
    var end: EndRecord?
    var summary = StitchSummary()
    summary.skippedRecords = profile.skippedRecords

    // Pass 1: every STACK by key (the first of a key wins), and the names.
    var stacks: [StackKey: StackRecord] = [:]
    for record in profile.records {
        switch record {
        case .meta(let m): meta = m
        case .call(let c): calls[c.id] = c.name
        case .thread(let t): threads[t.tid] = t.name
        case .map(let m):
            if seenMaps.insert(m).inserted { maps.append(m) }
        case .end(let e): end = e
        case .lost(let l):
            switch l.kind {
            case LostRecord.kindSamples: summary.lostSamples.addSaturating(l.count)
            case LostRecord.kindStacks: summary.lostStacks.addSaturating(l.count)
            default: summary.lostOther.addSaturating(l.count)
            }
        case .stack(let s):
            summary.stacks += 1
            let key = StackKey(tid: s.tid, cookie: s.cookie)
            if stacks[key] == nil { stacks[key] = s } else { summary.duplicateStacks += 1 }
        case .sample, .process:
            break
        }
    }

    // Pass 2: the samples, in file order.
    var used = Set<StackKey>()
    var samples: [StitchedSample] = []
    for case .sample(let s) in profile.records {
        let stack: StitchedSample.Stack
        if s.call == 0 {
            stack = .onCPU
            summary.onCPUSamples += 1
        } else {
            summary.offCPUSamples += 1
            if s.cookie == 0 || s.flags & SampleRecord.flagRequestFailed != 0 {
                stack = .lost(.requestFailed)
            } else if let found = stacks[StackKey(tid: s.tid, cookie: s.cookie)] {
                used.insert(StackKey(tid: s.tid, cookie: s.cookie))
                if found.flags & StackRecord.flagExiting != 0 {
                    stack = .lost(.exiting)
                } else if found.flags & StackRecord.flagNoMemory != 0 {
                    stack = .lost(.noMemory)
                } else if found.ips.isEmpty {
                    stack = .lost(.empty)
                } else {
                    stack = .frames(found.ips)
                    summary.stitchedSamples += 1
                }
            } else {
                stack = .lost(.neverArrived)
            }
            if case .lost = stack { summary.samplesWithLostStack += 1 }
        }
        samples.append(StitchedSample(tid: s.tid, timeNanoseconds: s.timeNanoseconds, call: s.call,
                                      cookie: s.cookie, pc: s.pc, stack: stack, periods: s.periods))
    }
    summary.samples = samples.count
    summary.stacksUsed = used.count
    summary.stacksUnused = stacks.count - used.count
    for key in used where !(stacks[key]?.ips.isEmpty ?? true)
        && (stacks[key]?.flags ?? 0) & (StackRecord.flagExiting | StackRecord.flagNoMemory) == 0 {
        summary.stacksStitched += 1
    }
    summary.hasEnd = end != nil
    summary.endFlags = end?.flags ?? 0
    return Stitched(meta: meta, calls: calls, threads: threads, maps: maps, samples: samples,
                    end: end, summary: summary)
}

/// Decode and stitch arbitrary bytes: the fuzzer's entry point.  Any input
/// gives a result or a ProfileFormatError; it never traps.
public func decodeAndStitch(_ bytes: [UInt8]) throws(ProfileFormatError) -> Stitched {
    stitch(try decodeProfile(bytes))
}

/// The same from memory the caller owns (libFuzzer's buffer).
public func decodeAndStitch(_ raw: UnsafeRawBufferPointer) throws(ProfileFormatError) -> Stitched {
    stitch(try decodeProfile(raw))
}
