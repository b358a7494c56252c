// gzip for the pprof writer (profiles are stored as .pb.gz by convention),
// through the system zlib.  The header zlib writes has no name and mtime 0,
// so the same input always gives the same bytes.

import CZlib

/// Why `PprofWriter.encode` failed.
public enum PprofError: Error, Equatable, CustomStringConvertible {
    /// A zlib call returned `code` (zlib's own `message`, "" when none).
    case zlib(call: String, code: Int32, message: String)
    /// zlib takes at most 4 GiB of input per call; the profile was larger.
    case tooLarge(bytes: Int)

    public var description: String {
        switch self {
        case let .zlib(call, code, message):
            let detail = message.isEmpty ? "" : ": \(message)"
            return "pprof: gzip failed: \(call) returned \(code)\(detail)"
        case let .tooLarge(bytes):
            return "pprof: profile of \(bytes) bytes is too large to gzip (limit 4 GiB)"
        }
    }
}

enum PprofGzip {
    /// gzip-wrapped deflate of `input`.  `level` is zlib's (-1 = default,
    /// 0...9); anything else makes deflateInit2 fail (the tests use that).
    static func compress(_ input: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        guard input.count <= Int(UInt32.max) else { throw PprofError.tooLarge(bytes: input.count) }
        var stream = z_stream()
        // windowBits 15 + 16: a 32 KiB window with a gzip header and trailer
        // instead of zlib's.  memLevel 8 is deflateInit's default.
        let initStatus = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                       zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw zlibError("deflateInit2", initStatus, stream) }
        defer { deflateEnd(&stream) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var source = input
        try source.withUnsafeMutableBufferPointer { inputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let status = deflate(&stream, Z_FINISH)
                    return (status, out.count - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { break }
                // Z_OK / Z_BUF_ERROR: the output chunk filled; go on unless
                // nothing moved (which would loop forever).
                guard status == Z_OK || status == Z_BUF_ERROR, produced > 0 else {
                    throw zlibError("deflate", status, stream)
                }
            }
        }
        return output
    }

    private static func zlibError(_ call: String, _ code: Int32, _ stream: z_stream) -> PprofError {
        let message = stream.msg.map { String(cString: $0) } ?? ""
        return .zlib(call: call, code: code, message: message)
    }
}
