#!/usr/bin/env python3
"""Write a random PEFT LoRA adapter (r, alpha, all-linear) for a Gemma 3 model directory, for benchmarks.

    python3 tools/make_random_adapter.py MODEL_DIR OUT_DIR [--r 8] [--alpha 16] [--seed 0]

Reads config.json only (no weights, no torch): every linear layer of the text decoder and the SigLIP
tower gets lora_A [r, in] and lora_B [out, r] in float32 with non-zero values, under the key layout peft
writes with transformers 5 (base_model.model.model.language_model... / ...model.vision_tower.encoder...).
"""
import argparse
import json
import os

import numpy as np
from safetensors.numpy import save_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model_dir, "config.json")))
    t = cfg.get("text_config", cfg)
    v = cfg.get("vision_config")
    rng = np.random.default_rng(a.seed)
    tensors = {}

    def add(module: str, out_f: int, in_f: int) -> None:
        tensors[f"base_model.model.{module}.lora_A.weight"] = (rng.standard_normal((a.r, in_f)) * 0.01).astype(np.float32)
        tensors[f"base_model.model.{module}.lora_B.weight"] = (rng.standard_normal((out_f, a.r)) * 0.01).astype(np.float32)

    d, hd = t["hidden_size"], t.get("head_dim", 256)
    q, kv, ff = t["num_attention_heads"] * hd, t["num_key_value_heads"] * hd, t["intermediate_size"]
    for i in range(t["num_hidden_layers"]):
        p = f"model.language_model.layers.{i}"
        for name, o, n in [("self_attn.q_proj", q, d), ("self_attn.k_proj", kv, d), ("self_attn.v_proj", kv, d),
                           ("self_attn.o_proj", d, q), ("mlp.gate_proj", ff, d), ("mlp.up_proj", ff, d), ("mlp.down_proj", d, ff)]:
            add(f"{p}.{name}", o, n)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    if v:
        vd, vff = v["hidden_size"], v["intermediate_size"]
        for i in range(v["num_hidden_layers"]):
            p = f"model.vision_tower.encoder.layers.{i}"
            for name, o, n in [("self_attn.q_proj", vd, vd), ("self_attn.k_proj", vd, vd), ("self_attn.v_proj", vd, vd),
                               ("self_attn.out_proj", vd, vd), ("mlp.fc1", vff, vd), ("mlp.fc2", vd, vff)]:
                add(f"{p}.{name}", o, n)
        targets += ["out_proj", "fc1", "fc2"]
    os.makedirs(a.out_dir, exist_ok=True)
    save_file(tensors, os.path.join(a.out_dir, "adapter_model.safetensors"), metadata={"format": "pt"})
    json.dump({"peft_type": "LORA", "r": a.r, "lora_alpha": a.alpha, "target_modules": targets, "lora_dropout": 0.1,
               "bias": "none", "use_rslora": False, "use_dora": False, "task_type": "CAUSAL_LM",
               "base_model_name_or_path": a.model_dir}, open(os.path.join(a.out_dir, "adapter_config.json"), "w"), indent=2)
    print(f"wrote {len(tensors) // 2} LoRA modules to {a.out_dir}")


if __name__ == "__main__":
    main()
