#!/usr/bin/env python3
"""Check a merged Gemma 3 checkpoint (base + LoRA folded into the weights) against base + adapter via peft.

    python3 tools/check_merged_model.py MERGED_DIR BASE_DIR ADAPTER_DIR [--case DIR] [--tol T] [--greedy N]

MERGED_DIR is a directory written by our `merge` command (config.json + model.safetensors or a sharded index,
any dtype). It is loaded with transformers as Gemma3ForConditionalGeneration in float32 with eager attention
(lower-precision weights are widened exactly), and run on one prompt of the base fixture (default
Tests/Fixtures/gemma3-vlm/at-size: its input_ids, token_type_ids and pixel_values). The reference is
BASE_DIR loaded the same way with ADAPTER_DIR applied by peft (PeftModel.from_pretrained, unmerged).

Prints max |delta logits| / max |reference logit| over all prompt positions, the last-position argmax of both,
and the greedy tokens of both. Exit status: 0 pass, 1 the relative difference exceeds the tolerance (default
1e-3, enforced when the merged weights of the adapted modules are F32; with --tol it is enforced for any
dtype), 2 the inputs or the checkpoints cannot be used.

Not run by the test suite (needs torch + transformers + peft); it produces the acceptance evidence for merge.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

import warnings

import numpy as np
import torch
from safetensors import safe_open

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CASE = os.path.join(REPO_ROOT, "Tests", "Fixtures", "gemma3-vlm", "at-size")
DEFAULT_TOL = 1e-3
LAYER_TAIL = re.compile(r"layers\.\d+\..+$")


def fail(msg: str, code: int = 2) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def checkpoint_dtypes(model_dir: str) -> dict[str, str]:
    """Tensor name -> safetensors dtype, for model.safetensors or the shards of model.safetensors.index.json."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(model_dir, "model.safetensors")):
        files = ["model.safetensors"]
    else:
        fail(f"{model_dir}: neither model.safetensors nor model.safetensors.index.json")
    out = {}
    for name in files:
        with safe_open(os.path.join(model_dir, name), "pt") as f:
            for k in f.keys():
                out[k] = str(f.get_slice(k).get_dtype())
    return out


def adapter_modules(adapter_dir: str) -> list[str]:
    path = os.path.join(adapter_dir, "adapter_model.safetensors")
    if not os.path.exists(path):
        fail(f"{adapter_dir}: no adapter_model.safetensors")
    with safe_open(path, "pt") as f:
        keys = list(f.keys())
    return sorted({k.split(".lora_A.")[0] for k in keys if ".lora_A." in k})


def adapted_dtypes(dtypes: dict[str, str], modules: list[str]) -> set[str]:
    """dtypes of the merged tensors that the adapter changed, matched layout-independently: same tower (vision or
    text) and the same 'layers.<i>.<path>.weight' tail."""
    found = set()
    for m in modules:
        tail = LAYER_TAIL.search(m)
        if tail is None:
            continue
        vision = "vision" in m
        for k, dt in dtypes.items():
            if k.endswith(tail.group(0) + ".weight") and ("vision" in k) == vision:
                found.add(dt)
    return found


def load_inputs(case_dir: str) -> dict:
    with open(os.path.join(case_dir, "expected.json")) as f:
        exp = json.load(f)
    files = exp.get("pixel_values_files") or [exp["pixel_values_file"]]
    pv = np.concatenate([np.load(os.path.join(case_dir, p)) for p in files], axis=0)
    ids = torch.tensor([exp["input_ids"]])
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "pixel_values": torch.from_numpy(pv),
        "token_type_ids": torch.tensor([exp["token_type_ids"]]),
    }


def check_compatible(model, inputs: dict, case_dir: str) -> None:
    cfg = model.config
    size = cfg.vision_config.image_size
    pv = inputs["pixel_values"]
    if tuple(pv.shape[-2:]) != (size, size):
        fail(f"{case_dir}: pixel_values are {tuple(pv.shape[-2:])}, the model wants {size}x{size}; pass a --case "
             "made for this model")
    n_img = int((inputs["input_ids"] == cfg.image_token_id).sum())
    if n_img != pv.shape[0] * cfg.mm_tokens_per_image:
        fail(f"{case_dir}: {n_img} image tokens for {pv.shape[0]} image(s) x mm_tokens_per_image "
             f"{cfg.mm_tokens_per_image}")


@torch.no_grad()
def greedy(model, inputs: dict, n: int) -> list[int]:
    out = model(**inputs, use_cache=True)
    ids = []
    for _ in range(n):
        tok = int(torch.argmax(out.logits[0, -1]))
        ids.append(tok)
        out = model(input_ids=torch.tensor([[tok]]), cache=out.cache, use_cache=True)
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("merged_dir")
    ap.add_argument("base_dir")
    ap.add_argument("adapter_dir")
    ap.add_argument("--case", default=DEFAULT_CASE, help="a base-fixture case folder (expected.json + pixel values)")
    ap.add_argument("--tol", type=float, default=None,
                    help=f"relative tolerance, enforced for any dtype (default {DEFAULT_TOL}, enforced for F32 only)")
    ap.add_argument("--greedy", type=int, default=8, help="greedy tokens to compare (0: none)")
    args = ap.parse_args()

    warnings.filterwarnings("ignore", category=FutureWarning)
    from peft import PeftModel
    from transformers import Gemma3ForConditionalGeneration
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    torch.set_grad_enabled(False)

    dtypes = checkpoint_dtypes(args.merged_dir)
    lora_keys = [k for k in dtypes if "lora_" in k]
    if lora_keys:
        fail(f"{args.merged_dir}: still holds LoRA tensors, e.g. {lora_keys[0]}")
    modules = adapter_modules(args.adapter_dir)
    # the dtypes that decide the tolerance: the adapted weights, else everything but the embeddings
    adapted = adapted_dtypes(dtypes, modules) or {dt for k, dt in dtypes.items() if "embed_tokens" not in k}
    counts: dict[str, int] = {}
    for dt in dtypes.values():
        counts[dt] = counts.get(dt, 0) + 1
    print(f"merged checkpoint: {len(dtypes)} tensors, dtypes {counts}; adapted weights: "
          f"{sorted(adapted)} ({len(modules)} adapted modules)")

    try:
        merged, info = Gemma3ForConditionalGeneration.from_pretrained(
            args.merged_dir, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    except Exception as e:  # noqa: BLE001 -- any loading failure is a failed check
        fail(f"transformers cannot load {args.merged_dir}: {type(e).__name__}: {e}")
    problems = {k: v for k, v in info.items() if v}
    if problems:
        fail(f"{args.merged_dir}: loading info {problems}")
    merged.eval()
    base = Gemma3ForConditionalGeneration.from_pretrained(
        args.base_dir, dtype=torch.float32, attn_implementation="eager").eval()
    reference = PeftModel.from_pretrained(base, args.adapter_dir).eval()

    inputs = load_inputs(args.case)
    check_compatible(merged, inputs, args.case)
    got = merged(**inputs, use_cache=False).logits[0].float()
    want = reference(**inputs, use_cache=False).logits[0].float()
    if got.shape != want.shape:
        fail(f"logits shapes differ: merged {tuple(got.shape)}, reference {tuple(want.shape)}")
    delta = float((got - want).abs().max())
    scale = float(want.abs().max())
    rel = delta / scale
    last_delta = float((got[-1] - want[-1]).abs().max())
    print(f"case {os.path.relpath(args.case)}: {got.shape[0]} positions x {got.shape[1]} logits")
    print(f"max |delta| {delta:.6g}  max |logit| {scale:.6g}  relative {rel:.3g}  (last position max |delta| "
          f"{last_delta:.6g})")
    top_got, top_want = int(torch.argmax(got[-1])), int(torch.argmax(want[-1]))
    print(f"last-position argmax: merged {top_got}, reference {top_want}"
          f"{'' if top_got == top_want else '  (DIFFERENT)'}")
    if args.greedy > 0:
        g_got, g_want = greedy(merged, inputs, args.greedy), greedy(reference, inputs, args.greedy)
        print(f"greedy {args.greedy}: merged {g_got}\n          reference {g_want}"
              f"{'' if g_got == g_want else '  (DIFFERENT)'}")

    f32 = adapted == {"F32"}
    if args.tol is not None:
        tol, enforced = args.tol, True
    else:
        tol, enforced = DEFAULT_TOL, f32
    if not enforced:
        print(f"relative {rel:.3g}: tolerance {tol:g} not enforced (adapted weights are {sorted(adapted)}, not F32; "
              "pass --tol to enforce one)")
        return 0
    if rel > tol:
        print(f"FAIL: relative {rel:.3g} > {tol:g}")
        return 1
    print(f"PASS: relative {rel:.3g} <= {tol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
