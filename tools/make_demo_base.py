#!/usr/bin/env python3
"""The demo model's starting point: a small tokenizer and a randomly initialised, tiny
Gemma3ForConditionalGeneration that `dsa-triage train --full` trains on synthetic angiograms.

Writes OUT (default models/demo-base):
  tokenizer.json            byte-fallback BPE (Gemma 3's normalizer, pre-tokenizer, decoder and <bos>
                            template), trained with Hugging Face `tokenizers` on the triage task's text
                            and a short general-English text written for it; the Gemma 3 special tokens
                            by name at ids 0..9, the 256 byte pieces <0x00>..<0xFF> at 10..265
  tokenizer_config.json     special-token names, as the Gemma 3 processor reads them
  config.json               Gemma3Config: SigLIP 256x256, patch 16 (16x16 patches), 64 image tokens;
                            Gemma 3 text decoder with sliding and full layers, GQA, tied embeddings
  model.safetensors         float32, transformers' own initialisation under torch.manual_seed(SEED)
  preprocessor_config.json  Gemma3ImageProcessor at 256x256 (Hub layout)
  processor_config.json     image_seq_length 64
  chat_template.jinja       the Gemma 3 turn format
  README.md                 what this is (random weights, no meaning)
and, unless --no-fixture, Tests/Fixtures/demo-tokenizer/expected.json: `tokenizers`' ids and decoded
text for a list of strings (the triage chat turn with its image block among them), against which
Tests/TokenizerTests/DemoTokenizerTests.swift checks our GemmaTokenizer on OUT/tokenizer.json.

The output is deterministic: the same arguments give byte-identical files (checked by running twice).

Run by hand:  python3 tools/make_demo_base.py [--out models/demo-base] [--seed 20261130]
              [--check-parity IMAGE.png]   (prints transformers' logits for the triage prompt on that
                                            image to compare with `dsa-triage`; see docs/DEMO_MODEL.md)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "models", "demo-base")
DEFAULT_FIXTURE = os.path.join(REPO_ROOT, "Tests", "Fixtures", "demo-tokenizer", "expected.json")
PROFILE = os.path.join(REPO_ROOT, "profiles", "default-task-profile.json")
DEFAULT_SEED = 20261130

# Gemma 3's special tokens by name, at small ids (the real vocabulary has them at 0..4, 105, 106, 255999,
# 256000, 262144; code looks them up by name or reads the ids from config.json).
SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
                  "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
PAD, EOS, BOS, UNK = 0, 1, 2, 3
BOI, EOI, IMAGE_TOKEN = 7, 8, 9
BYTE_BASE = len(SPECIAL_TOKENS)          # <0x00> .. <0xFF> follow the special tokens
BPE_PIECES = 768                         # learned pieces (characters + merges) after the byte pieces

IMAGE_SIZE = 256
PATCH = 16
MM_TOKENS = 64                           # 8x8 after a 2x2 average pool of the 16x16 patch grid
SLIDING_WINDOW = 64                      # shorter than a triage prompt (~120 tokens): the sliding mask matters

# General English written for this tokenizer so that prompts other than the triage one still split into
# sensible pieces; the task's own text (profile, chat format) is added from the repository below.
GENERAL_ENGLISH = """
The quick brown fox jumps over the lazy dog. A small model can still read a short question and answer it.
This demonstration model was trained only on synthetic images, so its answers have no clinical meaning.
Please describe what you see in the image. What is shown here? Is the picture clear or blurred?
The patient was referred for a follow-up examination after the first study showed a possible problem.
Doctors and nurses work together in the hospital every day and every night of the week.
The report should list the findings, the impression and any recommendation for further imaging.
There is no evidence of bleeding. The vessels fill normally and the flow is symmetric on both sides.
An artery carries blood away from the heart; a vein returns it. Contrast makes the vessels visible.
The left and right sides are compared. The upper and lower parts are described separately.
One, two, three, four, five, six, seven, eight, nine, ten. The values were 0, 1, 2, 3, 4, 5, 6, 7, 8, 9.
Yes. No. Maybe. I am not sure. It is likely, but not certain. The answer is correct.
Summarize the result in one sentence. Give a short answer. Explain your reasoning step by step.
The brain, the neck and the heart were examined. The image quality was good and the study was complete.
When the time is right, the team will review the results and decide on the next steps for treatment.
Which of these images shows a normal study? Where is the abnormality located? How large is it?
The catheter was placed in the internal carotid artery and a series of frames was acquired over time.
The first frame is the mask; later frames show the contrast as it passes through the arteries and veins.
Motion between frames can leave artefacts near the edges of bones after subtraction.
Hello, how are you today? Thank you for your help. Good morning and good evening.
This is a test of the system. The output should be the same every time the program is run.
"""


def task_texts(profile: dict) -> list[str]:
    """The triage task's own text: system prompt, question, label answers and accepted words, chat turns."""
    texts = [profile["system"], profile["prompt"]]
    for label in profile["labels"]:
        texts.append(label["answer"])
        texts.extend(label.get("accepted", []))
    # The chat turn as our GemmaChatFormat writes it, with the special tokens cut out (they are added
    # tokens, never split by BPE), repeated so that its pieces are learned as whole words.
    turn = "user\n" + profile["system"] + "\n\n\n\n" + "\n\n" + profile["prompt"] + "\n" + "model\n"
    answers = [label["answer"] for label in profile["labels"]]
    texts += [turn] * 8 + [a + "\n" for a in answers] * 8
    return texts


def build_tokenizer(profile: dict):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from tokenizers import Regex

    # Train on words that start at a space (as SentencePiece does) with newline runs kept apart; the
    # final file uses Gemma 3's own pipeline (no pre-split, so BPE sees the whole segment). Merges never
    # join across a training word boundary, so both give the same pieces on ordinary text.
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    trainer_tok.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\u2581", behavior="merged_with_next"),
        pre_tokenizers.Split(Regex("\n+"), behavior="isolated"),
    ])
    corpus = task_texts(profile) + [line.strip() for line in GENERAL_ENGLISH.strip().splitlines()]
    corpus = corpus * 4  # the frequency floor below then keeps pairs seen in one sentence only
    alphabet = sorted(set("".join(corpus).replace(" ", "\u2581")))
    trainer = trainers.BpeTrainer(vocab_size=BPE_PIECES, min_frequency=2, special_tokens=[],
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet), show_progress=False)
    trainer_tok.train_from_iterator(corpus, trainer=trainer)
    trained = json.loads(trainer_tok.to_str())
    learned = sorted(trained["model"]["vocab"].items(), key=lambda kv: kv[1])

    vocab: dict[str, int] = {}
    for name in SPECIAL_TOKENS:
        vocab[name] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in learned:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = trained["model"]["merges"]
    merges = [m if isinstance(m, list) else m.split(" ") for m in merges]

    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[name], "content": name, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for name in SPECIAL_TOKENS
        ],
        # Gemma 3's pipeline, as in its tokenizer.json.
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                          "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    text = json.dumps(spec, ensure_ascii=False, indent=1) + "\n"
    tok = Tokenizer.from_str(text)  # checks that `tokenizers` accepts the file as written
    for i, name in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(name) == i, name
    return text, tok


def image_block(n: int) -> str:
    """The processor's expansion of one <start_of_image> marker."""
    return "\n\n<start_of_image>" + "<image_soft_token>" * n + "<end_of_image>\n\n"


def triage_prompt(profile: dict, n_image_tokens: int = MM_TOKENS) -> str:
    """The triage user turn (GemmaChatFormat with one image), image marker expanded, without <bos>."""
    return ("<start_of_turn>user\n" + profile["system"] + "\n\n" + image_block(n_image_tokens)
            + profile["prompt"].strip() + "<end_of_turn>\n<start_of_turn>model\n")


def tokenizer_fixture(tok, profile: dict) -> dict:
    strings = [
        ("triage-turn-with-image", triage_prompt(profile)),
        ("triage-turn-with-image-and-answer", triage_prompt(profile) + "blocked<end_of_turn>"),
        ("text-only-turn", "<start_of_turn>user\nDescribe this angiogram.<end_of_turn>\n<start_of_turn>model\n"),
        ("system", profile["system"]),
        ("prompt", profile["prompt"]),
        ("answers", " ".join(label["answer"] for label in profile["labels"])),
        ("accepted-words", ", ".join(w for label in profile["labels"] for w in label.get("accepted", []))),
        ("answer-patent", "patent"),
        ("answer-blocked", "blocked"),
        ("general-english", "The weather was cold, so we stayed inside and read a book about old ships."),
        ("unseen-words", "Zebras quietly juxtapose xylophones; Kafkaesque qwerty!"),
        ("non-ascii-byte-fallback", "Gefäßverschluss — occlusion ✓ 血管 😀 naïve café"),
        ("digits-and-punctuation", "P(blocked) = 0.35; threshold [0.2, 0.6] -> 95% CI (0.81–0.97)."),
        ("whitespace", "  two  spaces\tand a tab\n\n\nthree newlines \n trailing  "),
        ("special-tokens-inline", "<bos>text<eos><pad><unk><mask><end_of_image>x<start_of_image>"),
        ("special-look-alike", "<start_of_turn user> <end_of_turn <image_soft_token"),
        ("empty", ""),
        ("single-space", " "),
        ("newlines-only", "\n\n\n\n"),
        ("long-mixed", (profile["prompt"] + " ") * 3 + "Hello, how are you today? " * 2 + "ünïcödé " * 2),
    ]
    cases = []
    for name, text in strings:
        ids = tok.encode(text, add_special_tokens=True).ids
        cases.append({
            "name": name,
            "text": text,
            "ids": ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skipping_special": tok.decode(ids, skip_special_tokens=True),
        })
    return {
        "generator": "tools/make_demo_base.py",
        "vocabulary_size": tok.get_vocab_size(with_added_tokens=True),
        "special_token_ids": {name: i for i, name in enumerate(SPECIAL_TOKENS)},
        "cases": cases,
    }


def make_config(vocab_size: int):
    from transformers import Gemma3Config, Gemma3TextConfig, SiglipVisionConfig

    text = Gemma3TextConfig(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=512, num_hidden_layers=6,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, query_pre_attn_scalar=32,
        hidden_activation="gelu_pytorch_tanh", max_position_embeddings=2048, rms_norm_eps=1e-6,
        sliding_window=SLIDING_WINDOW,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2,
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
        },
        attention_bias=False, attention_dropout=0.0, final_logit_softcapping=None, attn_logit_softcapping=None,
        pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, tie_word_embeddings=True, initializer_range=0.02,
    )
    vision = SiglipVisionConfig(
        hidden_size=128, intermediate_size=512, num_hidden_layers=6, num_attention_heads=4, num_channels=3,
        image_size=IMAGE_SIZE, patch_size=PATCH, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
        attention_dropout=0.0, vision_use_head=False,
    )
    return text, vision, Gemma3Config


PREPROCESSOR = {
    "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    "image_processor_type": "Gemma3ImageProcessor", "image_seq_length": MM_TOKENS,
    "processor_class": "Gemma3Processor", "resample": 2, "rescale_factor": 1 / 255,
    "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
}

TOKENIZER_CONFIG = {
    "backend": "tokenizers", "tokenizer_class": "GemmaTokenizer", "processor_class": "Gemma3Processor",
    "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>",
    "boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>",
    "model_specific_special_tokens": {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                                      "image_token": "<image_soft_token>"},
    "model_max_length": 2048,
}

# The Gemma 3 turn format of the tiny VLM fixture (a system message folded into the first user turn).
from make_gemma3_vlm_fixtures import CHAT_TEMPLATE  # noqa: E402

README = """# demo-base: random starting point of the demo model

A tiny model of the Gemma 3 vision-language architecture (Gemma3ForConditionalGeneration: SigLIP
256x256 patch 16, 64 image tokens, 6 text layers of width 128) with its own 1k-token tokenizer, written by
`tools/make_demo_base.py --seed {seed}` with transformers' random initialisation (the projector matrix,
which transformers starts at zero, drawn from a seeded N(0, 1/128)). It knows nothing: it is the checkpoint
`dsa-triage train --full` starts from to make the demo model (models/demo), which is trained on synthetic
angiograms only and has no clinical meaning. See docs/DEMO_MODEL.md.

Every file is in the repository, the float32 random weights included (model.safetensors, {size_mb:.1f} MB,
sha256 {sha256}),
so that the README's training command runs on a fresh clone. The script writes them again, byte for byte:

    python3 tools/make_demo_base.py --out models/demo-base
"""


def build_model(vocab_size: int, seed: int):
    import torch
    from transformers import Gemma3ForConditionalGeneration

    text, vision, Gemma3Config = make_config(vocab_size)
    config = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=MM_TOKENS,
                          boi_token_index=BOI, eoi_token_index=EOI, image_token_index=IMAGE_TOKEN,
                          initializer_range=0.02, tie_word_embeddings=True)
    config.text_config.tie_word_embeddings = True
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config).eval()
    # transformers starts the projector matrix at zero, so the random base ignores the image and the vision
    # tower gets no gradient until the matrix has moved; training from scratch (`dsa-triage train --full`)
    # starts much better from a seeded N(0, 1/fan_in) projector.
    import numpy as np
    w = model.model.multi_modal_projector.mm_input_projection_weight
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        w.copy_(torch.from_numpy((rng.standard_normal(tuple(w.shape)) / np.sqrt(w.shape[0])).astype(np.float32)))
    return model


def write_all(out: str, seed: int, fixture: str | None) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    torch.set_num_threads(1)
    with open(PROFILE) as f:
        profile = json.load(f)
    tok_text, tok = build_tokenizer(profile)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok_text)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)

    model = build_model(vocab_size, seed)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        with open(os.path.join(tmp, "config.json")) as f:
            config = json.load(f)
        # save_pretrained's key names and tensors, rewritten in sorted order with fixed metadata so that
        # the file is byte-for-byte repeatable.
        state = load_file(os.path.join(tmp, "model.safetensors"))
    save_file({k: state[k].contiguous() for k in sorted(state)}, os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    for name, obj in [("preprocessor_config.json", PREPROCESSOR),
                      ("processor_config.json", {"image_seq_length": MM_TOKENS, "processor_class": "Gemma3Processor"}),
                      ("tokenizer_config.json", TOKENIZER_CONFIG)]:
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
    with open(os.path.join(out, "chat_template.jinja"), "w") as f:
        f.write(CHAT_TEMPLATE)
    with open(os.path.join(out, "model.safetensors"), "rb") as f:
        weights_sha256 = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README.format(seed=seed, sha256=weights_sha256,
                              size_mb=os.path.getsize(os.path.join(out, "model.safetensors")) / 1e6))

    # Reload through transformers to be sure the directory is a loadable model.
    from transformers import Gemma3ForConditionalGeneration
    again = Gemma3ForConditionalGeneration.from_pretrained(out).eval()
    for k, v in again.state_dict().items():
        ref = model.state_dict()[k]
        assert torch.equal(v, ref), k
    n_params = sum(p.numel() for p in model.parameters())
    size = os.path.getsize(os.path.join(out, "model.safetensors"))
    print(json.dumps({"out": out, "seed": seed, "vocab": vocab_size, "parameters": n_params,
                      "vision_parameters": sum(p.numel() for p in model.model.vision_tower.parameters()),
                      "safetensors_bytes": size,
                      "sha256": hashlib.sha256(open(os.path.join(out, "model.safetensors"), "rb").read()).hexdigest(),
                      "triage_prompt_tokens": len(tok.encode(triage_prompt(profile)).ids)}))

    if fixture:
        os.makedirs(os.path.dirname(fixture), exist_ok=True)
        with open(fixture, "w", encoding="utf-8") as f:
            json.dump(tokenizer_fixture(tok, profile), f, ensure_ascii=False, indent=1)
            f.write("\n")


def gray_png_to_pixels(path: str):
    """A gray PNG as the processor gives it at the model's size (the demo images are already 256x256)."""
    import numpy as np
    import torch
    from PIL import Image

    img = Image.open(path).convert("RGB")
    if img.size != (IMAGE_SIZE, IMAGE_SIZE):
        from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil
        proc = Gemma3ImageProcessorPil(**{k: v for k, v in PREPROCESSOR.items()
                                          if k not in ("image_processor_type", "processor_class", "image_seq_length")})
        return torch.tensor(np.asarray(proc(images=[img], return_tensors="np")["pixel_values"]))
    a = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return torch.tensor((a - 0.5) / 0.5).unsqueeze(0)


def check_parity(model_dir: str, image: str, swift_logits: str | None) -> None:
    """transformers' log-probabilities of the two label answers after the triage prompt, for comparison;
    with `swift_logits` (`dsa-triage generate --dump-logits` on the same prompt and image), the largest
    difference of the last prompt position's logits."""
    import torch
    from tokenizers import Tokenizer
    from transformers import Gemma3ForConditionalGeneration

    torch.set_num_threads(1)
    with open(PROFILE) as f:
        profile = json.load(f)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    model = Gemma3ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    n = model.config.mm_tokens_per_image
    prompt = tok.encode(triage_prompt(profile, n)).ids
    pixels = gray_png_to_pixels(image)
    eot = tok.token_to_id("<end_of_turn>")
    result = {"prompt_tokens": len(prompt), "labels": {}}
    with torch.no_grad():
        for label in profile["labels"]:
            answer = tok.encode(label["answer"], add_special_tokens=False).ids + [eot]
            ids = torch.tensor([prompt + answer])
            tt = (ids == IMAGE_TOKEN).long()
            logits = model(input_ids=ids, pixel_values=pixels, token_type_ids=tt).logits[0].double()
            lp = torch.log_softmax(logits, -1)
            steps = [float(lp[len(prompt) - 1 + j, t]) for j, t in enumerate(answer)]
            result["labels"][label["name"]] = {"ids": answer, "token_logprobs": steps, "logprob": sum(steps)}
            last = logits[len(prompt) - 1]
            result["last_prompt_logits_head"] = [float(x) for x in last[:8]]
    if swift_logits:
        import numpy as np
        ours = torch.tensor(np.load(swift_logits)).double()
        result["swift_logits_max_abs_diff"] = float((ours - last).abs().max())
        result["logits_max_abs"] = float(last.abs().max())
    lps = {k: v["logprob"] for k, v in result["labels"].items()}
    m = max(lps.values())
    z = sum(pow(2.718281828459045, v - m) for v in lps.values())
    result["p_blocked"] = pow(2.718281828459045, lps["blocked"] - m) / z
    print(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--fixture", default=DEFAULT_FIXTURE, help="tokenizer test fixture to write")
    ap.add_argument("--no-fixture", action="store_true")
    ap.add_argument("--check-parity", metavar="IMAGE", help="print transformers' label scores for IMAGE with the model in --out")
    ap.add_argument("--swift-logits", metavar="NPY", help="with --check-parity: last-position logits from dsa-triage generate --dump-logits")
    args = ap.parse_args()
    if args.check_parity:
        check_parity(args.out, args.check_parity, args.swift_logits)
        return
    write_all(args.out, args.seed, None if args.no_fixture else args.fixture)


if __name__ == "__main__":
    sys.exit(main())
