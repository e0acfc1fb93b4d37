import CImageCodecs
import Foundation
import FileAccess

/// Writes 8-bit gray, gray+alpha, RGB or RGBA pixels as PNG (non-interlaced, libpng's default filters).
public enum PNGEncoder {
    /// PNG bytes of interleaved 8-bit pixels with `channels` (1...4) samples each, rows top to bottom.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int,
                              compressionLevel: Int = 6) throws -> Data {
        guard width > 0, height > 0, (1...4).contains(channels), width <= Int(UInt32.max), height <= Int(UInt32.max),
              pixels.count == width * height * channels else {
            throw ImagingError.invalidArgument("PNGEncoder: \(pixels.count) bytes for \(width)x\(height) with \(channels) channels")
        }
        var message = [CChar](repeating: 0, count: 512)
        var buffer = cic_buffer()
        let status = pixels.withUnsafeBufferPointer { p in
            cic_png_encode(p.baseAddress, UInt32(width), UInt32(height), Int32(channels), Int32(compressionLevel),
                           &buffer, &message, message.count)
        }
        defer { cic_buffer_free(&buffer) }
        guard status == CIC_OK, let bytes = buffer.data else {
            throw ImagingError.encodeFailed(destination: "PNG data", reason: ImageDecoder.message(message))
        }
        return Data(bytes: bytes, count: buffer.size)
    }

    /// PNG bytes of an RGB image.
    public static func encode(_ image: RGBImage) throws -> Data {
        try encode(pixels: image.pixels, width: image.width, height: image.height, channels: 3)
    }

    /// PNG bytes of an 8-bit gray image.
    public static func encode(gray: [UInt8], width: Int, height: Int) throws -> Data {
        try encode(pixels: gray, width: width, height: height, channels: 1)
    }

    /// Writes an RGB image as a PNG file (atomically).
    public static func write(_ image: RGBImage, to url: URL) throws {
        try write(try encode(image), to: url)
    }

    /// Writes an 8-bit gray image as a PNG file (atomically).
    public static func write(gray: [UInt8], width: Int, height: Int, to url: URL) throws {
        try write(try encode(gray: gray, width: width, height: height), to: url)
    }

    private static func write(_ data: Data, to url: URL) throws {
        do {
            try AtomicWrite.write(data, to: url)
        } catch let error as FileWriteError {
            throw ImagingError.writeFailed(path: url.path, reason: error.reason)
        }
    }
}
