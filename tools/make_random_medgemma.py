#!/usr/bin/env python3
"""A random-weight checkpoint with MedGemma 1.5 4B's exact configuration, for benchmarks and load tests.

Writes OUTDIR/ like a Hub repository of google/medgemma-1.5-4b-it:
  config.json                         reconstructed (see MEDGEMMA_CONFIG): the Hub's legacy form that
                                      transformers 4.5x wrote (rope_theta / rope_local_base_freq /
                                      rope_scaling / sliding_window_pattern) plus explicit layer_types
  model-0000k-of-0000n.safetensors    weights in BF16 (or --dtype), shards of at most 5 GB (10^9 bytes),
  model.safetensors.index.json        {"metadata": {"total_size"}, "weight_map"}
  preprocessor_config.json            896x896, bilinear, 1/255, mean/std 0.5, image_seq_length 256
  processor_config.json               {"image_seq_length": 256, "processor_class": "Gemma3Processor"}
  tokenizer.json                      copied from --tokenizer (the decompressed shared/reference one)
  tokenizer_config.json, chat_template.jinja
  generation_config.json              bos 2, eos [1, 106], pad 0

Key layout (--layout):
  newer (default)   model.language_model.*, model.vision_tower.vision_model.*, model.multi_modal_projector.*
  google            language_model.model.*, vision_tower.vision_model.*, multi_modal_projector.*
  save-pretrained   language_model.model.*, vision_tower.*, multi_modal_projector.* (transformers 5.24's
                    save_pretrained)
No lm_head.weight (tied to the embeddings), as in the real release.

Weights are generated tensor by tensor, in chunks, from one seeded torch.Generator and streamed
straight into the shard files (peak memory ~ one chunk), so the 4.3 B parameters are never all in
RAM. Values: linear / conv / embedding / position weights N(0, 0.02); Gemma RMSNorm weights N(0, 0.02)
(used as 1 + w); SigLIP LayerNorm weights 1 + N(0, 0.02); biases N(0, 0.02). Activations stay finite.

--vision-only writes only the vision tower and projector tensors (~0.84 GB in BF16) with the full
config: enough for vision-tower tests; transformers then reports the language model as missing.

Run by hand:  python3 tools/make_random_medgemma.py OUTDIR [--dtype bf16] [--vision-only]
              [--layout newer] [--seed 0] [--tokenizer .cache/gemma3-tokenizer.json] [--no-check]
e.g.          python3 tools/make_random_medgemma.py /root/.cache/dsa-triage/medgemma-random-bf16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_gemma3_vlm_fixtures as vlm  # noqa: E402  (processor / tokenizer files, chat template)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TOKENIZER = os.path.join(REPO_ROOT, ".cache", "gemma3-tokenizer.json")
SHARD_LIMIT = 5_000_000_000  # "5GB" in save_pretrained's decimal sense
CHUNK_ELEMS = 1 << 24  # 16 M values per generation chunk
STD = 0.02

NUM_LAYERS = 34
SLIDING_PATTERN = 6
LAYER_TYPES = ["full_attention" if (i + 1) % SLIDING_PATTERN == 0 else "sliding_attention"
               for i in range(NUM_LAYERS)]

# google/medgemma-1.5-4b-it config.json, reconstructed from DESIGN.md and Gemma3Config's defaults in the
# legacy form the Hub's Gemma 3 checkpoints carry (transformers 4.5x wrote it); layer_types added as
# newer 4.5x releases write it. Not a copy of the real file.
MEDGEMMA_CONFIG = {
    "architectures": ["Gemma3ForConditionalGeneration"],
    "boi_token_index": 255999,
    "eoi_token_index": 256000,
    "eos_token_id": [1, 106],
    "image_token_index": 262144,
    "initializer_range": 0.02,
    "mm_tokens_per_image": 256,
    "model_type": "gemma3",
    "text_config": {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "final_logit_softcapping": None,
        "head_dim": 256,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 2560,
        "initializer_range": 0.02,
        "intermediate_size": 10240,
        "layer_types": LAYER_TYPES,
        "max_position_embeddings": 131072,
        "model_type": "gemma3_text",
        "num_attention_heads": 8,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": 4,
        "query_pre_attn_scalar": 256,
        "rms_norm_eps": 1e-06,
        "rope_local_base_freq": 10000.0,
        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        "rope_theta": 1000000.0,
        "sliding_window": 1024,
        "sliding_window_pattern": SLIDING_PATTERN,
        "use_cache": True,
        "vocab_size": 262208,
    },
    "torch_dtype": "bfloat16",
    "transformers_version": "4.57.1",
    "vision_config": {
        "attention_dropout": 0.0,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": 1152,
        "image_size": 896,
        "intermediate_size": 4304,
        "layer_norm_eps": 1e-06,
        "model_type": "siglip_vision_model",
        "num_attention_heads": 16,
        "num_channels": 3,
        "num_hidden_layers": 27,
        "patch_size": 14,
        "vision_use_head": False,
    },
}

GENERATION_CONFIG = {
    "bos_token_id": 2,
    "eos_token_id": [1, 106],
    "pad_token_id": 0,
    "do_sample": False,
}

DTYPES = {
    "bf16": (torch.bfloat16, "BF16", 2),
    "f16": (torch.float16, "F16", 2),
    "f32": (torch.float32, "F32", 4),
}


# --------------------------------------------------------------------------------------------
# Tensor list
# --------------------------------------------------------------------------------------------

def in_memory_shapes() -> list[tuple[str, tuple[int, ...]]]:
    """(transformers 5.24 parameter name, shape) in module order, from a model built on the meta device."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    cfg = Gemma3Config.from_dict(json.loads(json.dumps(MEDGEMMA_CONFIG)))
    with torch.device("meta"):
        model = Gemma3ForConditionalGeneration(cfg)
    return [(n, tuple(p.shape)) for n, p in model.named_parameters() if n != "lm_head.weight"]


def checkpoint_name(name: str, layout: str) -> str:
    """Map an in-memory name (model.language_model.*, model.vision_tower.*, model.multi_modal_projector.*)
    to the chosen checkpoint layout."""
    lm, vt, mm = "model.language_model.", "model.vision_tower.", "model.multi_modal_projector."
    if name.startswith(lm):
        rest = name[len(lm):]
        return ("model.language_model." if layout == "newer" else "language_model.model.") + rest
    if name.startswith(vt):
        rest = name[len(vt):]
        if layout == "newer":
            return "model.vision_tower.vision_model." + rest
        if layout == "google":
            return "vision_tower.vision_model." + rest
        return "vision_tower." + rest
    if name.startswith(mm):
        rest = name[len(mm):]
        return ("model.multi_modal_projector." if layout == "newer" else "multi_modal_projector.") + rest
    raise ValueError(f"unexpected parameter {name}")


def init_spec(name: str) -> tuple[float, float]:
    """(mean, std) for one in-memory parameter name."""
    if name.endswith("bias"):
        return 0.0, STD
    if "vision_tower" in name and ("layer_norm" in name or "post_layernorm" in name):
        return 1.0, STD
    if "norm" in name:  # Gemma RMSNorm weights, used as (1 + w)
        return 0.0, STD
    return 0.0, STD


# --------------------------------------------------------------------------------------------
# Streaming safetensors writer
# --------------------------------------------------------------------------------------------

def plan_shards(entries: list[tuple[str, tuple[int, ...]]], itemsize: int) -> list[list[tuple[str, tuple]]]:
    shards, current, size = [], [], 0
    for key, shape in entries:
        nbytes = int(np.prod(shape)) * itemsize
        if current and size + nbytes > SHARD_LIMIT:
            shards.append(current)
            current, size = [], 0
        current.append((key, shape))
        size += nbytes
    if current:
        shards.append(current)
    return shards


def write_shard(path: str, tensors: list[tuple[str, tuple, str]], dtype_name: str, itemsize: int,
                gen: torch.Generator, torch_dtype) -> int:
    """Write one safetensors file, generating each tensor's values chunk by chunk."""
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for key, shape, _ in tensors:
        nbytes = int(np.prod(shape)) * itemsize
        header[key] = {"dtype": dtype_name, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for key, shape, mem_name in tensors:
            mean, std = init_spec(mem_name)
            total = int(np.prod(shape))
            done = 0
            while done < total:
                n = min(CHUNK_ELEMS, total - done)
                chunk = torch.randn(n, generator=gen, dtype=torch.float32)
                chunk.mul_(std).add_(mean)
                f.write(chunk.to(torch_dtype).view(torch.uint8).numpy().tobytes())
                done += n
    return offset


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def write_small_files(out: str, tokenizer_json: str) -> None:
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(MEDGEMMA_CONFIG, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(dict(GENERATION_CONFIG, transformers_version=MEDGEMMA_CONFIG["transformers_version"]), f, indent=2)
        f.write("\n")
    vision = MEDGEMMA_CONFIG["vision_config"]
    vlm.write_processor_files(tokenizer_json, out, None, image_size=vision["image_size"],
                              image_seq_length=MEDGEMMA_CONFIG["mm_tokens_per_image"])
    shutil.copy(tokenizer_json, os.path.join(out, "tokenizer.json"))


def check(out: str, vision_only: bool, torch_dtype) -> None:
    """Load with transformers, compare the resolved config with MedGemma's, run a short text forward."""
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration

    t0 = time.time()
    model, info = Gemma3ForConditionalGeneration.from_pretrained(out, dtype=torch_dtype, output_loading_info=True)
    print(f"  loaded in {time.time() - t0:.1f} s")
    missing = info["missing_keys"]
    if vision_only:
        assert all("language_model" in k or k == "lm_head.weight" for k in missing), missing[:5]
        assert not info["unexpected_keys"], info["unexpected_keys"][:5]
    else:
        assert not any(info.values()), {k: v[:5] for k, v in info.items() if v}
    tc = model.config.text_config
    assert list(tc.layer_types) == LAYER_TYPES
    assert tc.rope_parameters["full_attention"] == {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6}, \
        tc.rope_parameters
    assert tc.rope_parameters["sliding_attention"]["rope_theta"] == 1e4, tc.rope_parameters
    assert tc.sliding_window == 1024 and tc.query_pre_attn_scalar == 256 and tc.head_dim == 256
    assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    proc = AutoProcessor.from_pretrained(out)
    assert proc.image_seq_length == 256 and proc.image_processor.size["height"] == 896
    if not vision_only:
        ids = proc.apply_chat_template([{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
                                       add_generation_prompt=True, tokenize=True, return_dict=True,
                                       return_tensors="pt")
        with torch.no_grad():
            logits = model(**ids).logits
        assert torch.isfinite(logits).all()
        print(f"  text forward ok: {ids['input_ids'].shape[1]} tokens, max |logit| {float(logits.abs().max()):.3f}")
    print(f"  transformers resolved: layer_types 5:1 ({LAYER_TYPES.count('full_attention')} full), "
          f"rope {tc.rope_parameters}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--dtype", choices=list(DTYPES), default="bf16")
    ap.add_argument("--vision-only", action="store_true")
    ap.add_argument("--layout", choices=["newer", "google", "save-pretrained"], default="newer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--no-check", action="store_true", help="skip loading the result with transformers")
    args = ap.parse_args()
    if not os.path.exists(args.tokenizer):
        sys.exit(f"{args.tokenizer} not found: xz -dk shared/reference/gemma3-tokenizer.json.xz and copy it there")
    torch_dtype, dtype_name, itemsize = DTYPES[args.dtype]
    out = args.outdir
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.startswith("model") and (old.endswith(".safetensors") or old.endswith(".index.json")):
            os.remove(os.path.join(out, old))

    entries = in_memory_shapes()
    if args.vision_only:
        entries = [(n, s) for n, s in entries if "language_model" not in n]
    keyed = [(checkpoint_name(n, args.layout), s, n) for n, s in entries]
    assert len({k for k, _, _ in keyed}) == len(keyed)
    shards = plan_shards([(k, s) for k, s, _ in keyed], itemsize)
    by_key = {k: (k, s, n) for k, s, n in keyed}
    n_params = sum(int(np.prod(s)) for _, s, _ in keyed)
    print(f"{len(keyed)} tensors, {n_params / 1e9:.3f} B parameters, {len(shards)} shard(s), layout {args.layout}")

    gen = torch.Generator().manual_seed(args.seed)
    weight_map, total = {}, 0
    t0 = time.time()
    for i, shard in enumerate(shards):
        fname = (f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1
                 else "model.safetensors")
        size = write_shard(os.path.join(out, fname), [by_key[k] for k, _ in shard], dtype_name, itemsize,
                           gen, torch_dtype)
        total += size
        for k, _ in shard:
            weight_map[k] = fname
        print(f"  {fname}: {len(shard)} tensors, {size / 1e9:.3f} GB ({time.time() - t0:.0f} s)")
    if len(shards) > 1:
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f,
                      indent=2)
            f.write("\n")
    write_small_files(out, args.tokenizer)
    print(f"wrote {total / 1e9:.3f} GB of weights to {out} in {time.time() - t0:.0f} s")

    if not args.no_check:
        check(out, args.vision_only, torch_dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
