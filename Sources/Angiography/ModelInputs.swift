import DICOM
import Foundation
import Imaging

/// A PNG or JPEG picture as the model receives it, and its 8-bit gray version (for the quality checks).
public struct PictureModelInput: Sendable, Equatable {
    public var rgb: RGBImage
    public var gray: [UInt8]
}

/// What names a DICOM instance in a record, read once from the file: never patient data, only hashes and
/// the modality's defined term.
public struct InstanceIdentity: Sendable, Equatable {
    /// The SOP Instance UID through the caller's hash; nil when the file has none.
    public var instanceHash: String?
    /// Whether the UID is present and not empty (records list only such instances).
    public var hasInstanceUID: Bool
    /// Modality (0008,0060) as a defined term, nil when absent.
    public var modality: String?
}

/// One DICOM instance routed and, when in scope, made into model images, with everything a record needs.
public struct InstanceModelInputs: Sendable {
    public var identity: InstanceIdentity
    public var decision: RouteDecision
    /// The model images; empty when routing skips the instance.
    public var images: [ModelImage]
    /// Number of Frames of the run; nil when skipped.
    public var numberOfFrames: Int?
    /// The attributes the images were made from; nil when skipped.
    public var attributes: AngiogramAttributes?
    /// How the images were made (provenance: subtraction, strategy, window); nil when skipped.
    public var processing: ProcessingRecord?

    /// Whether routing sent the instance to triage (it then has images).
    public var isTriaged: Bool { decision.route == .triage }
}

extension ModelInputBuilder {
    /// The identity of `file`: its SOP Instance UID hashed by `hashUID`, and its modality.
    public func identity(of file: DICOMFile, hashUID: (String) -> String) -> InstanceIdentity {
        let uid = file.dataset.string(.sopInstanceUID)
        return InstanceIdentity(instanceHash: uid.map(hashUID), hasInstanceUID: !(uid ?? "").isEmpty,
                                modality: DefinedTerms.modality(file.dataset.string(.modality)))
    }

    /// Routes `file` and, when it is triaged, makes its model images (`build`), returned with the identity,
    /// frame count, attributes and processing record the record is made of.
    public func modelInputs(_ file: DICOMFile, hashUID: (String) -> String) throws -> InstanceModelInputs {
        let identity = identity(of: file, hashUID: hashUID)
        let run = try build(file)
        var inputs = InstanceModelInputs(identity: identity, decision: run.decision, images: [],
                                         numberOfFrames: nil, attributes: nil, processing: nil)
        guard run.decision.route == .triage else { return inputs }
        // A triaged run always went through the display pipeline, which parsed the attributes.
        guard let attributes = run.attributes else {
            throw AngiographyError.unsupportedImage(file: file.source, reason: "no attributes were read for the model images")
        }
        inputs.images = run.images
        inputs.attributes = attributes
        inputs.numberOfFrames = attributes.numberOfFrames
        inputs.processing = run.record
        return inputs
    }

    /// A PNG or JPEG picture (named by its `EscapedPath` form) as the model receives it: decoded to RGB,
    /// with its Rec. 601 gray levels as Pillow's "L" conversion makes them.
    public static func picture(_ path: String) throws -> PictureModelInput {
        let decoded = try EscapedPath.plain(path).map { try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: $0)) }
            ?? ImageDecoder.decode(data: try EscapedPath.contents(path), source: path)
        let rgb = try RGBImage(decoded)
        var gray = [UInt8](repeating: 0, count: rgb.width * rgb.height)
        for i in 0..<gray.count {
            let r = Int(rgb.pixels[3 * i]), g = Int(rgb.pixels[3 * i + 1]), b = Int(rgb.pixels[3 * i + 2])
            gray[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
        return PictureModelInput(rgb: rgb, gray: gray)
    }
}
