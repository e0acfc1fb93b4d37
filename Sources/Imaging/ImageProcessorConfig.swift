import Foundation
import Support

/// The image-processing part of a model's `preprocessor_config.json` (Gemma 3 / MedGemma), validated: every value
/// this implementation would not reproduce exactly is refused with an error naming the file and the option.
///
/// A key that is missing or `null` takes the value transformers 5.24's Gemma 3 processor uses for it: bilinear,
/// `rescale_factor` 1/255, mean and std 0.5, every `do_*` true, no pan-and-scan (`Gemma3Processor` fills the Hub's
/// `null`s with `do_convert_rgb: true, do_pan_and_scan: false`). Only `size` must be present, since a wrong
/// default there would silently feed the model the wrong number of patches.
public struct ImageProcessorConfig: Sendable, Equatable {
    /// Output height and width (`size: {"height": H, "width": W}`).
    public var height: Int
    public var width: Int
    /// Pillow resampling code; only 2 (bilinear) is implemented.
    public var resample: Int
    public var doResize: Bool
    public var doRescale: Bool
    public var rescaleFactor: Double
    public var doNormalize: Bool
    /// Per channel (R, G, B).
    public var imageMean: [Double]
    public var imageStd: [Double]
    /// As written (nil for null or missing). Inputs are always converted to RGB (`RGBImage`); this is kept for
    /// reference only: for an RGB image transformers does the same whatever it says.
    public var doConvertRGB: Bool?
    public var imageProcessorType: String?
    /// The file it came from, for error messages.
    public var source: String

    /// The processor MedGemma / Gemma 3 ship: 896x896, bilinear, x1/255, mean 0.5, std 0.5.
    // Cannot fire: constant arguments that validate() accepts (the Gemma 3 release values; tested).
    public static let gemma3Default = try! ImageProcessorConfig(height: 896, width: 896)

    public init(height: Int, width: Int, resample: Int = 2, doResize: Bool = true, doRescale: Bool = true,
                rescaleFactor: Double = 1.0 / 255.0, doNormalize: Bool = true, imageMean: [Double] = [0.5, 0.5, 0.5],
                imageStd: [Double] = [0.5, 0.5, 0.5], doConvertRGB: Bool? = nil,
                imageProcessorType: String? = "Gemma3ImageProcessor", source: String = "ImageProcessorConfig") throws {
        self.height = height
        self.width = width
        self.resample = resample
        self.doResize = doResize
        self.doRescale = doRescale
        self.rescaleFactor = rescaleFactor
        self.doNormalize = doNormalize
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.doConvertRGB = doConvertRGB
        self.imageProcessorType = imageProcessorType
        self.source = source
        try validate()
    }

    /// Reads `preprocessor_config.json`, or a directory holding one (else transformers 5.24's
    /// `processor_config.json` with the image processor nested under "image_processor").
    public init(url: URL) throws {
        var file = url
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            let hub = url.appendingPathComponent("preprocessor_config.json")
            let nested = url.appendingPathComponent("processor_config.json")
            file = FileManager.default.fileExists(atPath: hub.path) || !FileManager.default.fileExists(atPath: nested.path)
                ? hub : nested
        }
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw ImagingError.fileNotFound(path: file.path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw ImagingError.unreadable(path: file.path, reason: error.localizedDescription)
        }
        try self.init(jsonData: data, source: file.path)
    }

    /// Parses the JSON text of a preprocessor config; `source` names it in errors.
    public init(jsonData: Data, source: String) throws {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: jsonData)
        } catch {
            throw ImagingError.invalidConfig(file: source, option: "(file)", reason: "not valid JSON: \(error)")
        }
        guard case .object(var object) = root else {
            throw ImagingError.invalidConfig(file: source, option: "(file)", reason: "expected a JSON object")
        }
        if case .object(let nested)? = object["image_processor"] {
            object = nested
        }
        let reader = OptionReader(object: object, file: source)

        guard let size = object["size"], size != .null else {
            throw ImagingError.invalidConfig(file: source, option: "size", reason: "missing; expected {\"height\": H, \"width\": W}")
        }
        guard case .object(let sizeObject) = size else {
            throw ImagingError.unsupportedConfig(file: source, option: "size", value: size.description,
                                                 reason: "only {\"height\": H, \"width\": W} is implemented")
        }
        for (key, value) in sizeObject where key != "height" && key != "width" && value != .null {
            throw ImagingError.unsupportedConfig(file: source, option: "size.\(key)", value: value.description,
                                                 reason: "only {\"height\": H, \"width\": W} is implemented")
        }
        let height = try reader.positiveInt(sizeObject["height"], option: "size.height")
        let width = try reader.positiveInt(sizeObject["width"], option: "size.width")

        if try reader.bool("do_pan_and_scan") == true {
            throw ImagingError.unsupportedConfig(file: source, option: "do_pan_and_scan", value: "true",
                                                 reason: "pan-and-scan crops are not implemented")
        }
        let type = try reader.string("image_processor_type")
        if let type, !["Gemma3ImageProcessor", "Gemma3ImageProcessorFast", "Gemma3ImageProcessorPil"].contains(type) {
            throw ImagingError.unsupportedConfig(file: source, option: "image_processor_type", value: "\"\(type)\"",
                                                 reason: "only Gemma 3's image processor is reproduced")
        }
        try self.init(
            height: height, width: width,
            resample: try reader.int("resample") ?? 2,
            doResize: try reader.bool("do_resize") ?? true,
            doRescale: try reader.bool("do_rescale") ?? true,
            rescaleFactor: try reader.number("rescale_factor") ?? 1.0 / 255.0,
            doNormalize: try reader.bool("do_normalize") ?? true,
            imageMean: try reader.perChannel("image_mean") ?? [0.5, 0.5, 0.5],
            imageStd: try reader.perChannel("image_std") ?? [0.5, 0.5, 0.5],
            doConvertRGB: try reader.bool("do_convert_rgb"),
            imageProcessorType: type,
            source: source)
    }

    /// The checks shared by every initialiser.
    func validate() throws {
        guard height > 0, width > 0, height <= ImageDecoder.maxDimension, width <= ImageDecoder.maxDimension else {
            throw ImagingError.invalidConfig(file: source, option: "size", reason: "height and width must be in 1...\(ImageDecoder.maxDimension), got \(height)x\(width)")
        }
        guard resample == 2 else {
            let names = [0: "nearest", 1: "lanczos", 3: "bicubic", 4: "box", 5: "hamming"]
            throw ImagingError.unsupportedConfig(file: source, option: "resample", value: "\(resample)" + (names[resample].map { " (\($0))" } ?? ""),
                                                 reason: "only 2 (bilinear) is implemented")
        }
        guard rescaleFactor.isFinite, rescaleFactor > 0 else {
            throw ImagingError.invalidConfig(file: source, option: "rescale_factor", reason: "must be a positive number, got \(rescaleFactor)")
        }
        guard imageMean.count == 3, imageMean.allSatisfy(\.isFinite) else {
            throw ImagingError.invalidConfig(file: source, option: "image_mean", reason: "expected 3 finite numbers, got \(imageMean)")
        }
        guard imageStd.count == 3, imageStd.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw ImagingError.invalidConfig(file: source, option: "image_std", reason: "expected 3 finite non-zero numbers, got \(imageStd)")
        }
    }
}

/// Typed access to the options of one config object; `null` reads as absent.
private struct OptionReader {
    let object: [String: JSONValue]
    let file: String

    func bool(_ key: String) throws -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?: throw ImagingError.invalidConfig(file: file, option: key, reason: "expected true, false or null, got \(other)")
        }
    }

    func number(_ key: String) throws -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let n)?: return n
        case let other?: throw ImagingError.invalidConfig(file: file, option: key, reason: "expected a number, got \(other)")
        }
    }

    func int(_ key: String) throws -> Int? {
        guard let n = try number(key) else { return nil }
        guard n == n.rounded(), abs(n) < 1e9 else {
            throw ImagingError.invalidConfig(file: file, option: key, reason: "expected an integer, got \(n)")
        }
        return Int(n)
    }

    func positiveInt(_ value: JSONValue?, option: String) throws -> Int {
        guard case .number(let n)? = value, n == n.rounded(), n >= 1, n < 1e9 else {
            throw ImagingError.invalidConfig(file: file, option: option, reason: "expected a positive integer, got \(value?.description ?? "nothing")")
        }
        return Int(n)
    }

    func string(_ key: String) throws -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw ImagingError.invalidConfig(file: file, option: key, reason: "expected a string, got \(other)")
        }
    }

    /// A number for all three channels, or a list of three.
    func perChannel(_ key: String) throws -> [Double]? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let n)?: return [n, n, n]
        case .array(let a)?:
            let values = a.compactMap { v -> Double? in if case .number(let n) = v { return n } else { return nil } }
            guard values.count == a.count, values.count == 3 else {
                throw ImagingError.invalidConfig(file: file, option: key, reason: "expected 3 numbers (R, G, B), got \(JSONValue.array(a))")
            }
            return values
        case let other?:
            throw ImagingError.invalidConfig(file: file, option: key, reason: "expected a number or 3 numbers, got \(other)")
        }
    }
}
