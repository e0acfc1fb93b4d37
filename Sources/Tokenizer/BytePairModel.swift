/// The BPE model of Hugging Face `tokenizers` (with byte fallback and unknown-token fusing): one
/// pre-tokenized word in, token ids out.
struct BytePairModel: Sendable {
    let pieces: PieceTable
    let merges: MergeTable
    /// The id used for characters that are neither pieces nor byte-fallback-able; nil when the model has none.
    let unknownID: Int32?
    /// Runs of unknown characters become a single unknown token.
    let fuseUnknown: Bool
    /// Characters missing from the vocabulary become their UTF-8 bytes as `<0xXX>` pieces.
    let byteFallback: Bool
    /// A word that is a piece as a whole is emitted as is, before any merging.
    let ignoreMerges: Bool
    /// Ids of the `<0x00>`…`<0xFF>` pieces, -1 where absent.
    let byteTokenIDs: [Int32]

    init(pieces: PieceTable, merges: MergeTable, unknownID: Int32?, fuseUnknown: Bool, byteFallback: Bool, ignoreMerges: Bool) {
        self.pieces = pieces
        self.merges = merges
        self.unknownID = unknownID
        self.fuseUnknown = fuseUnknown
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokenIDs = (0..<256).map { b in
            pieces.id(of: [UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"), hex[b >> 4], hex[b & 15], UInt8(ascii: ">")])
        }
    }

    /// Appends the ids of `word` (valid UTF-8) to `out`.
    ///
    /// Same algorithm as `tokenizers`' `Word::merge_all`: a min-heap of candidate merges ordered by
    /// (rank, position); a popped candidate is dropped when its left symbol is gone or the pair there
    /// no longer produces the same id. O(n log n) in the word length, which matters because Gemma's
    /// pre-tokenizer does not split on spaces: a whole paragraph is one word.
    func tokenize(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        let n = word.count
        guard n > 0, let base = word.baseAddress else { return }
        if ignoreMerges {
            let whole = pieces.id(of: word)
            if whole >= 0 {
                out.append(whole)
                return
            }
        }

        // 1. One symbol per character; unknown characters fall back to bytes or to the unknown id.
        var ids: [Int32] = []
        ids.reserveCapacity(n)
        var pendingUnknown = false
        var i = 0
        while i < n {
            let length = Self.scalarLength(lead: base[i])
            let end = min(i + length, n)
            let id = pieces.id(of: UnsafeBufferPointer(start: base + i, count: end - i))
            if id >= 0 {
                if pendingUnknown, let unknownID {
                    ids.append(unknownID)
                    pendingUnknown = false
                }
                ids.append(id)
            } else {
                var handled = false
                if byteFallback {
                    var all = true
                    for k in i..<end where byteTokenIDs[Int(base[k])] < 0 { all = false; break }
                    if all {
                        // Like `tokenizers`, a pending unknown token stays pending past byte tokens.
                        for k in i..<end { ids.append(byteTokenIDs[Int(base[k])]) }
                        handled = true
                    }
                }
                if !handled, let unknownID {
                    if pendingUnknown && !fuseUnknown { ids.append(unknownID) }
                    pendingUnknown = true
                }
                // No unknown token at all: `tokenizers` raises an error; the character is dropped here.
            }
            i = end
        }
        if pendingUnknown, let unknownID { ids.append(unknownID) }

        let count = ids.count
        guard count > 1 else {
            out.append(contentsOf: ids)
            return
        }

        // 2. Merge, best (rank, position) first.
        var next = [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0..<count { buffer[k] = Int32(k + 1) }
            buffer[count - 1] = -1
            initialized = count
        }
        var prev = [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0..<count { buffer[k] = Int32(k - 1) }
            initialized = count
        }
        var alive = [Bool](repeating: true, count: count)
        var heap = MergeHeap(capacity: count)
        for k in 0..<(count - 1) {
            let m = merges.lookup(ids[k], ids[k + 1])
            if m != MergeTable.notFound { heap.push(rank: UInt32(m >> 32), position: UInt32(k), newID: Int32(truncatingIfNeeded: m)) }
        }
        while let top = heap.pop() {
            let pos = Int(top.position)
            guard alive[pos] else { continue }
            let right = Int(next[pos])
            guard right >= 0 else { continue }
            let current = merges.lookup(ids[pos], ids[right])
            guard current != MergeTable.notFound, Int32(truncatingIfNeeded: current) == top.newID else { continue }

            ids[pos] = top.newID
            let after = next[right]
            next[pos] = after
            alive[right] = false
            if after >= 0 { prev[Int(after)] = Int32(pos) }

            let before = Int(prev[pos])
            if before >= 0 {
                let m = merges.lookup(ids[before], ids[pos])
                if m != MergeTable.notFound { heap.push(rank: UInt32(m >> 32), position: UInt32(before), newID: Int32(truncatingIfNeeded: m)) }
            }
            if after >= 0 {
                let m = merges.lookup(ids[pos], ids[Int(after)])
                if m != MergeTable.notFound { heap.push(rank: UInt32(m >> 32), position: UInt32(pos), newID: Int32(truncatingIfNeeded: m)) }
            }
        }
        for k in 0..<count where alive[k] { out.append(ids[k]) }
    }

    /// Bytes in the UTF-8 sequence that starts with `lead`.
    @inline(__always)
    static func scalarLength(lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
struct MergeHeap {
    private var keys: [UInt64] = []
    private var newIDs: [Int32] = []

    init(capacity: Int) {
        keys.reserveCapacity(capacity)
        newIDs.reserveCapacity(capacity)
    }

    mutating func push(rank: UInt32, position: UInt32, newID: Int32) {
        var child = keys.count
        let key = UInt64(rank) << 32 | UInt64(position)
        keys.append(key)
        newIDs.append(newID)
        while child > 0 {
            let parent = (child - 1) >> 1
            guard keys[parent] > key else { break }
            keys[child] = keys[parent]
            newIDs[child] = newIDs[parent]
            child = parent
        }
        keys[child] = key
        newIDs[child] = newID
    }

    mutating func pop() -> (position: UInt32, newID: Int32)? {
        guard let topKey = keys.first else { return nil }
        let result = (UInt32(truncatingIfNeeded: topKey), newIDs[0])
        let lastKey = keys.removeLast()
        let lastID = newIDs.removeLast()
        let n = keys.count
        if n > 0 {
            var parent = 0
            while true {
                var child = 2 * parent + 1
                guard child < n else { break }
                if child + 1 < n, keys[child + 1] < keys[child] { child += 1 }
                guard keys[child] < lastKey else { break }
                keys[parent] = keys[child]
                newIDs[parent] = newIDs[child]
                parent = child
            }
            keys[parent] = lastKey
            newIDs[parent] = lastID
        }
        return result
    }
}
