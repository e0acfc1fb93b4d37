import Foundation

/// The RGB bytes transformers 5.24 gets from a PIL image opened from the same file (Pillow 13), rule by rule.
///
/// transformers' `convert_to_rgb` (applied by the Gemma 3 processor because `Gemma3Processor` turns the Hub's
/// `"do_convert_rgb": null` into true) does: if the image has an alpha band or `info["transparency"]`,
/// `convert("RGBA")` then `alpha_composite` onto opaque white and `convert("RGB")`; otherwise `convert("RGB")`.
/// With `.discard` only the plain `convert("RGB")` applies. Pillow's modes per PNG/JPEG and what they become:
///
/// | file | Pillow mode | to RGB |
/// | --- | --- | --- |
/// | gray 1/2/4/8-bit | "1" / "L" (scaled x255, x85, x17) | R = G = B = value |
/// | gray 16-bit | "I;16" | value clipped to 255 (not scaled): min(v, 255) |
/// | gray+alpha 8-bit | "LA" | value; alpha composited (or dropped) |
/// | gray+alpha 16-bit | "RGBA" (rawmode LA;16B) | high bytes (v >> 8) of value and alpha |
/// | RGB / RGBA 16-bit | "RGB" / "RGBA" (;16B) | high bytes: truncated, not rounded |
/// | palette | "P" | palette entry (black past the palette); tRNS gives each entry alpha |
/// | JPEG gray / YCbCr / CMYK | "L" / "RGB" / "CMYK" | libjpeg output; CMYK by Pillow's `cmyk2rgb` |
///
/// A tRNS colour key (gray or RGB) makes the matching pixels transparent, i.e. white after compositing, but
/// Pillow compares the *converted 8-bit* pixel with the key's low byte (`key & 0xFF`): a 16-bit gray key matches
/// min(v, 255), a 16-bit RGB key matches the high bytes, a 2/4-bit gray key is compared unscaled with the scaled
/// value, and a 1-bit key means 0 or 255. We reproduce these quirks so the bytes are the same.
///
/// Compositing over opaque white is Pillow's `ImagingAlphaComposite` with 7 fractional bits:
/// `coef1 = a*255*255*128 / (a*255 + 255*(255-a))`, `coef2 = 255*128 - coef1`,
/// `t = s*coef1 + 255*coef2 + 128*128`, `out = ((t >> 8) + t) >> 8 >> 7`; alpha 0 gives white.
enum PILColorConversion {
    static func rgb(from d: DecodedImage, alpha: RGBImage.AlphaHandling) throws -> [UInt8] {
        let count = d.width * d.height
        var out = [UInt8](repeating: 0, count: count * 3)
        let composite = alpha == .compositeOnWhite
        let key = composite ? eightBitKey(d) : nil
        out.withUnsafeMutableBufferPointer { o in
            switch d.samples {
            case .uint8(let s):
                s.withUnsafeBufferPointer { s in convert8(s, d.colorModel, count, key, composite, o) }
            case .uint16(let s):
                s.withUnsafeBufferPointer { s in convert16(s, d.colorModel, count, key, composite, o) }
            }
        }
        return out
    }

    /// The tRNS key as Pillow compares it against the converted 8-bit pixel.
    static func eightBitKey(_ d: DecodedImage) -> [UInt8]? {
        guard let key = d.transparentColor else { return nil }
        if d.colorModel == .gray && d.sourceBitDepth == 1 {
            return [key[0] != 0 ? 255 : 0]  // Pillow stores a 1-bit key as 0 or 255
        }
        return key.map { UInt8(truncatingIfNeeded: $0) }
    }

    /// `coef1` of Pillow's compositing for every source alpha over an opaque destination.
    static let compositeCoefficients: [UInt32] = (0..<256).map { a in
        let a = UInt32(a)
        let outa255 = a * 255 + 255 * (255 - a)
        return a * 255 * 255 * 128 / outa255
    }

    @inline(__always)
    static func overWhite(_ s: UInt8, _ a: UInt8, _ coefficients: UnsafeBufferPointer<UInt32>) -> UInt8 {
        if a == 0 { return 255 }
        let coef1 = coefficients[Int(a)]
        let coef2 = 255 * 128 - coef1
        let t = UInt32(s) * coef1 + 255 * coef2 + (0x80 << 7)
        return UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
    }

    /// Pillow's `cmyk2rgb`: `nk = 255 - k`, channel = clip(nk - round(c * nk / 255)).
    @inline(__always)
    static func cmykChannel(_ c: UInt8, _ nk: Int) -> UInt8 {
        let t = Int(c) * nk + 128
        let v = nk - (((t >> 8) + t) >> 8)
        return UInt8(clamping: v)
    }

    private static func convert8(_ s: UnsafeBufferPointer<UInt8>, _ model: DecodedImage.ColorModel, _ count: Int,
                                 _ key: [UInt8]?, _ composite: Bool, _ o: UnsafeMutableBufferPointer<UInt8>) {
        switch model {
        case .gray:
            let k = key.map { Int($0[0]) } ?? -1
            for i in 0..<count {
                let v = s[i]
                let w: UInt8 = Int(v) == k ? 255 : v
                o[3 * i] = w; o[3 * i + 1] = w; o[3 * i + 2] = w
            }
        case .grayAlpha:
            compositeCoefficients.withUnsafeBufferPointer { c in
                for i in 0..<count {
                    let v = s[2 * i]
                    let w = composite ? overWhite(v, s[2 * i + 1], c) : v
                    o[3 * i] = w; o[3 * i + 1] = w; o[3 * i + 2] = w
                }
            }
        case .rgb:
            if let key {
                for i in 0..<count {
                    let r = s[3 * i], g = s[3 * i + 1], b = s[3 * i + 2]
                    let hit = r == key[0] && g == key[1] && b == key[2]
                    o[3 * i] = hit ? 255 : r; o[3 * i + 1] = hit ? 255 : g; o[3 * i + 2] = hit ? 255 : b
                }
            } else {
                for i in 0..<(3 * count) { o[i] = s[i] }
            }
        case .rgba:
            compositeCoefficients.withUnsafeBufferPointer { c in
                for i in 0..<count {
                    let a = s[4 * i + 3]
                    for ch in 0..<3 {
                        let v = s[4 * i + ch]
                        o[3 * i + ch] = composite ? overWhite(v, a, c) : v
                    }
                }
            }
        case .cmyk:
            for i in 0..<count {
                let nk = 255 - Int(s[4 * i + 3])
                o[3 * i] = cmykChannel(s[4 * i], nk)
                o[3 * i + 1] = cmykChannel(s[4 * i + 1], nk)
                o[3 * i + 2] = cmykChannel(s[4 * i + 2], nk)
            }
        }
    }

    private static func convert16(_ s: UnsafeBufferPointer<UInt16>, _ model: DecodedImage.ColorModel, _ count: Int,
                                  _ key: [UInt8]?, _ composite: Bool, _ o: UnsafeMutableBufferPointer<UInt8>) {
        @inline(__always) func high(_ v: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: v >> 8) }
        switch model {
        case .gray:
            // "I;16" to RGB clips at 255; no scaling.
            let k = key.map { Int($0[0]) } ?? -1
            for i in 0..<count {
                let v = UInt8(clamping: s[i])
                let w: UInt8 = Int(v) == k ? 255 : v
                o[3 * i] = w; o[3 * i + 1] = w; o[3 * i + 2] = w
            }
        case .grayAlpha:
            compositeCoefficients.withUnsafeBufferPointer { c in
                for i in 0..<count {
                    let v = high(s[2 * i])
                    let w = composite ? overWhite(v, high(s[2 * i + 1]), c) : v
                    o[3 * i] = w; o[3 * i + 1] = w; o[3 * i + 2] = w
                }
            }
        case .rgb:
            for i in 0..<count {
                let r = high(s[3 * i]), g = high(s[3 * i + 1]), b = high(s[3 * i + 2])
                let hit = key.map { r == $0[0] && g == $0[1] && b == $0[2] } ?? false
                o[3 * i] = hit ? 255 : r; o[3 * i + 1] = hit ? 255 : g; o[3 * i + 2] = hit ? 255 : b
            }
        case .rgba:
            compositeCoefficients.withUnsafeBufferPointer { c in
                for i in 0..<count {
                    let a = high(s[4 * i + 3])
                    for ch in 0..<3 {
                        let v = high(s[4 * i + ch])
                        o[3 * i + ch] = composite ? overWhite(v, a, c) : v
                    }
                }
            }
        case .cmyk:
            for i in 0..<count {
                let nk = 255 - Int(high(s[4 * i + 3]))
                o[3 * i] = cmykChannel(high(s[4 * i]), nk)
                o[3 * i + 1] = cmykChannel(high(s[4 * i + 1]), nk)
                o[3 * i + 2] = cmykChannel(high(s[4 * i + 2]), nk)
            }
        }
    }
}
