import Foundation
import XCTest

/// The shared option groups: every closed-set option lists its values in help, and a value outside the set
/// is a usage error (64) in the option's own words, whichever command carries the group.
final class OptionGroupTests: XCTestCase {
    func testHelpListsTheValuesOfClosedSetOptions() throws {
        let flat = { (r: CLIResult) in r.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ") }
        let triage = flat(try CLI.run(["triage", "--help"]))
        for values in ["(values: jsonl, table; default: jsonl)", "(values: auto, always, never; default: auto)",
                       "(values: as-given, relative, hashed; default: hashed)", "(values: none, int8, w8a8, nf4; default: none)",
                       "(values: auto, f32, bf16; default: auto)", "(values: series, study; default: series)", "(values: score, generate, both)"] {
            XCTAssertTrue(triage.contains(values), "\(values): \(triage)")
        }
        let inspect = flat(try CLI.run(["inspect", "--help"]))
        XCTAssertTrue(inspect.contains("(values: minip, peak, every; default: minip)"), inspect)
        let train = flat(try CLI.run(["train", "--help"]))
        XCTAssertTrue(train.contains("(values: linear, cosine, constant; default: linear)"), train)
        XCTAssertTrue(train.contains("(values: auto, sampler, weights, none; default: auto)"), train)
        XCTAssertTrue(train.contains("(values: nf4, int8, none)"), train)
    }

    func testBadValuesAreUsageErrorsInTheOptionsWords() throws {
        let cases: [([String], String)] = [
            (["triage", "--model", "m", "--progress", "sometimes", "x.png"], "--progress must be auto, always or never"),
            (["evaluate", "--predictions", "p.csv", "--out", "o", "--paths", "full"], "--paths must be as-given, relative or hashed"),
            (["domain", "--data", "d.csv", "--out", "o", "--paths", "full"], "--paths must be as-given, relative or hashed"),
            (["generate", "--model", "m", "--prompt", "hi", "--quantize", "int4"], "--quantize must be none, int8, w8a8 or nf4"),
            (["bench", "--model", "m", "--compute", "f16"], "--compute must be auto, f32 or bf16"),
            (["inspect", "--strategy", "mean", "x.dcm"], "--strategy must be minip, peak or every"),
            (["train", "--model", "m", "--data", "d", "--out", "o", "--schedule", "step"], "--schedule must be linear, cosine or constant"),
            (["train", "--model", "m", "--data", "d", "--out", "o", "--quantize", "w8a8"], "--quantize w8a8 is for inference only"),
            (["train", "--model", "m", "--data", "d", "--out", "o", "--quantize", "int4"], "--quantize must be nf4, int8 or none"),
            (["triage", "--model", "m", "--max-decode-mb", "0", "x.png"], "--max-decode-mb must lie in 1…"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(message)"), "\(args): \(r.stderr)")
        }
    }
}
