import Angiography
import DICOM
import Foundation
import Imaging
import LoRA
import MedGemma
import ModelFiles
import Tensor

/// One unit of triage, planned from the command line's inputs.
public enum TriageInput: Sendable, Equatable {
    /// A PNG or JPEG picture, triaged as it is; `input` is the folder it was found in (nil: named directly).
    case image(path: String, input: String? = nil)
    /// A DICOM series: its instances (runs), sorted; UIDs nil when the file had none.
    case dicomSeries(input: String, study: String?, series: String?, modality: String?, files: [String])
    /// A file in a folder that is neither DICOM nor a picture (a CSV, a README, a link loop): skipped.
    case skippedFile(path: String, reason: String, input: String? = nil)
    /// An input that cannot be read at all.
    case unreadable(path: String, reason: String, input: String? = nil)
}

/// One model image made from an input as triage makes it, before pixel preprocessing.
public struct PreparedImage: Sendable, Equatable {
    /// The picture the image processor receives.
    public var rgb: RGBImage
    /// Its 8-bit gray levels (quality checks).
    public var gray: [UInt8]
    /// Frames in the DICOM run (nil for a picture).
    public var frames: Int?
    /// Frames the image was made from (empty for a picture).
    public var frameNumbers: [Int]
    /// Hash of the SOP Instance UID, when there is one.
    public var instance: String?
    /// The file it came from.
    public var file: String
    /// How it was made (the input-domain check compares it with the kinds training saw).
    public var sourceKind: InputSourceKind
}

/// The triage pipeline as a library: model, adapter, task profile and policy, from input files to records.
/// The command, evaluation, training and a PACS worker all call this; it never stops a batch at one bad input.
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

    // MARK: Planning

    static let pictureExtensions: Set<String> = ["png", "jpg", "jpeg"]
    static let dicomExtensions: Set<String> = ["dcm", "dicom", "dic", ""]

    /// Turns command-line paths into units, in the order the paths were given: folders are scanned and
    /// grouped into series (their units in byte order of each unit's first file name), DICOM files named
    /// directly are grouped with each other (a series comes where its first file was named), pictures
    /// stand alone. Paths are `EscapedPath` forms (a plain path is its own form; a command-line argument
    /// goes through `EscapedPath.argument`). Never throws: problems become units.
    public static func plan(_ paths: [String]) -> [TriageInput] {
        var out: [TriageInput] = []
        // DICOM files named directly: catalogued together so that instances of one series form one unit.
        var explicitDICOM: [String] = []
        enum Kind { case picture, dicom, folder, problem(String) }
        var kinds: [(String, Kind)] = []
        for p in paths {
            switch EscapedPath.status(p).kind {
            case .missing: kinds.append((p, .problem("no such file or folder")))
            case .brokenLink: kinds.append((p, .problem("broken symbolic link (its target does not exist)")))
            case .linkLoop: kinds.append((p, .problem("symbolic link loop: the links never reach a file")))
            case .other: kinds.append((p, .problem("not a regular file or folder (a device, FIFO or socket)")))
            case .folder: kinds.append((p, .folder))
            case .file:
                if sniffPicture(p) {
                    kinds.append((p, .picture))
                } else {
                    kinds.append((p, .dicom))
                    explicitDICOM.append(p)
                }
            }
        }
        let catalog = SeriesCatalog(paths: explicitDICOM)
        var seriesOfPath: [String: (SeriesCatalog.Study, SeriesCatalog.Series)] = [:]
        for st in catalog.studies { for se in st.series { for i in se.instances { seriesOfPath[i.path] = (st, se) } } }
        let rejected = Dictionary(catalog.rejected.map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
        var emitted = Set<String>()
        for (p, kind) in kinds {
            switch kind {
            case .picture: out.append(.image(path: p))
            case .problem(let reason): out.append(.unreadable(path: p, reason: reason))
            case .folder: out += planFolder(p)
            case .dicom:
                if let (st, se) = seriesOfPath[p] {
                    let key = st.studyInstanceUID + "/" + se.seriesInstanceUID
                    if emitted.insert(key).inserted {
                        out.append(.dicomSeries(input: p, study: st.studyInstanceUID, series: se.seriesInstanceUID,
                                                modality: se.modality, files: se.instances.map(\.path)))
                    }
                } else if let reason = rejected[p], reason.hasPrefix("no Study Instance UID") || reason.hasPrefix("no Series Instance UID") {
                    out.append(.dicomSeries(input: p, study: nil, series: nil, modality: nil, files: [p]))
                } else {
                    out.append(.unreadable(path: p, reason: rejected[p] ?? "not a DICOM, PNG or JPEG file"))
                }
            }
        }
        return out
    }

    /// The units of one folder input: every series, picture, skipped or unreadable file found, in byte order
    /// of the unit's first file (a series' first by name).
    static func planFolder(_ folder: String) -> [TriageInput] {
        let catalog: SeriesCatalog
        do {
            catalog = try SeriesCatalog(scanningEscaped: folder)
        } catch {
            return [.unreadable(path: folder, reason: "\(error)")]
        }
        var units: [(first: String, unit: TriageInput)] = []
        for st in catalog.studies {
            for se in st.series {
                let files = se.instances.map(\.path)
                let first = files.min(by: EscapedPath.precedes) ?? folder
                units.append((first, .dicomSeries(input: folder, study: st.studyInstanceUID, series: se.seriesInstanceUID,
                                                  modality: se.modality, files: files)))
            }
        }
        for r in catalog.rejected {
            let lowerExt = URL(fileURLWithPath: r.path).pathExtension.lowercased()
            if pictureExtensions.contains(lowerExt) || sniffPicture(r.path) {
                units.append((r.path, .image(path: r.path, input: folder)))
            } else if r.reason.hasPrefix("no Study Instance UID") || r.reason.hasPrefix("no Series Instance UID") {
                units.append((r.path, .dicomSeries(input: folder, study: nil, series: nil, modality: nil, files: [r.path])))
            } else if dicomExtensions.contains(lowerExt) || sniffDICOM(r.path) {
                units.append((r.path, .unreadable(path: r.path, reason: r.reason, input: folder)))
            } else {
                units.append((r.path, .skippedFile(path: r.path, reason: "not a DICOM, PNG or JPEG file", input: folder)))
            }
        }
        for p in catalog.problems {
            units.append((p.path, p.isError ? .unreadable(path: p.path, reason: p.reason, input: folder)
                                            : .skippedFile(path: p.path, reason: p.reason, input: folder)))
        }
        return units.sorted { EscapedPath.precedes($0.first, $1.first) }.map(\.unit)
    }

    static func head(_ path: String, _ n: Int) -> [UInt8] { EscapedPath.head(path, n) }

    /// PNG or JPEG by signature.
    static func sniffPicture(_ path: String) -> Bool {
        let b = head(path, 8)
        if b.count >= 8 && b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return true }
        return b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF
    }

    /// "DICM" after the 128-byte preamble.
    static func sniffDICOM(_ path: String) -> Bool {
        let b = head(path, 132)
        return b.count == 132 && Array(b[128..<132]) == Array("DICM".utf8)
    }

    // MARK: Model images

    /// The input builder a profile asks for: its frame strategy and routing policy.
    static func inputBuilder(profile: TaskProfile) -> ModelInputBuilder {
        ModelInputBuilder(options: ModelInputOptions(strategy: profile.strategy,
                                                     routing: RoutingPolicy(includeRadiofluoroscopic: profile.includeRadiofluoroscopy)))
    }

    /// A PNG or JPEG picture as RGB plus its 8-bit gray version (for the quality checks).
    static func pictureImage(_ path: String) throws -> (RGBImage, [UInt8]) {
        let decoded = try EscapedPath.plain(path).map { try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: $0)) }
            ?? ImageDecoder.decode(data: try EscapedPath.contents(path), source: path)
        let rgb = try RGBImage(decoded)
        var gray = [UInt8](repeating: 0, count: rgb.width * rgb.height)
        for i in 0..<gray.count {
            // Rec. 601 luma, as Pillow's "L" conversion.
            let r = Int(rgb.pixels[3 * i]), g = Int(rgb.pixels[3 * i + 1]), b = Int(rgb.pixels[3 * i + 2])
            gray[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
        return (rgb, gray)
    }

    /// One DICOM instance routed and rendered as triage does: nil images when routing skips it (the
    /// decision says why).
    static func instanceImages(_ file: DICOMFile, path: String, builder: ModelInputBuilder,
                               siteKey: SiteKey? = nil) throws -> (RouteDecision, [PreparedImage]?) {
        let run = try builder.build(file)
        guard run.decision.route == .triage else { return (run.decision, nil) }
        let frames = try AngiogramAttributes(file: file).numberOfFrames
        let instance = file.dataset.string(.sopInstanceUID).map { UIDHash.hash($0, key: siteKey) }
        let images = try run.images.map { img in
            PreparedImage(rgb: try RGBImage(gray: img.gray, width: img.width, height: img.height), gray: img.gray, frames: frames,
                          frameNumbers: img.frameNumbers, instance: instance, file: path,
                          sourceKind: InputSourceKind(subtraction: run.record?.subtraction.method ?? .notSubtracted))
        }
        return (run.decision, images)
    }

    /// The model images of one input (a PNG/JPEG picture, a DICOM file, or a folder of series) exactly as
    /// triage makes them: same planning, routing, subtraction, frame strategy and RGB conversion. Instances
    /// that routing skips are left out as triage leaves them out; anything unreadable, or an input that
    /// yields no model image at all, throws an error naming the file (files found under a folder `path`
    /// named as `display` shows them, in the error and in each image's `file`).
    public static func modelImages(path: String, profile: TaskProfile, display: PathDisplay = .asGiven) throws -> [PreparedImage] {
        let units = plan([path])
        guard display.mode != .asGiven else { return try modelImages(units: units, path: path, profile: profile) }
        var found: [String] = []
        for unit in units {
            switch unit {
            case .image(let p, _), .skippedFile(let p, _, _), .unreadable(let p, _, _): found.append(p)
            case .dicomSeries(_, _, _, _, let files): found += files
            }
        }
        let fix = display.rewriter(files: found, root: path)
        do {
            return try modelImages(units: units, path: path, profile: profile).map { img in
                var i = img
                i.file = fix(img.file)
                return i
            }
        } catch let e as TriageError {
            // The same error with the found files renamed.
            switch e {
            case let .unreadableInput(p, reason): throw TriageError.unreadableInput(path: fix(p), reason: fix(reason))
            case let .unsupportedInput(p, reason): throw TriageError.unsupportedInput(path: fix(p), reason: fix(reason))
            default: throw TriageError.invalidArgument(fix("\(e)"))
            }
        } catch {
            throw TriageError.invalidArgument(fix("\(error)"))
        }
    }

    static func modelImages(units: [TriageInput], path: String, profile: TaskProfile) throws -> [PreparedImage] {
        let builder = inputBuilder(profile: profile)
        var images: [PreparedImage] = []
        var skips: [String] = []
        for unit in units {
            switch unit {
            case .image(let p, _):
                let (rgb, gray) = try wrap(p) { try pictureImage(p) }
                images.append(PreparedImage(rgb: rgb, gray: gray, frames: nil, frameNumbers: [], instance: nil, file: p, sourceKind: .picture))
            case .dicomSeries(_, _, _, _, let files):
                for f in files {
                    let (decision, run) = try wrap(f) { try instanceImages(try EscapedPath.dicomFile(f), path: f, builder: builder) }
                    if let run { images += run } else { skips.append("\(f): \(decision.reason): \(decision.detail)") }
                }
            case .skippedFile(let p, let reason, _):
                skips.append("\(p): \(reason)")
            case .unreadable(let p, let reason, _):
                throw TriageError.unreadableInput(path: p, reason: reason)
            }
        }
        guard !images.isEmpty else {
            throw TriageError.unsupportedInput(path: path, reason: "no model image: " + (skips.isEmpty ? "nothing to triage" : skips.joined(separator: "; ")))
        }
        return images
    }

    /// Runs `body`, naming `path` in any error that does not already.
    static func wrap<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as TriageError { throw e } catch {
            let message = "\(error)"
            throw TriageError.unreadableInput(path: path, reason: message.replacingOccurrences(of: path + ": ", with: ""))
        }
    }

    // MARK: Running

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

    func blankRecord(input: String, kind: TriageRecord.Kind, status: TriageRecord.Status) -> TriageRecord {
        TriageRecord(input: input, kind: kind, status: status, files: [], studyUIDHash: nil, seriesUIDHash: nil,
                     instanceUIDHashes: [], modality: nil, route: nil, routeReason: nil, framesUsed: [], pBlocked: nil,
                     labelProbabilities: nil, decision: nil, reasons: [], images: [], mode: mode, profile: profile.name,
                     modelFingerprint: modelFingerprint, adapterFingerprint: adapterFingerprint, testModel: isTestModel, demoModel: demoNotice != nil,
                     error: nil, timings: TriageRecord.Timings())
    }

    /// Triages one unit; every failure becomes an error record.
    public func run(_ unit: TriageInput) -> TriageRecord {
        let clock = ContinuousClock()
        let t0 = clock.now
        var record: TriageRecord
        switch unit {
        case .image(let path, let input):
            record = runImage(path, input: input ?? path)
        case .dicomSeries(let input, let study, let series, let modality, let files):
            record = runSeries(input: input, study: study, series: series, modality: modality, files: files)
        case .skippedFile(let path, let reason, let input):
            record = blankRecord(input: input ?? path, kind: .file, status: .skipped)
            record.files = [path]
            record.route = "skip"
            record.routeReason = reason
            record.reasons = [reason]
        case .unreadable(let path, let reason, let input):
            record = blankRecord(input: input ?? path, kind: .file, status: .error)
            record.files = [path]
            record.error = reason
            record.reasons = ["unreadable: \(reason)"]
        }
        record.timings.total = (clock.now - t0).seconds
        return pathDisplay.apply(record)
    }

    func runImage(_ path: String, input: String) -> TriageRecord {
        var record = blankRecord(input: input, kind: .image, status: .processed)
        record.files = [path]
        let clock = ContinuousClock()
        let t0 = clock.now
        do {
            let (rgb, gray) = try Self.pictureImage(path)
            record.timings.input = (clock.now - t0).seconds
            record.route = "triage"
            record.routeReason = "picture input (PNG/JPEG): no routing"
            var timings = TriageRecord.Timings()
            var result = try classify(rgb: rgb, gray: gray, frames: nil, frameNumbers: [], instance: nil, source: .picture, timings: &timings)
            record.timings.add(timings)
            var extra: [String] = []
            saveImage(rgb, id: "picture-" + PathDisplay(mode: .hashed, key: siteKey).hashedName(path).prefix(16), into: &result, reasons: &extra)
            finish(&record, images: [result], extraReasons: extra)
        } catch {
            record.status = .error
            record.error = "\(error)"
            record.reasons = ["unreadable: \(error)"]
        }
        return record
    }

    func runSeries(input: String, study: String?, series: String?, modality: String?, files: [String]) -> TriageRecord {
        var record = blankRecord(input: input, kind: .dicomSeries, status: .processed)
        record.files = files
        record.studyUIDHash = study.map { UIDHash.hash($0, key: siteKey) }
        record.seriesUIDHash = series.map { UIDHash.hash($0, key: siteKey) }
        record.modality = DefinedTerms.modality(modality)
        let clock = ContinuousClock()
        var failures: [String] = []
        var skips: [(String, RouteDecision)] = []
        var images: [TriageRecord.ImageResult] = []
        var triagedRuns = 0
        var saveFailures: [String] = []
        for path in files {
            let t0 = clock.now
            do {
                let file = try EscapedPath.dicomFile(path)
                if let uid = file.dataset.string(.sopInstanceUID), !uid.isEmpty { record.instanceUIDHashes.append(UIDHash.hash(uid, key: siteKey)) }
                if record.modality == nil { record.modality = DefinedTerms.modality(file.dataset.string(.modality)) }
                let (decision, runImages) = try Self.instanceImages(file, path: path, builder: builder, siteKey: siteKey)
                guard let runImages else {
                    skips.append((path, decision))
                    record.timings.input += (clock.now - t0).seconds
                    continue
                }
                record.timings.input += (clock.now - t0).seconds
                triagedRuns += 1
                for img in runImages {
                    var timings = TriageRecord.Timings()
                    var result = try classify(rgb: img.rgb, gray: img.gray, frames: img.frames, frameNumbers: img.frameNumbers,
                                              instance: img.instance, source: img.sourceKind, timings: &timings)
                    record.timings.add(timings)
                    saveImage(img.rgb, id: SavedImages.id(series: record.seriesUIDHash, instance: img.instance, frames: img.frameNumbers,
                                                        index: images.count),
                              into: &result, reasons: &saveFailures)
                    images.append(result)
                }
            } catch {
                let message = "\(error)"
                failures.append(message.contains(path) ? message : "\(path): \(message)")
            }
        }
        if images.isEmpty {
            if triagedRuns == 0 && failures.isEmpty, let first = skips.first {
                record.status = .skipped
                record.route = "skip"
                record.routeReason = first.1.reason
                record.reasons = ["\(first.1.reason): \(first.1.detail)"]
            } else {
                record.status = .error
                record.route = triagedRuns > 0 ? "triage" : (skips.isEmpty ? nil : "skip")
                record.error = failures.isEmpty ? "no model image could be made" : failures.joined(separator: "; ")
                record.reasons = failures.map { "unreadable: \($0)" }
            }
            return record
        }
        record.route = "triage"
        record.routeReason = RouteDecision.inScope
        var extra: [String] = []
        for f in failures { extra.append("partly unreadable: \(f)") }
        if !skips.isEmpty { extra.append("\(skips.count) of \(files.count) instance(s) skipped (\(skips[0].1.reason))") }
        extra += saveFailures
        finish(&record, images: images, extraReasons: extra, forceReview: !failures.isEmpty)
        return record
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

    /// Aggregates image results into the record: the worst image (blocked, then review, then patent; ties by
    /// the higher P(blocked)) decides. An image outside the training domain was already sent to review by
    /// `classify`, so a record holding one is never a confident patent.
    func finish(_ record: inout TriageRecord, images: [TriageRecord.ImageResult], extraReasons: [String], forceReview: Bool = false) {
        record.images = images
        record.framesUsed = images.map(\.frames)
        let checks = images.compactMap(\.domain)
        record.domainChecked = !images.isEmpty && checks.count == images.count
        record.inTrainingDomain = record.domainChecked ? checks.allSatisfy(\.inTrainingDomain) : nil
        guard let worst = images.max(by: { a, b in
            (a.decision.severity, a.pBlocked ?? -1) < (b.decision.severity, b.pBlocked ?? -1)
        }) else { return }
        record.pBlocked = images.compactMap(\.pBlocked).max()
        record.labelProbabilities = worst.labelProbabilities
        var decision = worst.decision
        if forceReview && decision == .patent { decision = .manualReview }
        record.decision = decision
        var reasons = worst.reasons
        if images.count > 1 {
            reasons.insert("worst of \(images.count) images (frames \(worst.frames.map(String.init).joined(separator: ",")))", at: 0)
        }
        record.reasons = reasons + extraReasons
    }

    /// Scores (and/or generates for) one model image and decides. Public for evaluation and training.
    /// `source` says how the image was made, for the input-domain check.
    public func classify(rgb: RGBImage, gray: [UInt8], frames: Int?, frameNumbers: [Int], instance: String?,
                         source: InputSourceKind, timings: inout TriageRecord.Timings) throws -> TriageRecord.ImageResult {
        guard let vision = loaded.vision else { throw TriageError.invalidArgument("\(loaded.path) has no vision tower") }
        let clock = ContinuousClock()
        let t0 = clock.now
        let pixels = try preprocessor.pixelValues(rgb)
        let tokens = try vision.imageTokens(pixelValues: pixels, adapter: adapterName)
        let prompt = try loaded.model.promptInput(ids: promptIDs, imageTokens: [tokens], imageTokenID: vision.settings.imageTokenID)
        timings.vision += (clock.now - t0).seconds
        let generate = mode != .score
        let prefilled = try scorer.prefill(prompt, adapter: adapterName, extraTokens: generate ? profile.generation.maxNewTokens : 0)
        timings.prefill += prefilled.prefillSeconds
        var scores: LabelScores?
        if mode != .generate {
            let s = try scorer.score(prefilled)
            timings.scoring += s.stats.scoringSeconds
            scores = s
        }
        var text: String?
        var parsed: ParsedAnswer?
        if generate {
            let t1 = clock.now
            let ids = try scorer.generate(prefilled, maxNewTokens: profile.generation.maxNewTokens, stopIDs: loaded.chatStopIDs)
            text = loaded.tokenizer.decode(ids, skipSpecialTokens: true)
            parsed = parser.parse(text ?? "")
            timings.generation += (clock.now - t1).seconds
        }
        let q = quality.check(gray: gray, frames: frames)
        let p = scores.map { $0.probability(profile.positiveLabel) ?? .nan }
        var decision = policy.decide(DecisionInputs(scored: scores != nil, pBlocked: p, generated: parsed, qualityIssues: q.issues))
        let domain = inputDomain.flatMap { d in ModelImageStatistics(gray: gray, frames: frames, sourceKind: source).map(d.check) }
        if let reason = domain?.reason {
            // Outside the training domain the model's confidence means little: a patent call becomes a review
            // (a miss is the high-risk error); a blocked call stays blocked, as flagging costs only a look.
            if decision.label == .patent { decision.label = .manualReview; decision.reasons.insert(reason, at: 0) }
            else { decision.reasons.append(reason) }
        }
        var logprobs: [String: Double]?
        if let scores { logprobs = Dictionary(uniqueKeysWithValues: scores.labels.map { ($0.label, $0.logprob) }) }
        return TriageRecord.ImageResult(instance: instance, frames: frameNumbers, pBlocked: p.flatMap { $0.isFinite ? $0 : nil },
                                        labelProbabilities: scores?.probabilities, labelLogprobs: logprobs,
                                        generatedText: keepGeneratedText ? text : nil, parsedAnswer: parsed, quality: q,
                                        decision: decision.label, reasons: decision.reasons, domain: domain)
    }
}
