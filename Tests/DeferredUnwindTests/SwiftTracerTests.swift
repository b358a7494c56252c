import DeferredUnwind
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Makes a tracer that records every delivery.
func swiftAPIRecordingTracer(_ name: String) throws -> (Tracer, SwiftAPIRecorder<SwiftAPIDelivery>) {
    let recorder = SwiftAPIRecorder<SwiftAPIDelivery>()
    let tracer = try swiftAPITracer(name) { trace, cookie in
        recorder.append(SwiftAPIDelivery(trace: trace, cookie: cookie, thread: swiftAPIThreadID()))
    }
    return (tracer, recorder)
}

/// Wakes up when an object dies (to observe a deferred release).
final class SwiftAPISentinel: Sendable {
    let died: SwiftAPISlot<Bool>
    init(_ died: SwiftAPISlot<Bool>) { self.died = died }
    deinit { died.value = true }
}

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("Swift API: tracers and requests", .timeLimit(.minutes(1)))
    struct SwiftTracerTests {}
}

extension LibraryStateTests.SwiftTracerTests {
    @Test("request: queued, then alreadyRequested with the same cookie; the callback gets it")
    func statuses() throws {
        let (tracer, recorder) = try swiftAPIRecordingTracer("statuses")
        struct Out: Sendable {
            var before: Cookie?, first: Tracer.RequestResult?, second: Tracer.RequestResult?
            var current: Cookie?, ran = -1, after: Cookie?, idle = -1
            var third: Tracer.RequestResult?, ran3 = -1, thread: UInt = 0
        }
        let o = try SwiftAPIThread.attached { () throws -> Out in
            var o = Out()
            o.thread = swiftAPIThreadID()
            o.before = DeferredUnwinding.currentCookie
            o.first = try tracer.request()
            o.second = try tracer.request()
            o.current = DeferredUnwinding.currentCookie
            o.ran = try DeferredUnwinding.safePoint()
            o.after = DeferredUnwinding.currentCookie
            o.idle = try DeferredUnwinding.safePoint()
            o.third = try tracer.request()
            o.ran3 = try DeferredUnwinding.safePoint()
            return o
        }
        let c1 = try #require(o.first?.cookie)
        #expect(o.before == nil)
        #expect(o.first == .queued(c1))
        #expect(o.second == .alreadyRequested(c1))
        #expect(o.current == c1)
        #expect(o.ran == 1 && o.idle == 0 && o.ran3 == 1)
        #expect(o.after == nil)
        let c3 = try #require(o.third?.cookie)
        #expect(o.third == .queued(c3))
        #expect(c3 != c1, "a new entry context gets a new cookie")
        #expect(c1.threadHalf != 0 && c1.contextHalf & 1 == 1)
        let d = recorder.all
        #expect(d.map(\.cookie) == [c1, c3])
        #expect(d.allSatisfy { $0.thread == o.thread && !$0.trace.frames.isEmpty && !$0.trace.isThreadExiting })
    }

    @Test("bit, cancel, request after cancel, second cancel")
    func cancel() throws {
        let (tracer, recorder) = try swiftAPIRecordingTracer("cancel")
        let bit = try #require(tracer.bit)
        #expect((3...63).contains(bit))
        #expect(!tracer.isCancelled)
        #expect(tracer.name == "cancel")
        #expect(try tracer.cancel() == 0, "nothing requested: nothing dropped")
        #expect(tracer.bit == nil)
        #expect(tracer.isCancelled)
        let again = #expect(throws: DeferredUnwindError.self) { try tracer.cancel() }
        #expect(again?.code == .alreadyCancelled)
        let r = try SwiftAPIThread.attached { () -> [String] in
            [swiftAPICatch { try tracer.request() }.swiftAPIStatus,
             (try? DeferredUnwinding.safePoint()).map { "ran \($0)" } ?? "error"]
        }
        #expect(r == ["tracerCancelled", "ran 0"])
        #expect(recorder.count == 0)
    }

    @Test("cancel after a request and before the safe point: no callback")
    func cancelPending() throws {
        let (tracer, recorder) = try swiftAPIRecordingTracer("cancel-pending")
        let r = try SwiftAPIThread.attached { () throws -> (Int, Int, Bool) in
            _ = try tracer.request()
            let dropped = try tracer.cancel() // attached thread, outside callbacks: allowed
            return (dropped, try DeferredUnwinding.safePoint(), DeferredUnwinding.currentCookie == nil)
        }
        #expect(r == (1, 0, true), "the pending request's context is reported dropped")
        #expect(recorder.count == 0)
    }

    @Test("names keep at most 31 bytes")
    func longName() throws {
        let tracer = try swiftAPITracer(String(repeating: "n", count: 40)) { _, _ in }
        #expect(tracer.name == String(repeating: "n", count: 31))
    }

    @Test("cancel, detach and safePoint inside a callback throw wouldDeadlock")
    func insideCallback() throws {
        let other = try swiftAPITracer("other") { _, _ in }
        let me = SwiftAPISlot<Tracer>()
        let seen = SwiftAPIRecorder<String>()
        let tracer = try swiftAPITracer("inside") { _, _ in
            seen.append("cancel-self=" + swiftAPICatch { try me.value?.cancel() }.swiftAPIStatus)
            seen.append("cancel-other=" + swiftAPICatch { try other.cancel() }.swiftAPIStatus)
            seen.append("detach=" + swiftAPICatch { try DeferredUnwinding.detachCurrentThread() }.swiftAPIStatus)
            seen.append("safePoint=" + swiftAPICatch { try DeferredUnwinding.safePoint() }.swiftAPIStatus)
            seen.append("attached=\(DeferredUnwinding.isCurrentThreadAttached)")
        }
        me.value = tracer
        defer { me.value = nil } // break the tracer -> callback -> slot -> tracer cycle
        let r = try SwiftAPIThread.attached { () throws -> (Int, Bool) in
            _ = try tracer.request()
            return (try DeferredUnwinding.safePoint(), DeferredUnwinding.isCurrentThreadAttached)
        }
        #expect(r == (1, true))
        #expect(seen.all == [
            "cancel-self=wouldDeadlock", "cancel-other=wouldDeadlock", "detach=wouldDeadlock",
            "safePoint=wouldDeadlock", "attached=true",
        ])
        // Outside the callback both cancels work.
        try tracer.cancel()
        try other.cancel()
    }

    @Test("a callback's requests are served before the safe point returns, with the same cookie")
    func requestFromCallback() throws {
        let (b, bRecorder) = try swiftAPIRecordingTracer("second")
        let aSelf = SwiftAPISlot<Tracer>()
        let fromCallback = SwiftAPIRecorder<String>()
        let aRecorder = SwiftAPIRecorder<Cookie>()
        let a = try swiftAPITracer("first") { _, cookie in
            aRecorder.append(cookie)
            for tracer in [b, aSelf.value].compactMap({ $0 }) {
                switch swiftAPICatch({ try tracer.request() }) {
                case .success(.queued(let c)): fromCallback.append("queued \(c == cookie)")
                case .success(.alreadyRequested(let c)): fromCallback.append("already \(c == cookie)")
                case .failure(let e): fromCallback.append("\(e)")
                }
            }
        }
        aSelf.value = a
        defer { aSelf.value = nil }
        let (cookie, ran, otherRan) = try SwiftAPIThread.attached { () throws -> (Cookie, Int, Int) in
            let c = try a.request().cookie
            let ran = try DeferredUnwinding.safePoint()
            // Requests are per thread: another attached thread has nothing pending.
            let otherRan = try SwiftAPIThread.attached { try DeferredUnwinding.safePoint() }
            return (c, ran, otherRan)
        }
        #expect(ran == 2)
        #expect(otherRan == 0)
        #expect(aRecorder.all == [cookie])
        #expect(fromCallback.all == ["queued true", "already true"])
        #expect(bRecorder.all.map(\.cookie) == [cookie])
    }

    @Test("a tracer created on one thread serves requests from callbacks on others")
    func crossThreadCallbacks() throws {
        let (b, bRecorder) = try swiftAPIRecordingTracer("cross-b")
        let requested = SwiftAPIRecorder<Cookie>()
        let a = try swiftAPITracer("cross-a") { _, _ in
            if let c = try? b.request().cookie { requested.append(c) }
        }
        let threads = try (0..<3).map { _ in
            try SwiftAPIThread.attached { () throws -> (UInt, Cookie, Int) in
                let c = try a.request().cookie
                return (swiftAPIThreadID(), c, try DeferredUnwinding.safePoint())
            }
        }
        #expect(threads.allSatisfy { $0.2 == 2 })
        #expect(requested.all == threads.map(\.1))
        #expect(bRecorder.all.map(\.cookie) == threads.map(\.1))
        #expect(bRecorder.all.map(\.thread) == threads.map(\.0))
    }

    @Test("detach delivers pending requests with an exiting trace; requests inside fail")
    func detachDelivers() throws {
        let (b, bRecorder) = try swiftAPIRecordingTracer("detach-b")
        let inside = SwiftAPIRecorder<String>()
        let aRecorder = SwiftAPIRecorder<SwiftAPIDelivery>()
        let a = try swiftAPITracer("detach-a") { trace, cookie in
            aRecorder.append(SwiftAPIDelivery(trace: trace, cookie: cookie, thread: swiftAPIThreadID()))
            inside.append(swiftAPICatch { try b.request() }.swiftAPIStatus)
        }
        let (cookie, attachedAfter) = try SwiftAPIThread.run { () throws -> (Cookie, Bool) in
            try DeferredUnwinding.attachCurrentThread()
            let c = try a.request().cookie
            try DeferredUnwinding.detachCurrentThread()
            return (c, DeferredUnwinding.isCurrentThreadAttached)
        }
        #expect(!attachedAfter)
        let d = aRecorder.all
        try #require(d.count == 1)
        #expect(d[0].cookie == cookie)
        #expect(d[0].trace.isThreadExiting && d[0].trace.frames.isEmpty)
        #expect(inside.all == ["threadExiting"])
        #expect(bRecorder.count == 0)
    }

    @Test("thread exit without detach delivers pending requests too")
    func exitDelivers() throws {
        let (a, recorder) = try swiftAPIRecordingTracer("exit")
        let cookie = try SwiftAPIThread.run { () throws -> Cookie in
            try DeferredUnwinding.attachCurrentThread()
            return try a.request().cookie // no detach, no safe point: the thread ends
        }
        // pthread_join returned: the thread-exit destructor has run.
        let d = recorder.all
        try #require(d.count == 1)
        #expect(d[0].cookie == cookie)
        #expect(d[0].trace.isThreadExiting && d[0].trace.frames.isEmpty)
    }

    @Test("a tracer created and released inside a callback is destroyed after the callback")
    func releaseInsideCallback() throws {
        let died = SwiftAPISlot<Bool>(false)
        let innerRan = SwiftAPISlot<Bool>(false)
        let innerRequest = SwiftAPISlot<String>()
        let outer = try swiftAPITracer("outer") { _, _ in
            let sentinel = SwiftAPISentinel(died)
            do {
                let inner = try swiftAPITracer("inner") { _, _ in
                    _ = sentinel
                    innerRan.value = true
                }
                innerRequest.value = swiftAPICatch { try inner.request() }.swiftAPIStatus
                // `inner` dies here, inside a callback: deinit cannot cancel
                // (it would wait for this callback) and defers to a thread.
            } catch {
                innerRequest.value = "\(error)"
            }
        }
        let ran = try SwiftAPIThread.attached { () throws -> Int in
            _ = try outer.request()
            return try DeferredUnwinding.safePoint()
        }
        #expect(innerRequest.value == "ok")
        #expect(ran >= 1 && ran <= 2) // the inner callback may or may not run
        #expect(innerRan.value == (ran == 2))
        // The cleanup thread cancels and frees the inner tracer, releasing its callback.
        testExpectEventually("the cleanup thread to free the released tracer's callback") {
            died.value == true
        }
    }

    @Test("a tracer released on its own is cancelled: the bit is free again")
    func deinitCancels() throws {
        let died = SwiftAPISlot<Bool>(false)
        do {
            let sentinel = SwiftAPISentinel(died)
            let t = try swiftAPITracer("short-lived") { _, _ in _ = sentinel }
            #expect(t.bit != nil)
        }
        #expect(died.value == true, "deinit destroys synchronously outside callbacks")
    }

    @Test("registry full: 61 tracers, the 62nd throws registryFull (in a child process)")
    func registryFull() async {
        // A child process has no other tracers, so the count is exact, and the
        // full registry cannot disturb the other tests of this process.
        await #expect(processExitsWith: .success) {
            var tracers: [Tracer] = []
            for i in 0..<DeferredUnwinding.maxTracers {
                guard let t = try? Tracer(name: "full-\(i)", callback: { _, _ in }) else { exit(10) }
                tracers.append(t)
            }
            if tracers.count != 61 || Set(tracers.compactMap(\.bit)).count != 61 { exit(11) }
            do {
                _ = try Tracer(name: "one-too-many") { _, _ in }
                exit(12)
            } catch DeferredUnwindError.Code.registryFull {
                // expected
            } catch {
                exit(13)
            }
            // Cancelling one frees its bit.
            do { try tracers[0].cancel() } catch { exit(14) }
            guard let again = try? Tracer(name: "again", callback: { _, _ in }) else { exit(15) }
            if again.bit == nil { exit(16) }
            exit(0)
        }
    }
}
