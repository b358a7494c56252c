#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure reported by the C core, one case per negative errno it returns.
///
/// The C API returns `-errno`; the Swift API throws this instead
/// (`throws(DeferredUnwindError)` everywhere).  Codes without a named case
/// arrive as ``other(errno:)``; `init(errno:)` never produces `.other` for a
/// code that has a named case, so comparing with `==` is reliable.
///
/// Context: any (a plain value).
public enum DeferredUnwindError: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// `ESRCH`: the calling thread is not attached
    /// (``DeferredUnwind/attachCurrentThread()`` was not called on it, or it detached).
    case notAttached
    /// `EEXIST`: the calling thread is already attached.
    case alreadyAttached
    /// `ESHUTDOWN`: the calling thread is detaching or exiting; requests are refused.
    case threadExiting
    /// `ECANCELED`: the tracer was cancelled; it accepts no more requests.
    case tracerCancelled
    /// `EALREADY`: the tracer was cancelled before.
    case alreadyCancelled
    /// `EBUSY`: ``DeferredUnwind/maxTracers`` tracers are registered; no bit is free.
    case registryFull
    /// `EDEADLK`: called from inside a tracer callback, where waiting would hang
    /// (cancel, detach, safe point, or a tracer's deinit).
    case wouldDeadlock
    /// `EINVAL`: an invalid argument reached the C core.
    case invalidArgument
    /// `ENOMEM`: the C core could not allocate.
    case outOfMemory
    /// Any other errno (for example `EAGAIN` when the thread-exit key could not be created).
    case other(errno: Int32)

    /// The error for a positive errno value (`ESRCH`, not `-ESRCH`).
    public init(errno code: Int32) {
        switch code {
        case ESRCH: self = .notAttached
        case EEXIST: self = .alreadyAttached
        case ESHUTDOWN: self = .threadExiting
        case ECANCELED: self = .tracerCancelled
        case EALREADY: self = .alreadyCancelled
        case EBUSY: self = .registryFull
        case EDEADLK: self = .wouldDeadlock
        case EINVAL: self = .invalidArgument
        case ENOMEM: self = .outOfMemory
        default: self = .other(errno: code)
        }
    }

    /// The error for a negative return value of the C API (`-ESRCH`).
    @usableFromInline
    init(cReturn value: Int32) {
        self.init(errno: value == Int32.min ? value : -value)
    }

    /// The positive errno value this error stands for.
    public var errno: Int32 {
        switch self {
        case .notAttached: return ESRCH
        case .alreadyAttached: return EEXIST
        case .threadExiting: return ESHUTDOWN
        case .tracerCancelled: return ECANCELED
        case .alreadyCancelled: return EALREADY
        case .registryFull: return EBUSY
        case .wouldDeadlock: return EDEADLK
        case .invalidArgument: return EINVAL
        case .outOfMemory: return ENOMEM
        case .other(let code): return code
        }
    }

    public var description: String {
        switch self {
        case .notAttached:
            return "the calling thread is not attached (ESRCH)"
        case .alreadyAttached:
            return "the calling thread is already attached (EEXIST)"
        case .threadExiting:
            return "the calling thread is detaching or exiting (ESHUTDOWN)"
        case .tracerCancelled:
            return "the tracer was cancelled (ECANCELED)"
        case .alreadyCancelled:
            return "the tracer was already cancelled (EALREADY)"
        case .registryFull:
            return "all \(DeferredUnwind.maxTracers) tracer slots are in use (EBUSY)"
        case .wouldDeadlock:
            return "not allowed inside a tracer callback: it would deadlock (EDEADLK)"
        case .invalidArgument:
            return "invalid argument (EINVAL)"
        case .outOfMemory:
            return "out of memory (ENOMEM)"
        case .other(let code):
            return "deferred unwind error, errno \(code)"
        }
    }
}
