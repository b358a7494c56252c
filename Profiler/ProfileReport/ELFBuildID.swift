// The GNU build id of an ELF file on disk, to check that the object the
// report symbolises is the one that ran (a rebuilt binary gives wrong names).
// Small and defensive: every offset is checked against the file's size.

import Foundation

public enum ELFBuildID {
    /// The build id bytes of the ELF file at `path`: nil when the file
    /// cannot be read, is not a little-endian ELF file, or has no
    /// NT_GNU_BUILD_ID note.
    public static func read(path: String) -> [UInt8]? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            return nil
        }
        return data.withUnsafeBytes { read(from: $0) }
    }

    /// The same from the bytes of an ELF file.
    public static func read(from raw: UnsafeRawBufferPointer) -> [UInt8]? {
        let f = ELFBytes(raw: raw)
        // e_ident: magic, class (1 = 32-bit, 2 = 64-bit), data (1 = little-endian).
        guard raw.count >= 64, f.u8(0) == 0x7f, f.u8(1) == 0x45, f.u8(2) == 0x4c, f.u8(3) == 0x46,
              f.u8(5) == 1 else { return nil }
        let is64: Bool
        switch f.u8(4) {
        case 1: is64 = false
        case 2: is64 = true
        default: return nil
        }
        // Program headers first: PT_NOTE segments are what a loaded object has.
        let phoff = is64 ? f.u64(32) : UInt64(f.u32(28))
        let phentsize = Int(f.u16(is64 ? 54 : 42)), phnum = Int(f.u16(is64 ? 56 : 44))
        for i in 0..<phnum {
            guard let ph = f.entry(table: phoff, size: phentsize, index: i, minSize: is64 ? 56 : 32) else { break }
            guard f.u32(ph) == 4 else { continue } // PT_NOTE
            let offset = is64 ? f.u64(ph + 8) : UInt64(f.u32(ph + 4))
            let size = is64 ? f.u64(ph + 32) : UInt64(f.u32(ph + 16))
            let align = is64 ? f.u64(ph + 48) : UInt64(f.u32(ph + 28))
            if let id = f.buildIDNote(offset: offset, size: size, align: align) { return id }
        }
        // Else SHT_NOTE sections (e.g. a file whose notes are not in a segment).
        let shoff = is64 ? f.u64(40) : UInt64(f.u32(32))
        let shentsize = Int(f.u16(is64 ? 58 : 46)), shnum = Int(f.u16(is64 ? 60 : 48))
        for i in 0..<shnum {
            guard let sh = f.entry(table: shoff, size: shentsize, index: i, minSize: is64 ? 64 : 40) else { break }
            guard f.u32(sh + 4) == 7 else { continue } // SHT_NOTE
            let offset = is64 ? f.u64(sh + 24) : UInt64(f.u32(sh + 16))
            let size = is64 ? f.u64(sh + 32) : UInt64(f.u32(sh + 20))
            let align = is64 ? f.u64(sh + 48) : UInt64(f.u32(sh + 32))
            if let id = f.buildIDNote(offset: offset, size: size, align: align) { return id }
        }
        return nil
    }

    /// Lowercase hex, as readelf and pprof show build ids.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return s
    }
}

/// Bounds-checked little-endian loads from an ELF image.
private struct ELFBytes {
    let raw: UnsafeRawBufferPointer

    func u8(_ at: Int) -> UInt8 { at >= 0 && at < raw.count ? raw[at] : 0 }
    func u16(_ at: Int) -> UInt16 { fits(at, 2) ? UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)) : 0 }
    func u32(_ at: Int) -> UInt32 { fits(at, 4) ? UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)) : 0 }
    func u64(_ at: Int) -> UInt64 { fits(at, 8) ? UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) : 0 }

    func fits(_ at: Int, _ n: Int) -> Bool { at >= 0 && n >= 0 && at <= raw.count && n <= raw.count - at }

    /// The offset of table entry `index`, if the whole entry is in the file.
    func entry(table: UInt64, size: Int, index: Int, minSize: Int) -> Int? {
        guard size >= minSize, table <= UInt64(raw.count) else { return nil }
        let (product, o1) = index.multipliedReportingOverflow(by: size)
        let (at, o2) = Int(table).addingReportingOverflow(product)
        guard !o1, !o2, fits(at, size) else { return nil }
        return at
    }

    /// Walks the notes in [offset, offset + size) for NT_GNU_BUILD_ID (3)
    /// owned by "GNU".  Name and descriptor are padded to 4 bytes, or to 8
    /// in a segment or section aligned to 8.
    func buildIDNote(offset: UInt64, size: UInt64, align: UInt64) -> [UInt8]? {
        guard offset <= UInt64(raw.count), size <= UInt64(raw.count) - offset else { return nil }
        let pad = align == 8 ? 8 : 4
        var at = Int(offset)
        let end = Int(offset + size)
        func padded(_ n: Int) -> Int { (n + pad - 1) / pad * pad }
        while at + 12 <= end {
            let namesz = Int(u32(at)), descsz = Int(u32(at + 4)), type = u32(at + 8)
            let name = at + 12
            guard namesz <= end - name else { return nil }
            let desc = name + padded(namesz)
            guard desc <= end, descsz <= end - desc else { return nil }
            if type == 3 && namesz == 4 && u8(name) == 0x47 && u8(name + 1) == 0x4e && u8(name + 2) == 0x55
                && u8(name + 3) == 0 {
                return Array(raw[desc..<(desc + descsz)])
            }
            at = desc + padded(descsz)
        }
        return nil
    }
}
