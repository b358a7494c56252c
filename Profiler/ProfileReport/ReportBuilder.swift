// The stitched file to the writers' model (ReportModel.swift): symbolised
// frames root first, with the synthetic frames of the on-/off-CPU split
// (CPUSplitFrames.swift): a sample becomes one ReportSample per part.

import Foundation
import ProfileFormat

public enum ReportBuilder {
    /// Builds the profile; the warnings are the symboliser's (one line each,
    /// for stderr, not for the output).  `merge`: samples of one thread
    /// (tid and name) and one stack become one sample (periods and
    /// periodNanoseconds summed, the first one's timestamp), so the profile
    /// holds one sample per distinct (thread, stack): what the formats that
    /// do not print time (folded, flame graphs, pprof) need.
    public static func build(_ stitched: Stitched, symbolizer: Symbolizer,
                             merge: Bool = false) -> (profile: ReportProfile, warnings: [String]) {
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
        // Each distinct stack's frames once, shared by its samples.
        struct Merged: Hashable { var tid: UInt32; var name: String; var stack: Int }
        var merged: [Merged: Int] = [:]
        var stackIDs: [StackIdentity: Int] = [:]
        var baseFrames: [[ReportFrame]] = []
        var stackFrames: [[ReportFrame]] = []
        var samples: [ReportSample] = []
        if !merge { samples.reserveCapacity(stitched.samples.count) }
        var lastTime = meta.startNanoseconds
        // Time order, as perf script prints (rings drain threads in any
        // order); file order among equal times.  The order is sorted, not
        // the samples, so no second array of samples is made.
        let all = stitched.samples
        var order = Array(all.indices)
        order.sort { (all[$0].timeNanoseconds, $0) < (all[$1].timeNanoseconds, $1) }
        // A part's frames: its stack's frames (one entry per distinct stack)
        // with the markers of its side of the split.
        struct PartKey: Hashable { var base: Int; var leaf: PartLeaf }
        var partIDs: [PartKey: Int] = [:]
        for index in order {
            let sample = all[index]
            let identity = StackIdentity(sample)
            let base: Int
            if let known = stackIDs[identity] {
                base = known
            } else {
                // The stack without markers, root first; ips and each
                // address's chain are innermost first.
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
                base = baseFrames.count
                baseFrames.append(list)
                stackIDs[identity] = base
            }
            lastTime = max(lastTime, sample.timeNanoseconds)
            let name = sample.threadName ?? stitched.threads[sample.tid] ?? command
            for part in splitParts(sample) {
                let key = PartKey(base: base, leaf: part.leaf)
                let id: Int
                if let known = partIDs[key] {
                    id = known
                } else {
                    id = stackFrames.count
                    stackFrames.append(partFrames(part.leaf, stackFrames: baseFrames[base], call: sample.call,
                                                  calls: stitched.calls))
                    partIDs[key] = id
                }
                let (weighted, overflow) = period.multipliedReportingOverflow(by: UInt64(part.periods))
                if merge {
                    let key = Merged(tid: sample.tid, name: name, stack: id)
                    if let at = merged[key] {
                        let (periods, over) = samples[at].periods.addingReportingOverflow(part.periods)
                        samples[at].periods = over ? .max : periods
                        let (time, over2) = samples[at].periodNanoseconds.addingReportingOverflow(overflow ? .max : weighted)
                        samples[at].periodNanoseconds = over2 ? .max : time
                        continue
                    }
                    merged[key] = samples.count
                }
                samples.append(ReportSample(tid: sample.tid, threadName: name,
                                            timeNanoseconds: sample.timeNanoseconds,
                                            periodNanoseconds: overflow ? .max : weighted,
                                            frames: stackFrames[id], periods: part.periods, stackID: id))
            }
        }
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

    /// What makes two samples' frames equal: the stack (an on-CPU sample's
    /// is its pc) and the call it ends in.
    struct StackIdentity: Hashable {
        var kind: Int
        var address: UInt64
        var call: UInt32
        var ips: [UInt64]
        init(_ sample: StitchedSample) {
            call = sample.call
            switch sample.stack {
            case .onCPU: (kind, address, ips) = (0, sample.pc, [])
            case .frames(let list): (kind, address, ips) = (1, 0, list)
            case .lost: (kind, address, ips) = (2, 0, [])
            case .copied(let list): (kind, address, ips) = (3, 0, list)
            }
        }
    }

    static func synthetic(_ kind: ReportFrame.Kind, _ name: String) -> ReportFrame {
        ReportFrame(kind: kind, address: 0, name: name, module: "", moduleOffset: 0)
    }

    static func blocked(_ call: UInt32, _ calls: [UInt32: String]) -> ReportFrame {
        synthetic(.blockedIn, "[\(calls[call] ?? "call \(call)")]")
    }
}
