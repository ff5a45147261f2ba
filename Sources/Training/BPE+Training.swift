import Foundation

extension BPE {
    /// Learns a vocabulary of `vocabularySize` tokens from `texts`: ids 0...255 are the bytes,
    /// then each step merges the adjacent pair of tokens seen most often within the pre-tokens
    /// (counted with their frequencies), ties going to the smallest (left id, right id). The
    /// result is the same for the same texts in the same order.
    ///
    /// Pre-tokens are counted once; pair counts are then updated incrementally, through an index
    /// from each pair to the words holding it and a lazy max-heap, as `tokenizers`' trainer does.
    /// A merge whose bytes are already a token reuses that token's id, so there may be more
    /// merges than new tokens. Stops early, with a smaller vocabulary, when no pair is left.
    ///
    /// - Parameter progress: called after each merge with the vocabulary's size so far and
    ///   `vocabularySize`.
    /// - Throws: `BPEError` unless `vocabularySize` is in 256...65536.
    public static func train<Texts: Sequence>(
        texts: Texts, vocabularySize: Int, progress: ((Int, Int) -> Void)? = nil
    ) throws -> BPE where Texts.Element == String {
        guard vocabularySize >= 256, vocabularySize <= maximumVocabularySize else {
            throw BPEError("BPE: vocabulary size \(vocabularySize) is outside 256...\(maximumVocabularySize)")
        }
        var words = WordCounts()
        for text in texts { words.add(text) }
        var trainer = Trainer(words)
        while trainer.tokens.count < vocabularySize, trainer.mergeBest() {
            progress?(trainer.tokens.count, vocabularySize)
        }
        return BPE(tokens: trainer.tokens, byteIDs: (0..<256).map { Int32($0) }, merges: trainer.merges)
    }

    /// Distinct pre-tokens and how often each occurs.
    struct WordCounts {
        var table = ByteStringTable()
        var counts = [Int64]()

        mutating func add(_ text: String) {
            var text = text
            text.withUTF8 { utf8 in
                guard let base = utf8.baseAddress else { return }
                var pieces = PreTokenizer(utf8)
                while let piece = pieces.next() {
                    let start = base + piece.lowerBound
                    let hash = ByteStringTable.hash(start, piece.count)
                    let entry = table.find(start, piece.count, hash: hash)
                    if entry >= 0 {
                        counts[Int(entry)] += 1
                    } else {
                        _ = table.insert(start, piece.count, hash: hash)
                        counts.append(1)
                    }
                }
            }
        }
    }

    /// The state of training: every word's current symbols, and each pair's count and words.
    struct Trainer {
        private(set) var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        private(set) var merges = [Merge]()
        private var tokenIDs = [[UInt8]: Int32]()

        /// All words' symbols in one array; word `w` holds `symbols[starts[w]..<starts[w] + lengths[w]]`.
        private var symbols = [Int32]()
        private var starts = [Int]()
        private var lengths = [Int32]()
        private var wordCounts = [Int64]()
        /// The merge step in which each word was last rewritten, so a word listed twice is merged once.
        private var visited = [Int32]()

        /// Pair key → pair number; by pair number: its key, count, the words that (may) hold it,
        /// and the step in which its count last rose.
        private var pairNumbers = PairTable()
        private var pairKeys = [UInt64]()
        private var pairCounts = [Int64]()
        private var pairWords = [[Int32]]()
        private var pairRaised = [Int32]()
        private var raised = [Int32]()
        private var queue = PairQueue()
        private var step: Int32 = 0

        init(_ words: WordCounts) {
            for (id, bytes) in tokens.enumerated() { tokenIDs[bytes] = Int32(id) }
            for entry in 0..<words.table.count where words.table.lengths[entry] > 1 {
                starts.append(symbols.count)
                lengths.append(words.table.lengths[entry])
                wordCounts.append(words.counts[entry])
                symbols.append(contentsOf: words.table.bytes(of: entry).lazy.map { Int32($0) })
            }
            visited = Array(repeating: -1, count: starts.count)
            for word in starts.indices {
                let start = starts[word]
                for i in start..<(start + Int(lengths[word]) - 1) {
                    add(PairTable.key(symbols[i], symbols[i + 1]), wordCounts[word], word: Int32(word))
                }
            }
            for pair in pairCounts.indices where pairCounts[pair] > 0 {
                queue.push(count: pairCounts[pair], key: pairKeys[pair], pair: Int32(pair))
            }
            raised.removeAll()
        }

        /// Merges the most frequent pair everywhere; false when no pair is left.
        mutating func mergeBest() -> Bool {
            guard let best = popBest() else { return false }
            let left = Int32(truncatingIfNeeded: pairKeys[best] >> 32)
            let right = Int32(truncatingIfNeeded: pairKeys[best])
            let bytes = tokens[Int(left)] + tokens[Int(right)]
            let result: Int32
            if let existing = tokenIDs[bytes] {
                result = existing
            } else {
                result = Int32(tokens.count)
                tokens.append(bytes)
                tokenIDs[bytes] = result
            }
            merges.append(Merge(left: left, right: right, result: result))
            step += 1
            let holders = pairWords[best]
            pairWords[best] = []
            for word in holders where visited[Int(word)] != step {
                visited[Int(word)] = step
                merge(left, right, into: result, in: Int(word))
            }
            pairCounts[best] = 0  // every occurrence is merged (overlaps like `a a a` were decremented)
            for pair in raised where pairCounts[Int(pair)] > 0 {
                queue.push(count: pairCounts[Int(pair)], key: pairKeys[Int(pair)], pair: pair)
            }
            raised.removeAll(keepingCapacity: true)
            return true
        }

        /// The pair with the highest count, re-queueing entries whose count fell since queued.
        private mutating func popBest() -> Int? {
            while let top = queue.pop() {
                let count = pairCounts[Int(top.pair)]
                if count == top.count { return Int(top.pair) }
                if count > 0 { queue.push(count: count, key: top.key, pair: top.pair) }
            }
            return nil
        }

        /// Rewrites every `left right` in `word`, left to right, as `result`, moving the counts
        /// of the pairs around each occurrence as `tokenizers`' `Word::merge` does.
        private mutating func merge(_ left: Int32, _ right: Int32, into result: Int32, in word: Int) {
            let start = starts[word], end = start + Int(lengths[word]), count = wordCounts[word]
            var read = start, write = start
            while read < end {
                if symbols[read] == left && read + 1 < end && symbols[read + 1] == right {
                    if write > start {
                        let before = symbols[write - 1]
                        add(PairTable.key(before, left), -count, word: nil)
                        add(PairTable.key(before, result), count, word: Int32(word))
                    }
                    symbols[write] = result
                    write += 1
                    read += 2
                    if read < end {
                        let after = symbols[read]
                        add(PairTable.key(right, after), -count, word: nil)
                        add(PairTable.key(result, after), count, word: Int32(word))
                    }
                } else {
                    symbols[write] = symbols[read]
                    write += 1
                    read += 1
                }
            }
            lengths[word] = Int32(write - start)
        }

        /// Adds `delta` to a pair's count; a rise also lists `word` among the pair's holders and
        /// marks the pair for queueing at the end of the step.
        private mutating func add(_ key: UInt64, _ delta: Int64, word: Int32?) {
            let pair: Int
            if let found = pairNumbers.value(for: key) {
                pair = Int(found)
            } else {
                pair = pairKeys.count
                pairNumbers.set(UInt64(pair), for: key)
                pairKeys.append(key)
                pairCounts.append(0)
                pairWords.append([])
                pairRaised.append(-1)
            }
            pairCounts[pair] += delta
            guard let word = word else { return }
            if pairWords[pair].last != word { pairWords[pair].append(word) }
            if pairRaised[pair] != step {
                pairRaised[pair] = step
                raised.append(Int32(pair))
            }
        }
    }

    /// A binary max-heap of pairs by count, ties going to the smaller key (lexicographically
    /// smaller pair of ids). Entries may be stale; `Trainer.popBest` checks them.
    struct PairQueue {
        struct Entry {
            let count: Int64
            let key: UInt64
            let pair: Int32
            /// Whether `self` comes out before `other`.
            func precedes(_ other: Entry) -> Bool {
                count != other.count ? count > other.count : key < other.key
            }
        }
        private var heap = [Entry]()

        mutating func push(count: Int64, key: UInt64, pair: Int32) {
            heap.append(Entry(count: count, key: key, pair: pair))
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child].precedes(heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() -> Entry? {
            guard let last = heap.popLast() else { return nil }
            guard !heap.isEmpty else { return last }
            let top = heap[0]
            heap[0] = last
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= heap.count { break }
                if child + 1 < heap.count && heap[child + 1].precedes(heap[child]) { child += 1 }
                guard heap[child].precedes(heap[parent]) else { break }
                heap.swapAt(child, parent)
                parent = child
            }
            return top
        }
    }
}
