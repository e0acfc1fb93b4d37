/// evaluation.json writes every key, with null where a value is undefined, so readers never have to tell
/// "absent" from "undefined".
extension KeyedEncodingContainer {
    mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
