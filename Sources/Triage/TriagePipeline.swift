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
    /// A PNG or JPEG picture, triaged as it is.
    case image(path: String)
    /// A DICOM series: its instances (runs), sorted; UIDs nil when the file had none.
    case dicomSeries(input: String, study: String?, series: String?, modality: String?, files: [String])
    /// A file in a folder that is neither DICOM nor a picture (a CSV, a README): skipped.
    case skippedFile(path: String, reason: String)
    /// An input that cannot be read at all.
    case unreadable(path: String, reason: String)
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
    /// Whether records keep the generated text. Off by default: a model can read text burned into the
    /// pixels (names on a secondary capture) and repeat it; the parsed verdict and its reason quote only
    /// the profile's own words.
    public var keepGeneratedText = false

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

    /// Turns command-line paths into units: folders are scanned and grouped into series, DICOM files named
    /// directly are grouped with each other, pictures stand alone. Never throws: problems become units.
    public static func plan(_ paths: [String]) -> [TriageInput] {
        var out: [TriageInput] = []
        // DICOM files named directly: catalogued together so that instances of one series form one unit.
        var explicitDICOM: [String] = []
        var kinds: [(String, Int)] = []   // path, 0 picture / 1 dicom / 2 folder / 3 missing
        for p in paths {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: p, isDirectory: &isDir) {
                kinds.append((p, 3))
            } else if isDir.boolValue {
                kinds.append((p, 2))
            } else if sniffPicture(p) {
                kinds.append((p, 0))
            } else {
                kinds.append((p, 1))
                explicitDICOM.append(p)
            }
        }
        let catalog = SeriesCatalog(files: explicitDICOM.map { URL(fileURLWithPath: $0) })
        var seriesOfPath: [String: (SeriesCatalog.Study, SeriesCatalog.Series)] = [:]
        for st in catalog.studies { for se in st.series { for i in se.instances { seriesOfPath[i.path] = (st, se) } } }
        let rejected = Dictionary(catalog.rejected.map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
        var emitted = Set<String>()
        for (p, kind) in kinds {
            switch kind {
            case 0: out.append(.image(path: p))
            case 3: out.append(.unreadable(path: p, reason: "no such file or folder"))
            case 2: out += planFolder(p)
            default:
                let path = URL(fileURLWithPath: p).path
                if let (st, se) = seriesOfPath[path] {
                    let key = st.studyInstanceUID + "/" + se.seriesInstanceUID
                    if emitted.insert(key).inserted {
                        out.append(.dicomSeries(input: se.instances.count == 1 ? p : URL(fileURLWithPath: p).deletingLastPathComponent().path,
                                                study: st.studyInstanceUID, series: se.seriesInstanceUID,
                                                modality: se.modality, files: se.instances.map(\.path)))
                    }
                } else if let reason = rejected[path], reason.hasPrefix("no Study Instance UID") || reason.hasPrefix("no Series Instance UID") {
                    out.append(.dicomSeries(input: p, study: nil, series: nil, modality: nil, files: [path]))
                } else {
                    out.append(.unreadable(path: p, reason: rejected[path] ?? "not a DICOM, PNG or JPEG file"))
                }
            }
        }
        return out
    }

    static func planFolder(_ folder: String) -> [TriageInput] {
        let catalog: SeriesCatalog
        do {
            catalog = try SeriesCatalog(scanning: URL(fileURLWithPath: folder))
        } catch {
            return [.unreadable(path: folder, reason: "\(error)")]
        }
        var out: [TriageInput] = []
        for st in catalog.studies {
            for se in st.series {
                out.append(.dicomSeries(input: folder, study: st.studyInstanceUID, series: se.seriesInstanceUID,
                                        modality: se.modality, files: se.instances.map(\.path)))
            }
        }
        for r in catalog.rejected.sorted(by: { $0.path < $1.path }) {
            let ext = URL(fileURLWithPath: r.path).pathExtension.lowercased()
            if pictureExtensions.contains(ext) || sniffPicture(r.path) {
                out.append(.image(path: r.path))
            } else if r.reason.hasPrefix("no Study Instance UID") || r.reason.hasPrefix("no Series Instance UID") {
                out.append(.dicomSeries(input: r.path, study: nil, series: nil, modality: nil, files: [r.path]))
            } else if dicomExtensions.contains(ext) || sniffDICOM(r.path) {
                out.append(.unreadable(path: r.path, reason: r.reason))
            } else {
                out.append(.skippedFile(path: r.path, reason: "not a DICOM, PNG or JPEG file"))
            }
        }
        return out
    }

    static func head(_ path: String, _ n: Int) -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        return [UInt8]((try? h.read(upToCount: n)) ?? Data())
    }

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
        let rgb = try RGBImage(try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path)))
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
    static func instanceImages(_ file: DICOMFile, path: String, builder: ModelInputBuilder) throws -> (RouteDecision, [PreparedImage]?) {
        let run = try builder.build(file)
        guard run.decision.route == .triage else { return (run.decision, nil) }
        let frames = try AngiogramAttributes(file: file).numberOfFrames
        let instance = file.dataset.string(.sopInstanceUID).map(UIDHash.hash)
        let images = try run.images.map { img in
            PreparedImage(rgb: try RGBImage(gray: img.gray, width: img.width, height: img.height), gray: img.gray, frames: frames,
                          frameNumbers: img.frameNumbers, instance: instance, file: path)
        }
        return (run.decision, images)
    }

    /// The model images of one input (a PNG/JPEG picture, a DICOM file, or a folder of series) exactly as
    /// triage makes them: same planning, routing, subtraction, frame strategy and RGB conversion. Instances
    /// that routing skips are left out as triage leaves them out; anything unreadable, or an input that
    /// yields no model image at all, throws an error naming the file.
    public static func modelImages(path: String, profile: TaskProfile) throws -> [PreparedImage] {
        let builder = inputBuilder(profile: profile)
        var images: [PreparedImage] = []
        var skips: [String] = []
        for unit in plan([path]) {
            switch unit {
            case .image(let p):
                let (rgb, gray) = try wrap(p) { try pictureImage(p) }
                images.append(PreparedImage(rgb: rgb, gray: gray, frames: nil, frameNumbers: [], instance: nil, file: p))
            case .dicomSeries(_, _, _, _, let files):
                for f in files {
                    let (decision, run) = try wrap(f) { try instanceImages(try DICOMFile(url: URL(fileURLWithPath: f)), path: f, builder: builder) }
                    if let run { images += run } else { skips.append("\(f): \(decision.reason): \(decision.detail)") }
                }
            case .skippedFile(let p, let reason):
                skips.append("\(p): \(reason)")
            case .unreadable(let p, let reason):
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
        case .image(let path):
            record = runImage(path)
        case .dicomSeries(let input, let study, let series, let modality, let files):
            record = runSeries(input: input, study: study, series: series, modality: modality, files: files)
        case .skippedFile(let path, let reason):
            record = blankRecord(input: path, kind: .file, status: .skipped)
            record.files = [path]
            record.route = "skip"
            record.routeReason = reason
            record.reasons = [reason]
        case .unreadable(let path, let reason):
            record = blankRecord(input: path, kind: .file, status: .error)
            record.files = [path]
            record.error = reason
            record.reasons = ["unreadable: \(reason)"]
        }
        record.timings.total = (clock.now - t0).seconds
        return record
    }

    func runImage(_ path: String) -> TriageRecord {
        var record = blankRecord(input: path, kind: .image, status: .processed)
        record.files = [path]
        let clock = ContinuousClock()
        let t0 = clock.now
        do {
            let (rgb, gray) = try Self.pictureImage(path)
            record.timings.input = (clock.now - t0).seconds
            record.route = "triage"
            record.routeReason = "picture input (PNG/JPEG): no routing"
            var timings = TriageRecord.Timings()
            let result = try classify(rgb: rgb, gray: gray, frames: nil, frameNumbers: [], instance: nil, timings: &timings)
            record.timings.add(timings)
            finish(&record, images: [result], extraReasons: [])
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
        record.studyUIDHash = study.map(UIDHash.hash)
        record.seriesUIDHash = series.map(UIDHash.hash)
        record.modality = modality
        let clock = ContinuousClock()
        var failures: [String] = []
        var skips: [(String, RouteDecision)] = []
        var images: [TriageRecord.ImageResult] = []
        var triagedRuns = 0
        for path in files {
            let t0 = clock.now
            do {
                let file = try DICOMFile(url: URL(fileURLWithPath: path))
                if let uid = file.dataset.string(.sopInstanceUID), !uid.isEmpty { record.instanceUIDHashes.append(UIDHash.hash(uid)) }
                if record.modality == nil { record.modality = file.dataset.string(.modality) }
                let (decision, runImages) = try Self.instanceImages(file, path: path, builder: builder)
                guard let runImages else {
                    skips.append((path, decision))
                    record.timings.input += (clock.now - t0).seconds
                    continue
                }
                record.timings.input += (clock.now - t0).seconds
                triagedRuns += 1
                for img in runImages {
                    var timings = TriageRecord.Timings()
                    images.append(try classify(rgb: img.rgb, gray: img.gray, frames: img.frames, frameNumbers: img.frameNumbers,
                                               instance: img.instance, timings: &timings))
                    record.timings.add(timings)
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
        finish(&record, images: images, extraReasons: extra, forceReview: !failures.isEmpty)
        return record
    }

    /// Aggregates image results into the record: the worst image (blocked, then review, then patent; ties by
    /// the higher P(blocked)) decides.
    func finish(_ record: inout TriageRecord, images: [TriageRecord.ImageResult], extraReasons: [String], forceReview: Bool = false) {
        record.images = images
        record.framesUsed = images.map(\.frames)
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
    public func classify(rgb: RGBImage, gray: [UInt8], frames: Int?, frameNumbers: [Int], instance: String?,
                         timings: inout TriageRecord.Timings) throws -> TriageRecord.ImageResult {
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
        let decision = policy.decide(DecisionInputs(scored: scores != nil, pBlocked: p, generated: parsed, qualityIssues: q.issues))
        var logprobs: [String: Double]?
        if let scores { logprobs = Dictionary(uniqueKeysWithValues: scores.labels.map { ($0.label, $0.logprob) }) }
        return TriageRecord.ImageResult(instance: instance, frames: frameNumbers, pBlocked: p.flatMap { $0.isFinite ? $0 : nil },
                                        labelProbabilities: scores?.probabilities, labelLogprobs: logprobs,
                                        generatedText: keepGeneratedText ? text : nil, parsedAnswer: parsed, quality: q,
                                        decision: decision.label, reasons: decision.reasons)
    }
}
