import DeferredUnwind
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("Swift API: DeferredUnwindError", .timeLimit(.minutes(1)))
struct SwiftErrorTests {
    static let named: [(Int32, DeferredUnwindError.Code, String)] = [
        (ESRCH, .notAttached, "ESRCH"),
        (EEXIST, .alreadyAttached, "EEXIST"),
        (ESHUTDOWN, .threadExiting, "ESHUTDOWN"),
        (ECANCELED, .tracerCancelled, "ECANCELED"),
        (EALREADY, .alreadyCancelled, "EALREADY"),
        (EBUSY, .registryFull, "EBUSY"),
        (EDEADLK, .wouldDeadlock, "EDEADLK"),
        (EINVAL, .invalidArgument, "EINVAL"),
        (ENOMEM, .outOfMemory, "ENOMEM"),
    ]

    @Test("every errno of the C API has its named code and keeps its errno")
    func mapping() {
        for (errno, code, name) in Self.named {
            let error = DeferredUnwindError(errno: errno)
            #expect(error.code == code)
            #expect(error.errno == errno)
            #expect(error.description.contains(name))
            #expect(code != .other)
        }
        #expect(Set(Self.named.map { DeferredUnwindError(errno: $0.0).description }).count == Self.named.count)
        #expect(Set(Self.named.map(\.1)).count == Self.named.count)
        #expect(Set(Self.named.map { "\($0.1)" }).count == Self.named.count)
        #expect("\(DeferredUnwindError.Code.registryFull)" == "registryFull")
    }

    @Test("other errno values have code .other and keep their errno")
    func other() {
        let e = DeferredUnwindError(errno: EAGAIN)
        #expect(e.code == .other)
        #expect(e.errno == EAGAIN)
        #expect(e.description.contains("\(EAGAIN)"))
        #expect(e != DeferredUnwindError(errno: EINTR), "equality compares the errno")
        #expect(DeferredUnwindError(errno: EINTR).code == .other)
        #expect(DeferredUnwindError(errno: ESRCH).code != .other)
    }

    /// The ways a client matches: `code ==`, a `switch` over the error or its
    /// code (with a `default`: codes may be added), and `catch` by code.
    @Test("codes match with ==, in a switch, and in an untyped catch")
    func matching() {
        func status(_ error: DeferredUnwindError) -> String {
            switch error {
            case .notAttached, .threadExiting: return "thread"
            case .registryFull: return "full"
            default: return "other"
            }
        }
        #expect(status(DeferredUnwindError(errno: ESRCH)) == "thread")
        #expect(status(DeferredUnwindError(errno: ESHUTDOWN)) == "thread")
        #expect(status(DeferredUnwindError(errno: EBUSY)) == "full")
        #expect(status(DeferredUnwindError(errno: EAGAIN)) == "other")

        func typedThrow(_ errno: Int32) throws(DeferredUnwindError) { throw DeferredUnwindError(errno: errno) }
        func untypedThrow(_ errno: Int32) throws { try typedThrow(errno) }
        func typed(_ errno: Int32) -> String {
            do {
                try typedThrow(errno)  // the do throws DeferredUnwindError
            } catch DeferredUnwindError.Code.tracerCancelled {
                return "cancelled"
            } catch where error.code == .alreadyCancelled {
                return "again"
            } catch {
                return "other"
            }
            return "none"
        }
        func untyped(_ errno: Int32) -> String {
            do {
                try untypedThrow(errno)  // the do throws any Error
            } catch DeferredUnwindError.Code.tracerCancelled {
                return "cancelled"
            } catch let e as DeferredUnwindError where e.code == .alreadyCancelled {
                return "again"
            } catch {
                return "other"
            }
            return "none"
        }
        for match in [typed, untyped] {
            #expect(match(ECANCELED) == "cancelled")
            #expect(match(EALREADY) == "again")
            #expect(match(EBUSY) == "other")
        }

        struct Unrelated: Error {}
        #expect(!(DeferredUnwindError.Code.other ~= (Unrelated() as any Error)))
        #expect(DeferredUnwindError.Code.wouldDeadlock ~= (DeferredUnwindError(errno: EDEADLK) as any Error))
    }
}
