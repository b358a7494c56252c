import CDeferredUnwind

/// One unwound user stack, as handed to a ``Tracer`` callback.
///
/// ``frames`` holds return addresses, innermost first: `frames[0]` is the
/// return address into the function that called
/// ``DeferredUnwinding/safePoint()`` (the Swift wrapper is always inlined, so
/// that is your code, not this library).  The C core's trace is only valid
/// during the callback; this is a copy and may be kept.
///
/// Context: any (a plain value).
public struct StackTrace: Sendable, Hashable {
    /// Return addresses, innermost first.  Empty when ``isThreadExiting`` or
    /// ``isUnavailable``.
    public var frames: [UInt]
    /// The stack was deeper than the trace cache holds
    /// (``DeferredUnwinding/traceCapacity`` frames); the outermost frames are missing.
    public var isTruncated: Bool
    /// Delivered by ``DeferredUnwinding/detachCurrentThread()`` or by thread exit
    /// for a request that was still pending: there is no stack to unwind.
    public var isThreadExiting: Bool
    /// The trace cache could not be allocated (out of memory): no frames.
    public var isUnavailable: Bool
    /// The frames come from glibc `backtrace()`: the core's table-driven
    /// unwinder met a frame its rule cache cannot express (a DWARF
    /// expression, a handler on an alternate signal stack) and handed the
    /// whole stack to it.  `false`: from the rule cache.
    public var isFromFallbackUnwinder: Bool
    /// The walk reached the outermost frame (`_start`, `clone3`): no frame
    /// above the last one was dropped.  Never set for the fallback
    /// unwinder's traces (it cannot tell) or truncated ones.
    public var isComplete: Bool
    /// Unwound by ``DeferredUnwinding/serveFrozenThreads()`` from the
    /// thread's frozen region, starting in the function that called
    /// ``DeferredUnwinding/withFrozenRegion(_:)``; the callback may run on
    /// another thread (the cookie's ``Cookie/threadHalf`` says whose).
    public var isFromProxy: Bool

    public init(frames: [UInt], isTruncated: Bool = false, isThreadExiting: Bool = false,
                isUnavailable: Bool = false, isFromFallbackUnwinder: Bool = false,
                isComplete: Bool = false, isFromProxy: Bool = false) {
        self.frames = frames
        self.isTruncated = isTruncated
        self.isThreadExiting = isThreadExiting
        self.isUnavailable = isUnavailable
        self.isFromFallbackUnwinder = isFromFallbackUnwinder
        self.isComplete = isComplete
        self.isFromProxy = isFromProxy
    }

    /// Copies a C trace.  Context: inside a callback (the C trace's lifetime).
    init(copying trace: UnsafePointer<du_trace>) {
        let t = trace.pointee
        if let ips = t.ips, t.nr > 0 {
            frames = Array(UnsafeBufferPointer(start: ips, count: Int(t.nr)))
        } else {
            frames = []
        }
        isTruncated = t.flags & DU_TRACE_TRUNCATED.rawValue != 0
        isThreadExiting = t.flags & DU_TRACE_EXITING.rawValue != 0
        isUnavailable = t.flags & DU_TRACE_NOMEM.rawValue != 0
        isFromFallbackUnwinder = t.flags & DU_TRACE_BACKTRACE.rawValue != 0
        isComplete = t.flags & DU_TRACE_COMPLETE.rawValue != 0
        isFromProxy = t.flags & DU_TRACE_PROXY.rawValue != 0
    }
}
