import Foundation
import Imaging
import MedGemma
import Triage

/// One training conversation with its class: the model's `TrainingExample` (the triage prompt with its image
/// block(s), then the label's answer; targets on the answer tokens only) plus the class, the loss weight and
/// where it came from.
public struct LabeledExample: Sendable {
    /// Ids, pixel values and targets, as `GradientEngine` takes them.
    public var example: TrainingExample
    /// The class, as the task profile names it.
    public var label: String
    /// Multiplier of this example's loss (class weight, or 1).
    public var weight: Float
    /// Tokens of the user turn; the answer starts at this index of `ids`.
    public var promptLength: Int
    /// The input file the image came from ("" when built from pixels directly).
    public var source: String
    /// The manifest line, when the example came from a manifest.
    public var line: Int?

    public init(example: TrainingExample, label: String, weight: Float, promptLength: Int, source: String = "", line: Int? = nil) {
        self.example = example
        self.label = label
        self.weight = weight
        self.promptLength = promptLength
        self.source = source
        self.line = line
    }

    /// Token ids of the whole conversation: the user turn exactly as triage prompts, then the answer tokens
    /// ending with `<end_of_turn>`.
    public var ids: [Int] { example.ids }
    /// One [channels, size, size] float32 array per image block, preprocessed as triage does.
    public var pixelValues: [[Float]] { example.pixelValues }
    /// The supervised positions: the answer tokens only.
    public var targets: [TrainingExample.Target] { example.targets }
}

/// Turns manifest rows into training examples that match inference token for token: the prompt ids are
/// `TriagePipeline.promptIDs` (the profile's system text and prompt with one image block), the answer ids
/// are `LabelScorer.answers` (answer text without `<bos>`, then `<end_of_turn>`), and the pixels come from
/// `TriagePipeline.modelImages` and the same image processor as triage.
public struct ExampleBuilder: Sendable {
    public let loaded: LoadedModel
    public let profile: TaskProfile
    /// Which reference image processor the pixel values follow.
    public var imageBackend: ImagePreprocessor.Backend { preprocessor.backend }
    /// The user turn with one image block, as `TriagePipeline.promptIDs`.
    public let promptIDs: [Int]
    /// Each label's answer tokens, as the scorer reads them.
    public let answers: [LabelAnswer]
    public let imageTokenID: Int
    /// Floats per image: channels · size · size.
    public let pixelCount: Int
    /// The model's image processor (its settings read once).
    public let preprocessor: ImagePreprocessor

    public init(loaded: LoadedModel, profile: TaskProfile, imageBackend: ImagePreprocessor.Backend = .torchvision) throws {
        try profile.validate(source: "profile \(profile.name)")
        guard let vision = loaded.vision else {
            throw TriageError.invalidArgument("\(loaded.path) has no vision tower; training on images needs an image model")
        }
        self.loaded = loaded
        self.profile = profile
        imageTokenID = vision.settings.imageTokenID
        let v = vision.settings.vision
        pixelCount = v.numChannels * v.imageSize * v.imageSize
        preprocessor = ImagePreprocessor(config: try loaded.imageProcessorConfig(), backend: imageBackend)
        promptIDs = try TriagePipeline.promptIDs(loaded: loaded, profile: profile)
        answers = try LabelScorer.answers(profile: profile, loaded: loaded)
        // The scorer's own checks (two labels, distinct non-empty answers inside the vocabulary) apply here too.
        _ = try LabelScorer(model: loaded.model, answers: answers)
    }

    /// The answer tokens of `label`.
    public func answer(for label: String) throws -> LabelAnswer {
        guard let a = answers.first(where: { $0.label == label }) else {
            throw TrainingDataError.invalidArgument("label \"\(label)\" is not in profile \(profile.name) (\(answers.map(\.label).joined(separator: ", ")))")
        }
        return a
    }

    /// An example from one preprocessed image: prompt ids + answer ids, with a target at each position
    /// `promptLength − 1 + i` predicting answer token i.
    public func example(label: String, pixelValues: [Float], weight: Float = 1, source: String = "", line: Int? = nil) throws -> LabeledExample {
        guard pixelValues.count == pixelCount else {
            throw TrainingDataError.invalidArgument("\(source.isEmpty ? "image" : source): \(pixelValues.count) pixel values, the model takes \(pixelCount)")
        }
        guard weight.isFinite, weight >= 0 else { throw TrainingDataError.invalidArgument("loss weight \(weight) must be finite and ≥ 0") }
        let a = try answer(for: label)
        let n = promptIDs.count
        let targets = a.ids.enumerated().map { TrainingExample.Target(position: n - 1 + $0.offset, token: $0.element) }
        return LabeledExample(example: TrainingExample(ids: promptIDs + a.ids, pixelValues: [pixelValues], targets: targets),
                              label: label, weight: weight, promptLength: n, source: source, line: line)
    }

    /// The model images of a row's input, as triage makes them.
    public func images(row: TrainingRow) throws -> [PreparedImage] {
        try TriagePipeline.modelImages(path: row.resolvedPath, profile: profile)
    }

    /// The examples of one manifest row: one per model image its input yields (a picture or a minIP run
    /// gives one; triage scores each image of a multi-image input separately, so training sees each with
    /// the row's label). Errors name the manifest line's input.
    public func examples(row: TrainingRow, weight: Float = 1) throws -> [LabeledExample] {
        try examples(row: row, images: try images(row: row), weight: weight)
    }

    /// The examples of a row whose model images are already made (`images(row:)`, e.g. kept in memory).
    public func examples(row: TrainingRow, images: [PreparedImage], weight: Float = 1) throws -> [LabeledExample] {
        try images.map { img in
            try example(label: row.label, pixelValues: try preprocessor.pixelValues(img.rgb), weight: weight, source: img.file, line: row.line)
        }
    }
}
