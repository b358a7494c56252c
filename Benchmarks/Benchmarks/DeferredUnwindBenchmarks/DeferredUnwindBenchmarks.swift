// The DeferredUnwind benchmark suite (issue 4).  Each measurement sits beside
// its baseline in the same run; Docs/Performance.md has the numbers.
//
// Threads: every attach/detach happens on one OS thread.  package-benchmark
// runs closures on a thread it owns, so single-thread benchmarks attach at
// the top of the closure and detach at the end, outside the measured span
// (startMeasurement/stopMeasurement); multi-thread ones use dedicated pthreads
// (CBenchSupport).  The measured loops are C (CBenchSupport) so the numbers
// carry no Swift overhead; the closure calls one loop of scaledIterations.
import Benchmark
import CBenchSupport
import CCancelBench

private let du = Int32(BENCH_DU)
private let duv = Int32(BENCH_DUV)

private func check(_ r: Int32, _ what: String) {
    if r < 0 { fatalError("\(what): \(r)") }
}

private func cfg(_ scale: BenchmarkScalingFactor, _ seconds: Int = 1, metrics: [BenchmarkMetric] = [.wallClock],
                 iterations: Int = 10_000, warmup: Int = 3,
                 setup: Benchmark.BenchmarkSetupHook? = nil, teardown: Benchmark.BenchmarkTeardownHook? = nil) -> Benchmark.Configuration {
    .init(metrics: metrics, timeUnits: .nanoseconds, warmupIterations: warmup, scalingFactor: scale,
          maxDuration: .seconds(seconds), maxIterations: iterations, setup: setup, teardown: teardown)
}

/// Register k tracers (counting callback) on du_ for one benchmark.
private func tracers(_ k: Int32, lib: Int32 = du) -> (Benchmark.BenchmarkSetupHook, Benchmark.BenchmarkTeardownHook) {
    // duv_ runs the shipped design ("none") except in (6)'s mutex rows.
    ({ if lib == duv { check(bench_init("none"), "duv_select") }
       check(bench_register(lib, k, 0, 0), "register") }, { bench_unregister(lib) })
}

/// Single-thread benchmark body: attach, optional warm-up, measure, detach.
/// A thread is attached to one library at a time (both register it with liburcu).
private func attached(_ benchmark: Benchmark, lib: Int32 = du, warmUp: () -> Void = {},
                      _ body: (UInt64) -> UInt64) {
    check(bench_attach(lib), "attach")
    warmUp()
    let n = UInt64(benchmark.scaledIterations.count)
    benchmark.startMeasurement()
    blackHole(body(n))
    benchmark.stopMeasurement()
    check(bench_detach(lib), "detach")
}

let benchmarks: @Sendable () -> Void = {
    check(bench_init("none"), "duv_select(none)")

    // (1) first request of a context vs its lower bound.
    // The white-box reset needs the library's internals, which the shipped
    // .so hides: (1a), (3c) and (3d) run on the duv_ build (same request code).
    let (s1, t1) = tracers(1)
    let (s1v, t1v) = tracers(1, lib: duv)
    Benchmark("1a request, first in context (duv_, +white-box reset)", configuration: cfg(.kilo, setup: s1v, teardown: t1v)) { b in
        attached(b, lib: duv) { k_request_first($0) }
    }
    Benchmark("1b lower bound: getcpu+CAS32+fetch-or64 (+reset)", configuration: cfg(.kilo)) { b in
        b.startMeasurement()
        blackHole(k_lower_bound(UInt64(b.scaledIterations.count)))
        b.stopMeasurement()
    }
    // (2) repeat request.
    Benchmark("2 request, repeat in context", configuration: cfg(.mega, setup: s1, teardown: t1)) { b in
        attached(b) { k_request_repeat($0) }
    }
    // (3) request inside a signal handler.
    for (name, mode, reset) in [("3a raise + empty handler", 0, 0), ("3b raise + handler + request (repeat)", 1, 0),
                                ("3c raise + empty handler (duv_, +reset)", 3, 1),
                                ("3d raise + handler + request (duv_, first, +reset)", 2, 1)] {
        let lib = reset == 1 ? duv : du
        let (s, t) = tracers(1, lib: lib)
        Benchmark(name, configuration: cfg(.kilo, setup: s, teardown: t)) { b in
            attached(b, lib: lib) {
                check(bench_signal_install(Int32(mode)), "sigaction")
                return k_raise($0, Int32(reset))
            }
        }
    }
    // (4) safe point with nothing pending.
    Benchmark("4 safe point, nothing pending", configuration: cfg(.mega)) { b in
        attached(b) { k_safepoint_idle($0) }
    }
    // (5) K tracers: one unwind + K callbacks vs K separate unwinds.
    for k: Int32 in [1, 8, 61] {
        let (s, t) = tracers(k)
        Benchmark("5 K=\(k): request K + safe point (1 unwind, K callbacks)",
                  configuration: cfg(.kilo, 2, iterations: 200, setup: s, teardown: t)) { b in
            attached(b, warmUp: { blackHole(k_safepoint_k(2, k)) }) { k_safepoint_k($0, k) }
        }
        Benchmark("5 K=\(k): baseline, K backtrace() calls", configuration: cfg(.kilo, 2, iterations: 200)) { b in
            b.startMeasurement()
            blackHole(k_backtrace_k(UInt64(b.scaledIterations.count), k))
            b.stopMeasurement()
        }
    }
    // (6) dispatch throughput: liburcu read side vs global mutex, same build
    // (duv_ "none" vs duv_ "mutex-dispatch": du_ would unwind through one more
    // shared object, which alone changes backtrace() cost).  The variant is
    // switched in setup, when no duv_ thread is attached and no duv_ tracer
    // is registered.
    let perThread: UInt64 = 1_000
    let throughput = BenchmarkMetric.custom("dispatches/ms", polarity: .prefersLarger, useScalingFactor: false)
    for (cbName, spin) in [("cb light", UInt32(0)), ("cb ~1us", UInt32(500))] {
        for threads: Int32 in [1, 2, 4] {
            for variant in ["none", "mutex-dispatch"] {
                let libName = variant == "none" ? "liburcu (duv_ none)" : "mutex (duv_ mutex-dispatch)"
                Benchmark("6 \(cbName) \(threads)T K=8: \(libName)",
                          configuration: cfg(.one, 2, metrics: [.wallClock, throughput], iterations: 60, warmup: 1,
                                             setup: {
                                                 check(bench_init(variant), "duv_select")
                                                 check(bench_register(duv, 8, 1, spin), "register")
                                             },
                                             teardown: { bench_unregister(duv) })) { b in
                    check(mt_prepare(duv, threads, perThread), "mt_prepare")
                    b.startMeasurement()
                    let t0 = bench_now_ns()
                    blackHole(mt_run())
                    let ns = bench_now_ns() - t0
                    b.stopMeasurement()
                    mt_finish()
                    b.measurement(throughput, Int(UInt64(threads) * perThread * 1_000_000 / ns))
                }
            }
        }
    }
    // (7) cancel latency: grace period + scrub of every attached thread.
    for threads: Int32 in [1, 8, 64] {
        Benchmark("7 cancel, \(threads) attached threads",
                  configuration: cfg(.one, 3, iterations: 2_000, warmup: 5,
                                     setup: { check(idle_start(du, threads), "idle_start") },
                                     teardown: { idle_stop() })) { b in
            check(bench_cancel_register(du), "register")
            b.startMeasurement()
            check(bench_cancel_run(du), "cancel")
            b.stopMeasurement()
            bench_cancel_free(du)
        }
    }
    // (8) footprint and allocations per dispatch after warm-up.
    let (s8, t8) = tracers(8)
    Benchmark("8 allocations per dispatch (K=8, after warm-up)",
              configuration: cfg(.kilo, metrics: [.mallocCountTotal, .wallClock], iterations: 50,
                                 setup: s8, teardown: t8)) { b in
        attached(b, warmUp: { blackHole(k_safepoint_k(10, 8)) }) { k_safepoint_k($0, 8) }
    }
    Benchmark("8 per-thread footprint",
              configuration: cfg(.one, metrics: [.custom("thread bytes", useScalingFactor: false),
                                                 .custom("trace cache bytes", useScalingFactor: false)],
                                 iterations: 1, warmup: 0)) { b in
        b.measurement(.custom("thread bytes", useScalingFactor: false), Int(bench_thread_footprint()))
        b.measurement(.custom("trace cache bytes", useScalingFactor: false), Int(bench_trace_cache_bytes()))
    }
    // (7a) register + cancel of a tracer no thread requested (no callback
    // can be running), 1 attached idle thread.  Cancelled handles own no
    // memory, so no destroy is needed.  Old core vs this one: cancel-ab.sh.
    Benchmark("7a register + cancel, no callback running, 1 attached thread",
              configuration: cfg(.one, 3, iterations: 2_000, warmup: 5,
                                 setup: { check(idle_start(du, 1), "idle_start") },
                                 teardown: { idle_stop() })) { b in
        var t: OpaquePointer? = nil
        b.startMeasurement()
        check(cb_register_one(&t), "register")
        check(cb_cancel_one(t), "cancel")
        b.stopMeasurement()
    }
    // (7b) cancel of tracer X while tracer S's callback sleeps 100 ms on
    // another thread (cancel_bench.c); only the cancel of X is timed.
    Benchmark("7b cancel while another tracer's callback sleeps 100 ms",
              configuration: cfg(.one, 10, iterations: 21, warmup: 1)) { b in
        check(cancel_sleep_begin(100), "begin")
        check(cancel_sleep_register_x(), "register x")
        b.startMeasurement()
        check(cancel_sleep_cancel_x(), "cancel x")
        b.stopMeasurement()
        if cancel_sleep_still_sleeping() == 0 { fatalError("7b: cancel of X waited for S's callback") }
        check(cancel_sleep_end(), "end")
    }
}
