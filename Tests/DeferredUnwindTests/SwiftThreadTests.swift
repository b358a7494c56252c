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
            log.append("before=\(DeferredUnwinding.isCurrentThreadAttached)")
            log.append("attach=\(swiftAPICatch { try DeferredUnwinding.attachCurrentThread() }.swiftAPIStatus)")
            log.append("during=\(DeferredUnwinding.isCurrentThreadAttached)")
            log.append("again=\(swiftAPICatch { try DeferredUnwinding.attachCurrentThread() }.swiftAPIStatus)")
            log.append("detach=\(swiftAPICatch { try DeferredUnwinding.detachCurrentThread() }.swiftAPIStatus)")
            log.append("after=\(DeferredUnwinding.isCurrentThreadAttached)")
            log.append("detach2=\(swiftAPICatch { try DeferredUnwinding.detachCurrentThread() }.swiftAPIStatus)")
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
                swiftAPICatch { try DeferredUnwinding.safePoint() }.swiftAPIStatus,
                swiftAPICatch { try tracer.request() }.swiftAPIStatus,
                DeferredUnwinding.currentCookie == nil ? "nil" : "cookie",
            ]
        }
        #expect(r == ["notAttached", "notAttached", "nil"])
    }

    @Test("attachment is per OS thread")
    func perThread() throws {
        let r = try SwiftAPIThread.attached { () throws -> (Bool, Bool) in
            let other = try SwiftAPIThread.run { DeferredUnwinding.isCurrentThreadAttached }
            return (DeferredUnwinding.isCurrentThreadAttached, other)
        }
        #expect(r == (true, false))
    }

    @Test("safePoint with nothing requested runs nothing; no cookie is handed out")
    func idleSafePoint() throws {
        let r = try SwiftAPIThread.attached { () throws -> (Int, Bool) in
            (try DeferredUnwinding.safePoint(), DeferredUnwinding.currentCookie == nil)
        }
        #expect(r == (0, true))
    }

    @Test("footprint, cache size and capacity")
    func sizes() {
        #expect(DeferredUnwinding.threadFootprintBytes == 128)
        #expect(DeferredUnwinding.traceCacheBytes == 4096)
        #expect(DeferredUnwinding.traceCapacity > 0)
        #expect(DeferredUnwinding.traceCapacity * MemoryLayout<UInt>.size < DeferredUnwinding.traceCacheBytes)
        #expect(DeferredUnwinding.maxTracers == 61)
    }
}

