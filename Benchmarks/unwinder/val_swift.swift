// val_swift.swift - Swift -O frames for the validation suite (built by
// validate.sh with `swiftc -O -parse-as-library -emit-object`, val.h as the
// bridging header).  Each entry does its own thing, then calls vstep()
// (ehu_validate.c), which runs the next step or the probe.

// A generic function specialized at -O; the work after the call keeps the
// frame (no tail call).
@inline(never)
func swiftRecurse<T: FixedWidthInteger>(_ x: T) -> T {
    vstep()
    return x &* 3 &+ 1
}

@_cdecl("v_swift_rec")
public func v_swift_rec(_ x: Int32) -> Int32 {
    let a = swiftRecurse(x)
    let b = swiftRecurse(Int64(x))
    return a &+ Int32(truncatingIfNeeded: b)
}

// A closure called by the standard library's non-inlinable runtime code:
// String(describing:) reaches `description` through a witness table from
// libswiftCore.so, so these stacks hold libswiftCore frames.
struct SwiftProbe: CustomStringConvertible {
    var n: Int32
    var description: String {
        vstep()
        return String(n)
    }
}

@_cdecl("v_swift_describe")
public func v_swift_describe(_ x: Int32) -> Int32 {
    Int32(String(describing: SwiftProbe(n: x)).utf8.count)
}

// A class method through dynamic dispatch and a throwing function.
class SwiftBase {
    @inline(never) func step(_ x: Int32) throws -> Int32 { vstep(); return x }
}
final class SwiftDerived: SwiftBase {
    @inline(never) override func step(_ x: Int32) throws -> Int32 { try super.step(x) &+ 1 }
}

@_cdecl("v_swift_class")
public func v_swift_class(_ x: Int32) -> Int32 {
    let objects: [SwiftBase] = [SwiftDerived()]
    return (try? objects[Int(x) % objects.count].step(x)) ?? 0
}
