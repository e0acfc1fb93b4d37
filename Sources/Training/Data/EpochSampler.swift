import Tensor

/// The order in which training visits manifest rows, epoch by epoch. Each epoch has as many draws as rows.
/// Modes `.none` and `.weights` visit every row once in a Fisher–Yates shuffle; `.sampler` draws a class
/// uniformly, then a row of that class uniformly (with replacement). An epoch's order depends only on
/// (seed, epoch), so the whole position is `state` (three integers): a checkpoint that saves it resumes
/// mid-epoch with the very same draws.
public struct EpochSampler: Sendable, Equatable {
    /// Where the sampler stands: the next draw is draw `position` of epoch `epoch`.
    public struct State: Sendable, Equatable, Codable {
        public var seed: UInt64
        public var epoch: Int
        public var position: Int

        public init(seed: UInt64, epoch: Int = 0, position: Int = 0) {
            self.seed = seed
            self.epoch = epoch
            self.position = position
        }
    }

    /// Class index of each row.
    public let classOfRow: [Int]
    public let classCount: Int
    public let mode: BalanceMode
    public private(set) var state: State
    /// The current epoch's order, kept so that `next()` does not redraw it.
    private var order: [Int]

    /// A sampler over rows whose classes are `classOfRow` (0..<classCount), at the start of epoch 0 or at
    /// a saved `state`.
    public init(classOfRow: [Int], classCount: Int, mode: BalanceMode, seed: UInt64, state: State? = nil) throws {
        guard !classOfRow.isEmpty else { throw TrainingDataError.invalidArgument("the sampler has no rows") }
        guard classCount >= 1, classOfRow.allSatisfy({ $0 >= 0 && $0 < classCount }) else {
            throw TrainingDataError.invalidArgument("row classes must lie in 0..<\(classCount)")
        }
        if mode == .sampler, let empty = (0..<classCount).first(where: { c in !classOfRow.contains(c) }) {
            throw TrainingDataError.invalidArgument("class-balanced sampling needs rows of every class; class \(empty) has none")
        }
        let s = state ?? State(seed: seed)
        guard s.seed == seed, s.epoch >= 0, s.position >= 0, s.position <= classOfRow.count else {
            throw TrainingDataError.invalidArgument("sampler state \(s) does not fit seed \(seed) and \(classOfRow.count) rows")
        }
        self.classOfRow = classOfRow
        self.classCount = classCount
        self.mode = mode
        self.state = s
        order = Self.order(classOfRow: classOfRow, classCount: classCount, mode: mode, seed: seed, epoch: s.epoch)
    }

    /// Draws per epoch (the number of rows).
    public var epochLength: Int { classOfRow.count }

    /// The next row to train on, with the epoch it belongs to; moves on to the next epoch after the last draw.
    public mutating func next() -> (epoch: Int, row: Int) {
        if state.position >= order.count {
            state.epoch += 1
            state.position = 0
            order = Self.order(classOfRow: classOfRow, classCount: classCount, mode: mode, seed: state.seed, epoch: state.epoch)
        }
        let row = order[state.position]
        state.position += 1
        return (state.epoch, row)
    }

    /// The generator of one epoch: seeded by a SplitMix64 output of (seed + epoch·γ), so that epochs draw
    /// from unrelated streams rather than shifted copies of one stream.
    public static func generator(seed: UInt64, epoch: Int) -> SplitMix64 {
        var key = SplitMix64(seed: seed &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
        return SplitMix64(seed: key.next())
    }

    /// The whole order of epoch `epoch`.
    public static func order(classOfRow: [Int], classCount: Int, mode: BalanceMode, seed: UInt64, epoch: Int) -> [Int] {
        var g = generator(seed: seed, epoch: epoch)
        let n = classOfRow.count
        switch mode {
        case .sampler:
            var members = [[Int]](repeating: [], count: classCount)
            for (i, c) in classOfRow.enumerated() { members[c].append(i) }
            var out: [Int] = []
            out.reserveCapacity(n)
            for _ in 0..<n {
                let c = g.next(below: classCount)
                // Init guarantees every class has rows; an empty one is never drawn from.
                guard !members[c].isEmpty else { continue }
                out.append(members[c][g.next(below: members[c].count)])
            }
            return out
        case .none, .weights:
            var out = Array(0..<n)
            var i = n - 1
            while i > 0 {
                out.swapAt(i, g.next(below: i + 1))
                i -= 1
            }
            return out
        }
    }
}
