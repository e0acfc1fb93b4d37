import Angiography
import ArgumentParser
import DICOM
import Foundation

struct SynthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate synthetic DSA runs (XA DICOM native and subtracted, PNG) with labels.csv and manifest.csv.",
        discussion: """
            OUT/labels.csv has one row per case (label, files, generator settings, where the occlusion is); \
            OUT/manifest.csv has one row per DICOM run (path,label), which `evaluate --data` and `train --data` \
            read as they are. Every file is written under a temporary name and renamed, so a failed run leaves \
            no half-written file; labels.csv and manifest.csv are written last.
            """ + " " + ExitStatusHelp.plain)

    @Option(name: .long, help: "Output directory (must not exist or be empty).")
    var out: String

    @Option(name: .long, help: "Number of cases.")
    var count: Int

    @Option(name: .long, help: "Fraction of blocked cases, 0…1 (exactly round(count·P) are blocked).")
    var prevalence = 0.5

    @Option(name: .long, help: "Random seed; the same seed gives the same files.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Image rows and columns.")
    var size = 512

    @Option(name: .long, help: "Frames per run.")
    var frames = 12

    @Option(name: .long, help: "Runs to write: native, subtracted, or both (\"both\" or \"native,subtracted\").")
    var runs = "native,subtracted"

    @Option(name: .long, help: "Transfer syntax for all files: explicit-le, implicit-le, explicit-be, jpeg-lossless, rle (default: cycle through explicit-le, jpeg-lossless, rle, implicit-le).")
    var transferSyntax: String?

    @Option(name: .long, help: "Branch generations an occlusion may cut, FROM-TO (0 = trunk): 1-2 is the default, subtle case; 0-1 gives proximal occlusions that remove most of the tree.")
    var occlusionGenerations = "1-2"

    @Option(name: .long, help: "Chance that a blocked case shows faint delayed collaterals, 0…1.")
    var collaterals = 0.5

    func parsedGenerations() throws -> ClosedRange<Int> {
        let parts = occlusionGenerations.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo >= 0, hi >= lo, hi <= 6 else {
            throw ValidationError("--occlusion-generations must be FROM-TO with 0 ≤ FROM ≤ TO ≤ 6 (e.g. 1-2)")
        }
        return lo...hi
    }

    func parsedRuns() throws -> [SynthRunKind] {
        var kinds: [SynthRunKind] = []
        for part in runs.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            if part == "both" {
                for k in [SynthRunKind.native, .subtracted] where !kinds.contains(k) { kinds.append(k) }
                continue
            }
            guard let k = SynthRunKind(rawValue: part) else {
                throw ValidationError("--runs: '\(part)' is not native, subtracted or both")
            }
            if !kinds.contains(k) { kinds.append(k) }
        }
        if kinds.isEmpty { throw ValidationError("--runs must name native and/or subtracted") }
        return kinds
    }

    func parsedSyntax() throws -> DICOMWriteSyntax? {
        guard let name = transferSyntax else { return nil }
        guard let s = DICOMWriteSyntax(shortName: name) else {
            throw ValidationError("--transfer-syntax '\(name)' is not one of " +
                                  DICOMWriteSyntax.allCases.map(\.shortName).joined(separator: ", "))
        }
        return s
    }

    func validate() throws {
        if count < 1 || count > 1_000_000 { throw ValidationError("--count must be between 1 and 1000000") }
        if !prevalence.isFinite || prevalence < 0 || prevalence > 1 { throw ValidationError("--prevalence must be between 0 and 1") }
        if size < 16 || size > 4096 { throw ValidationError("--size must be between 16 and 4096") }
        if frames < 2 || frames > 500 { throw ValidationError("--frames must be between 2 and 500") }
        _ = try parsedRuns()
        _ = try parsedSyntax()
        _ = try parsedGenerations()
        if !(collaterals >= 0 && collaterals <= 1) { throw ValidationError("--collaterals must be between 0 and 1") }
    }

    func run() async throws {
        try CommandErrors.reporting {
            let options = SynthBatchOptions(
                outputDirectory: URL(fileURLWithPath: out), count: count, prevalence: prevalence, seed: seed,
                configuration: SynthConfiguration(rows: size, columns: size, frames: frames, occlusionGenerations: try parsedGenerations(),
                                                  collateralProbability: collaterals),
                runs: try parsedRuns(), transferSyntax: try parsedSyntax())
            let start = Date()
            let records = try SynthBatch.write(options)
            try Console.out(JSONOutput.object([
                ("output", JSONOutput.string(out)),
                ("cases", String(records.count)),
                ("blocked", String(records.filter(\.blocked).count)),
                ("labels", JSONOutput.string(URL(fileURLWithPath: out).appendingPathComponent("labels.csv").path)),
                ("manifest", JSONOutput.string(URL(fileURLWithPath: out).appendingPathComponent("manifest.csv").path)),
                ("seconds", String(format: "%.2f", Date().timeIntervalSince(start))),
            ]) + "\n")
        }
    }
}
