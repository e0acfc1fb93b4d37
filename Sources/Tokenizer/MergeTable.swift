/// BPE merges: the pair (left id, right id) → (rank, id of the merged piece). A lower rank merges first.
struct MergeTable: Sendable {
    /// `left << 32 | right`, or `emptyKey`.
    private let keys: [UInt64]
    /// `rank << 32 | newID`.
    private let values: [UInt64]
    private let shift: UInt64
    /// Number of distinct pairs.
    let count: Int

    private static let emptyKey = UInt64.max
    static let notFound = UInt64.max

    /// Ranks are positions in the lists. A pair listed twice keeps its later rank, as `tokenizers`
    /// does when it collects merges into a hash map.
    init(left: [Int32], right: [Int32], merged: [Int32]) {
        // Cannot fire: the only caller builds the three lists together, one entry per merge rule.
        precondition(left.count == right.count && right.count == merged.count)
        var capacity = 16
        while capacity < left.count * 2 { capacity <<= 1 }
        let shift = UInt64(64 - capacity.trailingZeroBitCount)
        var keys = [UInt64](repeating: Self.emptyKey, count: capacity)
        var values = [UInt64](repeating: 0, count: capacity)
        var distinct = 0
        for i in 0..<left.count {
            let key = UInt64(UInt32(bitPattern: left[i])) << 32 | UInt64(UInt32(bitPattern: right[i]))
            var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while keys[slot] != Self.emptyKey && keys[slot] != key { slot = (slot + 1) & (capacity - 1) }
            if keys[slot] == Self.emptyKey { distinct += 1 }
            keys[slot] = key
            values[slot] = UInt64(UInt32(i)) << 32 | UInt64(UInt32(bitPattern: merged[i]))
        }
        self.keys = keys
        self.values = values
        self.shift = shift
        self.count = distinct
    }

    /// `rank << 32 | newID` for the pair, or `notFound`.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return keys.withUnsafeBufferPointer { keys in
            let mask = keys.count - 1
            var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while true {
                let k = keys[slot]
                if k == key { return values[slot] }
                if k == Self.emptyKey { return Self.notFound }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Every merge as (left, right, merged), best rank first. For tests and diagnostics.
    func orderedEntries() -> [(left: Int32, right: Int32, merged: Int32)] {
        var entries: [(rank: UInt32, left: Int32, right: Int32, merged: Int32)] = []
        entries.reserveCapacity(count)
        for slot in 0..<keys.count where keys[slot] != Self.emptyKey {
            let k = keys[slot], v = values[slot]
            entries.append((UInt32(v >> 32), Int32(bitPattern: UInt32(k >> 32)), Int32(bitPattern: UInt32(k & 0xFFFF_FFFF)),
                            Int32(bitPattern: UInt32(v & 0xFFFF_FFFF))))
        }
        entries.sort { $0.rank < $1.rank }
        return entries.map { ($0.left, $0.right, $0.merged) }
    }
}
