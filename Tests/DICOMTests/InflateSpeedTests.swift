import DICOM
import Foundation
import XCTest

/// Inflate throughput on a large raw DEFLATE stream, when `DSA_INFLATE_BENCH` names one (made with
/// `tools/make_inflate_bench.py`); skipped otherwise. Prints MB/s of output, best of three runs. (The
/// comparison with the hand-written decoder zlib replaced is in the commit that added this test.)
final class InflateSpeedTests: XCTestCase {
    func testInflateThroughput() throws {
        guard let path = ProcessInfo.processInfo.environment["DSA_INFLATE_BENCH"] else {
            throw XCTSkip("set DSA_INFLATE_BENCH to a raw deflate stream to measure")
        }
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let limit = 1 << 34
        func best(_ run: () throws -> [UInt8]) throws -> (Double, [UInt8]) {
            var seconds = Double.infinity
            var out: [UInt8] = []
            for _ in 0..<3 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                out = try run()
                seconds = min(seconds, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            return (Double(out.count) / 1e6 / seconds, out)
        }
        let (rate, out) = try best { try Inflate.inflate(input, maxOutput: limit) }
        print("inflate: \(input.count) bytes in, \(out.count) out; \(String(format: "%.0f", rate)) MB/s")
        XCTAssertGreaterThan(out.count, input.count)
        // The cap holds on a large stream too: one byte short of the output is refused.
        XCTAssertThrowsError(try Inflate.inflate(input, maxOutput: out.count - 1)) { error in
            XCTAssertEqual(error as? Inflate.Failure, .outputTooLarge(limit: out.count - 1))
        }
        XCTAssertEqual(try Inflate.inflate(input, maxOutput: out.count).count, out.count)
    }
}
