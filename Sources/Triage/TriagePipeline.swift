import Angiography
import DICOM
import Foundation
import Imaging
import LoRA
import MedGemma
import ModelFiles
import Tensor

/// One unit of triage, planned from the command line's inputs (`InputPlanner`).
public typealias TriageInput = InputUnit

/// The triage pipeline as a library: model, adapter, task profile and policy, from input files to records.
/// The command, evaluation, training and a PACS worker all call this; it never stops a batch at one bad input.
///
/// The stages, each usable alone (plain values in and out, no console output), so that a worker can queue
/// between them:
/// 1. planning — `InputPlanner.plan` (Angiography): files and folders → `InputUnit`s;
/// 2. model images — `prepareInstance` / `preparePicture` over `ModelInputBuilder` (ModelImages.swift);
/// 3. classification — `classify` (Classification.swift), the one vision → prompt → score path;
/// 4. record assembly — `RecordContext`, `SeriesRecordAssembly`, `RecordAssembly` (RecordAssembly.swift).
/// `run` chains them.
public final class TriagePipeline: @unchecked Sendable {
    public let loaded: LoadedModel
    public let profile: TaskProfile
    public let mode: TriageMode
    /// Name of the attached adapter (nil: bare base model).
    public let adapterName: String?
    public let modelFingerprint: String
    public let adapterFingerprint: String?
    /// The model is a tiny test model (hidden size < 256, or a `TEST_MODEL` marker file): decisions are meaningless.
    public let isTestModel: Bool
    /// Set for a demo model (`DEMO_MODEL` file): trained on synthetic images, its decisions have no clinical meaning.
    public let demoNotice: String?
    public let scorer: LabelScorer
    public let parser: AnswerParser
    public let policy: DecisionPolicy
    public let quality: QualityChecks
    /// File → model images; its options (e.g. `maxDecodeBytes`) may be changed after loading.
    public var builder: ModelInputBuilder
    /// The chat prompt with one image block.
    public let promptIDs: [Int]
    /// Model, adapter, scorer and prompt, as classification takes them.
    public let classification: ClassificationModel
    /// Which reference image processor the pixel values follow (transformers' default: torchvision).
    public var imageBackend: ImagePreprocessor.Backend { preprocessor.backend }
    /// The model's image processor (its settings read once, at load).
    public let preprocessor: ImagePreprocessor
    /// What the model was trained on (`input_domain.json` of the adapter, else of the model); nil when
    /// neither has one, and then no input can be told apart from the training data.
    public let inputDomain: InputDomain?
    /// The file `inputDomain` was read from.
    public let inputDomainFile: String?
    /// Whether records keep the generated text. Off by default: a model can read text burned into the
    /// pixels (names on a secondary capture) and repeat it; the parsed verdict and its reason quote only
    /// the profile's own words.
    public var keepGeneratedText = false
    /// How files found under folder inputs are named in records (the command's default is `hashed`).
    public var pathDisplay = PathDisplay.asGiven
    /// Keys the UID hashes (and the hashed names of saved images); nil: plain SHA-256.
    public var siteKey: SiteKey?
    /// Where each model input image is written as PNG (`--save-images`, `SavedImages`); nil: not written.
    public var savedImagesDirectory: URL?

    /// Wraps a loaded model; attaches the adapter in `adapter` (unmerged) when given. The model's
    /// fingerprint is remembered in `fingerprintCache` (nil: computed every time).
    public init(loaded: LoadedModel, profile: TaskProfile, mode: TriageMode, adapter: URL? = nil,
                imageBackend: ImagePreprocessor.Backend = .torchvision,
                fingerprintCache: URL? = ModelFingerprint.defaultCacheDirectory) throws {
        try profile.validate(source: "profile \(profile.name)")
        guard loaded.vision != nil else {
            throw TriageError.invalidArgument("\(loaded.path) has no vision tower; triage needs an image model")
        }
        self.loaded = loaded
        self.profile = profile
        self.mode = mode
        preprocessor = ImagePreprocessor(config: try loaded.imageProcessorConfig(), backend: imageBackend)
        if let adapter {
            let a = try loaded.attachAdapter(directory: adapter, name: "triage")
            adapterName = "triage"
            adapterFingerprint = a.sha256
        } else {
            adapterName = nil
            adapterFingerprint = nil
        }
        modelFingerprint = try ModelFingerprint.of(path: loaded.path, cacheDirectory: fingerprintCache)
        (inputDomain, inputDomainFile) = try Self.inputDomain(adapter: adapter, model: loaded.directory)
        isTestModel = Self.isTestModel(loaded)
        demoNotice = Self.demoNotice(loaded)
        scorer = try LabelScorer(model: loaded.model, answers: try LabelScorer.answers(profile: profile, loaded: loaded))
        parser = AnswerParser(profile: profile)
        policy = DecisionPolicy(profile: profile)
        quality = QualityChecks(settings: profile.quality)
        builder = Self.inputBuilder(profile: profile)
        promptIDs = try Self.promptIDs(loaded: loaded, profile: profile)
        classification = try ClassificationModel(loaded: loaded, scorer: scorer, promptIDs: promptIDs, adapter: adapterName)
    }

    /// The chat prompt triage scores after: the profile's system text and prompt with one image block.
    /// Training builds its examples on the same ids.
    public static func promptIDs(loaded: LoadedModel, profile: TaskProfile) throws -> [Int] {
        guard let vision = loaded.vision else {
            throw TriageError.invalidArgument("\(loaded.path) has no vision tower; triage needs an image model")
        }
        let ids = try loaded.chatPromptIDs(text: profile.prompt, system: profile.system, imageCount: 1)
        guard ids.contains(vision.settings.imageTokenID) else {
            throw TriageError.invalidArgument("the prompt of \(loaded.path) has no image block")
        }
        return ids
    }

    /// Loads the model (and adapter) and builds the pipeline.
    public static func load(model: String, adapter: String?, profile: TaskProfile, mode: TriageMode,
                            computeMode: ComputeMode? = nil, quantization: QuantizationScheme = .none) throws -> TriagePipeline {
        let loaded = try ModelLoader.load(path: model, computeMode: computeMode, quantization: quantization)
        return try TriagePipeline(loaded: loaded, profile: profile, mode: mode, adapter: adapter.map { URL(fileURLWithPath: $0) })
    }

    /// The input-domain record that applies: the adapter's (it was trained last) first, then the model's.
    public static func inputDomain(adapter: URL?, model: URL?) throws -> (InputDomain?, String?) {
        for dir in [adapter, model].compactMap({ $0 }) {
            if let d = try InputDomain.read(directory: dir) { return (d, dir.appendingPathComponent(InputDomain.fileName).path) }
        }
        return (nil, nil)
    }

    /// Said once per run when the model has no input-domain record.
    public static let noInputDomainNotice = "no input-domain record: the tool cannot tell inputs unlike the training data (records say domain_checked: false)"

    /// Tiny test models: a hidden size under 256 (no real Gemma 3 is that small) or a `TEST_MODEL` file; a
    /// trained demo model (a `DEMO_MODEL` file) is not one.
    public static func isTestModel(_ loaded: LoadedModel) -> Bool {
        if demoNotice(loaded) != nil { return false }
        if loaded.model.config.hiddenSize < 256 { return true }
        if let dir = loaded.directory, FileManager.default.fileExists(atPath: dir.appendingPathComponent("TEST_MODEL").path) { return true }
        return false
    }

    /// The notice of a demo model (the text of its `DEMO_MODEL` file, e.g. "trained on synthetic angiograms
    /// only; no clinical meaning"), nil for other models.
    public static func demoNotice(_ loaded: LoadedModel) -> String? {
        guard let dir = loaded.directory,
              let data = FileManager.default.contents(atPath: dir.appendingPathComponent("DEMO_MODEL").path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "demo model: no clinical meaning" : text
    }

    /// Turns command-line paths into units (`InputPlanner.plan`). Never throws: problems become units.
    public static func plan(_ paths: [String]) -> [TriageInput] { InputPlanner.plan(paths) }

    // MARK: Running

    /// What every record of this pipeline says about the run.
    public var recordContext: RecordContext {
        RecordContext(mode: mode, profile: profile.name, modelFingerprint: modelFingerprint, adapterFingerprint: adapterFingerprint,
                      testModel: isTestModel, demoModel: demoNotice != nil, siteKey: siteKey)
    }

    /// Plans `paths` and triages every unit; `progress(done, total)` is called after each.
    public func run(paths: [String], progress: ((Int, Int) -> Void)? = nil) -> [TriageRecord] {
        let units = Self.plan(paths)
        var records: [TriageRecord] = []
        for (i, u) in units.enumerated() {
            records.append(run(u))
            progress?(i + 1, units.count)
        }
        return records
    }

    /// Triages one unit through the stages; every failure becomes an error record.
    public func run(_ unit: TriageInput) -> TriageRecord {
        let clock = ContinuousClock()
        let t0 = clock.now
        let context = recordContext
        var record: TriageRecord
        switch unit {
        case .image(let path, let input):
            record = runPicture(path, input: input ?? path, context: context)
        case .dicomSeries(let input, let study, let series, let modality, let files):
            var assembly = SeriesRecordAssembly(context: context, input: input, study: study, series: series, modality: modality, files: files)
            for path in files { runInstance(path, into: &assembly) }
            record = assembly.finish()
        case .skippedFile, .unreadable:
            // Both cases have a record; a unit without one cannot reach here.
            record = context.record(for: unit) ?? context.blankRecord(input: unit.files.first ?? "", kind: .file, status: .error)
        }
        record.timings.total = (clock.now - t0).seconds
        return pathDisplay.apply(record)
    }

    func runPicture(_ path: String, input: String, context: RecordContext) -> TriageRecord {
        let clock = ContinuousClock()
        let t0 = clock.now
        var inputSeconds: Double?
        do {
            let image = try preparePicture(path)
            inputSeconds = (clock.now - t0).seconds
            var timings = TriageRecord.Timings()
            var result = try classify(image, timings: &timings)
            var extra: [String] = []
            saveImage(image.rgb, id: "picture-" + PathDisplay(mode: .hashed, key: siteKey).hashedName(path).prefix(16), into: &result, reasons: &extra)
            return context.picture(path, input: input, inputSeconds: inputSeconds ?? 0, result: result, timings: timings, extraReasons: extra)
        } catch {
            return context.failedPicture(path, input: input, error: error, inputSeconds: inputSeconds)
        }
    }

    /// One instance of a series through the model-image and classification stages into its record.
    func runInstance(_ path: String, into assembly: inout SeriesRecordAssembly) {
        let prepared = prepareInstance(path)
        assembly.add(prepared)
        guard case .images(let images) = prepared.outcome else { return }
        for img in images {
            var timings = TriageRecord.Timings()
            do {
                var result = try classify(img, timings: &timings)
                var saveFailures: [String] = []
                saveImage(img.rgb, id: SavedImages.id(series: assembly.record.seriesUIDHash, instance: img.instance, frames: img.frameNumbers,
                                                    index: assembly.imageCount),
                          into: &result, reasons: &saveFailures)
                assembly.add(result, timings: timings)
                saveFailures.forEach { assembly.note($0) }
            } catch {
                // The images before it stay; the rest of the run is left.
                assembly.fail(Self.failure(error, path: path))
                return
            }
        }
    }

    /// Writes `rgb` into `savedImagesDirectory` (`SavedImages`) and names it in `result`; a failure becomes a
    /// reason and the batch goes on.
    func saveImage(_ rgb: RGBImage, id: String, into result: inout TriageRecord.ImageResult, reasons: inout [String]) {
        guard let dir = savedImagesDirectory else { return }
        do {
            result.savedImage = try SavedImages.write(rgb, id: id, into: dir)
        } catch {
            reasons.append("image \(id).png not saved: \(error)")
        }
    }
}
