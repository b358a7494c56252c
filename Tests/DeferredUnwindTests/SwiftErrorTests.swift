import DeferredUnwind
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("Swift API: DeferredUnwindError", .timeLimit(.minutes(1)))
struct SwiftErrorTests {
    static let named: [(Int32, DeferredUnwindError, String)] = [
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

    @Test("every errno of the C API maps to its named case and back")
    func mapping() {
        for (code, error, name) in Self.named {
            #expect(DeferredUnwindError(errno: code) == error)
            #expect(error.errno == code)
            #expect(error.description.contains(name))
        }
        #expect(Set(Self.named.map { $0.1.description }).count == Self.named.count)
    }

    @Test("other errno values keep their code")
    func other() {
        let e = DeferredUnwindError(errno: EAGAIN)
        #expect(e == .other(errno: EAGAIN))
        #expect(e.errno == EAGAIN)
        #expect(e.description.contains("\(EAGAIN)"))
        #expect(DeferredUnwindError(errno: ESRCH) != .other(errno: ESRCH))
    }
}
