import DICOM
import Foundation
import FileAccess
import Imaging

/// What `SynthBatch.write` produces.
public struct SynthBatchOptions: Sendable {
    public var outputDirectory: URL
    public var count: Int
    /// Fraction of blocked cases: exactly round(count · prevalence) are blocked.
    public var prevalence: Double
    public var seed: UInt64
    public var configuration: SynthConfiguration
    /// Runs written per case.
    public var runs: [SynthRunKind]
    /// One transfer syntax for every file, or nil to cycle through `SynthBatch.syntaxCycle` by case.
    public var transferSyntax: DICOMWriteSyntax?

    public init(outputDirectory: URL, count: Int, prevalence: Double = 0.5, seed: UInt64 = 0,
                configuration: SynthConfiguration = SynthConfiguration(), runs: [SynthRunKind] = SynthRunKind.allCases,
                transferSyntax: DICOMWriteSyntax? = nil) {
        self.outputDirectory = outputDirectory
        self.count = count
        self.prevalence = prevalence
        self.seed = seed
        self.configuration = configuration
        self.runs = runs
        self.transferSyntax = transferSyntax
    }
}

/// One row of labels.csv.
public struct SynthCaseRecord: Sendable, Equatable {
    public var caseID: String
    public var seed: UInt64
    public var blocked: Bool
    /// Paths relative to the output directory.
    public var nativeFile: String?
    public var subtractedFile: String?
    public var pngFile: String
    public var transferSyntax: DICOMWriteSyntax
    public var occlusion: SynthOcclusion?
}

/// Writes a labelled set of synthetic cases: DICOM runs, PNGs and labels.csv.
public enum SynthBatch {
    /// Transfer syntaxes used in turn when none is chosen.
    public static let syntaxCycle: [DICOMWriteSyntax] = [.explicitVRLittleEndian, .jpegLosslessSV1, .rleLossless, .implicitVRLittleEndian]

    public static let csvHeader = "case_id,label,native_dicom,subtracted_dicom,png,transfer_syntax,transfer_syntax_uid,seed,rows,columns,frames,occluded_vessel,occlusion_generation,occlusion_x,occlusion_y,occlusion_radius,collaterals"

    /// Case seeds and labels: exactly round(count · prevalence) blocked, in a seed-determined order.
    public static func plan(count: Int, prevalence: Double, seed: UInt64) throws -> [(seed: UInt64, blocked: Bool)] {
        guard count >= 1 && count <= 1_000_000 else { throw SynthError.invalidArgument("count \(count) outside 1…1000000") }
        guard prevalence.isFinite, (0...1).contains(prevalence) else {
            throw SynthError.invalidArgument("prevalence \(prevalence) outside 0…1")
        }
        let blocked = Int((Double(count) * prevalence).rounded(.toNearestOrAwayFromZero))
        var labels = [Bool](repeating: false, count: count)
        for i in 0..<blocked { labels[i] = true }
        var rng = SynthRandom(seed: SynthSeedMixer.derive(seed, stream: 999))
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = rng.int(0...i)
                labels.swapAt(i, j)
            }
        }
        return (0..<count).map { (SynthSeedMixer.derive(seed, stream: 1000 + UInt64($0)), labels[$0]) }
    }

    /// Generates and writes every case (several at a time), then labels.csv; returns the records in case order.
    @discardableResult
    public static func write(_ options: SynthBatchOptions) throws -> [SynthCaseRecord] {
        try options.configuration.validate()
        guard !options.runs.isEmpty else { throw SynthError.invalidArgument("no runs chosen (native and/or subtracted)") }
        let plan = try plan(count: options.count, prevalence: options.prevalence, seed: options.seed)
        let fm = FileManager.default
        let out = options.outputDirectory
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw SynthError.writeFailed(path: out.path, reason: "exists and is not a directory") }
            let contents = (try? fm.contentsOfDirectory(atPath: out.path)) ?? []
            guard contents.isEmpty else { throw SynthError.writeFailed(path: out.path, reason: "output directory is not empty") }
        }
        for sub in ["dicom", "png"] {
            do {
                try OutputFolder.create(out.appendingPathComponent(sub))
            } catch let error as FileWriteError {
                throw SynthError.writeFailed(path: error.path, reason: error.reason)
            }
        }
        let width = max(4, String(options.count).count)
        var results = [Result<SynthCaseRecord, Error>?](repeating: nil, count: plan.count)
        results.withUnsafeMutableBufferPointer { buffer in
            // An empty buffer has no base address and nothing to do.
            guard let baseStart = buffer.baseAddress else { return }
            nonisolated(unsafe) let base = baseStart
            DispatchQueue.concurrentPerform(iterations: plan.count) { i in
                let digits = String(i + 1)
                let caseID = "case_" + String(repeating: "0", count: max(width - digits.count, 0)) + digits
                let syntax = options.transferSyntax ?? syntaxCycle[i % syntaxCycle.count]
                let r = Result {
                    try writeCase(caseID: caseID, number: i + 1, seed: plan[i].seed, blocked: plan[i].blocked,
                                  syntax: syntax, options: options)
                }
                (base + i).initialize(to: r)
            }
        }
        let records = try results.map { r -> SynthCaseRecord in
            guard let r else { throw SynthError.invalidArgument("case not generated") }
            return try r.get()
        }
        let csv = ([csvHeader] + records.map { csvRow($0, options.configuration) }).joined(separator: "\n") + "\n"
        for (name, text) in [("labels.csv", csv), ("manifest.csv", manifestCSV(records))] {
            let url = out.appendingPathComponent(name)
            do {
                try AtomicWrite.write(text, to: url)
            } catch let error as FileWriteError {
                throw SynthError.writeFailed(path: url.path, reason: error.reason)
            }
        }
        return records
    }

    /// `manifest.csv` as `evaluate --data` and `train --data` read it: `path,label`, one row per DICOM run
    /// written (native before subtracted), paths relative to the output directory (where the manifest lies).
    /// The PNG pictures are left out: they are another kind of input (no subtraction, no DICOM display
    /// pipeline) than the runs a model trained on DICOM sees.
    public static func manifestCSV(_ records: [SynthCaseRecord]) -> String {
        var rows = ["path,label"]
        for r in records {
            for file in [r.nativeFile, r.subtractedFile].compactMap({ $0 }) {
                rows.append("\(file),\(r.blocked ? "blocked" : "patent")")
            }
        }
        return rows.joined(separator: "\n") + "\n"
    }

    /// Generates one case and writes its files.
    static func writeCase(caseID: String, number: Int, seed: UInt64, blocked: Bool, syntax: DICOMWriteSyntax,
                          options: SynthBatchOptions) throws -> SynthCaseRecord {
        let run = try SynthAngiogram.generate(seed: seed, blocked: blocked, configuration: options.configuration)
        var record = SynthCaseRecord(caseID: caseID, seed: seed, blocked: blocked, nativeFile: nil, subtractedFile: nil,
                                     pngFile: "png/\(caseID).png", transferSyntax: syntax, occlusion: run.occlusion)
        for kind in options.runs {
            let ds = try SynthXADataset.dataset(run: run, kind: kind, caseID: caseID, caseNumber: number, syntax: syntax)
            let rel = "dicom/\(caseID)_\(kind.rawValue).dcm"
            let url = options.outputDirectory.appendingPathComponent(rel)
            try DICOMWriter.write(ds, syntax: syntax, to: url)
            if kind == .native { record.nativeFile = rel } else { record.subtractedFile = rel }
        }
        let png = options.outputDirectory.appendingPathComponent(record.pngFile)
        try PNGEncoder.write(gray: run.minimumIntensityProjection, width: options.configuration.columns,
                             height: options.configuration.rows, to: png)
        return record
    }

    static func csvRow(_ r: SynthCaseRecord, _ c: SynthConfiguration) -> String {
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var fields: [String] = [r.caseID, r.blocked ? "blocked" : "patent", r.nativeFile ?? "", r.subtractedFile ?? "", r.pngFile]
        fields += [r.transferSyntax.shortName, r.transferSyntax.uid, String(r.seed)]
        fields += [String(c.rows), String(c.columns), String(c.frames)]
        if let o = r.occlusion {
            fields += [String(o.vessel), String(o.generation), f(o.x), f(o.y), f(o.radius), String(o.collaterals)]
        } else {
            fields += ["", "", "", "", "", ""]
        }
        return fields.joined(separator: ",")
    }
}
