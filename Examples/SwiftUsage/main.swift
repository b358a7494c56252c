import DeferredUnwind
import Foundation

// A sampler asks for the stack (in production, from a C signal handler with
// du_request()); the thread unwinds once at its next safe point and hands
// (trace, cookie) to every tracer that asked.
do {
    // Attach the thread that will request and reach safe points.
    try DeferredUnwinding.attachCurrentThread()
    defer { try? DeferredUnwinding.detachCurrentThread() }

    let tracer = try Tracer(name: "example") { trace, cookie in
        // Runs on this thread, inside safePoint(): may allocate, log, block.
        print("cookie \(cookie) frames \(trace.frames.count)")
    }

    let cookie = try tracer.request().cookie  // .queued(cookie): join key for the sample
    print("requested \(cookie)")

    let callbacks = try DeferredUnwinding.safePoint()  // unwinds once, runs the callback
    print("callbacks \(callbacks)")

    try tracer.cancel()  // waits for running callbacks; none start afterwards
} catch {
    print("error: \(error)")
    exit(1)
}
