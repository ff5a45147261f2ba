import Foundation

extension BPE {
    /// Encodes pre-tokens one at a time, remembering each distinct pre-token's ids: text repeats
    /// its words, so most pre-tokens are found in the cache rather than merged again.
    struct WordEncoder {
        let byteIDs: [Int32]
        let mergeTable: PairTable
        var cache = WordCache()

        init(bpe: BPE) {
            byteIDs = bpe.byteIDs
            mergeTable = bpe.mergeTable
        }

        /// Appends the ids of the pre-token `word[0..<count]` to `ids`.
        /// `readable` bytes from `word` on may be read (at least `count`).
        mutating func encode(_ word: UnsafePointer<UInt8>, count: Int, readable: Int, into ids: inout [Int32]) {
            if count == 1 {
                ids.append(byteIDs[Int(word[0])])
                return
            }
            guard count <= WordCache.longestKey else {
                merge(word, count: count, into: &ids)
                return
            }
            let key = WordCache.Key(word, count, readable: readable)
            if cache.appendIDs(of: key, word, into: &ids) { return }
            let first = ids.count
            merge(word, count: count, into: &ids)
            ids.withUnsafeBufferPointer { cache.insert(key, word, ids: UnsafeBufferPointer(rebasing: $0[first...])) }
        }

        /// Merges one pre-token exactly as `tokenizers`' `Word::merge_all` does: a queue of adjacent
        /// pairs ordered by (rank, position); an entry is skipped when its left symbol is gone or
        /// the pair there no longer makes the same token (a removed symbol is marked -1).
        func merge(_ word: UnsafePointer<UInt8>, count: Int, into ids: inout [Int32]) {
            // At most count - 1 pairs to start with, and two more per merge: 3 * count entries.
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 3 * count) { buffer in
                withUnsafeTemporaryAllocation(of: MergeQueue.Entry.self, capacity: 3 * count) { entries in
                    var queue = MergeQueue(entries.baseAddress!)
                    let symbols = buffer.baseAddress!, previous = symbols + count, next = previous + count
                    for i in 0..<count {
                        symbols[i] = byteIDs[Int(word[i])]
                        previous[i] = Int32(i - 1)
                        next[i] = Int32(i + 1)
                    }
                    next[count - 1] = -1
                    for i in 0..<(count - 1) { enqueue(at: i, symbols, next, &queue) }
                    while let top = queue.pop() {
                        let position = top.position, right = Int(next[position])
                        guard symbols[position] >= 0, right >= 0,
                              let found = mergeTable.value(for: PairTable.key(symbols[position], symbols[right])),
                              Int32(truncatingIfNeeded: found) == top.result else { continue }
                        symbols[position] = top.result
                        symbols[right] = -1
                        next[position] = next[right]
                        if next[right] >= 0 { previous[Int(next[right])] = Int32(position) }
                        if previous[position] >= 0 { enqueue(at: Int(previous[position]), symbols, next, &queue) }
                        if next[position] >= 0 { enqueue(at: position, symbols, next, &queue) }
                    }
                    var i = 0  // the first symbol is never removed: only right-hand symbols are
                    while i >= 0 {
                        ids.append(symbols[i])
                        i = Int(next[i])
                    }
                }
            }
        }

        /// Queues the pair starting at `position` if some merge makes it.
        @inline(__always)
        private func enqueue(at position: Int, _ symbols: UnsafeMutablePointer<Int32>,
                             _ next: UnsafeMutablePointer<Int32>, _ queue: inout MergeQueue) {
            let key = PairTable.key(symbols[position], symbols[Int(next[position])])
            guard let found = mergeTable.value(for: key) else { return }
            queue.push(rank: UInt32(truncatingIfNeeded: found >> 32), position: position,
                       result: Int32(truncatingIfNeeded: found))
        }
    }

    /// A binary min-heap of candidate merges ordered by (rank, position), in memory its user
    /// provides (large enough for every push).
    struct MergeQueue {
        struct Entry {
            let order: UInt64  // rank << 32 | position
            let result: Int32
            var position: Int { Int(order & 0xFFFF_FFFF) }
        }
        private let heap: UnsafeMutablePointer<Entry>
        private var count = 0

        init(_ memory: UnsafeMutablePointer<Entry>) { heap = memory }

        mutating func push(rank: UInt32, position: Int, result: Int32) {
            var child = count
            count += 1
            let entry = Entry(order: UInt64(rank) << 32 | UInt64(position), result: result)
            while child > 0 {
                let parent = (child - 1) / 2
                guard entry.order < heap[parent].order else { break }
                (heap + child).initialize(to: heap[parent])
                child = parent
            }
            (heap + child).initialize(to: entry)
        }

        mutating func pop() -> Entry? {
            guard count > 0 else { return nil }
            count -= 1
            let top = heap[0], last = heap[count]
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= count { break }
                if child + 1 < count && heap[child + 1].order < heap[child].order { child += 1 }
                guard heap[child].order < last.order else { break }
                heap[parent] = heap[child]
                parent = child
            }
            heap[parent] = last
            return top
        }
    }

    /// Each pre-token's ids, in an open-addressing table bounded in size. A key of up to 16
    /// bytes is held in the slot itself, so most lookups compare two integers; a longer key is
    /// kept in an arena and compared byte by byte.
    struct WordCache {
        /// Longer pre-tokens are merged every time: rare, and they would crowd the cache.
        static let longestKey = 256
        /// The cache is emptied when it holds this many pre-tokens, to bound its memory.
        static let capacity = 1 << 17

        /// A pre-token's bytes (up to 16), or its hash and arena offset (longer ones).
        struct Key {
            var low: UInt64 = 0, high: UInt64 = 0
            let length: Int
            let hash: UInt64

            /// The key of `word[0..<length]`; `readable` bytes from `word` on may be read, and
            /// when that is 16 or more, the bytes are read eight at a time and masked.
            init(_ word: UnsafePointer<UInt8>, _ length: Int, readable: Int) {
                self.length = length
                if length <= 16 {
                    if readable >= 16 {
                        let raw = UnsafeRawPointer(word)
                        let lowBits = min(length, 8) * 8, highBits = max(length - 8, 0) * 8
                        // A shift by 64 gives 0, so the masks are all ones for whole words.
                        low = raw.loadUnaligned(as: UInt64.self) & ((1 << lowBits) &- 1)
                        high = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & ((1 << highBits) &- 1)
                    } else {
                        for i in 0..<length {
                            if i < 8 { low |= UInt64(word[i]) << (8 * i) } else { high |= UInt64(word[i]) << (8 * (i - 8)) }
                        }
                    }
                    hash = WordCache.hash(low: low, high: high, length: length)
                } else {
                    hash = ByteStringTable.hash(word, length)
                    low = hash
                }
            }
        }

        /// The hash of a key of up to 16 bytes.
        static func hash(low: UInt64, high: UInt64, length: Int) -> UInt64 {
            let mixed = (low ^ UInt64(length)) &* 0x9E37_79B9_7F4A_7C15 ^ high &* 0xC2B2_AE3D_27D4_EB4F
            return mixed ^ (mixed >> 29)
        }

        private struct Slot {
            var low: UInt64 = 0, high: UInt64 = 0
            var length: Int32 = 0  // 0: empty
            var start: Int32 = 0  // of its ids in `ids`
            var count: Int32 = 0
        }

        private var slots = [Slot]()
        private var ids = [Int32]()
        private var arena = [UInt8]()  // keys over 16 bytes
        private var used = 0

        /// Appends the cached ids of `key` (whose bytes are `word`) to `out`; false if not cached.
        func appendIDs(of key: Key, _ word: UnsafePointer<UInt8>, into out: inout [Int32]) -> Bool {
            guard !slots.isEmpty else { return false }
            let mask = slots.count - 1
            var index = Int(truncatingIfNeeded: key.hash) & mask
            while true {
                let slot = slots[index]
                if slot.length == 0 { return false }
                if Int(slot.length) == key.length && slot.low == key.low && (key.length <= 16 ? slot.high == key.high
                    : arena.withUnsafeBufferPointer { memcmp($0.baseAddress! + Int(slot.high), word, key.length) == 0 }) {
                    ids.withUnsafeBufferPointer {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[Int(slot.start)..<Int(slot.start + slot.count)]))
                    }
                    return true
                }
                index = (index + 1) & mask
            }
        }

        /// Caches `ids` for `key`, which is absent, emptying the cache first when it is full.
        mutating func insert(_ key: Key, _ word: UnsafePointer<UInt8>, ids new: UnsafeBufferPointer<Int32>) {
            if slots.isEmpty || used >= Self.capacity {
                slots = Array(repeating: Slot(), count: slots.isEmpty ? 1024 : 2 * Self.capacity)
                ids.removeAll(keepingCapacity: true)
                arena.removeAll(keepingCapacity: true)
                used = 0
            } else if 2 * (used + 1) > slots.count {
                grow()
            }
            var slot = Slot(low: key.low, high: key.high, length: Int32(key.length),
                            start: Int32(ids.count), count: Int32(new.count))
            if key.length > 16 {
                slot.high = UInt64(arena.count)
                arena.append(contentsOf: UnsafeBufferPointer(start: word, count: key.length))
            }
            ids.append(contentsOf: new)
            place(slot, hash: key.hash)
            used += 1
        }

        private mutating func place(_ slot: Slot, hash: UInt64) {
            let mask = slots.count - 1
            var index = Int(truncatingIfNeeded: hash) & mask
            while slots[index].length != 0 { index = (index + 1) & mask }
            slots[index] = slot
        }

        /// Doubles the table; the hash of a slot is recomputed from its key.
        private mutating func grow() {
            let old = slots
            slots = Array(repeating: Slot(), count: 2 * old.count)
            for slot in old where slot.length != 0 {
                place(slot, hash: slot.length <= 16 ? Self.hash(low: slot.low, high: slot.high, length: Int(slot.length)) : slot.low)
            }
        }
    }
}
