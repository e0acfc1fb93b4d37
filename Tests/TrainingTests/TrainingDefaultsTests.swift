import XCTest
@testable import Training

/// The defaults are the model card's recipe (stated there as: r 8, alpha 16, dropout 0.1, all-linear,
/// lr 2e-5, batch 1, gradient accumulation 8, 2 epochs, 4-bit NF4 base).
final class TrainingDefaultsTests: XCTestCase {
    func testModelCardRecipe() {
        XCTAssertEqual(TrainingDefaults.rank, 8)
        XCTAssertEqual(TrainingDefaults.alpha, 16)
        XCTAssertEqual(TrainingDefaults.dropout, 0.1)
        XCTAssertEqual(TrainingDefaults.targetModules, "all-linear")
        XCTAssertEqual(TrainingDefaults.learningRate, 2e-5)
        XCTAssertEqual(TrainingDefaults.batchSize * TrainingDefaults.gradientAccumulation, 8)
        XCTAssertEqual(TrainingDefaults.epochs, 2)
        XCTAssertEqual(TrainingDefaults.quantization, "nf4")
    }
}
