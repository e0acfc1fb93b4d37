/// Gemma 3 chat format for one user turn.
///
/// Matches the Gemma 3 chat template (`apply_chat_template` with `add_generation_prompt=True`): a system
/// message is merged into the first user turn followed by a blank line, the user text is trimmed of
/// surrounding whitespace (the template's `| trim`, Python's notion of whitespace), and image items
/// come before the text as `<start_of_image>`.
public enum GemmaChatFormat {
    /// `<bos>` is NOT included in the string (the caller prepends the id); returns
    /// "<start_of_turn>user\n{system}\n\n{text}<end_of_turn>\n<start_of_turn>model\n" (system part
    /// omitted when nil/empty).
    public static func userTurn(text: String, system: String?) -> String {
        userTurn(text: text, system: system, imageCount: 0)
    }

    /// As `userTurn(text:system:)`, with `imageCount` `<start_of_image>` markers before the text (the
    /// template's rendering of image items listed before the text item; the processor later expands
    /// each marker into the image's soft tokens).
    public static func userTurn(text: String, system: String?, imageCount: Int) -> String {
        var prompt = "<start_of_turn>user\n"
        if let system, !system.isEmpty { prompt += system + "\n\n" }
        prompt += String(repeating: "<start_of_image>", count: max(0, imageCount))
        prompt += trimmed(text)
        prompt += "<end_of_turn>\n<start_of_turn>model\n"
        return prompt
    }

    /// `text` without leading and trailing whitespace as Python's `str.strip()` defines it.
    static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !UnicodeClasses.isPythonWhitespace($0.value) }),
              let last = scalars.lastIndex(where: { !UnicodeClasses.isPythonWhitespace($0.value) }) else { return "" }
        return String(scalars[first...last])
    }
}
