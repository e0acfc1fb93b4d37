import CKernels
import Foundation

extension ComputeMode: Codable {}

/// One linear layer's product as the model runs it: `rows` activations times a [outputs, inputs] weight.
public struct GEMMShape: Codable, Hashable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var outputs: Int
    public var inputs: Int

    public init(rows: Int, outputs: Int, inputs: Int) { (self.rows, self.outputs, self.inputs) = (rows, outputs, inputs) }

    public var flops: Double { 2 * Double(rows) * Double(outputs) * Double(inputs) }
    public var description: String { "\(rows)×\(inputs)·\(inputs)×\(outputs)" }
}

/// The library float32 products go through.
public enum SGEMMLibrary: String, Codable, Sendable, CaseIterable {
    case openblas, onednn
}

/// A kernel family's measured rate on a model's shapes.
public struct ComputeMeasurement: Codable, Sendable, Equatable {
    public var mode: ComputeMode
    /// The library behind the products: float32 through OpenBLAS or oneDNN; bf16 always through oneDNN.
    public var library: SGEMMLibrary
    /// Whole-set rate: the shapes' floating-point operations over the time they took, in GFLOP/s.
    public var gflops: Double
    /// Per shape, in the order of `ComputeSelection.shapes`.
    public var perShape: [Double]

    /// "f32/openblas", "f32/onednn", "bf16".
    public var family: String { mode == .bf16 ? "bf16" : "\(mode.rawValue)/\(library.rawValue)" }
}

/// The arithmetic `--compute auto` chose for 16-bit weights on this machine, and why.
public struct ComputeSelection: Codable, Sendable, Equatable {
    public var mode: ComputeMode
    /// The float32 GEMM library for every float32 product of the process (the faster one measured).
    public var sgemmLibrary: SGEMMLibrary
    public var measurements: [ComputeMeasurement]
    public var shapes: [GEMMShape]
    /// CPU model, a digest of its flags, core count and library versions (the cache key's machine part).
    public var machine: String
    public var measuredAt: Date
    /// Read from the cache rather than measured in this process (not stored).
    public var fromCache = false

    enum CodingKeys: String, CodingKey { case mode, sgemmLibrary = "sgemm_library", measurements, shapes, machine, measuredAt = "measured_at" }

    /// One line for logs and `--verbose`: the choice and the rates behind it.
    public var summary: String {
        let rates = measurements.map { "\($0.family) \(String(format: "%.1f", $0.gflops)) GFLOP/s" }.joined(separator: ", ")
        return "\(mode.rawValue) with float32 products through \(sgemmLibrary.rawValue) (auto: \(rates) on the model's shapes; \(fromCache ? "cached" : "measured now"))"
    }
}

/// `--compute auto`: measures the candidate kernel families (float32 products, with 16-bit weights widened
/// per tile, and bf16 products on the bf16 units) on the model's own GEMM shapes, picks the fastest, and
/// caches the choice per machine (CPU model and flags, cores, oneDNN and OpenBLAS versions) and shape set,
/// so the measurement runs once per machine. Both families meet the default mode's fidelity contract
/// (float32 is exact; bf16 is within the documented bound); float32 wins ties within `exactPreference`.
public final class ComputeAutoSelector: @unchecked Sendable {
    public let cacheFile: URL?
    /// float32 is kept unless bf16 is faster by more than this factor (exact arithmetic is worth a little).
    public let exactPreference: Double
    /// Minimum measuring time per shape and family, seconds.
    public let secondsPerShape: Double
    private let lock = NSLock()
    private var last: ComputeSelection?

    public init(cacheFile: URL?, exactPreference: Double = 1.05, secondsPerShape: Double = 0.15) {
        (self.cacheFile, self.exactPreference, self.secondsPerShape) = (cacheFile, exactPreference, secondsPerShape)
    }

    /// `$XDG_CACHE_HOME/dsa-triage/compute-choice.json`, else `~/.cache/dsa-triage/compute-choice.json`.
    public static var defaultCacheFile: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("dsa-triage/compute-choice.json")
    }

    /// The most recent selection this selector made or read.
    public var lastSelection: ComputeSelection? { lock.withLock { last } }

    /// The choice for `shapes`: from the cache when this machine measured them before, else measured now
    /// (and cached). A cache that cannot be read or written only costs a measurement.
    public func select(shapes: [GEMMShape]) throws -> ComputeSelection {
        let machine = Self.machineDescription()
        let key = Self.cacheKey(machine: machine, shapes: shapes)
        var cache = readCache()
        if var hit = cache[key] {
            hit.fromCache = true
            lock.withLock { last = hit }
            return hit
        }
        let families: [(ComputeMode, SGEMMLibrary)] = [(.f32, .openblas), (.f32, .onednn), (.bf16, .onednn)]
        let measurements = try families.map { try Self.measure(mode: $0.0, library: $0.1, shapes: shapes, seconds: secondsPerShape) }
        let (mode, library) = Self.choose(measurements, exactPreference: exactPreference)
        let selection = ComputeSelection(mode: mode, sgemmLibrary: library, measurements: measurements,
                                         shapes: shapes, machine: machine, measuredAt: Date())
        cache[key] = selection
        writeCache(cache)
        lock.withLock { last = selection }
        return selection
    }

    /// The fastest family: float32 (through its faster library) unless bf16 beats it by more than
    /// `exactPreference`; the float32 library is the faster one either way (attention and other float32
    /// products use it).
    public static func choose(_ measurements: [ComputeMeasurement], exactPreference: Double) -> (ComputeMode, SGEMMLibrary) {
        let f32 = measurements.filter { $0.mode == .f32 }.max { $0.gflops < $1.gflops }
        let bf16 = measurements.first { $0.mode == .bf16 }?.gflops ?? 0
        let library = f32?.library ?? .openblas
        return (bf16 > (f32?.gflops ?? 0) * exactPreference ? .bf16 : .f32, library)
    }

    /// Times `MatMul.linear` with bf16 weights of each shape in `mode` (one warm-up, then repetitions until
    /// `seconds` have passed).
    /// `widenedWeights`: float32 weights instead (the float32 GEMM rate itself, the floor the widening is compared with).
    public static func measure(mode: ComputeMode, library: SGEMMLibrary = .openblas, shapes: [GEMMShape], seconds: Double,
                               widenedWeights: Bool = false) throws -> ComputeMeasurement {
        let previous = MatMul.sgemmLibrary
        MatMul.sgemmLibrary = library
        defer { MatMul.sgemmLibrary = previous }
        var rates = Rates()
        for s in shapes {
            let weight = probeWeight(s, dtype: widenedWeights ? .f32 : .bf16)
            rates.add(s, try timedWithOperands(s, seconds: seconds) { x, out in
                try MatMul.linear(x, rows: s.rows, weight: weight, out: out, mode: mode)
            })
        }
        return ComputeMeasurement(mode: mode, library: mode == .bf16 ? .onednn : library, gflops: rates.gflops, perShape: rates.perShape)
    }

    /// A [outputs, inputs] weight of small deterministic values: the rate does not depend on them, but
    /// denormals or zeros must not help.
    static func probeWeight(_ s: GEMMShape, dtype: DType) -> Tensor {
        let weight = Tensor(zeros: [s.outputs, s.inputs], dtype: dtype)
        for i in 0..<(s.outputs * s.inputs) {
            let v = Float((i &* 2_654_435_761) % 1000) / 1000 - 0.5
            if dtype == .f32 { weight.raw.assumingMemoryBound(to: Float.self)[i] = v } else {
                weight.raw.assumingMemoryBound(to: UInt16.self)[i] = Convert.floatToBF16(v)
            }
        }
        return weight
    }

    /// `timed` over a product of shape `s`, given its activations (deterministic values) and output.
    static func timedWithOperands(_ s: GEMMShape, seconds: Double,
                                  _ product: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void) throws -> (reps: Int, seconds: Double) {
        let x = UnsafeMutablePointer<Float>.allocate(capacity: s.rows * s.inputs)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: s.rows * s.outputs)
        defer { x.deallocate(); out.deallocate() }
        for i in 0..<(s.rows * s.inputs) { x[i] = Float(i % 97) / 97 - 0.5 }
        return try timed(seconds: seconds) { try product(x, out) }
    }

    /// A family's rates over a shape set: whole-set GFLOP/s and per shape.
    struct Rates {
        var totalFlops = 0.0, totalTime = 0.0
        var perShape: [Double] = []
        mutating func add(_ s: GEMMShape, _ run: (reps: Int, seconds: Double)) {
            totalFlops += s.flops * Double(run.reps)
            totalTime += run.seconds
            perShape.append(s.flops * Double(run.reps) / run.seconds / 1e9)
        }
        var gflops: Double { totalTime > 0 ? totalFlops / totalTime / 1e9 : 0 }
    }

    /// One warm-up call, then calls until `seconds` have passed (at most 50): the repetitions and the time.
    static func timed(seconds: Double, _ body: () throws -> Void) throws -> (reps: Int, seconds: Double) {
        try body()
        var reps = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            try body()
            reps += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds && reps < 50
        return (reps, elapsed)
    }

    /// The `w8a8` product's rate on `shapes` (int8 weights quantised from the same values, activations
    /// quantised per row inside each product, as `--quantize w8a8` runs it): whole-set and per-shape GFLOP/s.
    public static func measureW8A8(shapes: [GEMMShape], seconds: Double) throws -> (gflops: Double, perShape: [Double]) {
        var rates = Rates()
        for s in shapes {
            let q = try QuantizedMatrix.quantize(probeWeight(s, dtype: .f32), scheme: .w8a8)
            rates.add(s, try timedWithOperands(s, seconds: seconds) { x, out in
                try MatMul.linear(x, rows: s.rows, quantized: q, out: out)
            })
        }
        return (rates.gflops, rates.perShape)
    }

    /// CPU model name, a digest of its flags, the core count used and the libraries' versions.
    public static func machineDescription() -> String {
        var model = "unknown CPU", flags = ""
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            for line in info.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                if parts[0] == "model name", model == "unknown CPU" { model = parts[1] }
                if parts[0] == "flags", flags.isEmpty { flags = parts[1] }
                if model != "unknown CPU", !flags.isEmpty { break }
            }
        }
        let libraries = String(cString: ck_library_versions())
        return "\(model); flags \(fnv1a(flags)); \(Parallel.cores) threads; \(libraries)"
    }

    static func cacheKey(machine: String, shapes: [GEMMShape]) -> String {
        "\(machine) | \(shapes.map(\.description).joined(separator: ","))"
    }

    /// FNV-1a 64, hex: a short stable digest (a cache key, not a security boundary).
    static func fnv1a(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    private func readCache() -> [String: ComputeSelection] {
        guard let cacheFile, let data = try? Data(contentsOf: cacheFile) else { return [:] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? decoder.decode([String: ComputeSelection].self, from: data)) ?? [:]
    }

    private func writeCache(_ cache: [String: ComputeSelection]) {
        guard let cacheFile else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(cache) else { return }
        try? FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Written beside and renamed: a concurrent reader sees the old or the new file, never half of one.
        let temporary = cacheFile.deletingLastPathComponent().appendingPathComponent(".\(cacheFile.lastPathComponent).\(getpid())")
        guard (try? data.write(to: temporary)) != nil else { return }
        if rename(temporary.path, cacheFile.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
    }
}
