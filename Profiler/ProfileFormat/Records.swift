// The typed records of the unwind-profile record file, version 1
// (Docs/ProfileFormat.md, the contract with the agent).  Pure Swift, no
// Foundation: the fuzzer compiles this directory alone.

/// File-level constants of Docs/ProfileFormat.md.
public enum ProfileFormat {
    /// "DUPROFIL".
    public static let magic: [UInt8] = Array("DUPROFIL".utf8)
    /// The one major version this reader knows.
    public static let majorVersion: UInt16 = 1
    /// The minor version the encoder writes (a reader accepts any).
    /// 1: SAMPLE may carry the thread's CPU time and state (48 bytes);
    /// PROCESS records.
    public static let minorVersion: UInt16 = 1
    public static let fileHeaderSize = 16
    public static let recordHeaderSize = 8
}

/// Record type numbers (the record header's `type`).
public enum RecordType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case meta = 1, sample = 2, stack = 3, thread = 4, map = 5, lost = 6, call = 7, end = 8, process = 9

    /// Size of the fixed fields, record header included: a record may not be
    /// shorter; fixed-size types are exactly this long.
    public var fixedSize: Int {
        switch self {
        case .meta: return 40
        case .sample: return 40
        case .stack: return 32
        case .thread: return 16
        case .map: return 48
        case .lost: return 24
        case .call: return 16
        case .end: return 40
        case .process: return 24
        }
    }

    public var description: String {
        switch self {
        case .meta: return "META"
        case .sample: return "SAMPLE"
        case .stack: return "STACK"
        case .thread: return "THREAD"
        case .map: return "MAP"
        case .lost: return "LOST"
        case .call: return "CALL"
        case .end: return "END"
        case .process: return "PROCESS"
        }
    }
}

/// 1 META: who was profiled and how often.
public struct MetaRecord: Equatable, Sendable {
    /// Bit 0: stacks were unwound once per sample (the baseline agent).
    public var flags: UInt16
    public var pid: UInt32
    public var frequencyHz: UInt32
    public var startNanoseconds: UInt64
    public var startRealtimeNanoseconds: UInt64
    public var signal: UInt32
    /// The arguments (the NUL-terminated list split).
    public var commandLine: [String]

    public static let flagUnwindPerSample: UInt16 = 1

    public init(flags: UInt16 = 0, pid: UInt32, frequencyHz: UInt32, startNanoseconds: UInt64,
                startRealtimeNanoseconds: UInt64, signal: UInt32, commandLine: [String]) {
        self.flags = flags
        self.pid = pid
        self.frequencyHz = frequencyHz
        self.startNanoseconds = startNanoseconds
        self.startRealtimeNanoseconds = startRealtimeNanoseconds
        self.signal = signal
        self.commandLine = commandLine
    }
}

/// 2 SAMPLE: one timer tick of one thread.
public struct SampleRecord: Equatable, Sendable {
    /// Bit 0 queued, bit 1 already queued, bit 2 request failed.
    public var flags: UInt16
    public var tid: UInt32
    /// 0 = on-CPU; else a CALL id.
    public var call: UInt32
    public var timeNanoseconds: UInt64
    public var cookie: UInt64
    public var pc: UInt64
    /// Minor 1 (a 48-byte SAMPLE): the thread's CPU time since its previous
    /// SAMPLE in microseconds (valid with cpuMeasured), the system call it
    /// slept in (valid with stateSyscall), the state bits below.  All 0 in a
    /// 40-byte SAMPLE: nothing known.
    public var cpuMicroseconds: UInt32
    public var syscall: UInt16
    public var cpuState: UInt16

    public static let flagQueued: UInt16 = 1
    public static let flagAlreadyQueued: UInt16 = 2
    public static let flagRequestFailed: UInt16 = 4
    /// Flags bits 3..15: the timer overruns before this sample.
    public static let overrunShift: UInt16 = 3
    /// cpuState bits: cpuMicroseconds was measured; the interrupted context
    /// was read; it shows a sleeping system call; `syscall` names the call;
    /// the tick came as a system call returned.
    public static let cpuMeasured: UInt16 = 1
    public static let stateKnown: UInt16 = 2
    public static let stateBlocked: UInt16 = 4
    public static let stateSyscall: UInt16 = 8
    public static let stateAtReturn: UInt16 = 0x10
    /// The size of a SAMPLE that carries CPU time and state (minor 1).
    public static let extendedSize = 48

    /// Sampling periods this sample stands for: 1 + the timer's overruns
    /// (ticks that passed while the signal waited, e.g. for a CPU).
    public var periods: UInt32 { 1 + UInt32(flags >> Self.overrunShift) }

    public init(flags: UInt16 = 0, tid: UInt32, call: UInt32, timeNanoseconds: UInt64,
                cookie: UInt64, pc: UInt64, cpuMicroseconds: UInt32 = 0, syscall: UInt16 = 0, cpuState: UInt16 = 0) {
        self.flags = flags
        self.tid = tid
        self.call = call
        self.timeNanoseconds = timeNanoseconds
        self.cookie = cookie
        self.pc = pc
        self.cpuMicroseconds = cpuMicroseconds
        self.syscall = syscall
        self.cpuState = cpuState
    }

    /// Whether the encoder writes the 48-byte form (it carries something).
    public var isExtended: Bool { cpuMicroseconds != 0 || syscall != 0 || cpuState != 0 }
}

/// 3 STACK: the user stack of one entry context.
public struct StackRecord: Equatable, Sendable {
    public var tid: UInt32
    /// du_trace_flags | agent bits.
    public var flags: UInt32
    public var cookie: UInt64
    /// Return addresses, innermost first.
    public var ips: [UInt64]

    public static let flagTruncated: UInt32 = 1
    public static let flagExiting: UInt32 = 2
    public static let flagNoMemory: UInt32 = 4
    public static let flagFramePointerWalk: UInt32 = 0x100
    /// Unwound by the agent's writer from a copy of an on-CPU sample's stack.
    public static let flagCopy: UInt32 = 0x400
    public static let flagDWARFUnwinder: UInt32 = 0x200

    public init(tid: UInt32, flags: UInt32 = 0, cookie: UInt64, ips: [UInt64]) {
        self.tid = tid
        self.flags = flags
        self.cookie = cookie
        self.ips = ips
    }
}

/// 4 THREAD: names a tid (a later one renames it).
public struct ThreadRecord: Equatable, Sendable {
    public var tid: UInt32
    public var name: String
    public init(tid: UInt32, name: String) {
        self.tid = tid
        self.name = name
    }
}

/// 5 MAP: one executable segment of one loaded object.
public struct MapRecord: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    /// ELF virtual address = runtime address - bias.
    public var bias: UInt64
    public var fileOffset: UInt64
    /// GNU build id bytes (empty when the object has none).
    public var buildID: [UInt8]
    public var path: String

    public init(start: UInt64, end: UInt64, bias: UInt64, fileOffset: UInt64,
                buildID: [UInt8], path: String) {
        self.start = start
        self.end = end
        self.bias = bias
        self.fileOffset = fileOffset
        self.buildID = buildID
        self.path = path
    }
}

/// 6 LOST: records a full ring dropped.
public struct LostRecord: Equatable, Sendable {
    public var tid: UInt32
    /// 0 = samples, 1 = stacks (other values are counted, not interpreted).
    public var kind: UInt32
    public var count: UInt64

    public static let kindSamples: UInt32 = 0
    public static let kindStacks: UInt32 = 1

    public init(tid: UInt32, kind: UInt32, count: UInt64) {
        self.tid = tid
        self.kind = kind
        self.count = count
    }
}

/// 7 CALL: names a call id.
public struct CallRecord: Equatable, Sendable {
    public var id: UInt32
    public var name: String
    public init(id: UInt32, name: String) {
        self.id = id
        self.name = name
    }
}

/// 8 END: the last record of a clean finish.
public struct EndRecord: Equatable, Sendable {
    public var timeNanoseconds: UInt64
    public var samples: UInt64
    public var stacks: UInt64
    public var lost: UInt64
    /// The record header's flags: how the recording ended (flagExec,
    /// flagForked; other bits are kept, not interpreted).
    public var flags: UInt16

    /// The process exec'd another program: the recording ends there.
    public static let flagExec: UInt16 = 1
    /// The process forked children: they are not in this recording.
    public static let flagForked: UInt16 = 2

    public init(timeNanoseconds: UInt64, samples: UInt64, stacks: UInt64, lost: UInt64, flags: UInt16 = 0) {
        self.timeNanoseconds = timeNanoseconds
        self.samples = samples
        self.stacks = stacks
        self.lost = lost
        self.flags = flags
    }
}

/// 9 PROCESS: the file's own process (flagSelf, right after META), or a
/// child it started or a program it exec'd (written when seen).
public struct ProcessRecord: Equatable, Sendable {
    /// How a process image started.
    public enum Kind: UInt32, Sendable {
        case root = 0, fork = 1, execAfterFork = 2, exec = 3, spawn = 4

        public var label: String {
            switch self {
            case .root: return "root"
            case .fork: return "fork"
            case .execAfterFork: return "exec after fork"
            case .exec: return "exec in place"
            case .spawn: return "exec after vfork"
            }
        }
    }
    /// Bit 0: this record describes the file's own process.
    public var flags: UInt16
    public var pid: UInt32
    public var ppid: UInt32
    /// A Kind raw value (other values are kept, not interpreted).
    public var kind: UInt32
    /// The program (exec kinds; the file's own image for flagSelf).
    public var path: String

    public static let flagSelf: UInt16 = 1

    public var isSelf: Bool { flags & Self.flagSelf != 0 }

    public init(flags: UInt16 = 0, pid: UInt32, ppid: UInt32, kind: UInt32, path: String) {
        self.flags = flags
        self.pid = pid
        self.ppid = ppid
        self.kind = kind
        self.path = path
    }
}

/// One decoded record.
public enum ProfileRecord: Equatable, Sendable {
    case meta(MetaRecord)
    case sample(SampleRecord)
    case stack(StackRecord)
    case thread(ThreadRecord)
    case map(MapRecord)
    case lost(LostRecord)
    case call(CallRecord)
    case end(EndRecord)
    case process(ProcessRecord)

    public var type: RecordType {
        switch self {
        case .meta: return .meta
        case .sample: return .sample
        case .stack: return .stack
        case .thread: return .thread
        case .map: return .map
        case .lost: return .lost
        case .call: return .call
        case .end: return .end
        case .process: return .process
        }
    }
}
