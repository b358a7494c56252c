import CDeferredUnwind

// Thin wrappers over the C API, one per C function, in the style of
// swift-nio's system-call shims: each calls the C function and turns a
// negative errno into a thrown DeferredUnwindError.  Nothing else lives here.
// Every function is thread context only: the Swift API is never called from
// a signal handler (signal handlers use the C API, du_request()).

@usableFromInline
enum CShim {
    /// Maps a C return value: `< 0` throws, else returns it.
    @inlinable @inline(__always)
    static func check(_ value: Int32) throws(DeferredUnwindError) -> Int32 {
        if value < 0 { throw DeferredUnwindError(cReturn: value) }
        return value
    }

    /// du_thread_attach.  May block (registry mutexes).
    static func threadAttach() throws(DeferredUnwindError) {
        _ = try check(du_thread_attach())
    }

    /// du_thread_detach.  May block (runs pending callbacks).
    static func threadDetach() throws(DeferredUnwindError) {
        _ = try check(du_thread_detach())
    }

    /// du_thread_is_attached.  Lock-free.
    static func threadIsAttached() -> Bool {
        du_thread_is_attached() != 0
    }

    /// du_current_cookie.  Lock-free.
    static func currentCookie() -> UInt64 {
        du_current_cookie()
    }

    /// du_tracer_register.  May block (registry mutex).
    static func tracerRegister(
        _ callback: du_callback, _ arg: UnsafeMutableRawPointer, _ name: String
    ) throws(DeferredUnwindError) -> OpaquePointer {
        var out: OpaquePointer?
        let ret = name.withCString { du_tracer_register(callback, arg, $0, &out) }
        _ = try check(ret)
        guard let tracer = out else { throw DeferredUnwindError(code: .invalidArgument) }
        return tracer
    }

    /// du_request.  Lock-free.  Returns (status 0 or 1, cookie).
    static func request(_ tracer: OpaquePointer) throws(DeferredUnwindError) -> (Int32, UInt64) {
        var cookie: UInt64 = 0
        let ret = try check(du_request(tracer, &cookie))
        return (ret, cookie)
    }

    /// du_tracer_cancel: the number of dropped contexts.  Blocks for running
    /// requests, a short RCU grace period and this tracer's callbacks.
    static func tracerCancel(_ tracer: OpaquePointer) throws(DeferredUnwindError) -> Int {
        Int(try check(du_tracer_cancel(tracer)))
    }

    /// du_tracer_destroy, returning the raw C result (dropped count >= 0 or
    /// -errno): the caller decides what -EDEADLK means.  Blocks as cancel.
    static func tracerDestroy(_ tracer: OpaquePointer) -> Int32 {
        du_tracer_destroy(tracer)
    }

    /// du_tracer_bit: nil once cancelled.  Lock-free.
    static func tracerBit(_ tracer: OpaquePointer) -> Int? {
        let bit = du_tracer_bit(tracer)
        return bit >= 0 ? Int(bit) : nil
    }

    /// du_tracer_name.
    static func tracerName(_ tracer: OpaquePointer) -> String {
        guard let name = du_tracer_name(tracer) else { return "" }
        return String(cString: name)
    }
}
