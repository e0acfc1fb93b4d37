import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Training

/// Global-norm clipping against torch.nn.utils.clip_grad_norm_ (training-optim/clipping.json).
final class ClippingTests: XCTestCase {
    func testEqualToTorch() throws {
        let fx = try OptimFixtures.load(OptimFixtures.Clipping.self, "clipping.json")
        XCTAssertEqual(fx.cases.count, 3)
        for c in fx.cases {
            let params = try ["a", "b", "c"].map { n in
                let p = Parameter(name: n, value: Tensor(zeros: try XCTUnwrap(fx.shapes[n])))
                let g = try XCTUnwrap(fx.grads[n])
                p.grad.f32.update(from: g, count: g.count)
                return p
            }
            let norm: GradientClipping.Norm = c.normType == .infinity ? .infinity : .l2
            let total = GradientClipping.clip(params, maxNorm: c.maxNorm, norm: norm)
            XCTAssertEqual(Double(total), c.totalNorm, accuracy: 1e-6 * c.totalNorm, "max_norm \(c.maxNorm) \(norm)")
            for p in params {
                for (x, y) in zip(p.grad.floats(), try XCTUnwrap(c.clipped[p.name])) {
                    XCTAssertEqual(x, y, accuracy: 1e-6 * max(abs(y), 1e-3), "max_norm \(c.maxNorm) \(p.name)")
                }
            }
        }
    }

    /// By hand: gradients (3, 4) and (12) have norm 13; max 6.5 halves them (up to the 1e-6 in torch's formula);
    /// max 14 leaves them; a NaN gradient leaves them and reports NaN.
    func testByHand() throws {
        let a = Parameter(name: "a", value: Tensor(zeros: [2])), b = Parameter(name: "b", value: Tensor(zeros: [1]))
        func set() { a.grad.f32[0] = 3; a.grad.f32[1] = 4; b.grad.f32[0] = 12 }
        set()
        XCTAssertEqual(GradientClipping.clip([a, b], maxNorm: 6.5), 13)
        XCTAssertEqual(a.grad.floats()[0], 1.5, accuracy: 1e-6)
        XCTAssertEqual(b.grad.floats()[0], 6, accuracy: 1e-6)
        set()
        XCTAssertEqual(GradientClipping.globalNorm([a, b], norm: .infinity), 12)
        // max 13 still clips (13 / (13 + 1e-6) < 1, as in torch); max 14 leaves them
        XCTAssertEqual(GradientClipping.clip([a, b], maxNorm: 14), 13)
        XCTAssertEqual(a.grad.floats(), [3, 4])
        b.grad.f32[0] = .nan
        XCTAssertTrue(GradientClipping.clip([a, b], maxNorm: 1).isNaN)
        XCTAssertEqual(a.grad.floats(), [3, 4])
    }
}
