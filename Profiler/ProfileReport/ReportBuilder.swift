// The stitched file to the writers' model (ReportModel.swift): symbolised
// frames root first, with the synthetic frames of the on-/off-CPU split
// (CPUSplitFrames.swift): a sample becomes one ReportSample per part.

import Foundation
import ProfileFormat

public enum ReportBuilder {
    /// Builds the profile; the warnings are the symboliser's (one line each,
    /// for stderr, not for the output).
    public static func build(_ stitched: Stitched, symbolizer: Symbolizer) -> (profile: ReportProfile, warnings: [String]) {
        // Every distinct address once.
        var requests = Set<AddressRequest>()
        for sample in stitched.samples {
            switch sample.stack {
            case .onCPU:
                requests.insert(AddressRequest(address: sample.pc, isReturnAddress: false))
            case .copied(let ips):
                for (i, ip) in ips.enumerated() { requests.insert(AddressRequest(address: ip, isReturnAddress: i > 0)) }
            case .frames(let ips):
                for ip in ips { requests.insert(AddressRequest(address: ip, isReturnAddress: true)) }
            case .lost:
                break
            }
        }
        let (symbols, warnings) = symbolizer.symbolize(requests)
        func frames(_ address: UInt64, isReturn: Bool) -> [ReportFrame] {
            let request = AddressRequest(address: address, isReturnAddress: isReturn)
            return symbols[request] ?? [symbolizer.unmapped(address)]
        }

        let meta = stitched.meta
        let command = commandName(meta.commandLine)
        let period: UInt64 = meta.frequencyHz == 0 ? 0 : 1_000_000_000 / UInt64(meta.frequencyHz)
        var samples: [ReportSample] = []
        samples.reserveCapacity(stitched.samples.count)
        var lastTime = meta.startNanoseconds
        for sample in stitched.samples {
            // The stack without markers, root first; ips and each address's
            // chain are innermost first.
            var list: [ReportFrame] = []
            switch sample.stack {
            case .onCPU:
                list += frames(sample.pc, isReturn: false).reversed()
            case .copied(let ips):
                // The pc first (exact), then return addresses.
                for (i, ip) in ips.enumerated().reversed() { list += frames(ip, isReturn: i > 0).reversed() }
            case .frames(let ips):
                for ip in ips.reversed() { list += frames(ip, isReturn: true).reversed() }
            case .lost:
                list.append(synthetic(.stackLost, "[stack lost]"))
            }
            lastTime = max(lastTime, sample.timeNanoseconds)
            for part in splitParts(sample, stackFrames: list, calls: stitched.calls) {
                let (weighted, overflow) = period.multipliedReportingOverflow(by: UInt64(part.periods))
                samples.append(ReportSample(tid: sample.tid, threadName: stitched.threads[sample.tid] ?? command,
                                            timeNanoseconds: sample.timeNanoseconds,
                                            periodNanoseconds: overflow ? .max : weighted,
                                            frames: part.frames, periods: part.periods))
            }
        }
        // Time order, as perf script prints (rings drain threads in any
        // order); file order among equal times.
        samples = samples.enumerated()
            .sorted { ($0.element.timeNanoseconds, $0.offset) < ($1.element.timeNanoseconds, $1.offset) }
            .map(\.element)
        let endTime = stitched.end.map { max($0.timeNanoseconds, lastTime) } ?? lastTime
        let duration = endTime >= meta.startNanoseconds ? endTime - meta.startNanoseconds : 0
        let mappings = stitched.maps.map {
            ReportMapping(start: $0.start, end: $0.end, fileOffset: $0.fileOffset, path: $0.path,
                          buildID: ELFBuildID.hex($0.buildID))
        }
        let profile = ReportProfile(pid: meta.pid, command: command, commandLine: meta.commandLine,
                                    frequencyHz: meta.frequencyHz, startNanoseconds: meta.startNanoseconds,
                                    startRealtimeNanoseconds: meta.startRealtimeNanoseconds,
                                    durationNanoseconds: duration, mappings: mappings, samples: samples)
        return (profile, warnings)
    }

    /// The program's name: the first argument's last path component.
    static func commandName(_ commandLine: [String]) -> String {
        guard let first = commandLine.first, !first.isEmpty else { return "unknown" }
        let name = (first as NSString).lastPathComponent
        return name.isEmpty ? first : name
    }

    static func synthetic(_ kind: ReportFrame.Kind, _ name: String) -> ReportFrame {
        ReportFrame(kind: kind, address: 0, name: name, module: "", moduleOffset: 0)
    }

    static func blocked(_ call: UInt32, _ calls: [UInt32: String]) -> ReportFrame {
        synthetic(.blockedIn, "[\(calls[call] ?? "call \(call)")]")
    }
}
