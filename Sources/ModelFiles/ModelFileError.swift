/// Everything that can go wrong reading or writing a model file. Every case names the file it is about,
/// and where it matters the tensor or key and what was expected instead.
public enum ModelFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No file or directory at `path`.
    case notFound(path: String)
    /// The model directory `path` holds no weights: no `model.safetensors`, no index, no `.safetensors` shard;
    /// `readme` is the folder's README.md when it has one.
    case noWeights(path: String, readme: String?)
    /// `path` exists but is not a regular file (a directory, a device...).
    case notRegularFile(path: String)
    /// The file has zero bytes.
    case emptyFile(path: String)
    /// The operating system refused to open, stat or map the file.
    case unreadable(path: String, reason: String)
    /// The file ends before `what` does: it needs `needed` bytes but has only `available`.
    case truncated(path: String, what: String, needed: Int, available: Int)
    /// A structural field holds something impossible: `what` is the field, `expected` what a valid file has there.
    case malformed(path: String, what: String, expected: String)
    /// The first bytes are not the GGUF magic.
    case notGGUF(path: String, magic: String)
    /// A format version this reader does not understand.
    case unsupportedVersion(path: String, format: String, version: Int, supported: [Int])
    /// A tensor stored in an element type this module cannot turn into a `Tensor`.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A GGUF tensor whose ggml type number is not known at all.
    case unknownGGMLType(path: String, tensor: String, type: Int)
    /// A tensor's declared layout is inconsistent (offsets, sizes, shape, block size).
    case invalidTensor(path: String, tensor: String, problem: String)
    /// Two tensors claim the same bytes.
    case overlappingTensors(path: String, tensor: String, other: String)
    /// A tensor name that the file (or checkpoint) does not hold.
    case tensorNotFound(path: String, tensor: String)
    /// A sharded checkpoint's index names a shard file that does not exist.
    case missingShard(index: String, shard: String)
    /// The index says `tensor` lives in `shard`, but the shard does not hold it.
    case tensorMissingFromShard(index: String, shard: String, tensor: String)
    /// A metadata key that is required but absent.
    case missingKey(path: String, key: String, expected: String)
    /// A metadata key (or duplicate name) whose value has the wrong type or an impossible value.
    case invalidValue(path: String, key: String, expected: String, found: String)
    /// Writing failed (open, write, rename, or a tensor that does not match what was declared).
    case writeFailed(path: String, reason: String)

    /// The file (or index) this error is about.
    public var path: String {
        switch self {
        case .notFound(let p), .noWeights(let p, _), .notRegularFile(let p), .emptyFile(let p): return p
        case .unreadable(let p, _), .truncated(let p, _, _, _), .malformed(let p, _, _), .notGGUF(let p, _): return p
        case .unsupportedVersion(let p, _, _, _), .unsupportedDType(let p, _, _), .unknownGGMLType(let p, _, _): return p
        case .invalidTensor(let p, _, _), .overlappingTensors(let p, _, _), .tensorNotFound(let p, _): return p
        case .missingShard(let p, _), .tensorMissingFromShard(let p, _, _): return p
        case .missingKey(let p, _, _), .invalidValue(let p, _, _, _), .writeFailed(let p, _): return p
        }
    }

    public var description: String {
        switch self {
        case .notFound(let p):
            return "\(p): no such file or directory"
        case .noWeights(let p, let readme):
            // Name the file that is missing and where weights come from; a folder written by a tool (e.g.
            // tools/make_demo_base.py) says how to make them in its README.
            let hint = readme.map { "; \($0) may say how to make them" } ?? ""
            return "\(p): no model weights: model.safetensors (or model.safetensors.index.json and its shards) is missing. "
                + "Copy the model's weight files into the folder (a Hugging Face model download has them)\(hint)"
        case .notRegularFile(let p):
            return "\(p): not a regular file"
        case .emptyFile(let p):
            return "\(p): file is empty"
        case .unreadable(let p, let reason):
            return "\(p): cannot read: \(reason)"
        case .truncated(let p, let what, let needed, let available):
            return "\(p): truncated: \(what) needs \(needed) bytes, the file has \(available)"
        case .malformed(let p, let what, let expected):
            return "\(p): malformed \(what): expected \(expected)"
        case .notGGUF(let p, let magic):
            return "\(p): not a GGUF file (magic \(magic), expected \"GGUF\")"
        case .unsupportedVersion(let p, let format, let version, let supported):
            return "\(p): unsupported \(format) version \(version) (supported: \(supported.map(String.init).joined(separator: ", ")))"
        case .unsupportedDType(let p, let tensor, let dtype):
            return "\(p): tensor '\(tensor)' has unsupported dtype \(dtype)"
        case .unknownGGMLType(let p, let tensor, let type):
            return "\(p): tensor '\(tensor)' has unknown ggml type \(type)"
        case .invalidTensor(let p, let tensor, let problem):
            return "\(p): tensor '\(tensor)': \(problem)"
        case .overlappingTensors(let p, let tensor, let other):
            return "\(p): tensors '\(tensor)' and '\(other)' overlap"
        case .tensorNotFound(let p, let tensor):
            return "\(p): no tensor named '\(tensor)'"
        case .missingShard(let index, let shard):
            return "\(index): shard '\(shard)' named in the index does not exist"
        case .tensorMissingFromShard(let index, let shard, let tensor):
            return "\(index): tensor '\(tensor)' is mapped to shard '\(shard)', which does not contain it"
        case .missingKey(let p, let key, let expected):
            return "\(p): missing key '\(key)' (expected \(expected))"
        case .invalidValue(let p, let key, let expected, let found):
            return "\(p): key '\(key)': expected \(expected), found \(found)"
        case .writeFailed(let p, let reason):
            return "\(p): write failed: \(reason)"
        }
    }
}
