/// One field of a struct that files write with every key optional: the key it is written
/// under and the property it sets. Swift's synthesized decoding requires every key; a list
/// of fields lets a file give only the keys it changes, each absent one keeping the
/// struct's default. Here, below the IR and the trainer, so that genes and the recipe (and
/// the config's sections above them) read the same way.
public struct Field<Root, Keys: CodingKey> {
    let read: (inout Root, KeyedDecodingContainer<Keys>) throws -> Void

    public init<Value: Decodable>(_ key: Keys, _ property: WritableKeyPath<Root, Value>) {
        read = { root, mapping in
            if let value = try mapping.decodeIfPresent(Value.self, forKey: key) { root[keyPath: property] = value }
        }
    }
}

extension Decoder {
    /// Sets each of `fields` present in this mapping on `root`; the others keep their values.
    public func read<Root, Keys>(_ fields: [Field<Root, Keys>], into root: inout Root) throws {
        let mapping = try container(keyedBy: Keys.self)
        for field in fields { try field.read(&root, mapping) }
    }
}
