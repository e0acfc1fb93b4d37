/// Literal (non-regex) search over UTF-8 bytes, as `tokenizers` does with an escaped pattern.
enum ByteSearch {
    /// Start offsets of the non-overlapping occurrences of `pattern` in `text`, left to right.
    static func occurrences(of pattern: [UInt8], in text: UnsafeBufferPointer<UInt8>) -> [Int] {
        let m = pattern.count, n = text.count
        guard m > 0, n >= m else { return [] }
        var found: [Int] = []
        let first = pattern[0]
        var i = 0
        while i <= n - m {
            if text[i] == first {
                var k = 1
                while k < m && text[i + k] == pattern[k] { k += 1 }
                if k == m {
                    found.append(i)
                    i += m
                    continue
                }
            }
            i += 1
        }
        return found
    }

    /// `text` with every non-overlapping occurrence of `pattern` replaced by `replacement`.
    static func replacingAll(_ pattern: [UInt8], with replacement: [UInt8], in text: [UInt8]) -> [UInt8] {
        text.withUnsafeBufferPointer { buffer in
            let hits = occurrences(of: pattern, in: buffer)
            guard !hits.isEmpty else { return text }
            var out: [UInt8] = []
            out.reserveCapacity(text.count + hits.count * max(0, replacement.count - pattern.count))
            var last = 0
            for h in hits {
                out.append(contentsOf: buffer[last..<h])
                out.append(contentsOf: replacement)
                last = h + pattern.count
            }
            out.append(contentsOf: buffer[last..<buffer.count])
            return out
        }
    }
}
