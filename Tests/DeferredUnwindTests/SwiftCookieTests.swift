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
        #expect(cookie.threadHalf == 3)
        #expect(cookie.contextHalf == 0x2f)
        #expect(cookie.threadHalf == du_cookie_thread_half(raw))
        #expect(cookie.contextHalf == du_cookie_context_half(raw))
        #expect(Cookie(threadHalf: 3, contextHalf: 0x2f) == cookie)
    }

    @Test("0 is no cookie")
    func none() {
        #expect(Cookie(rawValue: 0) == nil)
        #expect(Cookie(rawValue: DU_COOKIE_NONE) == nil)
        #expect(Cookie(threadHalf: 0, contextHalf: 0) == nil)
        #expect(Cookie("t0:00000000") == nil)
    }

    @Test("text form: t, decimal thread half, colon, 8 lowercase hex digits", arguments: [
        (UInt64(0x0000_0003_0000_002f), "t3:0000002f"),
        (UInt64(0x0000_0001_0000_0001), "t1:00000001"),
        (UInt64(0xffff_ffff_ffff_ffff), "t4294967295:ffffffff"),
        (UInt64(0x0000_000c_abcd_ef01), "t12:abcdef01"),
        (UInt64(0x0000_0000_0000_0005), "t0:00000005"),
        (UInt64(0x0000_0007_0000_0000), "t7:00000000"),
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
            #expect(parsed.threadHalf == cookie.threadHalf && parsed.contextHalf == cookie.contextHalf)
        }
    }

    @Test("parsing rejects everything description never produces", arguments: [
        "", ":", "t", "t3", "t3:", "t:0000002f", "t3:2f", "t3:000002f", "t3:00000002f", "t3:0000002F",
        "t3:0000002g", "t03:0000002f", "t+3:0000002f", "t-3:0000002f", " t3:0000002f", "t3:0000002f ",
        "t3:0000002f\n", "t3::0000002f", "t4294967296:00000001", "t99999999999:00000001",
        "t3:0x00002f", "tx:0000002f", "t３:0000002f", "3:0000002f", "T3:0000002f", "tt3:0000002f",
    ])
    func rejects(text: String) {
        #expect(Cookie(text) == nil)
    }

    @Test("Hashable: equal raw values are one element")
    func hashable() throws {
        let a = try #require(Cookie(rawValue: 0x1_0000_0001))
        let b = try #require(Cookie("t1:00000001"))
        let c = try #require(Cookie(rawValue: 0x1_0000_0003))
        #expect(Set([a, b, c]).count == 2)
    }
}
