// The on-/off-CPU split of each sample (Docs/Profiler.md, "On-CPU and
// off-CPU").  A sample stands for `periods` = 1 + overruns periods of its
// thread's wall time; this decides how many of them were on a CPU.
//
// Two measures, each right about something:
//  - the state at the tick (SAMPLE cpuState, read from the interrupted
//    context): asleep in a system call or running.  It picks the stack: a
//    running thread's time is charged where it ran, a sleeping one's where
//    it slept.  Sampling the state is unbiased only when ticks come on time,
//    and a thread waiting for a CPU gets its tick late, when it runs (the
//    periods it waited come as overruns), so it is always seen running;
//  - the thread's CPU time since its previous sample (cpuMicroseconds):
//    exact in total, silent about where.
// So each thread keeps a CPU budget: every sample adds its CPU time; a
// running sample takes up to its periods from it, rounded to the nearest
// period (what it cannot take was spent waiting for a CPU: off-CPU, the
// same stack, "[waiting for CPU]"); a blocked sample takes none, unless the
// budget holds more than `carry` periods (CPU spent between ticks that no
// running tick saw): the excess goes on-CPU on that sample's stack.  Per
// thread the on-CPU periods then equal its CPU time within `carry` + 1/2
// periods, while the stacks stay those the ticks saw.
// Samples without CPU time (a minor-0 file, or the clock failed) keep the
// old rule: on-CPU when outside interposed calls.

/// What the interrupted context said about the thread at the tick.
public enum ThreadState: Equatable, Sendable {
    /// Not recorded (a 40-byte SAMPLE, or an architecture whose contexts
    /// the agent does not read).
    case unknown
    /// Running: in user code, or in the kernel in a call that did not sleep.
    case running
    /// Asleep in a system call (its x86-64 number when known).
    case blocked(syscall: UInt16?)
    /// At a system call's return: it ran in the kernel, or it slept and the
    /// tick cut it short (a partial transfer).  Counted as running; the
    /// periods its CPU time does not cover were spent in the call.
    case returning(syscall: UInt16?)

    init(_ s: SampleRecord) {
        guard s.cpuState & SampleRecord.stateKnown != 0 else { self = .unknown; return }
        let nr = s.cpuState & SampleRecord.stateSyscall != 0 ? s.syscall : nil
        if s.cpuState & SampleRecord.stateBlocked != 0 { self = .blocked(syscall: nr); return }
        self = s.cpuState & SampleRecord.stateAtReturn != 0 ? .returning(syscall: nr) : .running
    }
}

/// The per-thread budgets, fed the samples of each thread in their order
/// (file order: one ring per thread drains in order).
struct CPUSplitter {
    /// Periods of CPU time a thread may hold unclaimed before blocked
    /// samples take it.
    static let carry: Int64 = 2
    let periodMicroseconds: Int64
    private var budget: [UInt32: Int64] = [:] // microseconds, per tid

    init(frequencyHz: UInt32) {
        periodMicroseconds = frequencyHz == 0 ? 0 : max(1, Int64(1_000_000 / frequencyHz))
    }

    /// The periods of `s` spent on a CPU (0...s.periods).
    mutating func onCPUPeriods(_ s: SampleRecord, state: ThreadState) -> UInt32 {
        let periods = s.periods
        let measured = s.cpuState & SampleRecord.cpuMeasured != 0
        let running: Bool
        switch state {
        case .running, .returning: running = true
        case .blocked: running = false
        case .unknown: running = s.call == 0
        }
        guard measured, periodMicroseconds > 0 else { return running ? periods : 0 }
        let p = periodMicroseconds
        var b = budget[s.tid, default: 0] + Int64(s.cpuMicroseconds)
        var on: Int64 = 0
        if running {
            on = min(Int64(periods), max(0, (b + p / 2) / p))
        } else if b > Self.carry * p {
            on = min(Int64(periods), (b - Self.carry * p) / p)
        }
        b -= on * p
        budget[s.tid] = b
        return UInt32(on)
    }
}
