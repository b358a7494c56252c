// TEMPORARY (branch `report` only): stand-ins for the pprof and SVG writers,
// which are written on another branch against ReportModel.swift.  Delete
// this file when merging that branch.

public struct WriterNotYetImplemented: Error, CustomStringConvertible {
    public var description: String { "not yet implemented" }
}

public enum PprofWriter {
    public static func encode(_ profile: ReportProfile) throws -> [UInt8] {
        throw WriterNotYetImplemented()
    }
}

public enum FlameGraphSVG {
    public static func render(_ profile: ReportProfile, title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">not yet implemented</text></svg>\n"
    }
}
