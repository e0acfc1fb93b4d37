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

/// The work of `inspect`, separate from argument parsing.
struct Inspection {
    let file: DICOMFile
    let decision: RouteDecision
    let description: PixelDescription?
    let run: AngiogramRun?
    let frameCount: Int?
    /// Keys the UID hashes, as triage's `--site-key-file` does, so the two outputs join.
    var siteKey: SiteKey?

    init(url: URL, options: ModelInputOptions, export: URL?) throws {
        file = try DICOMFile(url: url)
        let builder = ModelInputBuilder(options: options)
        decision = ScopeRouter(policy: options.routing).decide(file)
        let hasPixels = file.dataset.pixelData != nil
        let triage = decision.route == .triage
        // Pixel attributes and data must be sound for a triaged file; for a skipped one they are reported
        // when readable and only needed for --export.
        if triage || export != nil, hasPixels {
            description = try PixelDescription(dataset: file.dataset, source: file.source)
        } else {
            description = hasPixels ? try? PixelDescription(dataset: file.dataset, source: file.source) : nil
        }
        var frames: [PixelFrame]?
        if hasPixels, export != nil {
            // --export writes every frame, so all are decoded first (refused before decoding when they would not
            // fit the memory limit); without it the builder decodes them a few at a time.
            try builder.checkMemory(file, route: decision.route, decodedFrames: description?.numberOfFrames ?? 0)
            frames = try PixelDataReader(file: file, budget: builder.budget).frames()
        }
        frameCount = frames?.count ?? description?.numberOfFrames
        if triage && !hasPixels {
            throw AngiographyError.unsupportedImage(file: file.source, reason: "no Pixel Data (7FE0,0010)")
        }
        run = hasPixels && (triage || export != nil) ? try builder.build(file, frames: frames, displaySkipped: export != nil) : nil
        if let export, let frames {
            try Self.export(frames: frames, images: run?.images ?? [], to: export, source: file.source)
        }
    }

    static func export(frames: [PixelFrame], images: [ModelImage], to dir: URL, source: String) throws {
        try OutputFolder.create(dir)
        for (i, f) in frames.enumerated() {
            let url = dir.appendingPathComponent(String(format: "frame_%04d.npy", i))
            let shape = f.samplesPerPixel == 1 ? [f.rows, f.columns] : [f.rows, f.columns, f.samplesPerPixel]
            switch f.samples {
            case let .uint8(a): try NPYFile.write(url, uint8: a, shape: shape)
            case let .uint16(a): try NPYFile.write(url, uint16: a, shape: shape)
            case let .int16(a): try NPYFile.write(url, int16: a, shape: shape)
            case let .int8(a): try NPYFile.write(url, int16: a.map(Int16.init), shape: shape)
            case .uint32, .int32:
                throw ExportError(path: url.path, reason: "\(source) has 32-bit samples; frames are exported as uint8, uint16 or int16 only")
            }
        }
        for (k, image) in images.enumerated() {
            if k == 0 {
                try PNGEncoder.write(gray: image.gray, width: image.width, height: image.height, to: dir.appendingPathComponent("model_input.png"))
                try NPYFile.write(dir.appendingPathComponent("model_input.npy"), uint8: image.gray, shape: [image.height, image.width])
            }
            if images.count > 1, let n = image.frameNumbers.first {
                try PNGEncoder.write(gray: image.gray, width: image.width, height: image.height,
                                     to: dir.appendingPathComponent(String(format: "model_input_frame_%04d.png", n - 1)))
            }
        }
    }

    struct ExportError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

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
