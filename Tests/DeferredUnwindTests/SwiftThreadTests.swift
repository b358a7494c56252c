import DeferredUnwind
import Testing

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("Swift API: threads", .timeLimit(.minutes(1)))
    struct SwiftThreadTests {}
}

extension LibraryStateTests.SwiftThreadTests {
    @Test("attach, attached state, second attach, detach, second detach")
    func attachDetach() throws {
        let r = try SwiftAPIThread.run { () throws -> [String] in
            var log: [String] = []
            log.append("before=\(DeferredUnwind.isCurrentThreadAttached)")
            log.append("attach=\(swiftAPICatch { try DeferredUnwind.attachCurrentThread() }.swiftAPIStatus)")
            log.append("during=\(DeferredUnwind.isCurrentThreadAttached)")
            log.append("again=\(swiftAPICatch { try DeferredUnwind.attachCurrentThread() }.swiftAPIStatus)")
            log.append("detach=\(swiftAPICatch { try DeferredUnwind.detachCurrentThread() }.swiftAPIStatus)")
            log.append("after=\(DeferredUnwind.isCurrentThreadAttached)")
            log.append("detach2=\(swiftAPICatch { try DeferredUnwind.detachCurrentThread() }.swiftAPIStatus)")
            return log
        }
        #expect(r == [
            "before=false", "attach=ok", "during=true", "again=alreadyAttached",
            "detach=ok", "after=false", "detach2=notAttached",
        ])
    }

    @Test("not attached: safePoint, request and currentCookie")
    func notAttached() throws {
        let tracer = try swiftAPITracer("not-attached") { _, _ in }
        let r = try SwiftAPIThread.run { () -> [String] in
            [
                swiftAPICatch { try DeferredUnwind.safePoint() }.swiftAPIStatus,
                swiftAPICatch { try tracer.request() }.swiftAPIStatus,
                DeferredUnwind.currentCookie == nil ? "nil" : "cookie",
            ]
        }
        #expect(r == ["notAttached", "notAttached", "nil"])
    }

    @Test("attachment is per OS thread")
    func perThread() throws {
        let r = try SwiftAPIThread.attached { () throws -> (Bool, Bool) in
            let other = try SwiftAPIThread.run { DeferredUnwind.isCurrentThreadAttached }
            return (DeferredUnwind.isCurrentThreadAttached, other)
        }
        #expect(r == (true, false))
    }

    @Test("safePoint with nothing requested runs nothing; no cookie is handed out")
    func idleSafePoint() throws {
        let r = try SwiftAPIThread.attached { () throws -> (Int, Bool) in
            (try DeferredUnwind.safePoint(), DeferredUnwind.currentCookie == nil)
        }
        #expect(r == (0, true))
    }

    @Test("footprint, cache size and capacity")
    func sizes() {
        #expect(DeferredUnwind.threadFootprintBytes == 64)
        #expect(DeferredUnwind.traceCacheBytes == 4096)
        #expect(DeferredUnwind.traceCapacity > 0)
        #expect(DeferredUnwind.traceCapacity * MemoryLayout<UInt>.size < DeferredUnwind.traceCacheBytes)
        #expect(DeferredUnwind.maxTracers == 61)
    }
}

