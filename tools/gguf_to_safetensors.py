#!/usr/bin/env python3
"""Export a Gemma 3 GGUF (llama.cpp) to a Hugging Face model directory, exactly as transformers reads it.

    python3 tools/gguf_to_safetensors.py MODEL.gguf OUTDIR [--dtype f32|bf16] [--tokenizer-json PATH]

Writes OUTDIR/config.json, OUTDIR/model.safetensors and, when a tokenizer.json is found,
OUTDIR/tokenizer.json + OUTDIR/tokenizer_config.json.

Only numpy, gguf and safetensors are used (no torch), so CI can run it.

What transformers 5.24 does when it loads a Gemma 3 GGUF (`from_pretrained(..., gguf_file=...)`,
legacy loader `modeling_gguf_pytorch_utils.load_gguf_checkpoint`), and what this script copies:

* config: `general.architecture` "gemma3" becomes model_type "gemma3_text" (text backbone only).
  From the metadata: context_length -> max_position_embeddings, block_count -> num_hidden_layers,
  feed_forward_length -> intermediate_size, embedding_length -> hidden_size,
  attention.key_length -> head_dim, attention.head_count -> num_attention_heads,
  attention.head_count_kv -> num_key_value_heads, attention.layer_norm_rms_epsilon -> rms_norm_eps
  (the float32 value widened, 9.999999974752427e-07, not 1e-06), attention.sliding_window ->
  sliding_window, rope.freq_base -> rope_theta (the global / full-attention theta),
  tokenizer.ggml.{bos,eos,unknown,padding}_token_id -> {bos,eos,unk,pad}_token_id,
  vocab_size = number of tokenizer.ggml.tokens (no vocab_size key in the file),
  tie_word_embeddings = no `output.weight` tensor.
  Not in the metadata, so Gemma3TextConfig's defaults apply: layer_types from a sliding-window
  pattern of 6 (every 6th layer full attention), sliding-layer rope theta 10000, no rope scaling,
  query_pre_attn_scalar 256, no soft-capping, hidden_activation gelu_pytorch_tanh.
  Keys transformers ignores are listed on stderr (e.g. rope.dimension_count, rope.scaling.* --
  transformers' Gemma 3 GGUF mapping has no entry for rope scaling).
* tensors: dequantized with gguf.quants.dequantize to float32 (numpy shape = [rows, cols] =
  HF [out_features, in_features]); no q/k permutation for Gemma; every tensor whose GGUF name
  contains "norm.weight" gets 1 subtracted (llama.cpp stores Gemma's RMSNorm weights as 1 + w),
  in float32. Names follow gguf-py's tensor map for MODEL_ARCH.GEMMA3 (table below). A tied
  lm_head is not written (as save_pretrained does).
* tokenizer: transformers rebuilds the Gemma tokenizer from the GGUF vocabulary. That build is
  the shared reference tokenizer.json (gemma3-tokenizer.json.xz) minus its extra
  `<image_soft_token>` (id 262144, outside this model's vocabulary), which this script drops.
  The vocabulary is checked against the GGUF's tokens before it is written.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize
from safetensors import TensorSpec, serialize_file
from safetensors.numpy import save_file

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER_CANDIDATES = [
    os.path.join(REPO_ROOT, "shared", "reference", "gemma3-tokenizer.json.xz"),
    "/work/shared/reference/gemma3-tokenizer.json.xz",
]

# GGUF tensor name (per block, after "blk.N.") -> HF name (after "model.layers.N.")
BLOCK_TENSORS = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "post_ffw_norm": "post_feedforward_layernorm",
}
GLOBAL_TENSORS = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}

# Gemma3TextConfig defaults that transformers falls back on because the GGUF does not state them.
SLIDING_WINDOW_PATTERN = 6
LOCAL_ROPE_THETA = 10_000.0
QUERY_PRE_ATTN_SCALAR = 256

# gemma3.* metadata keys transformers reads (GGUF_CONFIG_MAPPING["gemma3"]); None = read and dropped.
MAPPED_ARCH_KEYS = {
    "context_length": "max_position_embeddings",
    "block_count": "num_hidden_layers",
    "feed_forward_length": "intermediate_size",
    "embedding_length": "hidden_size",
    "rope.dimension_count": None,
    "rope.freq_base": "rope_theta",
    "attention.key_length": "head_dim",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
    "attention.sliding_window": "sliding_window",
    "vocab_size": "vocab_size",
}


class ExportError(Exception):
    pass


def field_value(reader: GGUFReader, key: str):
    field = reader.fields.get(key)
    if field is None:
        return None
    if field.types and field.types[0] == GGUFValueType.ARRAY:
        return field.contents()
    value = field.contents()
    if field.types[0] in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(value)  # float32 widened exactly, as transformers' parser does
    return value


def hf_tensor_name(gguf_name: str) -> str:
    m = re.fullmatch(r"blk\.(\d+)\.([a-z_]+)\.(weight|bias)", gguf_name)
    if m:
        block, part, suffix = m.groups()
        if part not in BLOCK_TENSORS:
            raise ExportError(f"tensor {gguf_name!r}: no Hugging Face name for block tensor {part!r}")
        return f"model.layers.{block}.{BLOCK_TENSORS[part]}.{suffix}"
    m = re.fullmatch(r"([a-z_]+)\.(weight|bias)", gguf_name)
    if m and m.group(1) in GLOBAL_TENSORS:
        return f"{GLOBAL_TENSORS[m.group(1)]}.{m.group(2)}"
    raise ExportError(f"tensor {gguf_name!r}: no Hugging Face name")


def build_config(reader: GGUFReader, dtype: str) -> dict:
    arch = field_value(reader, "general.architecture")
    if arch != "gemma3":
        raise ExportError(f"general.architecture is {arch!r}; this exporter handles 'gemma3' only")

    def need(key: str):
        value = field_value(reader, f"gemma3.{key}")
        if value is None:
            raise ExportError(f"metadata key gemma3.{key} is missing")
        return value

    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if tokens is None:
        raise ExportError("metadata key tokenizer.ggml.tokens is missing (needed for vocab_size)")
    vocab_size = field_value(reader, "gemma3.vocab_size") or len(tokens.data)
    n_layers = int(need("block_count"))
    tensor_names = {t.name for t in reader.tensors}

    ignored = sorted(
        k for k in reader.fields
        if k.startswith("gemma3.") and k[len("gemma3."):] not in MAPPED_ARCH_KEYS
    )
    if ignored:
        print(f"note: metadata transformers does not read (ignored here too): {', '.join(ignored)}", file=sys.stderr)

    layer_types = [
        "sliding_attention" if (i + 1) % SLIDING_WINDOW_PATTERN else "full_attention" for i in range(n_layers)
    ]
    config = {
        "architectures": ["Gemma3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "bos_token_id": field_value(reader, "tokenizer.ggml.bos_token_id"),
        "dtype": {"f32": "float32", "bf16": "bfloat16"}[dtype],
        "eos_token_id": field_value(reader, "tokenizer.ggml.eos_token_id"),
        "final_logit_softcapping": None,
        "head_dim": int(need("attention.key_length")),
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": int(need("embedding_length")),
        "initializer_range": 0.02,
        "intermediate_size": int(need("feed_forward_length")),
        "layer_types": layer_types,
        "max_position_embeddings": int(need("context_length")),
        "model_type": "gemma3_text",
        "num_attention_heads": int(need("attention.head_count")),
        "num_hidden_layers": n_layers,
        "num_key_value_heads": int(need("attention.head_count_kv")),
        "pad_token_id": field_value(reader, "tokenizer.ggml.padding_token_id"),
        "query_pre_attn_scalar": QUERY_PRE_ATTN_SCALAR,
        "rms_norm_eps": need("attention.layer_norm_rms_epsilon"),
        "rope_parameters": {
            "full_attention": {"rope_theta": need("rope.freq_base"), "rope_type": "default"},
            "sliding_attention": {"rope_theta": LOCAL_ROPE_THETA, "rope_type": "default"},
        },
        "sliding_window": int(need("attention.sliding_window")),
        "tie_word_embeddings": "output.weight" not in tensor_names,
        "unk_token_id": field_value(reader, "tokenizer.ggml.unknown_token_id"),
        "use_bidirectional_attention": False,
        "use_cache": True,
        "vocab_size": int(vocab_size),
    }
    return config


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even (what torch's .to(bfloat16) does)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    if np.isnan(x).any():
        raise ExportError("NaN in a tensor")
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def export_tensors(reader: GGUFReader) -> dict[str, np.ndarray]:
    out = {}
    for t in reader.tensors:
        name = hf_tensor_name(t.name)
        w = dequantize(t.data, t.tensor_type)
        if w.dtype != np.float32:
            w = w.astype(np.float32)
        expected_shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        if w.shape != expected_shape:
            raise ExportError(f"tensor {t.name!r}: dequantized shape {w.shape}, expected {expected_shape}")
        if "norm.weight" in t.name:
            w = w - 1  # llama.cpp stores Gemma RMSNorm weights as 1 + w; transformers subtracts 1
        if name in out:
            raise ExportError(f"tensor {t.name!r}: {name} written twice")
        out[name] = np.ascontiguousarray(w)
    return out


def check_tensors(tensors: dict[str, np.ndarray], config: dict) -> None:
    h, n_layers = config["hidden_size"], config["num_hidden_layers"]
    q = config["num_attention_heads"] * config["head_dim"]
    kv = config["num_key_value_heads"] * config["head_dim"]
    inter, d = config["intermediate_size"], config["head_dim"]
    shapes = {"model.embed_tokens.weight": (config["vocab_size"], h), "model.norm.weight": (h,)}
    if not config["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (config["vocab_size"], h)
    per_layer = {
        "input_layernorm.weight": (h,), "post_attention_layernorm.weight": (h,),
        "pre_feedforward_layernorm.weight": (h,), "post_feedforward_layernorm.weight": (h,),
        "self_attn.q_proj.weight": (q, h), "self_attn.k_proj.weight": (kv, h),
        "self_attn.v_proj.weight": (kv, h), "self_attn.o_proj.weight": (h, q),
        "self_attn.q_norm.weight": (d,), "self_attn.k_norm.weight": (d,),
        "mlp.gate_proj.weight": (inter, h), "mlp.up_proj.weight": (inter, h), "mlp.down_proj.weight": (h, inter),
    }
    for i in range(n_layers):
        for k, s in per_layer.items():
            shapes[f"model.layers.{i}.{k}"] = s
    missing = sorted(set(shapes) - set(tensors))
    extra = sorted(set(tensors) - set(shapes))
    if missing or extra:
        raise ExportError(f"tensor set mismatch: missing {missing[:5]}..., unexpected {extra[:5]}...")
    for k, s in shapes.items():
        if tensors[k].shape != s:
            raise ExportError(f"tensor {k}: shape {tensors[k].shape}, expected {s}")


def write_safetensors(tensors: dict[str, np.ndarray], path: str, dtype: str) -> None:
    meta = {"format": "pt"}
    ordered = dict(sorted(tensors.items()))
    if dtype == "f32":
        save_file(ordered, path, metadata=meta)
        return
    keep = {k: to_bf16_bits(v) for k, v in ordered.items()}
    specs = {
        k: TensorSpec(dtype="bfloat16", shape=tuple(v.shape), data_ptr=v.ctypes.data, data_len=v.nbytes)
        for k, v in keep.items()
    }
    serialize_file(specs, path, metadata=meta)


def gguf_tokens(reader: GGUFReader) -> list[str]:
    field = reader.fields["tokenizer.ggml.tokens"]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def find_tokenizer_json(explicit: str | None) -> str | None:
    if explicit:
        if not os.path.exists(explicit):
            raise ExportError(f"--tokenizer-json {explicit}: no such file")
        return explicit
    env = os.environ.get("DSA_GEMMA3_TOKENIZER_JSON")
    for path in ([env] if env else []) + TOKENIZER_CANDIDATES:
        if path and os.path.exists(path):
            return path
    return None


def write_tokenizer(reader: GGUFReader, src: str, outdir: str, vocab_size: int) -> None:
    opener = lzma.open if src.endswith(".xz") else open
    with opener(src, "rt", encoding="utf-8") as f:
        tok = json.load(f)
    # Keep only ids the model has: the reference adds <image_soft_token> at 262144 for MedGemma.
    dropped = [t["content"] for t in tok["added_tokens"] if t["id"] >= vocab_size]
    tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] < vocab_size]
    vocab = tok["model"]["vocab"]
    for k in [k for k, v in vocab.items() if v >= vocab_size]:
        del vocab[k]
    # The vocabulary must be this GGUF's: GGUF spells multi-space pieces with real spaces,
    # the tokenizer.json with U+2581, as transformers respells them.
    names = gguf_tokens(reader)
    by_id = {v: k for k, v in vocab.items()}
    if len(by_id) != len(names):
        raise ExportError(f"{src}: {len(by_id)} vocabulary entries, the GGUF has {len(names)}")
    for i, name in enumerate(names):
        want = "\u2581" * len(name) if (" " in name and not name.strip()) else name
        if by_id.get(i) != want:
            raise ExportError(f"{src}: token {i} is {by_id.get(i)!r}, the GGUF says {want!r}")
    with open(os.path.join(outdir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=2)
    token_at = lambda key: names[field_value(reader, key)]  # noqa: E731
    tok_config = {
        "add_bos_token": bool(field_value(reader, "tokenizer.ggml.add_bos_token")),
        "add_eos_token": bool(field_value(reader, "tokenizer.ggml.add_eos_token")),
        "backend": "tokenizers",
        "bos_token": token_at("tokenizer.ggml.bos_token_id"),
        "eos_token": token_at("tokenizer.ggml.eos_token_id"),
        "mask_token": "<mask>",
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": token_at("tokenizer.ggml.padding_token_id"),
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": token_at("tokenizer.ggml.unknown_token_id"),
    }
    with open(os.path.join(outdir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tok_config, f, indent=2)
        f.write("\n")
    if dropped:
        print(f"tokenizer: dropped added tokens outside the vocabulary: {dropped}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description="Export a Gemma 3 GGUF to a Hugging Face safetensors directory.")
    ap.add_argument("gguf")
    ap.add_argument("outdir")
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--tokenizer-json", help="tokenizer.json (or .json.xz) to include; default: the shared "
                    "reference if present, else $DSA_GEMMA3_TOKENIZER_JSON; skipped with a note if none")
    args = ap.parse_args()
    try:
        reader = GGUFReader(args.gguf)
        config = build_config(reader, args.dtype)
        tensors = export_tensors(reader)
        check_tensors(tensors, config)
        os.makedirs(args.outdir, exist_ok=True)
        with open(os.path.join(args.outdir, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        weights_path = os.path.join(args.outdir, "model.safetensors")
        write_safetensors(tensors, weights_path, args.dtype)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(weights_path, 0o666 & ~umask)  # the serializer creates the file 0600
        src = find_tokenizer_json(args.tokenizer_json)
        if src:
            write_tokenizer(reader, src, args.outdir, config["vocab_size"])
        else:
            print("note: no tokenizer.json source found; the export has no tokenizer files", file=sys.stderr)
    except ExportError as e:
        print(f"gguf_to_safetensors: {args.gguf}: {e}", file=sys.stderr)
        return 1
    n = sum(v.size for v in tensors.values())
    print(f"wrote {args.outdir}: {len(tensors)} tensors, {n} parameters, {args.dtype}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
