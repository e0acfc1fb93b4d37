#!/usr/bin/env python3
"""Writes the ModelFiles test fixtures into Tests/Fixtures/modelfiles/ (run by hand, results committed).

Reference implementations: the `safetensors` package (with torch for bfloat16), `gguf` (gguf-py) for
writing GGUF files and for the expected dequantized values, numpy for .npy files.

    python3 tools/make_modelfiles_fixtures.py            # small synthetic fixtures
    python3 tools/make_modelfiles_fixtures.py --gemma /path/to/gemma-3-270m-q4_k_m.gguf
                                                         # also the expected values for the real model

Everything is seeded, so reruns reproduce the same bytes (up to library versions).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from gguf import quants
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "modelfiles")


def npy(name, array):
    array = np.asarray(array)
    # np.ascontiguousarray would turn a 0-d array into a 1-d one.
    np.save(os.path.join(OUT, name), array if array.flags.c_contiguous else np.ascontiguousarray(array))


# ---------------------------------------------------------------------------------------------- safetensors

def safetensors_fixtures(rng):
    f32 = rng.standard_normal((3, 4)).astype(np.float32)
    f16 = rng.standard_normal((2, 5)).astype(np.float16)
    f16[0, 0] = np.float16(3e-6)          # a subnormal half
    f16[0, 1] = np.float16(-0.0)
    bf16 = torch.from_numpy(rng.standard_normal((2, 3, 4)).astype(np.float32)).to(torch.bfloat16)
    scalar = np.array(1.25, dtype=np.float32)
    tensors = {
        "weight.f32": torch.from_numpy(f32),
        "weight.f16": torch.from_numpy(f16),
        "weight.bf16": bf16,
        "bias.scalar": torch.from_numpy(scalar),
        "ids.i8": torch.tensor([1, -2, 3, -4], dtype=torch.int8),
        "empty.f32": torch.zeros((0, 3), dtype=torch.float32),
    }
    save_file(tensors, os.path.join(OUT, "single.safetensors"), metadata={"format": "pt", "purpose": "dsa-triage fixture"})
    npy("single_weight.f32.npy", f32)
    npy("single_weight.f16.npy", f16.astype(np.float32))
    npy("single_weight.bf16.npy", bf16.float().numpy())
    npy("single_bias.scalar.npy", scalar)

    # A sharded checkpoint laid out as transformers writes it.
    shard_dir = os.path.join(OUT, "sharded")
    shutil.rmtree(shard_dir, ignore_errors=True)
    os.makedirs(shard_dir)
    shards = {
        "model-00001-of-00002.safetensors": {
            "layers.0.weight": torch.from_numpy(rng.standard_normal((4, 4)).astype(np.float32)),
            "layers.0.bias": torch.from_numpy(rng.standard_normal(4).astype(np.float32)),
        },
        "model-00002-of-00002.safetensors": {
            "layers.1.weight": torch.from_numpy(rng.standard_normal((4, 4)).astype(np.float32)).to(torch.bfloat16),
        },
    }
    weight_map, total = {}, 0
    for fname, ts in shards.items():
        save_file(ts, os.path.join(shard_dir, fname), metadata={"format": "pt"})
        for name, t in ts.items():
            weight_map[name] = fname
            total += t.numel() * t.element_size()
            npy(f"sharded_{name}.npy", t.float().numpy())
    with open(os.path.join(shard_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)


# ---------------------------------------------------------------------------------------------- GGUF

QUANTIZABLE = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
# gguf-py 0.19 cannot quantize these: their blocks are random bytes with sane f16 scales.
RAW_BLOCKS = [Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# Offset of each f16 scale field inside a block.
SCALE_FIELDS = {Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def random_blocks(rng, qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nblocks = rows * cols // block
    raw = rng.integers(0, 256, size=(nblocks, size), dtype=np.uint8)
    for off in SCALE_FIELDS[qtype]:
        scales = (rng.uniform(0.5, 2.0, nblocks) * 10.0 ** rng.integers(-5, -1, nblocks)).astype(np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(nblocks, 2)
    return raw.reshape(rows, cols // block * size)


def gguf_fixtures(rng):
    path = os.path.join(OUT, "all_types.gguf")
    w = gguf.GGUFWriter(path, "testarch")
    w.add_uint8("test.uint8", 200)
    w.add_int8("test.int8", -100)
    w.add_uint16("test.uint16", 60000)
    w.add_int16("test.int16", -30000)
    w.add_uint32("test.uint32", 4_000_000_000)
    w.add_int32("test.int32", -2_000_000_000)
    w.add_uint64("test.uint64", 18_000_000_000_000_000_000)
    w.add_int64("test.int64", -9_000_000_000_000_000_000)
    w.add_float32("test.float32", 0.1)
    w.add_float64("test.float64", 0.1)
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "héllo, 世界 \"quoted\"")
    w.add_key_value("test.array.uint8", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.array.int16", [-1, 2, -300], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("test.array.int32", [-7, 0, 2_000_000_000], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.array.uint64", [1, 2**40], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("test.array.float32", [1.5, -2.25, 0.1], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.array.float64", [0.1, -1e300], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("test.array.bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_array("test.array.string", ["<bos>", "", "▁the", "ü"])
    w.add_key_value("test.array.nested", [["a", "bc"], ["d"]], V.ARRAY, sub_type=V.ARRAY)

    expected = {}
    rows, cols = 3, 512
    for qtype in QUANTIZABLE + RAW_BLOCKS:
        name = f"t.{qtype.name.lower()}"
        if qtype in RAW_BLOCKS:
            data = random_blocks(rng, qtype, rows, cols)
        else:
            x = rng.standard_normal((rows, cols)).astype(np.float32)
            if qtype == Q.F16:
                x[0, :4] = [3e-6, -0.0, 65504.0, -1e-7]   # subnormals, signed zero, largest half
            data = quants.quantize(x, qtype)
        if qtype in (Q.F32, Q.F16):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)
        expected[name] = quants.dequantize(data, qtype).reshape(rows, cols).astype(np.float32)

    # A 3-d tensor (ggml dims [64, 3, 2] -> shape [2, 3, 64]) and a 1-d one.
    x3 = rng.standard_normal((2, 3, 64)).astype(np.float32)
    q3 = quants.quantize(x3, Q.Q8_0)
    w.add_tensor("t.q8_0_3d", q3, raw_dtype=Q.Q8_0)
    expected["t.q8_0_3d"] = quants.dequantize(q3, Q.Q8_0)
    v = rng.standard_normal(7).astype(np.float32)
    w.add_tensor("t.vector", v)
    expected["t.vector"] = v
    # A known ggml type without a dequantizer here.
    w.add_tensor("t.iq4_nl", rng.integers(0, 256, size=(2, 18), dtype=np.uint8), raw_dtype=Q.IQ4_NL)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for name, values in expected.items():
        npy(f"gguf_{name}.npy", values)

    # Custom alignment.
    path = os.path.join(OUT, "aligned64.gguf")
    w = gguf.GGUFWriter(path, "testarch")
    w.add_custom_alignment(64)
    a = rng.standard_normal(5).astype(np.float32)
    b = quants.quantize(rng.standard_normal((2, 32)).astype(np.float32), Q.Q4_0)
    w.add_tensor("a", a)
    w.add_tensor("b", b, raw_dtype=Q.Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    npy("aligned64_a.npy", a)
    npy("aligned64_b.npy", quants.dequantize(b, Q.Q4_0))

    sizes = {t.name: list(gguf.GGML_QUANT_SIZES[t]) for t in Q if t in gguf.GGML_QUANT_SIZES}
    numbers = {t.name: int(t) for t in Q}
    with open(os.path.join(OUT, "ggml_types.json"), "w") as f:
        json.dump({"sizes": sizes, "numbers": numbers}, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------------------------------------- real model

def gemma_expected(model_path):
    """Expected values for the real Gemma 3 270M Q4_K_M file: metadata facts, per-tensor float64 sum and sum
    of squares of the dequantized values, and first two rows + last row of one tensor of each type."""
    r = gguf.GGUFReader(model_path)

    def field(key):
        return r.fields[key].contents()

    out = {
        "metadata": {
            "general.architecture": field("general.architecture"),
            "gemma3.block_count": field("gemma3.block_count"),
            "gemma3.embedding_length": field("gemma3.embedding_length"),
            "gemma3.context_length": field("gemma3.context_length"),
            "gemma3.feed_forward_length": field("gemma3.feed_forward_length"),
            "gemma3.attention.head_count": field("gemma3.attention.head_count"),
            "gemma3.attention.head_count_kv": field("gemma3.attention.head_count_kv"),
            "gemma3.attention.key_length": field("gemma3.attention.key_length"),
            "gemma3.attention.sliding_window": field("gemma3.attention.sliding_window"),
            "gemma3.rope.freq_base": field("gemma3.rope.freq_base"),
            "gemma3.attention.layer_norm_rms_epsilon": field("gemma3.attention.layer_norm_rms_epsilon"),
            "tokenizer.ggml.model": field("tokenizer.ggml.model"),
            "tokenizer.ggml.bos_token_id": field("tokenizer.ggml.bos_token_id"),
            "tokenizer.ggml.eos_token_id": field("tokenizer.ggml.eos_token_id"),
            "tokenizer.ggml.add_bos_token": field("tokenizer.ggml.add_bos_token"),
        },
        "key_count": int(field("GGUF.kv_count")),
        "tensor_count": int(field("GGUF.tensor_count")),
        "tokens": {"count": len(r.fields["tokenizer.ggml.tokens"].data)},
        "tensors": {},
        "rows": {},
    }
    tokens = field("tokenizer.ggml.tokens")
    scores = field("tokenizer.ggml.scores")
    types = field("tokenizer.ggml.token_type")
    out["tokens"]["samples"] = {str(i): tokens[i] for i in [0, 1, 2, 3, 105, 106, 1000, 255999, len(tokens) - 1]}
    out["tokens"]["scores_count"] = len(scores)
    out["tokens"]["scores_samples"] = {str(i): float(scores[i]) for i in [0, 1000, len(scores) - 1]}
    out["tokens"]["token_type_count"] = len(types)
    out["tokens"]["token_type_samples"] = {str(i): int(types[i]) for i in [0, 2, 1000, len(types) - 1]}

    picked = {}
    for t in r.tensors:
        values = quants.dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))
        v64 = values.astype(np.float64)
        out["tensors"][t.name] = {
            "type": t.tensor_type.name,
            "dims": [int(d) for d in t.shape],
            "sum": float(v64.sum()),
            "sum_squares": float((v64 * v64).sum()),
        }
        if t.tensor_type.name not in picked and (values.shape[0] >= 3 or t.tensor_type.name == "F32"):
            picked[t.tensor_type.name] = t.name
            idx = sorted(set([0, 1, values.shape[0] - 1]) & set(range(values.shape[0])))
            fname = f"gemma3_270m_rows_{t.tensor_type.name.lower()}.npy"
            npy(fname, values[idx])
            out["rows"][t.name] = {"file": fname, "rows": idx}
    with open(os.path.join(OUT, "gemma3_270m_expected.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)


def npy_fixtures(rng):
    """One small array per dtype NPYFile.read must understand, written by numpy itself."""
    npy("npy_f4.npy", rng.standard_normal((2, 3)).astype("<f4"))
    npy("npy_f2.npy", np.array([1.5, -2.0, 3e-6, 65504.0], dtype="<f2"))
    npy("npy_f8.npy", np.array([0.1, -1e300], dtype="<f8"))
    npy("npy_u1.npy", np.arange(6, dtype=np.uint8).reshape(3, 2) * 50)
    npy("npy_u2.npy", np.array([0, 1, 65535], dtype="<u2"))
    npy("npy_i2.npy", np.array([[-32768, 0], [1, 32767]], dtype="<i2"))
    npy("npy_i4.npy", np.array([-2**31, 7, 2**31 - 1], dtype="<i4"))
    npy("npy_i8.npy", np.array([-2**63, 7, 2**63 - 1], dtype="<i8"))
    npy("npy_scalar.npy", np.array(2.5, dtype="<f4"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gemma", help="path to gemma-3-270m-q4_k_m.gguf (sha256 a5fd3b62...6818)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20260101)
    safetensors_fixtures(rng)
    gguf_fixtures(rng)
    npy_fixtures(rng)
    if args.gemma:
        gemma_expected(args.gemma)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
