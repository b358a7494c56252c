// onecore-fork: a Swift program with a C signal handler (the CSampler
// target).  Attaches with the Swift API, samples with the C handler, lists
// the mapped files (the test counts copies of the core among them), forks
// while attached and reports the child's status.  Prints "ok" last when
// every step passed; exits 1 otherwise.
import CProbe
import CSampler
import DeferredUnwind

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

func fail(_ what: String) -> Never {
    print("FAIL: \(what)")
    exit(1)
}

do {
    try DeferredUnwinding.attachCurrentThread()
} catch {
    fail("attachCurrentThread: \(error)")
}
if probe_attached() != 1 { fail("probe_attached \(probe_attached())") }
let start = sampler_start()
if start != 0 { fail("sampler_start \(start)") }
let sample = sampler_sample_once()
if sample != 0 { fail("sampler_sample_once \(sample)") }
print("sampled")

// A Swift tracer too: the C handler's core and the Swift API's must be one.
nonisolated(unsafe) var swiftCallbacks = 0
let tracer: Tracer
do {
    tracer = try Tracer(name: "onecore-swift") { _, _ in swiftCallbacks += 1 }
    _ = try tracer.request()
    let ran = try DeferredUnwinding.safePoint()
    if ran != 1 || swiftCallbacks != 1 { fail("swift safePoint ran \(ran) callbacks \(swiftCallbacks)") }
} catch {
    fail("swift tracer: \(error)")
}
print("swift tracer ok")

sampler_print_objects()
print("forking")
let child = sampler_fork_check(60)
print("child \(child)")
if child != 0 { fail("child status \(child)") }
do {
    try tracer.cancel()
    try DeferredUnwinding.detachCurrentThread()
} catch {
    fail("teardown: \(error)")
}
print("ok")
