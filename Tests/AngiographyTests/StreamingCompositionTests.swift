import Angiography
import DICOM
import Foundation
import XCTest

/// Frames reduced a chunk at a time give exactly what holding the whole run gives (issue 15, item 5: long
/// runs must not need every frame in memory, and the model images must not change).
final class StreamingCompositionTests: XCTestCase {
    /// Every strategy, every chunk size, every fixture run: the streamed composition is bit-identical to the
    /// composition of the materialised run (all values computed, then reduced).
    func testChunkedCompositionIsBitIdenticalToTheWholeRun() throws {
        for (name, dcm, mask) in PipelineFixtureTests.runs {
            let file = try AngioFixtures.file(dcm)
            let attributes = try AngiogramAttributes(file: file)
            let frames = try PixelDataReader(file: file).frames()
            let subtraction = MaskSubtraction(fallbackMaskFrame: mask)
            let whole = try subtraction.run(frames: frames, attributes: attributes)
            let lazy = try subtraction.plan(try FrameAccess(reader: PixelDataReader(file: file)), attributes: attributes)
            XCTAssertEqual(lazy.frameNumbers, whole.frameNumbers, name)
            for strategy in FrameStrategy.allCases {
                let want = strategy.compose(whole)
                for chunk in [1, 2, 3, 64] {
                    let got = try strategy.compose(lazy, chunk: chunk)
                    XCTAssertEqual(got.map(\.frameNumbers), want.map(\.frameNumbers), "\(name) \(strategy) chunk \(chunk)")
                    XCTAssertEqual(got.map { $0.values.map(\.bitPattern) }, want.map { $0.values.map(\.bitPattern) },
                                   "\(name) \(strategy) chunk \(chunk)")
                }
            }
        }
    }

    /// The model images of a file decoded on demand equal those of its frames decoded up front.
    func testBuildFromReaderEqualsBuildFromDecodedFrames() throws {
        for (name, dcm, mask) in PipelineFixtureTests.runs {
            let file = try AngioFixtures.file(dcm)
            for strategy in FrameStrategy.allCases {
                let builder = ModelInputBuilder(options: ModelInputOptions(strategy: strategy, fallbackMaskFrame: mask))
                let streamed = try builder.build(file)
                let decoded = try builder.build(file, frames: try PixelDataReader(file: file).frames())
                XCTAssertEqual(streamed.images, decoded.images, "\(name) \(strategy)")
                XCTAssertEqual(streamed.record?.window, decoded.record?.window, "\(name) \(strategy)")
            }
        }
    }

    /// A run over the memory limit is refused before decoding, naming the file and the limit.
    func testBuilderRefusesARunOverItsLimit() throws {
        let file = try AngioFixtures.file("xa_lin_avgsub")
        let builder = ModelInputBuilder(options: ModelInputOptions(maxDecodeBytes: 1024))
        XCTAssertThrowsError(try builder.build(file)) { error in
            guard let e = error as? DecodeBudgetError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.limit, 1024)
            XCTAssertTrue(e.description.contains(file.source), e.description)
        }
    }
}
