import Foundation
import Imaging
import XCTest

/// One source resized to 26 sizes (down, up, one axis, extreme, near 1, both sides of Pillow 13's pass-order
/// threshold) against torchvision's uint8 resize and Pillow's Image.resize(BILINEAR), byte for byte.
final class ResizeSweepTests: XCTestCase {
    struct Size: Decodable {
        let width: Int
        let height: Int
        let count: Int
        let differing: Int
    }

    func testEverySizeMatchesBothKernelsExactly() throws {
        let sizes = try JSONDecoder().decode([Size].self, from: Data(contentsOf: ImagingFixtures.url("resize/manifest.json")))
        let source = try RGBImage(ImageDecoder.decode(contentsOf: ImagingFixtures.url("resize/source.png")))
        let expected: [(ImagePreprocessor.Backend, [UInt8])] = [
            (.torchvision, try ImagingFixtures.bytes("resize/tv.npy")),
            (.pil, try ImagingFixtures.bytes("resize/pil.npy")),
        ]
        XCTAssertEqual(sizes.count, 26)
        var offset = 0
        var kernelsDisagree = 0
        for size in sizes {
            let config = try ImageProcessorConfig(height: size.height, width: size.width)
            for (backend, all) in expected {
                let got = try ImagePreprocessor(config: config, backend: backend).resized(source)
                let want = Array(all[offset..<(offset + size.count)])
                let d = byteDifferences(got.pixels, want)
                XCTAssertEqual(d.count, 0, "\(source.width)x\(source.height) -> \(size.width)x\(size.height) [\(backend)]: \(d.count) bytes differ by up to \(d.max)")
            }
            kernelsDisagree += size.differing
            offset += size.count
        }
        XCTAssertEqual(offset, expected[0].1.count)
        XCTAssertGreaterThan(kernelsDisagree, 0, "the two kernels differ somewhere, so matching both means something")
        print("resize sweep: \(sizes.count) sizes x 2 kernels identical; the kernels disagree on \(kernelsDisagree) of \(offset) bytes")
    }
}
