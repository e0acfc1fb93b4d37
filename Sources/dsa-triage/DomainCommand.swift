import ArgumentParser
import Foundation
import Training
import Triage

struct DomainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain",
        abstract: "Compute a model's input-domain record (input_domain.json) from its training manifest.",
        discussion: """
            Makes every row's model images exactly as triage does (routing, subtraction, frame strategy) and \
            records what they were: the source kinds (dicom_native: a native run the pipeline subtracts; \
            dicom_subtracted: a stored subtracted run; dicom_unsubtracted; picture: PNG/JPEG) and percentiles \
            of mean gray, gray standard deviation, dynamic range, near-black and near-white shares and frame \
            count, with the ranges triage accepts. `train` writes the same record itself; this command makes one \
            for a model trained before, or from data that stands for its training data. Put the file beside the \
            model or adapter: triage then sends inputs outside it to manual review. See docs/TRIAGE.md.
            """)

    @Option(name: .long, help: "Manifest of the training data (CSV or JSONL: path,label).")
    var data: String

    @Option(name: .long, help: "Where to write the record: a file, or a model/adapter folder (then FOLDER/input_domain.json).")
    var out: String

    @OptionGroup var profile: ProfileOptions

    @Flag(name: .long, help: "Report and skip manifest rows that cannot be used instead of stopping.")
    var skipBadRows = false

    @OptionGroup var paths: PathOptions

    func run() throws {
        try CommandErrors.reporting {
            let taskProfile = try profile.load()
            let measured = try DomainMeasurement(manifest: data, profile: taskProfile, display: PathDisplay(mode: paths.mode),
                                                 skipBadRows: skipBadRows)
            let manifest = measured.manifest
            for s in manifest.skipped { Console.err("skipped: \(data):\(s.line): \(s.reason)\n") }
            let domain = try measured.domain()
            let target = DomainMeasurement.target(out)
            try domain.write(to: target)
            let kinds = domain.sourceKinds.map { "\($0.kind.rawValue) \($0.images)" }.joined(separator: ", ")
            Console.err("input domain of \(manifest.rows.count) row(s), \(domain.images) image(s) (\(kinds)) written to \(target.path)\n")
        }
    }
}
