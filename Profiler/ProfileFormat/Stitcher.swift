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
    /// Where the frames come from (whether the time was on a CPU is
    /// `onCPUPeriods`, CPUSplit.swift).
    public enum Stack: Equatable, Sendable {
        /// Outside interposed calls: the one frame is the sample's `pc`.
        case onCPU
        /// Outside interposed calls, unwound by the agent's writer from a
        /// copy of the stack (STACK flag 0x400): the pc first, then return
        /// addresses.
        case copied([UInt64])
        /// In an interposed call: return addresses of the STACK, innermost first.
        case frames([UInt64])
        /// In an interposed call, without a stack.
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
    /// The thread's name when the sample was written: its latest THREAD
    /// record before the sample in file order, else its first one after
    /// (the writer drains a thread's samples, then its new name); nil when
    /// the file names the thread nowhere.
    public var threadName: String?
    /// The thread's state at the tick, and how many of `periods` were on a
    /// CPU (CPUSplit.swift); the rest were off.
    public var state: ThreadState
    public var onCPUPeriods: UInt32

    /// `onCPUPeriods` defaults to the rule of files without CPU time: all
    /// periods on-CPU outside interposed calls, none inside.
    public init(tid: UInt32, timeNanoseconds: UInt64, call: UInt32, cookie: UInt64, pc: UInt64, stack: Stack,
                periods: UInt32 = 1, threadName: String? = nil, state: ThreadState = .unknown,
                onCPUPeriods: UInt32? = nil) {
        self.threadName = threadName
        self.state = state
        self.onCPUPeriods = min(periods, onCPUPeriods ?? (call == 0 ? periods : 0))
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
    var stitcher = Stitcher(skippedRecords: profile.skippedRecords)
    for record in profile.records { stitcher.add(record) }
    return stitcher.finish()
}

/// Stitching one record at a time (the streaming reader's visitor): STACKs
/// are kept by key with their address lists shared (one array per distinct
/// stack), SAMPLEs as stitched samples whose off-CPU stacks finish()
/// resolves, since a STACK may come after its samples.
public struct Stitcher {
    private var meta = MetaRecord(pid: 0, frequencyHz: 0, startNanoseconds: 0, startRealtimeNanoseconds: 0,
                                  signal: 0, commandLine: [])
    private var calls: [UInt32: String] = [:]
    private var threads: [UInt32: String] = [:]
    /// Each tid's first name: the name of its samples before any THREAD.
    private var firstNames: [UInt32: String] = [:]
    private var maps: [MapRecord] = []
    private var seenMaps = Set<MapRecord>()
    private var end: EndRecord?
    private var summary = StitchSummary()
    /// Every STACK by key (the first of a key wins).
    private var stacks: [StackKey: StackRecord] = [:]
    /// Distinct address lists: equal stacks share one array.
    private var distinctIPs = Set<[UInt64]>()
    /// The samples in file order, each with its thread's name then; an
    /// off-CPU sample's stack is resolved by finish() (its STACK may come
    /// later), until then it is .lost(.neverArrived) or, when the request
    /// failed, .lost(.requestFailed).
    private var samples: [StitchedSample] = []
    /// The on-/off-CPU split, fed the samples in file order.
    private var splitter = CPUSplitter(frequencyHz: 0)

    /// `sampleCapacity`: room for this many samples at once (a streamed
    /// file's size / 40, the SAMPLE record's size, bounds its samples): a
    /// growing array would copy itself, briefly holding three times its
    /// size, and the untouched rest of the room is never resident.
    public init(skippedRecords: Int = 0, sampleCapacity: Int = 0) {
        summary.skippedRecords = skippedRecords
        samples.reserveCapacity(sampleCapacity)
    }

    /// Unknown records skipped (known only at the end of a streamed file).
    public mutating func setSkippedRecords(_ count: Int) {
        summary.skippedRecords = count
    }

    public mutating func add(_ record: ProfileRecord) {
        switch record {
        case .meta(let m):
            meta = m
            splitter = CPUSplitter(frequencyHz: m.frequencyHz)
        case .call(let c): calls[c.id] = c.name
        case .thread(let t):
            threads[t.tid] = t.name
            if firstNames[t.tid] == nil { firstNames[t.tid] = t.name }
        case .map(let m):
            if seenMaps.insert(m).inserted { maps.append(m) }
        case .end(let e): end = e
        case .lost(let l):
            switch l.kind {
            case LostRecord.kindSamples: summary.lostSamples.addSaturating(l.count)
            case LostRecord.kindStacks: summary.lostStacks.addSaturating(l.count)
            default: summary.lostOther.addSaturating(l.count)
            }
        case .stack(var s):
            summary.stacks += 1
            let key = StackKey(tid: s.tid, cookie: s.cookie)
            if stacks[key] == nil {
                s.ips = distinctIPs.insert(s.ips).memberAfterInsert
                stacks[key] = s
            } else {
                summary.duplicateStacks += 1
            }
        case .sample(let s):
            let failed = s.call != 0 && (s.cookie == 0 || s.flags & SampleRecord.flagRequestFailed != 0)
            let stack: StitchedSample.Stack = s.call == 0 ? .onCPU : .lost(failed ? .requestFailed : .neverArrived)
            let state = ThreadState(s)
            let on = splitter.onCPUPeriods(s, state: state)
            summary.countSplit(periods: s.periods, onCPU: on, blockedOutsideCalls: s.call == 0 && on < s.periods
                               && state != .running && state != .unknown)
            samples.append(StitchedSample(tid: s.tid, timeNanoseconds: s.timeNanoseconds, call: s.call,
                                          cookie: s.cookie, pc: s.pc, stack: stack, periods: s.periods,
                                          threadName: threads[s.tid], state: state, onCPUPeriods: on))
        case .process:
            break
        }
    }

    /// The samples stitched, in file order, and the counts.
    public mutating func finish() -> Stitched {
        var used = Set<StackKey>()
        var stitchedKeys = Set<StackKey>() // stacks whose frames went into samples in calls
        for i in samples.indices {
            let s = samples[i]
            if s.threadName == nil { samples[i].threadName = firstNames[s.tid] }
            summary.periods += UInt64(s.periods)
            if s.call == 0 {
                // A copy's STACK (cookie bit 63, up_copy.h), or the pc alone.
                let key = StackKey(tid: s.tid, cookie: s.cookie)
                if s.cookie != 0, let found = stacks[key], !found.ips.isEmpty {
                    used.insert(key)
                    samples[i].stack = .copied(found.ips)
                    summary.copiedSamples += 1
                }
                summary.onCPUSamples += 1
                continue
            }
            summary.offCPUSamples += 1
            // .lost(.requestFailed) was decided by add (cookie 0 or flag bit 2).
            if s.stack != .lost(.requestFailed), let found = stacks[StackKey(tid: s.tid, cookie: s.cookie)] {
                used.insert(StackKey(tid: s.tid, cookie: s.cookie))
                if found.flags & StackRecord.flagExiting != 0 {
                    samples[i].stack = .lost(.exiting)
                } else if found.flags & StackRecord.flagNoMemory != 0 {
                    samples[i].stack = .lost(.noMemory)
                } else if found.ips.isEmpty {
                    samples[i].stack = .lost(.empty)
                } else {
                    samples[i].stack = .frames(found.ips)
                    summary.stitchedSamples += 1
                    stitchedKeys.insert(StackKey(tid: s.tid, cookie: s.cookie))
                }
            }
            if case .lost = samples[i].stack { summary.samplesWithLostStack += 1 }
        }
        summary.samples = samples.count
        summary.stacksUsed = used.count
        summary.stacksUnused = stacks.count - used.count
        summary.stacksStitched = stitchedKeys.count
        summary.hasEnd = end != nil
        summary.endFlags = end?.flags ?? 0
        let result = Stitched(meta: meta, calls: calls, threads: threads, maps: maps, samples: samples,
                              end: end, summary: summary)
        samples = []
        return result
    }
}

/// Decode and stitch arbitrary bytes: the fuzzer's entry point.  Any input
/// gives a result or a ProfileFormatError; it never traps.
public func decodeAndStitch(_ bytes: [UInt8]) throws(ProfileFormatError) -> Stitched {
    stitch(try decodeProfile(bytes))
}

/// The same from memory the caller owns (libFuzzer's buffer, a mapped
/// file), streaming: no array of records is built.
public func decodeAndStitch(_ raw: UnsafeRawBufferPointer) throws(ProfileFormatError) -> Stitched {
    var stitcher = Stitcher(sampleCapacity: raw.count / RecordType.sample.fixedSize)
    let file = try forEachProfileRecord(raw) { stitcher.add($0) }
    stitcher.setSkippedRecords(file.skippedRecords)
    return stitcher.finish()
}
