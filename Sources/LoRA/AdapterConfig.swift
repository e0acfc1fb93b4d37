import Foundation

/// `adapter_config.json` of a PEFT LoRA adapter: what it targets and how each module's update is scaled.
public struct AdapterConfig: Sendable {
    public enum Targets: Sendable, Equatable {
        case names([String])
        case regex(String)
        case allLinear
    }

    public var rank: Int
    public var alpha: Double
    public var useRSLoRA: Bool
    public var targets: Targets
    public var excluded: Targets?
    public var rankPattern: [String: Int]
    public var alphaPattern: [String: Double]
    public var layersToTransform: [Int]?
    public var layersPattern: [String]?
    public var fanInFanOut: Bool
    public var baseModel: String?
    public let source: String

    public init(url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw LoRAError.missingFile(url.path) }
        guard let d = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw LoRAError.invalidConfig(file: url.path, reason: "not a JSON object")
        }
        try self.init(dictionary: d, source: url.path)
    }

    public init(dictionary d: [String: Any], source: String) throws {
        self.source = source
        let type = (d["peft_type"] as? String) ?? "LORA"
        guard type.uppercased() == "LORA" else { throw LoRAError.unsupported(file: source, feature: "peft_type '\(type)' (only LORA)") }
        // Features that change the computation and that we do not implement: refuse, never ignore.
        if (d["use_dora"] as? Bool) == true { throw LoRAError.unsupported(file: source, feature: "DoRA (use_dora: true)") }
        if let m = d["modules_to_save"] as? [Any], !m.isEmpty {
            throw LoRAError.unsupported(file: source, feature: "modules_to_save (\(m.map { "\($0)" }.joined(separator: ", ")))")
        }
        if let b = d["bias"] as? String, b != "none" { throw LoRAError.unsupported(file: source, feature: "bias training (bias: \"\(b)\")") }
        if (d["lora_bias"] as? Bool) == true { throw LoRAError.unsupported(file: source, feature: "lora_bias") }
        if let tp = d["target_parameters"] as? [Any], !tp.isEmpty { throw LoRAError.unsupported(file: source, feature: "target_parameters") }
        if (d["use_qalora"] as? Bool) == true { throw LoRAError.unsupported(file: source, feature: "QA-LoRA (use_qalora)") }
        guard let r = (d["r"] as? NSNumber)?.intValue, r > 0 else {
            throw LoRAError.invalidConfig(file: source, reason: "'r' must be a positive integer")
        }
        rank = r
        alpha = (d["lora_alpha"] as? NSNumber)?.doubleValue ?? 8
        useRSLoRA = (d["use_rslora"] as? Bool) ?? false
        func parseTargets(_ v: Any?, key: String) throws -> Targets? {
            switch v {
            case nil, is NSNull: return nil
            case let s as String: return s == "all-linear" ? .allLinear : .regex(s)
            case let list as [String]: return .names(list)
            default: throw LoRAError.invalidConfig(file: source, reason: "'\(key)' must be a list of names, a regex string or \"all-linear\"")
            }
        }
        guard let t = try parseTargets(d["target_modules"], key: "target_modules") else {
            throw LoRAError.invalidConfig(file: source, reason: "'target_modules' is missing")
        }
        targets = t
        excluded = try parseTargets(d["exclude_modules"], key: "exclude_modules")
        rankPattern = [:]
        for (k, v) in d["rank_pattern"] as? [String: Any] ?? [:] {
            guard let n = (v as? NSNumber)?.intValue, n > 0 else { throw LoRAError.invalidConfig(file: source, reason: "rank_pattern['\(k)'] must be a positive integer") }
            rankPattern[k] = n
        }
        alphaPattern = [:]
        for (k, v) in d["alpha_pattern"] as? [String: Any] ?? [:] {
            guard let n = (v as? NSNumber)?.doubleValue else { throw LoRAError.invalidConfig(file: source, reason: "alpha_pattern['\(k)'] must be a number") }
            alphaPattern[k] = n
        }
        switch d["layers_to_transform"] {
        case let n as NSNumber: layersToTransform = [n.intValue]
        case let list as [NSNumber]: layersToTransform = list.map(\.intValue)
        default: layersToTransform = nil
        }
        switch d["layers_pattern"] {
        case let s as String: layersPattern = [s]
        case let l as [String]: layersPattern = l
        default: layersPattern = nil
        }
        // peft turns fan_in_fan_out off for nn.Linear layers (all of Gemma 3's), with a warning; so do we.
        fanInFanOut = (d["fan_in_fan_out"] as? Bool) ?? false
        baseModel = d["base_model_name_or_path"] as? String
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
