import Foundation
import TestSupport

/// The optimiser fixtures (tools/make_optimizer_fixtures.py), read with JSONDecoder: it parses doubles
/// exactly, while JSONSerialization on Linux can land one ulp off, too coarse for bit-equality checks.
enum OptimFixtures {
    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(T.self, from: Data(contentsOf: TestPaths.fixture("training-optim/" + name)))
    }

    struct AdamW: Decodable {
        struct Case: Decodable {
            var name: String
            var weightDecay: Double
            var betas: [Double]
            var eps: Double
            var lrs: [Double]
            var shapes: [String: [Int]]
            var `init`: [String: [Float]]
            var grads: [[String: [Float]]]
            var expectedSingle: [[String: [Float]]]
            var expectedFused: [[String: [Float]]]
            var expectedReplicaIeeeSqrt: [[String: [Float]]]
            var finalExpAvg: [String: [Float]]
            var finalExpAvgSq: [String: [Float]]
            var finalStep: [Double]
        }
        var cases: [Case]
    }

    struct Schedules: Decodable {
        struct Case: Decodable {
            var kind: String
            var warmupSteps: Int?
            var warmupRatio: Double?
            var resolvedWarmup: Int
            var totalSteps: Int
            var baseLr: Double
            var lrs: [Double]
        }
        struct Defaults: Decodable {
            var learningRate: Double
            var weightDecay: Double
            var adamBeta1: Double
            var adamBeta2: Double
            var adamEpsilon: Double
            var maxGradNorm: Double
            var lrSchedulerType: String
            var optim: String
        }
        var trainingArgumentsDefaults: Defaults
        var cases: [Case]
    }

    struct Clipping: Decodable {
        struct Case: Decodable {
            var maxNorm: Double
            var normType: NormType
            var totalNorm: Double
            var clipped: [String: [Float]]
        }
        /// 2.0 or "inf" in the file.
        enum NormType: Decodable {
            case two, infinity
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                self = (try? c.decode(String.self)) == "inf" ? .infinity : .two
            }
        }
        var shapes: [String: [Int]]
        var grads: [String: [Float]]
        var cases: [Case]
    }
}
