import Foundation
import Support

/// `adapter_config.json` of a PEFT LoRA adapter: what it targets and how each module's update is scaled.
/// The defaults are peft's `LoraConfig` defaults (lora_alpha 8, no rsLoRA, fan_in_fan_out off, bias
/// "none"); `r` has to be stated, since an adapter's tensors are checked against it.
public struct AdapterConfig: Sendable, Decodable {
    public enum Targets: Sendable, Equatable {
        case names([String])
        case regex(String)
        case allLinear
    }

    public var rank: Int
    public var alpha: Double = 8
    public var useRSLoRA = false
    public var targets: Targets
    public var excluded: Targets?
    public var rankPattern: [String: Int] = [:]
    public var alphaPattern: [String: Double] = [:]
    public var layersToTransform: [Int]?
    public var layersPattern: [String]?
    public var fanInFanOut = false
    public var baseModel: String?
    /// The file the configuration was read from, for messages.
    public internal(set) var source = ""

    /// The keys of adapter_config.json.
    public enum CodingKeys: String, CodingKey {
        case peftType = "peft_type"
        case useDoRA = "use_dora"
        case modulesToSave = "modules_to_save"
        case bias
        case loraBias = "lora_bias"
        case targetParameters = "target_parameters"
        case useQALoRA = "use_qalora"
        case rank = "r"
        case alpha = "lora_alpha"
        case useRSLoRA = "use_rslora"
        case targetModules = "target_modules"
        case excludeModules = "exclude_modules"
        case rankPattern = "rank_pattern"
        case alphaPattern = "alpha_pattern"
        case layersToTransform = "layers_to_transform"
        case layersPattern = "layers_pattern"
        case fanInFanOut = "fan_in_fan_out"
        case baseModel = "base_model_name_or_path"
    }

    public init(url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw LoRAError.missingFile(url.path) }
        do {
            self = try JSONDecoder().decode(AdapterConfig.self, from: data)
        } catch let issue as ConfigIssue {
            switch issue.kind {
            case .invalid: throw LoRAError.invalidConfig(file: url.path, reason: issue.reason)
            case .unsupported: throw LoRAError.unsupported(file: url.path, feature: issue.reason)
            }
        } catch is DecodingError {
            throw LoRAError.invalidConfig(file: url.path, reason: "not a JSON object")
        }
        source = url.path
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func unsupported(_ feature: String) -> ConfigIssue { c.issue(feature, kind: .unsupported) }
        let type = c.lenient(String.self, .peftType) ?? "LORA"
        guard type.uppercased() == "LORA" else { throw unsupported("peft_type '\(type)' (only LORA)") }
        // Features that change the computation and that we do not implement: refuse, never ignore.
        if c.lenient(Bool.self, .useDoRA) == true { throw unsupported("DoRA (use_dora: true)") }
        if let m = try c.json(.modulesToSave)?.array, !m.isEmpty {
            throw unsupported("modules_to_save (\(m.map { $0.string ?? $0.description }.joined(separator: ", ")))")
        }
        if let b = c.lenient(String.self, .bias), b != "none" { throw unsupported("bias training (bias: \"\(b)\")") }
        if c.lenient(Bool.self, .loraBias) == true { throw unsupported("lora_bias") }
        if let tp = try c.json(.targetParameters)?.array, !tp.isEmpty { throw unsupported("target_parameters") }
        if c.lenient(Bool.self, .useQALoRA) == true { throw unsupported("QA-LoRA (use_qalora)") }
        guard let r = try c.json(.rank)?.number.map({ Int($0.rounded(.towardZero)) }), r > 0 else {
            throw c.issue("'r' must be a positive integer")
        }
        rank = r
        if let a = c.lenient(Double.self, .alpha) { alpha = a }
        if let rs = c.lenient(Bool.self, .useRSLoRA) { useRSLoRA = rs }
        func parseTargets(_ key: CodingKeys) throws -> Targets? {
            switch try c.json(key) {
            case nil, .null?: return nil
            case .string(let s)?: return s == "all-linear" ? .allLinear : .regex(s)
            case .array(let list)? where list.allSatisfy({ $0.string != nil }): return .names(list.compactMap(\.string))
            default: throw c.issue("'\(key.stringValue)' must be a list of names, a regex string or \"all-linear\"")
            }
        }
        guard let t = try parseTargets(.targetModules) else { throw c.issue("'target_modules' is missing") }
        targets = t
        excluded = try parseTargets(.excludeModules)
        for (k, v) in try c.json(.rankPattern)?.object ?? [:] {
            guard let n = v.number.map({ Int($0.rounded(.towardZero)) }), n > 0 else {
                throw c.issue("rank_pattern['\(k)'] must be a positive integer")
            }
            rankPattern[k] = n
        }
        for (k, v) in try c.json(.alphaPattern)?.object ?? [:] {
            guard let n = v.number else { throw c.issue("alpha_pattern['\(k)'] must be a number") }
            alphaPattern[k] = n
        }
        switch try c.json(.layersToTransform) {
        case .number(let n)?: layersToTransform = [Int(n.rounded(.towardZero))]
        case .array(let list)? where list.allSatisfy({ $0.number != nil }):
            layersToTransform = list.compactMap(\.number).map { Int($0.rounded(.towardZero)) }
        default: layersToTransform = nil
        }
        switch try c.json(.layersPattern) {
        case .string(let s)?: layersPattern = [s]
        case .array(let list)? where list.allSatisfy({ $0.string != nil }): layersPattern = list.compactMap(\.string)
        default: layersPattern = nil
        }
        // peft turns fan_in_fan_out off for nn.Linear layers (all of Gemma 3's), with a warning; so do we.
        if let f = c.lenient(Bool.self, .fanInFanOut) { fanInFanOut = f }
        baseModel = c.lenient(String.self, .baseModel)
    }

    /// peft's pattern lookup for rank/alpha patterns: a key matches a module whose path ends with it
    /// (as a regex, on a dot boundary).
    static func patternKey(_ keys: some Sequence<String>, module: String) -> String? {
        for k in keys.sorted() {
            if let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(k))$"),
               re.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil { return k }
        }
        return nil
    }

    /// Rank and scale of the update of `module` (the module path as peft names it).
    public func rankAndScale(module: String) -> (rank: Int, scale: Double) {
        let r = Self.patternKey(rankPattern.keys, module: module).flatMap { rankPattern[$0] } ?? rank
        let a = Self.patternKey(alphaPattern.keys, module: module).flatMap { alphaPattern[$0] } ?? alpha
        return (r, useRSLoRA ? a / Double(r).squareRoot() : a / Double(r))
    }

    static func matches(_ t: Targets, module: String) -> Bool {
        switch t {
        case .allLinear: return true
        case .names(let names):
            return names.contains { module == $0 || module.hasSuffix("." + $0) }
        case .regex(let pattern):
            guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { return false }
            return re.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil
        }
    }

    /// Whether peft would have wrapped `module` (its path as peft names it) given this configuration:
    /// exclusions first; a regex target must match the whole path; a list target matches a path equal to
    /// or ending in ".name", and only then do `layers_to_transform` apply (to the first numbered segment).
    public func targets(module: String) -> Bool {
        if let ex = excluded, Self.matches(ex, module: module) { return false }
        guard Self.matches(targets, module: module) else { return false }
        guard case .names(let names) = targets, !names.contains(module), let layers = layersToTransform, !layers.isEmpty else { return true }
        let pattern: String
        if let lp = layersPattern, !lp.isEmpty {
            pattern = "^(?:|.*?\\.)(?:" + lp.joined(separator: "|") + ")\\.(\\d+)\\."
        } else {
            pattern = "^.*?\\.[^.]*\\.(\\d+)\\."
        }
        guard let re = try? NSRegularExpression(pattern: pattern),
              let m = re.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)),
              let r = Range(m.range(at: 1), in: module), let idx = Int(module[r]) else { return false }
        return layers.contains(idx)
    }
}
