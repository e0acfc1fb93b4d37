import Angiography
import ArgumentParser
import DICOM
import Foundation
import FileAccess
import Imaging
import ModelFiles
import Triage

/// `inspect FILE`: header facts, the routing decision and what the display pipeline did, as one JSON object.
/// UIDs appear only hashed (`UIDHash`, keyed with a site key); names and IDs never appear.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe one DICOM file: header facts, triage route and the model input it would give (JSON).",
        discussion: ExitStatusHelp.plain)

    @Argument(help: "DICOM file.")
    var file: String

    @Option(name: .long, help: "Folder to write frame_NNNN.npy (stored values; NNNN is the 0-based frame index, so frame_0000.npy is DICOM frame 1), model_input.png and model_input.npy.")
    var export: String?

    @Option(name: .long, help: "Frame strategy for multi-frame runs: minip, peak or every.")
    var strategy = Choice(FrameStrategy.minimumIntensityProjection)

    @Option(name: .long, help: "1-based mask frame for native runs without a Mask Subtraction Sequence.")
    var maskFrame = 1

    @Flag(name: .long, help: "Triage X-Ray Radiofluoroscopic images too.")
    var includeRF = false

    @OptionGroup var input: InputOptions

    func validate() throws {
        _ = try strategy.value("--strategy must be minip, peak or every")
        if maskFrame < 1 { throw ValidationError("--mask-frame must be 1 or more") }
    }

    func run() async throws {
        try CommandErrors.reporting {
            let options = ModelInputOptions(strategy: strategy.checked(or: .minimumIntensityProjection),
                                            routing: RoutingPolicy(includeRadiofluoroscopic: includeRF), fallbackMaskFrame: maskFrame,
                                            maxDecodeBytes: input.maxDecodeBytes)
            let key = try input.siteKey()
            var inspection = try Inspection(url: URL(fileURLWithPath: file), options: options,
                                            export: export.map { URL(fileURLWithPath: $0) })
            inspection.siteKey = key
            try Console.out(inspection.json() + "\n")
        }
    }
}

/// The JSON object `inspect` prints: header facts in closed vocabularies, the route and the display
/// pipeline's record; UIDs only hashed.
extension Inspection {
    /// The UID hash triage records use (`UIDHash`), so inspect and triage outputs of one study join on it;
    /// no identifier in the output.
    func hash(_ uid: String?) -> String {
        guard let uid, !uid.isEmpty else { return "null" }
        return JSONOutput.string(UIDHash.hash(uid, key: siteKey))
    }

    func json() -> String {
        let ds = file.dataset
        func str(_ s: String?) -> String { s.map(JSONOutput.string) ?? "null" }
        func int(_ v: Int?) -> String { v.map(String.init) ?? "null" }
        func strs(_ a: [String]?) -> String { a.map { "[" + $0.map(JSONOutput.string).joined(separator: ",") + "]" } ?? "null" }
        func num(_ d: Double) -> String { d.isFinite ? "\(d)" : "null" }
        let d = description
        var fields: [(String, String)] = [
            // Attribute values only from closed vocabularies (defined terms, UID syntax): see DefinedTerms.
            ("sop_class_uid", str(decision.sopClassUID.map(DefinedTerms.uid))),
            ("sop_class_name", str(decision.sopClassName)),
            ("modality", str(DefinedTerms.modality(ds.string(.modality)))),
            ("transfer_syntax_uid", str(DefinedTerms.uid(file.transferSyntaxUID))),
            ("rows", int(d?.rows ?? ds.int(.rows))),
            ("columns", int(d?.columns ?? ds.int(.columns))),
            ("frames", int(frameCount)),
            ("samples_per_pixel", int(d?.samplesPerPixel ?? ds.int(.samplesPerPixel))),
            ("bits_allocated", int(d?.bitsAllocated ?? ds.int(.bitsAllocated))),
            ("bits_stored", int(d?.bitsStored ?? ds.int(.bitsStored))),
            ("pixel_representation", int(d.map { $0.isSigned ? 1 : 0 } ?? ds.int(.pixelRepresentation))),
            ("photometric_interpretation", str((d?.photometricInterpretation ?? ds.string(.photometricInterpretation)).map {
                DefinedTerms.photometricInterpretations.contains($0) ? $0 : "unrecognised" })),
            ("image_type", strs(ds.strings(DICOMTag(0x0008, 0x0008))?.map { DefinedTerms.imageTypeValues.contains($0) ? $0 : "unrecognised" })),
            ("route", JSONOutput.string(decision.route.rawValue)),
            ("reason", JSONOutput.string(decision.reason)),
            ("detail", JSONOutput.string(decision.detail)),
            ("study_uid_hash", hash(ds.string(.studyInstanceUID))),
            ("series_uid_hash", hash(ds.string(.seriesInstanceUID))),
            ("sop_instance_uid_hash", hash(ds.string(.sopInstanceUID))),
        ]
        if let record = run?.record {
            let s = record.subtraction
            fields += [
                ("subtraction", JSONOutput.object([
                    ("method", JSONOutput.string(s.method.rawValue)),
                    ("operations", strs(s.operations)),
                    ("intensity_relationship", str(s.intensityRelationship)),
                    ("mask_frames", JSONOutput.ints(s.maskFrames)),
                    ("frames", JSONOutput.ints(s.frames)),
                ])),
                ("strategy", str(record.strategy?.rawValue)),
                ("chosen_frames", "[" + record.chosenFrames.map(JSONOutput.ints).joined(separator: ",") + "]"),
                ("window", JSONOutput.object([
                    ("source", JSONOutput.string(record.window.source.rawValue)),
                    ("function", JSONOutput.string(record.window.function.rawValue)),
                    ("center", num(record.window.center)),
                    ("width", num(record.window.width)),
                ])),
                ("inverted", record.inverted ? "true" : "false"),
                ("model_images", String(run?.images.count ?? 0)),
                ("notes", strs(record.notes)),
            ]
        } else {
            fields += [("model_images", "0")]
        }
        return JSONOutput.object(fields)
    }
}
