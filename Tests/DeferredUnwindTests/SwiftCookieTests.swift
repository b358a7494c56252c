import CDeferredUnwind
import DeferredUnwind
import Testing

@Suite("Swift API: Cookie", .timeLimit(.minutes(1)))
struct SwiftCookieTests {
    @Test("halves split the raw value as the C helpers do")
    func halves() throws {
        let raw: UInt64 = 0x0000_0003_0000_002f
        let cookie = try #require(Cookie(rawValue: raw))
        #expect(cookie.rawValue == raw)
        #expect(cookie.cpuHalf == 3)
        #expect(cookie.counterHalf == 0x2f)
        #expect(cookie.cpuHalf == du_cookie_cpu_half(raw))
        #expect(cookie.counterHalf == du_cookie_counter_half(raw))
        #expect(Cookie(cpuHalf: 3, counterHalf: 0x2f) == cookie)
    }

    @Test("0 is no cookie")
    func none() {
        #expect(Cookie(rawValue: 0) == nil)
        #expect(Cookie(rawValue: DU_COOKIE_NONE) == nil)
        #expect(Cookie(cpuHalf: 0, counterHalf: 0) == nil)
        #expect(Cookie("0:00000000") == nil)
    }

    @Test("text form: decimal cpu half, colon, 8 lowercase hex digits", arguments: [
        (UInt64(0x0000_0003_0000_002f), "3:0000002f"),
        (UInt64(0x0000_0001_0000_0001), "1:00000001"),
        (UInt64(0xffff_ffff_ffff_ffff), "4294967295:ffffffff"),
        (UInt64(0x0000_000c_abcd_ef01), "12:abcdef01"),
        (UInt64(0x0000_0000_0000_0005), "0:00000005"),
        (UInt64(0x0000_0007_0000_0000), "7:00000000"),
    ])
    func textForm(raw: UInt64, text: String) throws {
        let cookie = try #require(Cookie(rawValue: raw))
        #expect(cookie.description == text)
        #expect("\(cookie)" == text)
        #expect(Cookie(text) == cookie)
        #expect(Cookie(cookie.description)?.rawValue == raw)
    }

    @Test("round trip over many values")
    func roundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let raw = UInt64.random(in: 1...UInt64.max, using: &rng)
            let cookie = try #require(Cookie(rawValue: raw))
            let parsed = try #require(Cookie(cookie.description))
            #expect(parsed == cookie)
            #expect(parsed.cpuHalf == cookie.cpuHalf && parsed.counterHalf == cookie.counterHalf)
        }
    }

    @Test("parsing rejects everything description never produces", arguments: [
        "", ":", "3", "3:", ":0000002f", "3:2f", "3:000002f", "3:00000002f", "3:0000002F",
        "3:0000002g", "03:0000002f", "+3:0000002f", "-3:0000002f", " 3:0000002f", "3:0000002f ",
        "3:0000002f\n", "3::0000002f", "4294967296:00000001", "99999999999:00000001",
        "3:0x00002f", "x:0000002f", "３:0000002f",
    ])
    func rejects(text: String) {
        #expect(Cookie(text) == nil)
    }

    @Test("Hashable: equal raw values are one element")
    func hashable() throws {
        let a = try #require(Cookie(rawValue: 0x1_0000_0001))
        let b = try #require(Cookie("1:00000001"))
        let c = try #require(Cookie(rawValue: 0x1_0000_0003))
        #expect(Set([a, b, c]).count == 2)
    }
}
