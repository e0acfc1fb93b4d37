/// Where Gemma 3's parts sit in a checkpoint's tensor names — and so in module paths, which peft writes
/// under `base_model.model.` — for the layouts we read: newer transformers (`model.language_model.`,
/// `model.vision_tower.`), Google's release (`language_model.model.`, `vision_tower.vision_model.`) and
/// text-only exports (`model.`). The one table the loader, the vision encoder and adapter loading share.
public enum Gemma3CheckpointLayout {
    /// A text decoder's prefix and the untied output layer's name in one layout.
    public typealias TextLayout = (prefix: String, lmHead: String)
    /// Newer transformers' Gemma3ForConditionalGeneration.
    public static let transformers: TextLayout = ("model.language_model.", "lm_head.weight")
    /// Google's release, which transformers 5.24's `save_pretrained` also writes for the vision-language model
    /// (the layout full training saves in).
    public static let release: TextLayout = ("language_model.model.", "language_model.lm_head.weight")
    /// A text-only export (Gemma3ForCausalLM).
    public static let textOnly: TextLayout = ("model.", "lm_head.weight")
    /// The text layouts in the order they are tried ("model." last: it is also the start of the multimodal names).
    public static let text: [TextLayout] = [transformers, release, textOnly]
    /// SigLIP tower prefixes, longer before shorter so that a prefix match picks the whole prefix.
    public static let visionTower = ["vision_tower.vision_model.", "model.vision_tower.vision_model.", "vision_tower.", "model.vision_tower."]
    /// Multimodal projector prefixes.
    public static let projector = ["multi_modal_projector.", "model.multi_modal_projector."]

    /// The canonical module path ("language_model.layers.0.self_attn.q_proj", "vision_tower.encoder.…") of a
    /// module path in any of the layouts; nil when it belongs to neither the text decoder nor the tower.
    /// The tower is tried first, since a text-only path ("model.layers.…") shares the "model." start.
    public static func canonicalModule(_ path: String) -> String? {
        if let p = visionTower.first(where: { path.hasPrefix($0) }) { return "vision_tower." + path.dropFirst(p.count) }
        if let t = text.first(where: { path.hasPrefix($0.prefix) }) { return "language_model." + path.dropFirst(t.prefix.count) }
        return nil
    }
}
