import Angiography
import DICOM
import FileAccess
import Foundation
import Imaging
import ModelFiles

/// The work of `inspect`, separate from argument parsing: one DICOM file read, routed and (when triaged or
/// exported) made into model images, with every stored frame optionally exported as .npy. The command
/// prints it as JSON; a worker can call the same.
public struct Inspection {
    public let file: DICOMFile
    public let decision: RouteDecision
    public let description: PixelDescription?
    public let run: AngiogramRun?
    public let frameCount: Int?
    /// Keys the UID hashes, as triage's `--site-key-file` does, so the two outputs join.
    public var siteKey: SiteKey?

    public init(url: URL, options: ModelInputOptions, export: URL?) throws {
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

    public static func export(frames: [PixelFrame], images: [ModelImage], to dir: URL, source: String) throws {
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

    public struct ExportError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }
}
