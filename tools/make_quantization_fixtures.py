#!/usr/bin/env python3
"""Reference fixtures for the weight-only int8 and NF4 quantised bases.

NF4 is computed twice: by bitsandbytes itself (functional.quantize_4bit / dequantize_4bit with
blocksize=64, compress_statistics=True, quant_type="nf4", on its CPU backend) and by an independent NumPy
implementation of the same recipe written here from the QLoRA paper and bitsandbytes' documentation; the
script checks that the two agree before writing anything. int8 (per output row, symmetric absmax / 127,
round half to even) is NumPy only.

Writes Tests/Fixtures/quantization/
  README.md                 what is where
  matrix.npy                float32 [96, 384] test weight (bf16-representable values, one zero block, an outlier row)
  nf4_packed.npy            uint8 [18432] bitsandbytes' packed codes (first element of a pair in the high nibble)
  nf4_absmax_codes.npy      uint8 [576] 8-bit codes of the block absmax (minus the offset), nearest entry (NumPy)
  nf4_absmax_codes_bitsandbytes.npy  the same from bitsandbytes (its CPU search may take the neighbour at near-ties)
  nf4_absmax_scales.npy     float32 [3] second-level scales (blocks of 256)
  nf4_dequantized.npy       float32 [96, 384] dequantisation by the NumPy recipe
  nf4_dequantized_bitsandbytes.npy  bitsandbytes' dequantize_4bit of its own quantisation
  nf4_code.npy              float32 [16] NF4 values; dynamic_code.npy float32 [256] second-level code
  int8_codes.npy            int8 codes stored as int16 [96, 384]; int8_scales.npy float32 [96]
  expected.json             offset, tolerances, versions, and the tiny-model results below
  vlm_<scheme>[_lora]_logits_probe.npy  float32 [T, 64] transformers logits (float32, eager) at every
                            position on the case's probe_ids, of the
                            tiny VLM (Tests/Fixtures/gemma3-vlm/model, case at-size) with every nn.Linear
                            except lm_head replaced by its int8 / NF4 dequantisation; _lora: with the
                            all-linear adapter of Tests/Fixtures/lora on top (PeftModel.from_pretrained)
Also regenerates Sources/Tensor/DynamicCode.swift (the 256-entry second-level code table).

Run by hand:  python3 tools/make_quantization_fixtures.py
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "quantization")
VLM = os.path.join(ROOT, "Tests", "Fixtures", "gemma3-vlm")
LORA = os.path.join(ROOT, "Tests", "Fixtures", "lora", "all-linear")

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=np.float32)


def nearest(table: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Index of the nearest table entry (lower one on ties)."""
    d = np.abs(v[:, None].astype(np.float32) - table[None, :])
    return np.argmin(d, axis=1)


def numpy_nf4(w: np.ndarray, code2: np.ndarray):
    flat = w.reshape(-1).astype(np.float32)
    blocks = flat.reshape(-1, 64)
    absmax = np.abs(blocks).max(axis=1).astype(np.float32)
    safe = np.where(absmax > 0, absmax, 1).astype(np.float32)
    q = nearest(NF4, (blocks / safe[:, None]).reshape(-1)).reshape(blocks.shape)
    q[absmax == 0] = 7
    q = q.reshape(-1).astype(np.uint8)
    packed = (q[0::2] << 4) | q[1::2]
    offset = np.float32(absmax.astype(np.float64).mean())
    centred = (absmax - offset).astype(np.float32)
    nb = len(centred)
    pad = (-nb) % 256
    c = np.concatenate([centred, np.zeros(pad, np.float32)]).reshape(-1, 256)
    am2 = np.abs(c).max(axis=1).astype(np.float32)
    q2 = nearest(code2, (c / np.where(am2 > 0, am2, 1)[:, None]).reshape(-1))[:nb].astype(np.uint8)
    absmax_dq = (code2[q2] * np.repeat(am2, 256)[:nb] + offset).astype(np.float32)
    deq = (NF4[q.astype(np.int64)].reshape(-1, 64) * absmax_dq[:, None]).astype(np.float32).reshape(w.shape)
    return packed, q2, am2, offset, deq


def numpy_int8(w: np.ndarray):
    w = w.astype(np.float32)
    scales = (np.abs(w).max(axis=1) / np.float32(127)).astype(np.float32)
    safe = np.where(scales > 0, scales, 1).astype(np.float32)
    q = np.clip(np.rint(w / safe[:, None]), -127, 127).astype(np.int8)
    q[scales == 0] = 0
    return q, scales, (q.astype(np.float32) * scales[:, None]).astype(np.float32)


def bnb_nf4(w: torch.Tensor):
    from bitsandbytes import functional as F
    q, st = F.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
    deq = F.dequantize_4bit(q, st)
    return (q.reshape(-1).numpy(), st.absmax.numpy(), st.state2.absmax.numpy(), float(st.offset),
            deq.float().numpy(), F.create_dynamic_map(signed=True).numpy())


def write_code_table(code2: np.ndarray) -> None:
    lines = []
    for i in range(0, 256, 4):
        lines.append("        " + ", ".join(float.hex(float(v)) if v != 0 else "0.0" for v in code2[i:i + 4]) + ",")
    src = ('// Generated by tools/make_quantization_fixtures.py: do not edit.\n\n'
           '/// The 256-entry signed "dynamic" 8-bit code (bitsandbytes\' `create_dynamic_map(signed=True)`: a sign, a\n'
           '/// run of zero bits giving the decimal exponent 10^-6 … 10^0, and a linear fraction), ascending. Used for\n'
           '/// the second-level quantisation of NF4 block scales ("double quantisation").\n'
           'enum DynamicCode {\n    static let values: [Float] = [\n' + "\n".join(lines) + '\n    ]\n}\n')
    with open(os.path.join(ROOT, "Sources", "Tensor", "DynamicCode.swift"), "w") as f:
        f.write(src)


def dequantize_model(model, scheme: str, code2: np.ndarray) -> int:
    n = 0
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and not name.endswith("lm_head"):
            w = mod.weight.detach().float().numpy()
            if scheme == "int8":
                deq = numpy_int8(w)[2]
                # the NumPy NF4 recipe is the reference for the model below (it takes the nearest absmax code)
            else:
                deq = numpy_nf4(w, code2)[4]
                from bitsandbytes import functional as F
                q, st = F.quantize_4bit(mod.weight.detach().float().contiguous(), blocksize=64,
                                        compress_statistics=True, quant_type="nf4")
                ref = F.dequantize_4bit(q, st).float().numpy()
                # same 4-bit codes; block scales within one step of the 8-bit absmax code
                mine = numpy_nf4(w, code2)
                assert np.array_equal(q.reshape(-1).numpy(), mine[0]), name
                # (the dynamic code holds several exact zeros, so equal values may carry different indices)
                theirs, ours = code2[st.absmax.numpy()], code2[mine[1]]
                same = np.repeat(theirs == ours, 64).reshape(w.shape)
                # bitsandbytes' CPU dequantize_4bit disagrees with its own codes and scales when a row is
                # shorter than a block (cols < 64, only in this tiny model): there codes and scales are compared.
                if w.shape[1] % 64 == 0 and same.any():
                    assert np.abs(ref - deq)[same].max() <= 1e-6 * max(1e-30, np.abs(ref).max()), name
            with torch.no_grad():
                mod.weight.copy_(torch.from_numpy(deq))
            n += 1
    return n


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(8)
    w = (rng.standard_normal((96, 384)) * 0.02).astype(np.float32)
    w[5] *= 40                     # an outlier row
    w[10, 64:128] = 0              # an all-zero NF4 block
    w = torch.from_numpy(w).to(torch.bfloat16).float().numpy()
    np.save(os.path.join(OUT, "matrix.npy"), w)

    packed, absmax_codes, scales2, offset, deq, code2 = bnb_nf4(torch.from_numpy(w))
    code2 = code2.astype(np.float32)
    np_packed, np_q2, np_am2, np_off, np_deq = numpy_nf4(w, code2)
    assert np.array_equal(packed, np_packed), "NumPy NF4 codes differ from bitsandbytes"
    # bitsandbytes' CPU search for the 8-bit absmax code is not always the nearest entry: at near-ties it
    # may pick the neighbour. The NumPy recipe takes the nearest; both are kept and compared.
    differ = np.nonzero(absmax_codes != np_q2)[0]
    assert len(differ) <= len(np_q2) // 100, "NumPy absmax codes differ from bitsandbytes in too many blocks"
    assert np.all(np.abs(absmax_codes[differ].astype(int) - np_q2[differ].astype(int)) == 1)
    assert np.allclose(scales2, np_am2, rtol=1e-6, atol=0)
    assert abs(offset - float(np_off)) <= 1e-6 * abs(offset)
    same = np.repeat(absmax_codes == np_q2, 64).reshape(w.shape)
    assert np.abs(deq - np_deq)[same].max() <= 1e-6 * np.abs(deq).max()
    np.save(os.path.join(OUT, "nf4_packed.npy"), packed.astype(np.uint8))
    np.save(os.path.join(OUT, "nf4_absmax_codes.npy"), np_q2.astype(np.uint8))
    np.save(os.path.join(OUT, "nf4_absmax_codes_bitsandbytes.npy"), absmax_codes.astype(np.uint8))
    np.save(os.path.join(OUT, "nf4_absmax_scales.npy"), scales2.astype(np.float32))
    np.save(os.path.join(OUT, "nf4_dequantized.npy"), np_deq.astype(np.float32))
    np.save(os.path.join(OUT, "nf4_dequantized_bitsandbytes.npy"), deq.astype(np.float32))
    np.save(os.path.join(OUT, "nf4_code.npy"), NF4)
    np.save(os.path.join(OUT, "dynamic_code.npy"), code2)
    write_code_table(code2)

    q8, s8, d8 = numpy_int8(w)
    np.save(os.path.join(OUT, "int8_codes.npy"), q8.astype(np.int16))
    np.save(os.path.join(OUT, "int8_scales.npy"), s8)

    import bitsandbytes
    import transformers
    from transformers import Gemma3ForConditionalGeneration
    exp = {
        "generator": "tools/make_quantization_fixtures.py",
        "bitsandbytes_version": bitsandbytes.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "nf4_offset": offset,
        "nf4_blocksize": 64, "absmax_blocksize": 256,
        "int8_max_abs_error_over_scale": float(np.max(np.abs(d8 - w) / np.where(s8 > 0, s8, 1)[:, None])),
        "nf4_max_abs_error": float(np.abs(deq - w).max()),
    }
    with open(os.path.join(VLM, "at-size", "expected.json")) as f:
        case = json.load(f)
    ids = torch.tensor([case["input_ids"]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "pixel_values": torch.from_numpy(np.load(os.path.join(VLM, "at-size", "pixel_values.npy"))),
              "token_type_ids": torch.tensor([case["token_type_ids"]])}
    base = Gemma3ForConditionalGeneration.from_pretrained(os.path.join(VLM, "model"), dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    from peft import PeftModel
    results = {}
    with torch.no_grad():
        probe = case["probe_ids"]
        ref = base(**inputs).logits[0, -1].float().numpy()
        for scheme in ("int8", "nf4"):
            m = copy.deepcopy(base)
            count = dequantize_model(m, scheme, code2)
            full = m(**inputs).logits[0].float().numpy()
            logits = full[-1]
            np.save(os.path.join(OUT, f"vlm_{scheme}_logits_probe.npy"), np.ascontiguousarray(full[:, probe], dtype=np.float32))
            peft_model = PeftModel.from_pretrained(m, LORA).eval()
            lora = peft_model(**inputs).logits[0].float().numpy()
            np.save(os.path.join(OUT, f"vlm_{scheme}_lora_logits_probe.npy"), np.ascontiguousarray(lora[:, probe], dtype=np.float32))
            results[scheme] = {
                "quantised_linear_layers": count,
                "max_abs_diff_vs_unquantised": float(np.abs(logits - ref).max()),
                "max_abs_unquantised": float(np.abs(ref).max()),
            }
    exp["vlm"] = {"case": "at-size", "model": "Tests/Fixtures/gemma3-vlm/model", "adapter": "Tests/Fixtures/lora/all-linear",
                  "results": results}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(__doc__.split("Writes ", 1)[1].split("Run by hand")[0].replace("Tests/Fixtures/quantization/\n", "# Quantisation fixtures\n\n", 1))
        f.write("\nMade by `python3 tools/make_quantization_fixtures.py` (bitsandbytes CPU build for the NF4 reference).\n")


if __name__ == "__main__":
    main()
