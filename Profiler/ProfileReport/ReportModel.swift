// The report's model: stitched, symbolised samples, ready for every output
// format (perf script text, folded stacks, pprof, SVG flame graph).  The
// stitcher fills it from a decoded record file; each writer only reads it.

/// One frame of a stack, after symbolisation.
public struct ReportFrame: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// A code address in a loaded object (symbolised or not).
        case code
        /// The blocking call the thread was in, e.g. "read" (the leaf of an
        /// off-CPU stack; shown as "[read]").
        case blockedIn
        /// "[stack lost]": the sample's stack never arrived.
        case stackLost
        /// "[on-cpu]": the root marker of a sample taken while running user code.
        case onCPU
        /// "name (tid)": a thread's root frame when the graph is split per
        /// thread (never in a sample's frames).
        case thread
    }
    public var kind: Kind
    /// Runtime address (0 for the synthetic kinds).
    public var address: UInt64
    /// Function name (demangled), or "module+0xoffset" when unknown; for the
    /// synthetic kinds the bracketed text ("[read]", "[stack lost]", "[on-cpu]").
    public var name: String
    /// Path of the loaded object ("[unknown]" when no mapping contains the
    /// address; "" for synthetic frames).
    public var module: String
    /// Address relative to the object (ELF virtual address), 0 when unknown.
    public var moduleOffset: UInt64
    /// Offset of the address from the start of its function, when known.
    public var symbolOffset: UInt64?

    public init(kind: Kind, address: UInt64, name: String, module: String,
                moduleOffset: UInt64, symbolOffset: UInt64? = nil) {
        self.kind = kind
        self.address = address
        self.name = name
        self.module = module
        self.moduleOffset = moduleOffset
        self.symbolOffset = symbolOffset
    }
}

/// One loaded object's executable mapping (pprof "mapping").
public struct ReportMapping: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var fileOffset: UInt64
    public var path: String
    /// Hex of the GNU build id, "" when none.
    public var buildID: String
    public init(start: UInt64, end: UInt64, fileOffset: UInt64, path: String, buildID: String) {
        self.start = start
        self.end = end
        self.fileOffset = fileOffset
        self.path = path
        self.buildID = buildID
    }
}

/// One sample after stitching: its frames root first, leaf last.
public struct ReportSample: Sendable {
    public var tid: UInt32
    public var threadName: String
    /// CLOCK_MONOTONIC nanoseconds.
    public var timeNanoseconds: UInt64
    /// Wall-clock time this sample stands for: `periods` / frequency.
    public var periodNanoseconds: UInt64
    /// Sampling periods it stands for: 1, plus the timer ticks that passed
    /// while its signal waited (overruns).  Counts weigh samples by it.
    public var periods: UInt32
    /// Root first, leaf last; never empty.
    public var frames: [ReportFrame]
    /// Samples with the same stack id >= 0 have equal `frames` (one shared
    /// array), so writers format each stack once; -1: not known.
    public var stackID: Int
    /// The process, when a profile holds several (Processes.merged); 0: the
    /// profile's own.
    public var pid: UInt32
    public init(tid: UInt32, threadName: String, timeNanoseconds: UInt64,
                periodNanoseconds: UInt64, frames: [ReportFrame], periods: UInt32 = 1, stackID: Int = -1,
                pid: UInt32 = 0) {
        self.stackID = stackID
        self.pid = pid
        self.tid = tid
        self.threadName = threadName
        self.timeNanoseconds = timeNanoseconds
        self.periodNanoseconds = periodNanoseconds
        self.frames = frames
        self.periods = periods
    }
}

/// Everything a writer needs.
public struct ReportProfile: Sendable {
    public var pid: UInt32
    /// The program's name (first argument's last path component).
    public var command: String
    public var commandLine: [String]
    public var frequencyHz: UInt32
    public var startNanoseconds: UInt64
    public var startRealtimeNanoseconds: UInt64
    public var durationNanoseconds: UInt64
    public var mappings: [ReportMapping]
    public var samples: [ReportSample]
    public init(pid: UInt32, command: String, commandLine: [String], frequencyHz: UInt32,
                startNanoseconds: UInt64, startRealtimeNanoseconds: UInt64,
                durationNanoseconds: UInt64, mappings: [ReportMapping], samples: [ReportSample]) {
        self.pid = pid
        self.command = command
        self.commandLine = commandLine
        self.frequencyHz = frequencyHz
        self.startNanoseconds = startNanoseconds
        self.startRealtimeNanoseconds = startRealtimeNanoseconds
        self.durationNanoseconds = durationNanoseconds
        self.mappings = mappings
        self.samples = samples
    }
}

extension ReportFrame.Kind {
    /// A stable number per kind: the flame graph's sort order among equal
    /// names, and the HTML page's kind code.
    var code: Int {
        switch self {
        case .code: 0
        case .blockedIn: 1
        case .stackLost: 2
        case .onCPU: 3
        case .thread: 4
        }
    }
}
