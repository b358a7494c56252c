#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure reported by the C core: a ``Code`` and the errno it came from.
///
/// The C API returns `-errno`; the Swift API throws this instead
/// (`throws(DeferredUnwindError)` everywhere).  Like swift-subprocess's
/// `SubprocessError`, it is a struct, not an enum: new codes can be added
/// without breaking a client's `switch`, which must have a `default`.
///
/// Matching:
///
/// ```swift
/// do {
///     _ = try tracer.request()
/// } catch let error where error.code == .tracerCancelled {
///     // ...
/// } catch DeferredUnwindError.Code.notAttached {   // also in an untyped catch
///     // ...
/// } catch {}
///
/// switch error.code {                               // or `switch error`
/// case .notAttached, .threadExiting: ...
/// default: ...                                      // required: codes may grow
/// }
/// ```
///
/// Errnos without a named code have ``Code/other``; ``init(errno:)`` never
/// gives `.other` to an errno that has a named code, so `code ==` is reliable.
///
/// Context: any (a plain value).
public struct DeferredUnwindError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.  An extensible set of static members: compare with
    /// `==` or match in a `switch` (with a `default`), never exhaustively.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        @usableFromInline
        enum Storage: UInt8, Sendable {
            case notAttached = 1, alreadyAttached, threadExiting, tracerCancelled, alreadyCancelled
            case registryFull, wouldDeadlock, invalidArgument, outOfMemory, other
        }

        @usableFromInline
        let storage: Storage

        @inlinable
        init(_ storage: Storage) {
            self.storage = storage
        }

        /// `ESRCH`: the calling thread is not attached
        /// (``DeferredUnwinding/attachCurrentThread()`` was not called on it, or it detached).
        public static let notAttached = Code(.notAttached)
        /// `EEXIST`: the calling thread is already attached.
        public static let alreadyAttached = Code(.alreadyAttached)
        /// `ESHUTDOWN`: the calling thread is detaching or exiting; requests are refused.
        public static let threadExiting = Code(.threadExiting)
        /// `ECANCELED`: the tracer was cancelled; it accepts no more requests.
        public static let tracerCancelled = Code(.tracerCancelled)
        /// `EALREADY`: the tracer was cancelled before.
        public static let alreadyCancelled = Code(.alreadyCancelled)
        /// `EBUSY`: ``DeferredUnwinding/maxTracers`` tracers are registered; no bit is free.
        public static let registryFull = Code(.registryFull)
        /// `EBUSY` from the frozen-region calls: the thread is already in a
        /// frozen region, or is exiting
        /// (``DeferredUnwinding/withFrozenRegion(_:)``,
        /// ``DeferredUnwinding/serveFrozenThreads()``).  The same code as
        /// ``registryFull`` (one errno, one code): which one it means follows
        /// from the call that threw.
        public static let busy = Code(.registryFull)
        /// `EDEADLK`: called from inside a tracer callback, where waiting would hang
        /// (cancel, detach, safe point, or a tracer's deinit).
        public static let wouldDeadlock = Code(.wouldDeadlock)
        /// `EINVAL`: an invalid argument reached the C core.
        public static let invalidArgument = Code(.invalidArgument)
        /// `ENOMEM`: the C core could not allocate.
        public static let outOfMemory = Code(.outOfMemory)
        /// Any errno without a named code (for example `EAGAIN` when the
        /// thread-exit key could not be created); the error's
        /// ``DeferredUnwindError/errno`` says which.  A later version may give
        /// such an errno a named code of its own.
        public static let other = Code(.other)

        /// The code's name, as spelled in Swift: `"notAttached"`.
        public var description: String {
            switch storage {
            case .notAttached: return "notAttached"
            case .alreadyAttached: return "alreadyAttached"
            case .threadExiting: return "threadExiting"
            case .tracerCancelled: return "tracerCancelled"
            case .alreadyCancelled: return "alreadyCancelled"
            case .registryFull: return "registryFull"
            case .wouldDeadlock: return "wouldDeadlock"
            case .invalidArgument: return "invalidArgument"
            case .outOfMemory: return "outOfMemory"
            case .other: return "other"
            }
        }

        /// `case .notAttached:` in a `switch` over a ``DeferredUnwindError``.
        @inlinable
        public static func ~= (pattern: Code, value: DeferredUnwindError) -> Bool {
            value.code == pattern
        }

        /// `catch DeferredUnwindError.Code.notAttached` in an untyped `catch`:
        /// true when the error is a ``DeferredUnwindError`` with this code.
        @inlinable
        public static func ~= (pattern: Code, value: any Error) -> Bool {
            (value as? DeferredUnwindError)?.code == pattern
        }
    }

    /// The positive errno value the C core returned (negated): `ESRCH`, not `-ESRCH`.
    public let errno: Int32

    /// The errno's code; ``Code/other`` for an errno without a named code.
    public var code: Code {
        switch errno {
        case ESRCH: return .notAttached
        case EEXIST: return .alreadyAttached
        case ESHUTDOWN: return .threadExiting
        case ECANCELED: return .tracerCancelled
        case EALREADY: return .alreadyCancelled
        case EBUSY: return .registryFull
        case EDEADLK: return .wouldDeadlock
        case EINVAL: return .invalidArgument
        case ENOMEM: return .outOfMemory
        default: return .other
        }
    }

    /// The error for a positive errno value (`ESRCH`, not `-ESRCH`); any
    /// value is kept as given.
    public init(errno code: Int32) {
        errno = code
    }

    /// The error for a negative return value of the C API (`-ESRCH`).
    @usableFromInline
    init(cReturn value: Int32) {
        self.init(errno: value == Int32.min ? value : -value)
    }

    /// The error the C core reports with this code (`.other`: `EAGAIN`,
    /// the only unnamed errno the core returns).
    init(code: Code) {
        switch code.storage {
        case .notAttached: self.init(errno: ESRCH)
        case .alreadyAttached: self.init(errno: EEXIST)
        case .threadExiting: self.init(errno: ESHUTDOWN)
        case .tracerCancelled: self.init(errno: ECANCELED)
        case .alreadyCancelled: self.init(errno: EALREADY)
        case .registryFull: self.init(errno: EBUSY)
        case .wouldDeadlock: self.init(errno: EDEADLK)
        case .invalidArgument: self.init(errno: EINVAL)
        case .outOfMemory: self.init(errno: ENOMEM)
        case .other: self.init(errno: EAGAIN)
        }
    }

    public var description: String {
        switch code.storage {
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
            return "all \(DeferredUnwinding.maxTracers) tracer slots are in use (EBUSY)"
        case .wouldDeadlock:
            return "not allowed inside a tracer callback: it would deadlock (EDEADLK)"
        case .invalidArgument:
            return "invalid argument (EINVAL)"
        case .outOfMemory:
            return "out of memory (ENOMEM)"
        case .other:
            return "deferred unwind error, errno \(errno)"
        }
    }
}
