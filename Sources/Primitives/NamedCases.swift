/// An enum a file names by its raw value (`precision: bfloat16`, `tokenizer: byte`). A value
/// it does not know is refused with the values it does, in the decoding error's description
/// ("'bf16' is not one of float32, bfloat16"), which the file readers print after the key.
public protocol NamedCases: RawRepresentable, CaseIterable, Decodable where RawValue == String {}

extension NamedCases {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.unknown(name))
        }
        self = value
    }

    /// "'x' is not one of a, b": the one wording of an unknown name.
    public static func unknown(_ name: String) -> String {
        "'\(name)' is not one of " + allCases.map(\.rawValue).joined(separator: ", ")
    }
}
