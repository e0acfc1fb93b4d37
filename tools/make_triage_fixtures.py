#!/usr/bin/env python3
"""Reference fixtures for triage label scoring and greedy answers on the tiny Gemma 3 vision-language model.

Label scoring: for a chat prompt (user turn = [image, text], an optional system text folded into the user
turn as the Gemma 3 template does) ending after "<start_of_turn>model\\n", each label's answer is
    tokenizer(answer text, add_special_tokens=False) + [<end_of_turn> (106)]
and its score is the sum over the answer tokens of log_softmax(logits)[next id], teacher-forced over
prompt + answer. P(label) = softmax of the sums over the labels. Everything is computed by transformers
(and peft for the adapter cases) in float32 with eager attention, on the checkpoint
Tests/Fixtures/gemma3-vlm/model plus the reference Gemma 3 tokenizer (copied next to a temporary copy of
the model, as the tests do).

Writes Tests/Fixtures/triage/
  label_scoring.json        the cases (format in README.md)
  checks.json               how the numbers were cross-checked (second and third routes, margins, sizes)
  README.md                 what is where
  adapter/                  a peft LoRA adapter for the tiny model (r 8, alpha 16, dropout 0.1, all-linear,
                            seeded random lora_A AND lora_B so it changes the outputs), save_pretrained
  images/                   the test pictures (PNG): dsa-64.png 64x64 grayscale, dsa-120x90.png 120x90 RGB

Run by hand from the repository root:
    python3 tools/make_triage_fixtures.py [--out Tests/Fixtures/triage] [--tokenizer .cache/gemma3-tokenizer.json]
(re-executes itself with PYTHONHASHSEED=0: peft writes the resolved 'all-linear' target list from a set)
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import argparse
import copy
import json
import math
import shutil
import tempfile

import numpy as np
import torch
from PIL import Image

import peft
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoProcessor, Gemma3ForConditionalGeneration

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_MODEL_REL = os.path.join("Tests", "Fixtures", "gemma3-vlm", "model")  # peft records this path
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "triage")
DEFAULT_TOKENIZER = os.path.join(REPO_ROOT, ".cache", "gemma3-tokenizer.json")

END_OF_TURN = 106
GENERATION_PROMPT_TAIL = [105, 4368, 107]  # <start_of_turn> model \n
STOP_IDS = {1, 106}
IMAGE_TOKEN = 262144

LORA_SEED = 23
LORA_STD = 0.2
ADAPTER_CONFIG = dict(r=8, lora_alpha=16, lora_dropout=0.1, target_modules="all-linear", task_type="CAUSAL_LM")

SYSTEM = "You are an interventional radiologist triaging digital subtraction angiograms."
PROMPT_WORD = "Is the main vessel in this angiogram patent or blocked? Answer with one word."
PROMPT_SENTENCE = "Is the main vessel in this angiogram patent or blocked? Answer in one sentence."
VOCAB_WORD = [("patent", "patent"), ("blocked", "blocked")]
VOCAB_SENTENCE = [("patent", "The vessel is patent."), ("blocked", "The vessel is blocked.")]

IMAGES = {"dsa-64": "images/dsa-64.png", "dsa-120x90": "images/dsa-120x90.png"}

# (name, image, system?, adapter?, vocabulary)
SCORING_CASES = [
    ("gray64-word", "dsa-64", False, False, "word"),
    ("gray64-word-system", "dsa-64", True, False, "word"),
    ("gray64-word-adapter", "dsa-64", False, True, "word"),
    ("gray64-word-system-adapter", "dsa-64", True, True, "word"),
    ("gray64-sentence", "dsa-64", False, False, "sentence"),
    ("gray64-sentence-system-adapter", "dsa-64", True, True, "sentence"),
    ("rgb120x90-word-system", "dsa-120x90", True, False, "word"),
    ("rgb120x90-sentence-adapter", "dsa-120x90", False, True, "sentence"),
]
GENERATE_CASES = [
    ("gray64-generate-system", "dsa-64", True, False, "word"),
    ("rgb120x90-generate-adapter", "dsa-120x90", True, True, "sentence"),
]
MAX_NEW_TOKENS = 8


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

def dsa_like(width: int, height: int, seed: int) -> np.ndarray:
    """A subtracted-angiogram-like picture in [0, 255]: light background, a dark curved vessel with two
    branches (one cut off), a little noise. float64 [height, width]."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / width, y / height
    img = 200.0 + 15.0 * v + rng.normal(0.0, 4.0, (height, width))

    def vessel(cx, amp, freq, phase, width_px, depth, v0=0.0, v1=1.0):
        centre = (cx + amp * np.sin(freq * v + phase)) * width
        d = np.abs(x - centre)
        inside = (v >= v0) & (v <= v1)
        return np.where(inside, depth * np.exp(-(d / width_px) ** 2), 0.0)

    img -= vessel(0.45, 0.12, 5.0, 0.3, 0.05 * width, 140.0)
    img -= vessel(0.70, 0.08, 7.0, 1.1, 0.025 * width, 110.0, 0.15, 0.55)  # branch that stops (cut-off)
    img -= vessel(0.25, 0.05, 9.0, 2.0, 0.02 * width, 90.0, 0.4, 1.0)
    return np.clip(img, 0.0, 255.0)


def write_images(out: str) -> dict:
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    gray = dsa_like(64, 64, 1).round().astype(np.uint8)
    Image.fromarray(gray, mode="L").save(os.path.join(out, IMAGES["dsa-64"]))
    g2 = dsa_like(120, 90, 2)
    tint = np.stack([g2, g2 * 0.96 + 6.0, g2 * 0.9 + 12.0], axis=-1)  # mildly tinted: a real RGB file
    Image.fromarray(np.clip(tint, 0, 255).round().astype(np.uint8), mode="RGB").save(
        os.path.join(out, IMAGES["dsa-120x90"]))
    loaded = {}
    for key, rel in IMAGES.items():
        im = Image.open(os.path.join(out, rel))
        im.load()
        loaded[key] = im
    assert loaded["dsa-64"].mode == "L" and loaded["dsa-64"].size == (64, 64)
    assert loaded["dsa-120x90"].mode == "RGB" and loaded["dsa-120x90"].size == (120, 90)
    return loaded


# --------------------------------------------------------------------------------------------
# Model, adapter
# --------------------------------------------------------------------------------------------

def load_base() -> Gemma3ForConditionalGeneration:
    model, info = Gemma3ForConditionalGeneration.from_pretrained(
        BASE_MODEL_REL, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    assert not any(info.values()), info
    assert model.config._attn_implementation == "eager"
    return model.eval()


def make_adapter(adapter_dir: str) -> None:
    model = get_peft_model(load_base(), LoraConfig(**copy.deepcopy(ADAPTER_CONFIG))).eval()
    gen = torch.Generator().manual_seed(LORA_SEED)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if ".lora_A." in name or ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * LORA_STD)
    if os.path.isdir(adapter_dir):
        shutil.rmtree(adapter_dir)
    model.save_pretrained(adapter_dir)
    card = os.path.join(adapter_dir, "README.md")
    if os.path.exists(card):
        os.remove(card)  # peft's generated model card: not needed
    assert sorted(os.listdir(adapter_dir)) == ["adapter_config.json", "adapter_model.safetensors"], \
        os.listdir(adapter_dir)


def load_adapted(adapter_dir: str) -> PeftModel:
    model = PeftModel.from_pretrained(load_base(), adapter_dir).eval()
    n = sum(1 for _, m in model.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer))
    assert n > 0
    return model


# --------------------------------------------------------------------------------------------
# Prompts and scoring
# --------------------------------------------------------------------------------------------

def prompt_inputs(processor, image, system: str | None, text: str) -> dict:
    messages = []
    if system is not None:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]})
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                           return_dict=True, return_tensors="pt")
    ids = inputs["input_ids"][0].tolist()
    assert ids[0] == 2 and ids[1] != 2, ids[:3]  # one <bos>
    assert ids[-3:] == GENERATION_PROMPT_TAIL, ids[-3:]
    assert sum(1 for t in ids if t == IMAGE_TOKEN) == processor.image_seq_length
    assert int(inputs["attention_mask"].sum()) == len(ids)
    tt = inputs["token_type_ids"][0].tolist()
    assert tt == [1 if t == IMAGE_TOKEN else 0 for t in ids]
    return dict(inputs)


def answer_ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] + [END_OF_TURN]


def logprobs_at(logits_rows: torch.Tensor, targets: list[int]) -> list[float]:
    """log_softmax of float32 logits rows (computed in float64) at the target ids."""
    lp = torch.log_softmax(logits_rows.double(), dim=-1)
    return [float(lp[i, t]) for i, t in enumerate(targets)]


@torch.no_grad()
def score_single_forward(model, inputs: dict, answer: list[int]) -> list[float]:
    """Route 1 (the fixture): one forward over prompt + answer, no cache."""
    p = inputs["input_ids"].shape[1]
    ids = torch.cat([inputs["input_ids"], torch.tensor([answer])], dim=1)
    tt = torch.cat([inputs["token_type_ids"], torch.zeros((1, len(answer)), dtype=torch.long)], dim=1)
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=tt,
                pixel_values=inputs["pixel_values"], use_cache=False)
    rows = out.logits[0, p - 1:p - 1 + len(answer)]
    return logprobs_at(rows, answer)


@torch.no_grad()
def score_incremental(model, inputs: dict, answer: list[int]) -> list[float]:
    """Route 2: prefill the prompt with a cache, then feed the answer one token at a time."""
    out = model(**inputs, use_cache=True)
    cache = out.cache
    rows = [out.logits[0, -1]]
    for tok in answer[:-1]:
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache = out.cache
        rows.append(out.logits[0, -1])
    return logprobs_at(torch.stack(rows), answer)


@torch.no_grad()
def score_shared_prefill(model, inputs: dict, answers: list[list[int]]) -> list[list[float]]:
    """Route 3 (what the Swift scorer does): prefill the prompt once, then for each label a copy of the
    prompt cache and the whole answer (minus its last token) in one forward."""
    out = model(**inputs, use_cache=True)
    first = out.logits[0, -1]
    result = []
    for answer in answers:
        cache = copy.deepcopy(out.cache)
        rows = [first.unsqueeze(0)]
        if len(answer) > 1:
            o = model(input_ids=torch.tensor([answer[:-1]]), cache=cache, use_cache=True)
            rows.append(o.logits[0])
        result.append(logprobs_at(torch.cat(rows, dim=0), answer))
    return result


@torch.no_grad()
def greedy(model, inputs: dict, n: int) -> tuple[list[int], list[float]]:
    """Greedy decoding with the cache, no stop token (asserted absent). Returns ids and top-2 margins."""
    out = model(**inputs, use_cache=True)
    cache, row = out.cache, out.logits[0, -1]
    ids, margins = [], []
    for _ in range(n):
        top = torch.topk(row, 2)
        tok = int(top.indices[0])
        ids.append(tok)
        margins.append(float(top.values[0] - top.values[1]))
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache, row = out.cache, out.logits[0, -1]
    return ids, margins


def softmax(values: list[float]) -> list[float]:
    m = max(values)
    e = [math.exp(v - m) for v in values]
    s = sum(e)
    return [x / s for x in e]


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="the decompressed Gemma 3 tokenizer.json")
    args = ap.parse_args()
    if not os.path.exists(args.tokenizer):
        sys.exit(f"{args.tokenizer} not found: mkdir -p .cache && xz -dc "
                 "../shared/reference/gemma3-tokenizer.json.xz > .cache/gemma3-tokenizer.json")
    os.chdir(REPO_ROOT)  # peft records the base model path relative to the repository root
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)

    images = write_images(out_dir)
    adapter_dir = os.path.join(out_dir, "adapter")
    make_adapter(adapter_dir)

    work = tempfile.mkdtemp()
    try:
        repo = os.path.join(work, "model")
        shutil.copytree(BASE_MODEL_REL, repo)
        shutil.copy(args.tokenizer, os.path.join(repo, "tokenizer.json"))
        processor = AutoProcessor.from_pretrained(repo)
    finally:
        shutil.rmtree(work)
    tokenizer = processor.tokenizer
    models = {None: load_base(), "adapter": load_adapted(adapter_dir)}
    vocabularies = {"word": (PROMPT_WORD, VOCAB_WORD), "sentence": (PROMPT_SENTENCE, VOCAB_SENTENCE)}

    cases, checks = [], {"scoring": {}, "generate": {}}
    worst_routes = 0.0
    for name, image_key, with_system, with_adapter, vocab in SCORING_CASES:
        prompt, labels = vocabularies[vocab]
        system = SYSTEM if with_system else None
        adapter = "adapter" if with_adapter else None
        model = models[adapter]
        inputs = prompt_inputs(processor, images[image_key], system, prompt)
        answers = [answer_ids(tokenizer, text) for _, text in labels]
        shared = score_shared_prefill(model, inputs, [a for a in answers])
        entries, sums = [], []
        case_check = {"labels": {}}
        for (label, text), ids, via_shared in zip(labels, answers, shared):
            lps = score_single_forward(model, inputs, ids)
            via_incremental = score_incremental(model, inputs, ids)
            d_inc = max(abs(a - b) for a, b in zip(lps, via_incremental))
            d_shared = max(abs(a - b) for a, b in zip(lps, via_shared))
            assert d_inc < 1e-4 and d_shared < 1e-4, (name, label, d_inc, d_shared)
            worst_routes = max(worst_routes, d_inc, d_shared)
            assert all(math.isfinite(x) and x <= 0.0 for x in lps), lps
            total = math.fsum(lps)
            sums.append(total)
            entries.append({"label": label, "text": text, "ids": ids, "token_logprobs": lps, "logprob": total})
            case_check["labels"][label] = {
                "single_forward_vs_incremental_max_abs_diff": d_inc,
                "single_forward_vs_shared_prefill_max_abs_diff": d_shared,
            }
        probs = softmax(sums)
        p_labels = {label: p for (label, _), p in zip(labels, probs)}
        cases.append({
            "name": name,
            "image": IMAGES[image_key],
            "system": system,
            "prompt": prompt,
            "adapter": adapter,
            "prompt_ids": inputs["input_ids"][0].tolist(),
            "answers": entries,
            "p_labels": p_labels,
        })
        case_check["p_blocked"] = p_labels["blocked"]
        checks["scoring"][name] = case_check
        print(f"  {name}: prompt {len(cases[-1]['prompt_ids'])} tokens, logprobs "
              + ", ".join(f"{e['label']} {e['logprob']:.4f}" for e in entries) + f", P(blocked) {p_labels['blocked']:.4f}")

    # the adapter must change the scores
    base_vs_adapter = []
    for a in cases:
        for b in cases:
            if (a["adapter"] is None and b["adapter"] == "adapter" and a["image"] == b["image"]
                    and a["prompt_ids"] == b["prompt_ids"]
                    and [x["ids"] for x in a["answers"]] == [x["ids"] for x in b["answers"]]):
                diff = max(abs(x["logprob"] - y["logprob"]) for x, y in zip(a["answers"], b["answers"]))
                assert diff > 0.05, (a["name"], b["name"], diff)
                base_vs_adapter.append({"base": a["name"], "adapter": b["name"], "max_abs_logprob_diff": diff})
    assert base_vs_adapter, "no base/adapter pair"
    checks["base_vs_adapter"] = base_vs_adapter

    generate = []
    for name, image_key, with_system, with_adapter, vocab in GENERATE_CASES:
        prompt, _ = vocabularies[vocab]
        system = SYSTEM if with_system else None
        adapter = "adapter" if with_adapter else None
        model = models[adapter]
        inputs = prompt_inputs(processor, images[image_key], system, prompt)
        ids, margins = greedy(model, inputs, MAX_NEW_TOKENS)
        assert not (set(ids) & STOP_IDS), (name, ids)
        assert min(margins) > 1e-3, (name, margins)
        # transformers' own generate agrees (stop tokens switched off, so exactly MAX_NEW_TOKENS)
        gen_out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                 eos_token_id=None, pad_token_id=0)
        via_generate = gen_out[0, inputs["input_ids"].shape[1]:].tolist()
        assert via_generate == ids, (name, via_generate, ids)
        generate.append({
            "name": name,
            "image": IMAGES[image_key],
            "system": system,
            "prompt": prompt,
            "adapter": adapter,
            "prompt_ids": inputs["input_ids"][0].tolist(),
            "max_new_tokens": MAX_NEW_TOKENS,
            "ids": ids,
        })
        checks["generate"][name] = {"top2_margins": margins, "min_margin": min(margins),
                                    "equals_model_generate": True, "text": tokenizer.decode(ids)}
        print(f"  {name}: {ids} (min margin {min(margins):.4f})")

    with open(os.path.join(out_dir, "label_scoring.json"), "w") as f:
        json.dump({"model": "gemma3-vlm/model", "cases": cases, "generate": generate}, f, indent=1)
        f.write("\n")
    checks.update({
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "routes": "route 1 (the fixture values): one forward over prompt + answer without a cache; route 2: "
                  "prompt prefill with a cache, then one answer token per step; route 3: one prompt prefill, a "
                  "deep copy of its cache per label, the answer (minus its last token) in one forward",
        "worst_route_max_abs_diff": worst_routes,
        "log_softmax": "float64 over the float32 logits rows",
    })
    with open(os.path.join(out_dir, "checks.json"), "w") as f:
        json.dump(checks, f, indent=1)
        f.write("\n")

    total = 0
    for root, _, files in os.walk(out_dir):
        total += sum(os.path.getsize(os.path.join(root, x)) for x in files)
    print(f"worst route difference {worst_routes:.2e}; fixture total {total / 1e6:.3f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
