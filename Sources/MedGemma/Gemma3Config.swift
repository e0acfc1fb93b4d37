import Foundation
import Support

/// A Gemma 3 `config.json`, the one place its keys are read: `gemma3_text` (the decoder's keys at the top
/// level; transformers loads it as Gemma3ForCausalLM) or `gemma3` (`text_config`, `vision_config` and the
/// image-token bookkeeping; Gemma3ForConditionalGeneration).
public struct Gemma3Config: Sendable, Decodable {
    public var modelType: String
    public var text: Gemma3TextConfig
    /// The multimodal part of a `gemma3` config (nil for `gemma3_text`). It is checked against the vision
    /// weights only when a checkpoint carries a vision tower (`Gemma3VisionSettings.validate`): text-only
    /// exports of a gemma3 model keep the multimodal config but not the weights.
    public var vision: Gemma3VisionSettings?

    public enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case textConfig = "text_config"
        // Ids the outer config carries apply to generation as well.
        case bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id"
        case padTokenID = "pad_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = c.lenient(String.self, .modelType) ?? ""
        switch modelType {
        case "gemma3_text":
            text = try Gemma3TextConfig(from: decoder)
            vision = nil
        case "gemma3":
            var present: (Gemma3TextConfig.CodingKeys) -> Bool = { _ in false }
            if let nested = try? c.nestedContainer(keyedBy: Gemma3TextConfig.CodingKeys.self, forKey: .textConfig) {
                text = try Gemma3TextConfig(from: try c.superDecoder(forKey: .textConfig))
                present = { nested.contains($0) }
            } else {
                text = Gemma3TextConfig()
            }
            // The outer ids fill in those text_config leaves out (a null included).
            if !present(.bosTokenID), c.contains(.bosTokenID) { text.bosTokenID = try c.integer(.bosTokenID) }
            if !present(.padTokenID), c.contains(.padTokenID) { text.padTokenID = try c.integer(.padTokenID) }
            if !present(.eosTokenID), let ids = try Gemma3TextConfig.tokenIDs(c, .eosTokenID) { text.eosTokenIDs = ids }
            // A `gemma3` config loads as Gemma3ForConditionalGeneration (also through AutoModelForCausalLM),
            // whose forward computes lm_head(hidden) and never reads final_logit_softcapping.
            text.appliesFinalLogitSoftcapping = false
            vision = try Gemma3VisionSettings(from: decoder)
        default:
            throw UnsupportedModelType(found: modelType)
        }
    }

    struct UnsupportedModelType: Error {
        var found: String
    }

    /// Reads and checks `config.json`.
    public static func load(configURL url: URL) throws -> Gemma3Config {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ModelError.missingFile(url.path) }
        do {
            return try decoding(Gemma3Config.self, from: data, source: url.path)
        } catch let e as UnsupportedModelType {
            throw ModelError.unsupportedArchitecture(file: url.path, found: e.found.isEmpty ? "(no model_type)" : e.found)
        }
    }

    /// Decodes a configuration file, its refusals as `ModelError.invalidConfig` naming the file (and the
    /// section, e.g. "config.json (text_config)").
    static func decoding<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let issue as ConfigIssue {
            let file = issue.path.first.map { "\(source) (\($0))" } ?? source
            throw ModelError.invalidConfig(file: file, reason: issue.reason)
        } catch is DecodingError {
            throw ModelError.invalidConfig(file: source, reason: "not a JSON object")
        }
    }
}

/// `generation_config.json`: the ids that end generation (instruction models list <end_of_turn> there).
public struct Gemma3GenerationConfig: Sendable, Decodable {
    public var eosTokenIDs: [Int] = []

    public enum CodingKeys: String, CodingKey {
        case eosTokenID = "eos_token_id"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eosTokenIDs = try Gemma3TextConfig.tokenIDs(c, .eosTokenID) ?? []
    }

    /// The file in `directory`, or no stop ids when it has none.
    public static func load(directory: URL) throws -> Gemma3GenerationConfig? {
        let url = directory.appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return try Gemma3Config.decoding(Gemma3GenerationConfig.self, from: data, source: url.path)
    }
}
