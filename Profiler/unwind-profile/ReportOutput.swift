// The report's output file: text appended in pieces and written in 256 KiB
// blocks, so no output is ever held whole in memory.

import Foundation

final class ReportOutput {
    private let fd: Int32
    private let ownsFD: Bool
    private var buffer: [UInt8] = []
    private static let blockSize = 256 * 1024
    /// The first write error (errno), after which writes are dropped.
    private(set) var error: Int32 = 0

    struct OpenError: Error {
        var errno: Int32
    }

    /// Standard output when `path` is nil, else the file (created or truncated).
    init(path: String?) throws(OpenError) {
        if let path {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw OpenError(errno: errno) }
            self.fd = fd
            ownsFD = true
        } else {
            fd = 1
            ownsFD = false
        }
        buffer.reserveCapacity(Self.blockSize)
    }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.blockSize { flush() }
    }

    func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.blockSize { flush() }
    }

    /// Writes what is buffered (retrying short writes and EINTR).
    func flush() {
        defer { buffer.removeAll(keepingCapacity: true) }
        guard error == 0 else { return }
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    error = errno
                    return
                }
                done += n
            }
        }
    }

    /// Flushes and closes a file it opened; the first error's errno, or 0.
    func close() -> Int32 {
        flush()
        if ownsFD && Foundation.close(fd) != 0 && error == 0 { error = errno }
        return error
    }
}
