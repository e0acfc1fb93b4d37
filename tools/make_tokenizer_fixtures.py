#!/usr/bin/env python3
"""Writes the tokenizer fixtures under Tests/Fixtures/tokenizer/ (run by hand; tests never need Python).

    python3 tools/make_tokenizer_fixtures.py [--gguf PATH]

Reference: the Gemma 3 tokenizer.json in ../shared/reference/gemma3-tokenizer.json.xz, run through
Hugging Face `tokenizers` (ids, decoding) and `transformers` (chat template). Outputs:

- corpus.json: tricky strings with the ids `tokenizers` gives (add_special_tokens=True, so with <bos>)
  and both decodings; hand-picked id lists and their decodings; chat prompts rendered by
  `apply_chat_template` with the Gemma 3 chat template, with their ids.
- gguf_vocabulary.json: how the Gemma 3 270M GGUF's tokenizer metadata (tokens, scores, token types)
  follows from the tokenizer.json, compactly, so a Swift test can rebuild the GGUF arrays without the
  GGUF. Written only when the GGUF is given (--gguf or $DSA_GEMMA3_270M_GGUF); the script checks that
  the description reproduces the GGUF arrays exactly, and that transformers' merge rule (merges ranked
  by merged-piece position, longer left part first) reproduces the tokenizer.json merges.
"""

import argparse
import json
import lzma
import os
import random
import sys
import unicodedata

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "..", "shared", "reference", "gemma3-tokenizer.json.xz")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer")

# The chat template of the Gemma 3 instruction models (tokenizer_config.json "chat_template"), used
# here only to check what GemmaChatFormat must produce.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)


def long_paragraph():
    """About 5000 characters of angiography prose, deterministic."""
    sentences = [
        "Digital subtraction angiography (DSA) of the left internal carotid artery was performed via a 5F catheter introduced through the right common femoral artery.",
        "Mask images were acquired before contrast injection and subtracted from the fill phase, frame by frame, at 3 frames per second.",
        "There is a 70% stenosis at the origin of the internal carotid artery, measured by NASCET criteria, with delayed filling of the distal segments.",
        "No aneurysm, arteriovenous malformation, or dural fistula is seen; the venous phase is unremarkable.",
        "The middle cerebral artery (M1) is patent, but an abrupt cut-off of a posterior M2 branch suggests embolic occlusion (TICI 2a after the first pass).",
        "Heparin 5,000 IU was given IV; activated clotting time rose from 132 s to 268 s.",
        "Iodixanol 320 mgI/mL, total 85 mL; fluoroscopy time 14 min 32 s; dose-area product 48.7 Gy·cm².",
        "Impression: significant stenosis — recommend carotid endarterectomy or stenting after multidisciplinary review.",
    ]
    out, i = [], 0
    while sum(len(s) + 1 for s in out) < 5000:
        out.append(sentences[i % len(sentences)])
        if i % 5 == 4:
            out.append("\n\n")
        i += 1
    return " ".join(out)


def random_unicode(seed, length):
    """Characters drawn from many scripts and classes (combining marks, spaces, controls, emoji…)."""
    rng = random.Random(seed)
    ranges = [
        (0x20, 0x7E), (0x20, 0x20), (0x0A, 0x0A), (0x09, 0x09), (0x00, 0x1F), (0xA0, 0x17F), (0x300, 0x36F),
        (0x391, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA), (0x620, 0x64A), (0x900, 0x97F), (0x980, 0x9FF),
        (0xE01, 0xE5B), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x22FF), (0x3040, 0x30FF),
        (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xFB00, 0xFFFD), (0x1F300, 0x1FAFF),
        (0x1D400, 0x1D7FF), (0x20000, 0x2A6DF), (0xE0000, 0xE007F), (0xF0000, 0xF0100), (0x10FFF0, 0x10FFFF),
    ]
    chars = []
    while len(chars) < length:
        lo, hi = rng.choice(ranges)
        cp = rng.randint(lo, hi)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        chars.append(chr(cp))
    return "".join(chars)


def corpus():
    """(name, text) pairs."""
    cases = [
        ("added token options", "Say Hello world, <start_of_turn>  padded  <end_of_turn>x<end_of_turn> medical premedical medical."),
        ("empty", ""),
        ("plain english", "The quick brown fox jumps over the lazy dog."),
        ("single word", "Hello"),
        ("single space", " "),
        ("leading space", " leading space"),
        ("leading spaces", "   three leading spaces"),
        ("trailing spaces", "trailing spaces   "),
        ("multiple inner spaces", "a  b   c    d     e"),
        ("only spaces 40", " " * 40),
        ("tabs", "\tindented\twith\ttabs\t\t\tand more"),
        ("tabs and spaces", " \t \t  mixed\t  whitespace \t"),
        ("newline", "line one\nline two"),
        ("runs of newlines", "a\n\nb\n\n\nc\n\n\n\n\nd"),
        ("40 newlines", "x" + "\n" * 40 + "y"),
        ("crlf", "windows\r\nline\r\nendings\r\n"),
        ("newline then spaces", "para\n   indented\n\t\ttabbed"),
        ("digits", "0 1 12 123 1234 12345 123456 1234567"),
        ("long number", "3141592653589793238462643383279502884197169399375105820974944592307816406286"),
        ("decimals and units", "Pressure 120/80 mmHg, 37.5 °C, 1e-6 m, -42, +7, 3.14159, 1,234,567.89"),
        ("punctuation", "Hello, world! How's it going? (Fine.) [Yes] {No} <maybe> \"quoted\" 'single' — dash – en…"),
        ("ascii symbols", "!@#$%^&*()_+-=[]{}|;':\",./<>?`~\\"),
        ("accents nfc", unicodedata.normalize("NFC", "café naïve résumé São Paulo Ångström")),
        ("accents nfd", unicodedata.normalize("NFD", "café naïve résumé São Paulo Ångström")),
        ("german", "Größere Äpfel schmecken süß. Straße, Fußgängerübergänge und Bärenstärke."),
        ("french", "L'œuvre d'art était très appréciée à l'exposition où les élèves étaient nombreux."),
        ("spanish", "¿Dónde está el niño? ¡Mañana será otro día!"),
        ("greek", "Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί."),
        ("russian", "Съешь же ещё этих мягких французских булок, да выпей чаю."),
        ("chinese", "我们在医院进行了冠状动脉造影检查，结果显示左前降支狭窄。"),
        ("japanese", "日本語のテキスト：ひらがな、カタカナ、漢字を含みます。東京は晴れです。"),
        ("korean", "안녕하세요. 혈관 조영술 결과를 알려드리겠습니다."),
        ("arabic", "مرحبا بالعالم. تصوير الأوعية الدموية يظهر انسدادا في الشريان."),
        ("hebrew", "שלום עולם, זהו מבחן."),
        ("hindi", "नमस्ते दुनिया। एंजियोग्राफी से धमनी में रुकावट का पता चला।"),
        ("bengali nfc nfd", "বাংলা ভাষা " + unicodedata.normalize("NFD", "য়") + " " + unicodedata.normalize("NFC", "য়")),
        ("thai", "สวัสดีครับ ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ"),
        ("emoji", "I love 🍕 and 🎉! 😀😃😄"),
        ("emoji zwj family", "Family: 👨‍👩‍👧‍👦 and 👩‍❤️‍👨 and 🧑‍⚕️"),
        ("emoji flags", "Flags: 🇩🇪 🇫🇷 🇯🇵 🇺🇸 🏳️‍🌈 🏴‍☠️"),
        ("emoji skin tones", "Waves: 👋🏻 👋🏼 👋🏽 👋🏾 👋🏿"),
        ("private use", "private \ue000\ue001\uf8ff use"),
        ("unassigned and noncharacters", "unassigned \u0378\u0379 \U0010ffff \U000effff \ufdd0 end"),
        ("supplementary planes", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𠀀𠀁 𓀀𓀁"),
        ("control characters", "nul\x00bell\x07esc\x1b[31mred\x1b[0m del\x7f"),
        ("zero width and bom", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060wj"),
        ("nbsp and unicode spaces", "non\u00a0breaking\u2003em\u3000ideographic\u202fnarrow"),
        ("line separators", "line\u2028separator\u2029paragraph\x85nel"),
        ("replacement char", "bad \ufffd char"),
        ("metaspace literal", "literal ▁ metaspace ▁▁ chars"),
        ("byte token literal", "<0x41><0xFF> not bytes"),
        ("special start_of_turn", "<start_of_turn>user\nHi<end_of_turn>"),
        ("special eos inside", "before<eos>after"),
        ("special adjacent", "<eos><eos><bos>x<pad>"),
        ("image tokens", "Look:<start_of_image><image_soft_token><image_soft_token><end_of_image>done"),
        ("image soft token glued", "abc<image_soft_token>def"),
        ("partial special", "<start_of_turn <end_of_turn> <start_of_tur"),
        ("unused and mask", "<unused0> <unused6241> <mask> [multimodal]"),
        ("html tags added", "<table><tr><td>cell</td></tr></table> <h1>Title</h1>"),
        ("special with spaces", "  <start_of_turn>  model  \n"),
        ("chat prompt", "<start_of_turn>user\nYou are a careful radiologist.\n\n<start_of_image>Is the left anterior descending artery occluded? Answer yes or no.<end_of_turn>\n<start_of_turn>model\n"),
        ("medical", "Coronary angiography demonstrated a 90% stenosis of the proximal LAD (TIMI 2 flow) and a chronic total occlusion of the RCA with right-to-left collaterals (Rentrop grade 3)."),
        ("medical abbreviations", "Pt. w/ HTN, DM2, hx of MI (2019); s/p PCI→LAD. ECG: STEMI. Tx: ASA 325 mg PO, heparin 60 U/kg IV."),
        ("python code", "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])\n"),
        ("swift code", "struct Point { var x: Double; var y: Double }\nlet p = Point(x: 1.5, y: -2)\n// comment\nfor i in 0..<10 where i % 2 == 0 { print(\"\\(i)\") }"),
        ("json text", "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\\n\"}}"),
        ("url and email", "Visit https://example.com/path?q=1&r=2#frag or mail someone@example.org."),
        ("repeated chars", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbb ........ -------- ========"),
        ("mixed scripts", "Angio血管造影 Ангиография एंजियोग्राफी 혈관조영술 تصوير"),
        ("math", "∀x∈ℝ: x² ≥ 0, ∑ᵢ aᵢ = ∫₀^∞ e^{-t} dt ≈ 1 ± ε"),
        ("long paragraph", long_paragraph()),
        ("random unicode 1", random_unicode(1, 400)),
        ("random unicode 2", random_unicode(2, 800)),
        ("random unicode 3", random_unicode(3, 1500)),
    ]
    return cases


def decode_cases(tk):
    """Id lists that encoding would not produce: partial UTF-8 bytes, out-of-range ids, specials."""
    byte = lambda b: tk.token_to_id("<0x%02X>" % b)
    return [
        ("lone continuation bytes", [2, byte(0x82), byte(0xAC), tk.token_to_id("Hello")]),
        ("euro sign as bytes", [byte(0xE2), byte(0x82), byte(0xAC)]),
        ("truncated euro sign", [byte(0xE2), byte(0x82), tk.token_to_id("▁end")]),
        ("out of range id", [2, 300000, tk.token_to_id("Hello"), -0 + 262145]),
        ("specials only", [0, 1, 2, 3, 105, 106, 255999, 256000, 262144]),
        ("metaspace pieces", [tk.token_to_id("▁▁"), tk.token_to_id("▁"), tk.token_to_id("Hello")]),
        ("newline and tab tokens", [107, 108, 255968, 255969]),
    ]


def chat_cases():
    return [
        ("system and text", "You are an expert interventional radiologist.", "Is there an occlusion in this angiogram?", 0),
        ("no system", None, "Hello there", 0),
        ("text is trimmed", "Keep my trailing spaces  ", "  \n padded question \t\n", 0),
        ("one image", "Answer with yes or no.", "Is the vessel blocked?", 1),
        ("two images no system", None, "Compare these runs.", 2),
        ("unicode text", None, "Größe des Aneurysmas: 7 mm — 血管", 0),
    ]


def section(text, key, next_key):
    """The exact text of a top-level member of the pretty-printed tokenizer.json, up to the next one."""
    start = text.index('\n  "%s": ' % key) + 1
    end = text.index('\n  "%s": ' % next_key) + 1
    return text[start:end]


def member(key, value):
    return '  "%s": %s,\n' % (key, json.dumps(value, ensure_ascii=False))


def added_token_entry(token_id, content, **flags):
    fields = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
    fields.update(flags)
    body = ",\n".join(['      "id": %d' % token_id, '      "content": %s' % json.dumps(content, ensure_ascii=False)]
                      + ['      "%s": %s' % (k, json.dumps(v)) for k, v in fields.items()])
    return "    {\n" + body + "\n    }"


def variants(text):
    """Other spellings of the same vocabulary: [(name, [(old, new), ...])] of exact text substitutions
    that the Swift tests apply to the same bytes."""
    replace_spaces = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}
    decoder_tail = [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]
    front = section(text, "normalizer", "post_processor")
    decoder = section(text, "decoder", "model")
    post = section(text, "post_processor", "decoder")
    last_added = added_token_entry(262144, "<image_soft_token>") + "\n  ],"
    assert text.count(last_added) == 1
    return [
        ("replace normalizer, no pre-tokenizer", [
            (front, member("normalizer", replace_spaces) + member("pre_tokenizer", None)),
        ]),
        ("prepend and replace normalizer, strip decoder", [
            (front, member("normalizer", {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, replace_spaces]})
                    + member("pre_tokenizer", None)),
            (decoder, member("decoder", {"type": "Sequence", "decoders": decoder_tail + [{"type": "Strip", "content": " ", "start": 1, "stop": 0}]})),
        ]),
        ("metaspace first, no split", [
            (front, member("normalizer", None)
                    + member("pre_tokenizer", {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False})),
            (decoder, member("decoder", {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False})),
        ]),
        ("metaspace always, split", [
            (front, member("normalizer", None)
                    + member("pre_tokenizer", {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True})),
            (decoder, member("decoder", {"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}, {"type": "ByteFallback"}, {"type": "Fuse"}]})),
        ]),
        ("added token options and eos suffix", [
            (added_token_entry(105, "<start_of_turn>"), added_token_entry(105, "<start_of_turn>", lstrip=True, rstrip=True)),
            (added_token_entry(106, "<end_of_turn>"), added_token_entry(106, "<end_of_turn>", single_word=True)),
            (last_added, added_token_entry(262144, "<image_soft_token>") + ",\n"
                         + added_token_entry(262145, "Hello world", normalized=True, special=False) + ",\n"
                         + added_token_entry(262146, "medical", single_word=True, special=False) + "\n  ],"),
            (post, member("post_processor", {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]},
                                   "<eos>": {"id": "<eos>", "ids": [1], "tokens": ["<eos>"]}}})),
        ]),
    ]


def substituted(text, substitutions):
    for old, new in substitutions:
        assert text.count(old) == 1, old[:80]
        text = text.replace(old, new)
    return text


def render_chat(tk, system, text, images):
    from transformers import PreTrainedTokenizerFast

    wrapped = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>")
    messages = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    if images:
        content = [{"type": "image"} for _ in range(images)] + [{"type": "text", "text": text}]
    else:
        content = text
    messages.append({"role": "user", "content": content})
    rendered = wrapped.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                           chat_template=GEMMA3_CHAT_TEMPLATE)
    assert rendered.startswith("<bos>"), rendered
    return rendered


def gguf_vocabulary(tk_json, gguf_path):
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(gguf_path)
    field = lambda k: reader.fields[k].contents()
    tokens = field("tokenizer.ggml.tokens")
    scores = np.array(field("tokenizer.ggml.scores"), dtype=np.float32)
    types = np.array(field("tokenizer.ggml.token_type"), dtype=np.int32)
    vocab = tk_json["model"]["vocab"]
    by_id = {i: t for t, i in vocab.items()}
    n = len(tokens)

    space_spelled = [i for i in range(n) if tokens[i] != by_id[i]]
    for i in space_spelled:
        assert by_id[i] == "\u2581" * len(tokens[i]) and set(tokens[i]) == {" "}, (i, tokens[i], by_id[i])

    def runs(values):
        out = []
        for i, v in enumerate(values):
            if out and out[-1][2] == v and out[-1][1] == i - 1:
                out[-1][1] = i
            else:
                out.append([i, i, v])
        return out

    type_runs = runs([int(t) for t in types])
    # Scores: constant per run, or (offset - id) for ordinary pieces.
    keys = [("offset_minus_id", float(scores[i]) + i) if types[i] == 1 else ("constant", float(scores[i])) for i in range(n)]
    score_runs = [[a, b, k[0], k[1]] for a, b, k in runs(keys)]

    # Check that the description rebuilds the GGUF arrays exactly.
    rebuilt_tokens = [(" " * len(by_id[i])) if i in set(space_spelled) else by_id[i] for i in range(n)]
    assert rebuilt_tokens == list(tokens)
    rebuilt_types = np.zeros(n, dtype=np.int32)
    for a, b, t in type_runs:
        rebuilt_types[a:b + 1] = t
    assert np.array_equal(rebuilt_types, types)
    rebuilt_scores = np.zeros(n, dtype=np.float32)
    for a, b, kind, value in score_runs:
        ids = np.arange(a, b + 1)
        rebuilt_scores[a:b + 1] = (value - ids) if kind == "offset_minus_id" else value
    assert np.array_equal(rebuilt_scores, scores)

    # transformers' rule for Gemma GGUFs reproduces the tokenizer.json merges exactly.
    respelled = ["\u2581" * len(t) if " " in t and not t.strip() else t for t in tokens]
    index = {t: i for i, t in enumerate(respelled)}
    merges = []
    for t in respelled:
        for k in range(len(t) - 1, 0, -1):
            if t[:k] in index and t[k:] in index:
                merges.append([t[:k], t[k:]])
    assert merges == tk_json["model"]["merges"], "merge rule does not reproduce tokenizer.json"

    meta = lambda k: field(k) if k in reader.fields else None
    return {
        "description": "GGUF tokenizer metadata of gemma-3-270m-q4_k_m.gguf as a function of the reference "
                       "tokenizer.json: tokens are the vocab pieces except space_spelled_ids (spaces instead of "
                       "U+2581, one per character); token types and scores come in runs [first, last, ...]; "
                       "score = value - id for offset_minus_id runs. Checked against the GGUF by "
                       "tools/make_tokenizer_fixtures.py.",
        "token_count": n,
        "bos_id": int(meta("tokenizer.ggml.bos_token_id")),
        "eos_id": int(meta("tokenizer.ggml.eos_token_id")),
        "unknown_id": int(meta("tokenizer.ggml.unknown_token_id")),
        "padding_id": int(meta("tokenizer.ggml.padding_token_id")),
        "add_space_prefix": bool(meta("tokenizer.ggml.add_space_prefix")),
        "space_spelled_ids": space_spelled,
        "token_type_runs": type_runs,
        "score_runs": score_runs,
        "merge_count": len(merges),
    }


def write_json(path, document):
    """Top-level members one per line group; list elements one compact JSON value per line."""
    def compact(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = []
    for key, value in document.items():
        if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
            items = ",\n".join("  " + compact(v) for v in value)
            lines.append(" %s: [\n%s\n ]" % (json.dumps(key), items))
        else:
            lines.append(" %s: %s" % (json.dumps(key), compact(value)))
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    json.load(open(path, encoding="utf-8"))  # well-formed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default=REFERENCE)
    parser.add_argument("--gguf", default=os.environ.get("DSA_GEMMA3_270M_GGUF"))
    args = parser.parse_args()

    text = lzma.open(args.reference).read().decode("utf-8")
    tk = Tokenizer.from_str(text)
    tk_json = json.loads(text)
    os.makedirs(OUT, exist_ok=True)

    entries = []
    for name, sample in corpus():
        ids = tk.encode(sample, add_special_tokens=True).ids
        entries.append({
            "name": name,
            "text": sample,
            "ids": ids,
            "decoded": tk.decode(ids, skip_special_tokens=False),
            "decoded_skipping_special": tk.decode(ids, skip_special_tokens=True),
        })
    decodes = []
    for name, ids in decode_cases(tk):
        assert all(i is not None for i in ids), name
        decodes.append({
            "name": name,
            "ids": ids,
            "decoded": tk.decode(ids, skip_special_tokens=False),
            "decoded_skipping_special": tk.decode(ids, skip_special_tokens=True),
        })
    chats = []
    for name, system, user, images in chat_cases():
        rendered = render_chat(tk, system, user, images)
        chats.append({
            "name": name,
            "system": system,
            "text": user,
            "image_count": images,
            "prompt_without_bos": rendered[len("<bos>"):],
            "ids": tk.encode(rendered, add_special_tokens=False).ids,
        })
    variant_results = []
    for name, substitutions in variants(text):
        vtk = Tokenizer.from_str(substituted(text, substitutions))
        results = []
        for entry in entries:
            ids = vtk.encode(entry["text"], add_special_tokens=True).ids
            results.append({"name": entry["name"], "ids": ids, "decoded": vtk.decode(ids, skip_special_tokens=False)})
        if name == "replace normalizer, no pre-tokenizer":
            assert all(r["ids"] == e["ids"] for r, e in zip(results, entries)), "the two Gemma forms should agree"
        variant_results.append({"name": name, "substitutions": [list(p) for p in substitutions], "encode": results})
    specials = {name: tk.token_to_id(name) for name in [
        "<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>", "<end_of_turn>",
        "<start_of_image>", "<end_of_image>", "<image_soft_token>", "\n", "\n\n", "\t", "▁▁", "<0x00>", "<0xFF>",
    ]}
    document = {
        "source": "gemma3-tokenizer.json (sha256 533f2498…4002), tokenizers " + __import__("tokenizers").__version__,
        "vocabulary_size": tk.get_vocab_size(with_added_tokens=True),
        "token_ids": specials,
        "encode": entries,
        "decode": decodes,
        "chat": chats,
        "variants": variant_results,
    }
    path = os.path.join(OUT, "corpus.json")
    write_json(path, document)
    print(f"wrote {path}: {len(entries)} encode, {len(decodes)} decode, {len(chats)} chat cases")

    if args.gguf and os.path.exists(args.gguf):
        layout = gguf_vocabulary(tk_json, args.gguf)
        path = os.path.join(OUT, "gguf_vocabulary.json")
        write_json(path, layout)
        print(f"wrote {path} (verified against {args.gguf})")
    else:
        print("no GGUF given (--gguf or $DSA_GEMMA3_270M_GGUF): gguf_vocabulary.json left as it is", file=sys.stderr)


if __name__ == "__main__":
    main()
