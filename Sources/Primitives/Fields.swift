/// One field of a struct that files write with every key optional: the key it is written
/// under and the property it sets. Swift's synthesized decoding requires every key; a list
/// of fields lets a file give only the keys it changes, each absent one keeping the
/// struct's default. Here, below the IR and the trainer, so that genes and the recipe (and
/// the config's sections above them) read the same way.
public struct Field<Root, Keys: CodingKey> {
    let read: (inout Root, KeyedDecodingContainer<Keys>) throws -> Void

    init<Value>(_ key: Keys, _ property: WritableKeyPath<Root, Value>,
                _ decode: @escaping (KeyedDecodingContainer<Keys>, Keys) throws -> Value?) {
        read = { root, mapping in
            if let value = try decode(mapping, key) { root[keyPath: property] = value }
        }
    }

    public init<Value: Decodable>(_ key: Keys, _ property: WritableKeyPath<Root, Value>) {
        self.init(key, property) { try $0.decodeIfPresent(Value.self, forKey: $1) }
    }

    /// An integer also reads from a whole number written with a point or an exponent
    /// (`steps: 1e4`, `layers: 4.0`), as configs always could.
    public init<Value: FixedWidthInteger & Decodable>(_ key: Keys, _ property: WritableKeyPath<Root, Value>) {
        self.init(key, property) { try $0.whole(Value.self, forKey: $1) }
    }

    public init<Value: FixedWidthInteger & Decodable>(_ key: Keys, _ property: WritableKeyPath<Root, Value?>) {
        self.init(key, property) { try $0.whole(Value.self, forKey: $1).map { Optional($0) } }
    }
}

extension Decoder {
    /// Sets each of `fields` present in this mapping on `root`; the others keep their values.
    public func read<Root, Keys>(_ fields: [Field<Root, Keys>], into root: inout Root) throws {
        let mapping = try container(keyedBy: Keys.self)
        for field in fields { try field.read(&root, mapping) }
    }
}

extension KeyedDecodingContainer {
    /// The integer at `key`, if present, written as an integer or as a whole number.
    func whole<T: FixedWidthInteger & Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        do {
            return try decodeIfPresent(T.self, forKey: key)
        } catch {
            guard let x = try? decodeIfPresent(Double.self, forKey: key), let n = T(exactly: x) else { throw error }
            return n
        }
    }
}
