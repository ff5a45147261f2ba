import Foundation

extension BPE {
    /// An open-addressing map from a pair of ids, packed in a `UInt64`, to a `UInt64`.
    /// Linear probing with Fibonacci hashing: cheaper than `Dictionary`'s seeded hashing in the
    /// encoder's inner loop, and its layout does not vary from run to run.
    struct PairTable: Sendable {
        private struct Slot: Sendable {
            var key: UInt64
            var value: UInt64
        }
        private static let empty = UInt64.max  // never a key: ids are below 2^31
        private var slots: [Slot]  // key and value side by side: one cache line per probe
        private var shift: UInt64
        private(set) var count = 0

        init(minimumCapacity: Int = 0) {
            var bits: UInt64 = 4
            while 1 << bits < 2 * minimumCapacity { bits += 1 }
            slots = Array(repeating: Slot(key: Self.empty, value: 0), count: 1 << bits)
            shift = 64 - bits
        }

        /// The key of the pair `left`, `right`; ordering keys orders pairs lexicographically.
        @inline(__always)
        static func key(_ left: Int32, _ right: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        }

        @inline(__always)
        private func home(_ key: UInt64) -> Int {
            Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        }

        @inline(__always)
        func value(for key: UInt64) -> UInt64? {
            let mask = slots.count - 1
            var index = home(key)
            while true {
                let slot = slots[index]
                if slot.key == key { return slot.value }
                if slot.key == Self.empty { return nil }
                index = (index + 1) & mask
            }
        }

        mutating func set(_ value: UInt64, for key: UInt64) {
            if 2 * (count + 1) > slots.count { grow() }
            let mask = slots.count - 1
            var index = home(key)
            while slots[index].key != Self.empty && slots[index].key != key { index = (index + 1) & mask }
            if slots[index].key == Self.empty { count += 1 }
            slots[index] = Slot(key: key, value: value)
        }

        private mutating func grow() {
            let old = slots
            self = PairTable(minimumCapacity: old.count)
            for slot in old where slot.key != Self.empty { set(slot.value, for: slot.key) }
        }
    }

    /// An open-addressing set of byte strings, numbering them 0, 1, … in insertion order, their
    /// bytes kept in one arena: no allocation per string, and equality is byte equality (a
    /// `String` key would compare canonically equivalent texts equal).
    struct ByteStringTable {
        private var slots = [Int32]()  // allocated on first insertion
        private var hashes = [UInt64]()
        private(set) var starts = [Int]()
        private(set) var lengths = [Int32]()
        private(set) var arena = [UInt8]()
        var count: Int { starts.count }

        /// A fast 64-bit hash of `count` bytes, read eight at a time.
        static func hash(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
            let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
            var hash = 0x243F_6A88_85A3_08D3 ^ UInt64(count)
            let raw = UnsafeRawPointer(bytes)
            var i = 0
            while i + 8 <= count {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* multiplier
                hash ^= hash >> 29
                i += 8
            }
            var tail: UInt64 = 0
            var bit: UInt64 = 0
            while i < count {
                tail |= UInt64(bytes[i]) << bit
                bit += 8
                i += 1
            }
            hash = (hash ^ tail) &* multiplier
            return hash ^ (hash >> 32)
        }

        /// The number of the string `bytes[0..<count]`, or -1 if absent.
        func find(_ bytes: UnsafePointer<UInt8>, _ count: Int, hash: UInt64) -> Int32 {
            guard !slots.isEmpty else { return -1 }
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: hash) & mask
            while true {
                let entry = slots[slot]
                if entry < 0 { return -1 }
                let e = Int(entry)
                if hashes[e] == hash && Int(lengths[e]) == count && equal(e, bytes, count) { return entry }
                slot = (slot + 1) & mask
            }
        }

        private func equal(_ entry: Int, _ bytes: UnsafePointer<UInt8>, _ count: Int) -> Bool {
            arena.withUnsafeBufferPointer { memcmp($0.baseAddress! + starts[entry], bytes, count) == 0 }
        }

        /// Adds a string known to be absent and returns its number.
        mutating func insert(_ bytes: UnsafePointer<UInt8>, _ count: Int, hash: UInt64) -> Int32 {
            if 2 * (self.count + 1) > slots.count { rehash(max(1024, slots.count * 2)) }
            let entry = Int32(self.count)
            hashes.append(hash)
            starts.append(arena.count)
            lengths.append(Int32(count))
            arena.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
            place(entry)
            return entry
        }

        /// The bytes of string number `entry`.
        func bytes(of entry: Int) -> ArraySlice<UInt8> {
            arena[starts[entry]..<(starts[entry] + Int(lengths[entry]))]
        }

        mutating func removeAll() {
            for i in slots.indices { slots[i] = -1 }
            hashes.removeAll(keepingCapacity: true)
            starts.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            arena.removeAll(keepingCapacity: true)
        }

        private mutating func place(_ entry: Int32) {
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: hashes[Int(entry)]) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = entry
        }

        private mutating func rehash(_ capacity: Int) {
            slots = [Int32](repeating: -1, count: capacity)
            for entry in 0..<count { place(Int32(entry)) }
        }
    }
}
