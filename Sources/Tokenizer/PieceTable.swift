/// Token pieces keyed by their exact UTF-8 bytes, and the reverse map from id to bytes.
///
/// Keys are bytes, not `String`s: Swift compares and hashes strings by canonical equivalence, which
/// would fold together distinct Gemma pieces such as the NFC and NFD spellings of "য়" (434 such
/// pairs in the Gemma 3 vocabulary). `tokenizers` compares bytes, so must we.
struct PieceTable: Sendable {
    private let storage: [UInt8]
    /// Start of each id's bytes in `storage`, or -1 when the id has no piece.
    private let starts: [Int32]
    private let lengths: [Int32]
    /// Open-addressing index: an id, or -1 for an empty slot.
    private let slots: [Int32]
    private let slotShift: UInt64
    /// How many distinct pieces the table holds.
    let count: Int

    /// Highest id + 1.
    var idLimit: Int { starts.count }

    /// Collects pieces; `storage` may be appended to directly and then `register`ed, which lets the
    /// JSON loader copy each vocabulary key exactly once.
    struct Builder {
        var storage: [UInt8] = []
        fileprivate var entryStart: [Int32] = []
        fileprivate var entryLength: [Int32] = []
        fileprivate var entryID: [Int32] = []

        init(expectedPieces: Int = 0, expectedBytes: Int = 0) {
            storage.reserveCapacity(expectedBytes)
            entryStart.reserveCapacity(expectedPieces)
            entryLength.reserveCapacity(expectedPieces)
            entryID.reserveCapacity(expectedPieces)
        }

        var entryCount: Int { entryID.count }

        /// Registers `storage[start..<start+length]` as the piece of `id`.
        mutating func register(start: Int, length: Int, id: Int32) {
            entryStart.append(Int32(start))
            entryLength.append(Int32(length))
            entryID.append(id)
        }

        mutating func append<S: Sequence>(_ bytes: S, id: Int32) where S.Element == UInt8 {
            let start = storage.count
            storage.append(contentsOf: bytes)
            register(start: start, length: storage.count - start, id: id)
        }

        /// Builds the index. A piece that repeats keeps its last id, and the earlier id loses its
        /// piece, as with `tokenizers`' hash maps; `duplicates` reports each such repeat.
        func build(duplicates: ((_ earlierID: Int32, _ laterID: Int32) -> Void)? = nil) -> PieceTable {
            var limit = 0
            for id in entryID { limit = max(limit, Int(id) + 1) }
            var starts = [Int32](repeating: -1, count: limit)
            var lengths = [Int32](repeating: 0, count: limit)
            var capacity = 16
            while capacity < entryID.count * 2 { capacity <<= 1 }
            let shift = UInt64(64 - capacity.trailingZeroBitCount)
            var slots = [Int32](repeating: -1, count: capacity)
            var distinct = 0
            storage.withUnsafeBufferPointer { bytes in
                // No piece bytes (an empty vocabulary): nothing to index.
                guard let base = bytes.baseAddress else { return }
                for e in 0..<entryID.count {
                    let id = entryID[e]
                    let start = Int(entryStart[e]), length = Int(entryLength[e])
                    var slot = Int(PieceTable.hash(base + start, length) >> shift)
                    while true {
                        let occupant = slots[slot]
                        if occupant < 0 {
                            slots[slot] = id
                            distinct += 1
                            break
                        }
                        let os = Int(starts[Int(occupant)]), ol = Int(lengths[Int(occupant)])
                        if ol == length, os >= 0, memcmp(base + os, base + start, length) == 0 {
                            if occupant != id {
                                duplicates?(occupant, id)
                                starts[Int(occupant)] = -1
                            }
                            slots[slot] = id
                            break
                        }
                        slot = (slot + 1) & (capacity - 1)
                    }
                    starts[Int(id)] = Int32(start)
                    lengths[Int(id)] = Int32(length)
                }
            }
            return PieceTable(storage: storage, starts: starts, lengths: lengths, slots: slots,
                              slotShift: shift, count: distinct)
        }
    }

    private init(storage: [UInt8], starts: [Int32], lengths: [Int32], slots: [Int32], slotShift: UInt64, count: Int) {
        self.storage = storage
        self.starts = starts
        self.lengths = lengths
        self.slots = slots
        self.slotShift = slotShift
        self.count = count
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(n &+ 1)
        var i = 0
        while i + 8 <= n {
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(p[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        }
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h
    }

    /// The id of the piece spelled exactly by `bytes`, or -1.
    @inline(__always)
    func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
        guard let p = bytes.baseAddress ?? (bytes.count == 0 ? UnsafePointer(bitPattern: 1) : nil) else { return -1 }
        let n = bytes.count
        let mask = slots.count - 1
        return storage.withUnsafeBufferPointer { store -> Int32 in
            starts.withUnsafeBufferPointer { starts -> Int32 in
                lengths.withUnsafeBufferPointer { lengths -> Int32 in
                    slots.withUnsafeBufferPointer { slots -> Int32 in
                        var slot = Int(PieceTable.hash(p, n) >> slotShift)
                        while true {
                            let id = slots[slot]
                            if id < 0 { return -1 }
                            if Int(lengths[Int(id)]) == n, starts[Int(id)] >= 0,
                               // n > 0 here and a piece of n bytes is stored, so the store is not empty.
                               n == 0 || memcmp(store.baseAddress! + Int(starts[Int(id)]), p, n) == 0 {
                                return id
                            }
                            slot = (slot + 1) & mask
                        }
                    }
                }
            }
        }
    }

    func id<C: Collection>(of bytes: C) -> Int32 where C.Element == UInt8 {
        if let r = bytes.withContiguousStorageIfAvailable({ id(of: $0) }) { return r }
        return Array(bytes).withUnsafeBufferPointer { id(of: $0) }
    }

    /// The bytes of `id`'s piece, or nil when the id has none.
    func bytes(of id: Int) -> ArraySlice<UInt8>? {
        guard id >= 0, id < starts.count else { return nil }
        let s = Int(starts[id])
        guard s >= 0 else { return nil }
        return storage[s..<(s + Int(lengths[id]))]
    }

    func contains(id: Int) -> Bool {
        id >= 0 && id < starts.count && starts[id] >= 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
