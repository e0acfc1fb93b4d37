import Angiography
import DICOM
import Foundation
import Imaging

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

    public init(rgb: RGBImage, gray: [UInt8], frames: Int?, frameNumbers: [Int], instance: String?, file: String,
                sourceKind: InputSourceKind) {
        self.rgb = rgb
        self.gray = gray
        self.frames = frames
        self.frameNumbers = frameNumbers
        self.instance = instance
        self.file = file
        self.sourceKind = sourceKind
    }

    /// A picture input as the model receives it.
    public init(picture: PictureModelInput, file: String) {
        self.init(rgb: picture.rgb, gray: picture.gray, frames: nil, frameNumbers: [], instance: nil, file: file, sourceKind: .picture)
    }

    /// The model images of a triaged DICOM instance, in RGB as the image processor receives them.
    public static func images(of inputs: InstanceModelInputs, file: String) throws -> [PreparedImage] {
        let kind = InputSourceKind(subtraction: inputs.processing?.subtraction.method ?? .notSubtracted)
        return try inputs.images.map { img in
            PreparedImage(rgb: try RGBImage(gray: img.gray, width: img.width, height: img.height), gray: img.gray,
                          frames: inputs.numberOfFrames, frameNumbers: img.frameNumbers, instance: inputs.identity.instanceHash,
                          file: file, sourceKind: kind)
        }
    }
}

/// One DICOM instance of a series after the model-image stage: its identity (read even when making the
/// images failed), and its images, the routing decision that skipped it, or the failure.
public struct PreparedInstance: Sendable {
    public enum Outcome: Sendable {
        /// Triaged: the model images of the run.
        case images([PreparedImage])
        /// Routing left it out, and why.
        case skipped(RouteDecision)
        /// It could not be read or rendered: the message names the file.
        case failed(String)
    }

    /// The file, as the unit names it.
    public var path: String
    /// Nil when the file could not be read as DICOM.
    public var identity: InstanceIdentity?
    public var outcome: Outcome
    /// Seconds spent reading, routing and rendering.
    public var seconds: Double
}

extension TriagePipeline {
    /// The input builder a profile asks for: its frame strategy and routing policy.
    static func inputBuilder(profile: TaskProfile) -> ModelInputBuilder {
        ModelInputBuilder(options: ModelInputOptions(strategy: profile.strategy,
                                                     routing: RoutingPolicy(includeRadiofluoroscopic: profile.includeRadiofluoroscopy)))
    }

    /// The model-image stage for one DICOM instance of a series: read, routed and rendered by `builder`, UIDs
    /// hashed with `siteKey`. Never throws: a failure is the outcome.
    public func prepareInstance(_ path: String) -> PreparedInstance {
        let clock = ContinuousClock()
        let t0 = clock.now
        var prepared = PreparedInstance(path: path, identity: nil, outcome: .failed(""), seconds: 0)
        do {
            let file = try EscapedPath.dicomFile(path)
            let key = siteKey
            prepared.identity = builder.identity(of: file) { UIDHash.hash($0, key: key) }
            let inputs = try builder.modelInputs(file) { UIDHash.hash($0, key: key) }
            prepared.outcome = inputs.isTriaged ? .images(try PreparedImage.images(of: inputs, file: path)) : .skipped(inputs.decision)
        } catch {
            prepared.outcome = .failed(Self.failure(error, path: path))
        }
        prepared.seconds = (clock.now - t0).seconds
        return prepared
    }

    /// The model-image stage for a picture input.
    public func preparePicture(_ path: String) throws -> PreparedImage {
        PreparedImage(picture: try ModelInputBuilder.picture(path), file: path)
    }

    /// An error's message, naming `path` when it does not already.
    static func failure(_ error: Error, path: String) -> String {
        let message = "\(error)"
        return message.contains(path) ? message : "\(path): \(message)"
    }

    /// The model images of one input (a PNG/JPEG picture, a DICOM file, or a folder of series) exactly as
    /// triage makes them: same planning, routing, subtraction, frame strategy and RGB conversion. Instances
    /// that routing skips are left out as triage leaves them out; anything unreadable, or an input that
    /// yields no model image at all, throws an error naming the file (files found under a folder `path`
    /// named as `display` shows them, in the error and in each image's `file`).
    public static func modelImages(path: String, profile: TaskProfile, display: PathDisplay = .asGiven) throws -> [PreparedImage] {
        let units = InputPlanner.plan([path])
        guard display.mode != .asGiven else { return try modelImages(units: units, path: path, profile: profile) }
        let fix = display.rewriter(files: units.flatMap(\.files), root: path)
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

    static func modelImages(units: [InputUnit], path: String, profile: TaskProfile) throws -> [PreparedImage] {
        let builder = inputBuilder(profile: profile)
        var images: [PreparedImage] = []
        var skips: [String] = []
        for unit in units {
            switch unit {
            case .image(let p, _):
                images.append(PreparedImage(picture: try wrap(p) { try ModelInputBuilder.picture(p) }, file: p))
            case .dicomSeries(_, _, _, _, let files):
                for f in files {
                    let inputs = try wrap(f) { try builder.modelInputs(try EscapedPath.dicomFile(f)) { UIDHash.hash($0) } }
                    if inputs.isTriaged {
                        images += try wrap(f) { try PreparedImage.images(of: inputs, file: f) }
                    } else {
                        skips.append("\(f): \(inputs.decision.reason): \(inputs.decision.detail)")
                    }
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
}
