#!/usr/bin/env python3
"""Reference fixtures for PEFT LoRA adapters on the tiny Gemma 3 vision-language model.

The adapters are made with peft's own API (LoraConfig + get_peft_model + save_pretrained) on the base
checkpoint Tests/Fixtures/gemma3-vlm/model. peft starts every lora_B at zero, which would make the adapter
a no-op; here every lora_A / lora_B is overwritten with seeded N(0, LORA_STD^2) values before saving so
the adapter changes the logits clearly. All reference numbers are computed by transformers + peft in
float32 with eager attention, on the prompts of the base fixture (input_ids, token_type_ids and
pixel_values are read from Tests/Fixtures/gemma3-vlm/<case>/, no tokenizer is needed).

Writes Tests/Fixtures/lora/
  README.md                       what is where (also lists the bad-input fixtures)
  <adapter>/                      one adapter each: all-linear, qv-rslora, regex-layers, regex-target
    adapter_config.json           as peft's save_pretrained writes it
    adapter_model.safetensors     as peft's save_pretrained writes it (F32)
    expected.json                 config arguments, key format, per-module r / alpha / scaling, the wrapped
                                  module list, per-case results, sanity and merge checks
    logits_last_at-size.npy       float32 [262208] last-position logits, at-size case (not for regex-target)
    logits_probe_<case>.npy       float32 [T, 64] logits of every prompt position at probe_ids
    greedy_logits_probe_<case>.npy float32 [8, 64] the rows the 8 greedy tokens were picked from
    image_features_<case>.npy     float32 [1, 16, 8] projector output (only adapters that touch the vision tower)
    vision_last_hidden_<case>.npy float32 [1, 64, 32] SigLIP output (same)
  layouts/<name>/                 the all-linear adapter with its keys renamed to older transformers layouts
  bad/<name>/                     adapters a loader must reject (see bad/README.md and bad/expected.json)

Run by hand:  python3 tools/make_lora_fixtures.py [--out Tests/Fixtures/lora]
(re-executes itself with PYTHONHASHSEED=0: peft writes the 'all-linear' target list from a Python set)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    # peft writes the resolved 'all-linear' target_modules from a Python set: fix the hash seed so the
    # saved adapter_config.json is the same on every run
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np
import torch

import peft
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import Gemma3ForConditionalGeneration

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_REL = os.path.join("Tests", "Fixtures", "gemma3-vlm")  # repo-relative; peft records it as base path
BASE_MODEL_REL = os.path.join(BASE_REL, "model")
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "lora")

CASES = ["at-size", "resize-large-rgb"]
FULL_LOGITS_CASE = "at-size"  # the only case whose 262208-wide last row is stored (1 MB)
PROBE_IDS: list[int] = []  # read from the base fixture's cases (all cases share one list)
NEW_TOKENS = 8
TOP_K = 20
LORA_STD = 0.2
PREFIX = "base_model.model."

# The adapters. `config` goes to LoraConfig as it is; `seed` seeds the lora_A / lora_B values (picked so
# that on both cases the 8 greedy tokens hold at least 3 distinct ids and every top-2 margin is >= 0.09).
ADAPTERS = {
    "all-linear": dict(
        seed=37,
        config=dict(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.1, task_type="CAUSAL_LM"),
        what="r 8, alpha 16, target_modules 'all-linear' (resolved by peft), dropout 0.1 (inactive in eval)",
    ),
    "qv-rslora": dict(
        seed=17,
        config=dict(
            r=4, lora_alpha=8, use_rslora=True, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
            rank_pattern={"language_model.layers.2.self_attn.q_proj": 2},
            alpha_pattern={"vision_tower.encoder.layers.1.self_attn.v_proj": 32},
        ),
        what="r 4, alpha 8, rsLoRA (scaling alpha / sqrt(r)), q_proj + v_proj in text AND vision attention; "
             "rank_pattern gives text layer 2 q_proj r 2, alpha_pattern gives vision layer 1 v_proj alpha 32",
    ),
    "regex-layers": dict(
        seed=57,
        config=dict(r=6, lora_alpha=12, target_modules=["gate_proj", "up_proj", "down_proj"],
                    layers_to_transform=[1, 3], task_type="CAUSAL_LM"),
        what="r 6, alpha 12, text MLP (gate/up/down_proj; the vision MLP is fc1/fc2 and does not match) of text "
             "layers 1 and 3 via layers_to_transform. peft refuses layers_to_transform with a regex "
             "target_modules (see regex_with_layers_to_transform in expected.json), so the target is a list; "
             "regex-target/ is the same adapter written as one regex",
    ),
    "regex-target": dict(
        seed=None,  # takes regex-layers' tensors: same modules, same values, so the same logits
        same_tensors_as="regex-layers",
        config=dict(r=6, lora_alpha=12, target_modules=r".*language_model.*\.layers\.(1|3)\.mlp\.(gate|up|down)_proj",
                    task_type="CAUSAL_LM"),
        what="regex-layers written with a regex target_modules (re.fullmatch against the module name) instead "
             "of a list + layers_to_transform: the same 6 modules and the same tensors, so the same logits",
    ),
}


# --------------------------------------------------------------------------------------------
# Base model and inputs
# --------------------------------------------------------------------------------------------

BASE_SHA256: list[str] = []  # of the base model.safetensors the fixtures were made from (stale check)


def base_sha256() -> str:
    h = hashlib.sha256()
    with open(os.path.join(BASE_MODEL_REL, "model.safetensors"), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_base() -> Gemma3ForConditionalGeneration:
    """The base checkpoint in float32 with eager attention, loaded by its repo-relative path (cwd = repo root),
    so peft records base_model_name_or_path = 'Tests/Fixtures/gemma3-vlm/model'."""
    model, info = Gemma3ForConditionalGeneration.from_pretrained(
        BASE_MODEL_REL, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    assert not any(info.values()), info
    assert model.config._attn_implementation == "eager"
    return model.eval()


def load_case(name: str) -> tuple[dict, dict]:
    case_dir = os.path.join(BASE_REL, name)
    with open(os.path.join(case_dir, "expected.json")) as f:
        exp = json.load(f)
    if not PROBE_IDS:
        PROBE_IDS.extend(exp["probe_ids"])
    assert exp["probe_ids"] == PROBE_IDS
    assert exp["attention_mask"] == "all ones"
    ids = torch.tensor([exp["input_ids"]])
    inputs = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "pixel_values": torch.from_numpy(pixel_values(case_dir, exp)),
        "token_type_ids": torch.tensor([exp["token_type_ids"]]),
    }
    return inputs, exp


def pixel_values(case_dir: str, exp: dict) -> np.ndarray:
    """The case's pixel values: 'pixel_values_files' (concatenated on axis 0) or an older 'pixel_values_file'."""
    files = exp.get("pixel_values_files") or [exp["pixel_values_file"]]
    return np.concatenate([np.load(os.path.join(case_dir, f)) for f in files], axis=0)


def topk(row: torch.Tensor, k: int = TOP_K) -> dict:
    vals, ids = torch.topk(row.float(), k)
    return {"ids": [int(i) for i in ids], "logits": [float(v) for v in vals]}


def top2_margin(row: torch.Tensor) -> float:
    top = torch.topk(row.float(), 2).values
    return float(top[0] - top[1])


@torch.no_grad()
def greedy_with_cache(model, inputs: dict, n: int):
    """Prefill with pixel_values + token_type_ids, then argmax decoding with the KV cache, one token at a
    time without them (as generate does). No EOS stop. Returns ids, top-2 margins, and the picked-from rows."""
    out = model(**inputs, use_cache=True)
    cache = out.cache
    row = out.logits[0, -1]
    new, margins, rows = [], [], []
    for _ in range(n):
        tok = int(torch.argmax(row))
        new.append(tok)
        margins.append(top2_margin(row))
        rows.append(row.float().clone())
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache = out.cache
        row = out.logits[0, -1]
    return new, margins, torch.stack(rows)


@torch.no_grad()
def run_case(model, inputs: dict) -> dict:
    """Everything recorded for one prompt: prompt logits, greedy decoding with the cache, vision outputs."""
    logits = model(**inputs, use_cache=False).logits[0].float()
    greedy, margins, rows = greedy_with_cache(model, inputs, NEW_TOKENS)
    inner = model.get_base_model() if isinstance(model, PeftModel) else model
    pv = inputs["pixel_values"]
    vt = inner.model.vision_tower(pixel_values=pv).last_hidden_state
    feats = inner.model.get_image_features(pv).pooler_output
    return {"logits": logits, "greedy": greedy, "margins": margins, "rows": rows, "vision": vt, "features": feats}


def maxdiff(a, b) -> float:
    a = torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a
    b = torch.as_tensor(np.asarray(b)) if not isinstance(b, torch.Tensor) else b
    return float((a.float() - b.float()).abs().max())


# --------------------------------------------------------------------------------------------
# Adapters
# --------------------------------------------------------------------------------------------

def fill_lora(model: PeftModel, seed: int) -> None:
    """Overwrite every lora_A / lora_B weight with N(0, LORA_STD^2), in sorted parameter-name order."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if ".lora_A." in name or ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * LORA_STD)


def lora_modules(model: PeftModel) -> dict:
    """module name (as in the base model, without base_model.model.) -> r, alpha, scaling, shapes."""
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, peft.tuners.lora.LoraLayer):
            short = name.removeprefix(PREFIX)
            out[short] = {
                "class": f"{type(mod).__module__.split('.')[-1]}.{type(mod).__name__}",
                "base_shape_out_in": list(mod.get_base_layer().weight.shape),
                "r": int(mod.r["default"]),
                "lora_alpha": float(mod.lora_alpha["default"]),
                "scaling": float(mod.scaling["default"]),
                "use_rslora": bool(mod.use_rslora.get("default", False)),
                "lora_A_shape": list(mod.lora_A["default"].weight.shape),
                "lora_B_shape": list(mod.lora_B["default"].weight.shape),
                "base_has_bias": mod.get_base_layer().bias is not None,
            }
    return out


def save_adapter(model: PeftModel, out_dir: str, **kwargs) -> list[str]:
    """peft's save_pretrained into out_dir; drops the README.md model card it also writes."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    model.save_pretrained(out_dir, **kwargs)
    written = sorted(os.listdir(out_dir))
    card = os.path.join(out_dir, "README.md")
    if os.path.exists(card):
        os.remove(card)
    return written


def tensor_index(path: str) -> dict:
    with safe_open(path, "pt") as f:
        return {
            "metadata": f.metadata(),
            "tensors": {k: {"dtype": str(f.get_slice(k).get_dtype()), "shape": list(f.get_slice(k).get_shape())}
                        for k in sorted(f.keys())},
        }


def resolve_regex_with_layers_to_transform() -> str:
    try:
        LoraConfig(r=6, lora_alpha=12, target_modules=r".*language_model.*\.mlp\.(gate|up|down)_proj",
                   layers_to_transform=[1, 3], task_type="CAUSAL_LM")
    except ValueError as e:
        return f"ValueError: {e}"
    return "accepted"


def describe_case(name: str, adapter_dir: str, res: dict, base_exp: dict, base_res: dict,
                  save_vision: bool, save_full: bool) -> dict:
    logits = res["logits"]
    last = logits[-1]
    entry = {
        "base_case": f"../../gemma3-vlm/{name}/expected.json",
        "inputs": "input_ids, token_type_ids and pixel_values of the base case (attention_mask all ones)",
        "num_tokens": int(logits.shape[0]),
        "last_position_top20": topk(last),
        "last_position_margin": top2_margin(last),
        "max_abs_logit": float(logits.abs().max()),
        "greedy_ids": res["greedy"],
        "greedy_margins": res["margins"],
        "greedy_min_margin": min(res["margins"]),
        "base_greedy_ids": base_exp["greedy_ids"],
        "adapter_effect": {
            "last_logits_max_abs_diff_vs_base": maxdiff(last, base_res["logits"][-1]),
            "probe_logits_max_abs_diff_vs_base": maxdiff(logits[:, PROBE_IDS], base_res["logits"][:, PROBE_IDS]),
            "image_features_max_abs_diff_vs_base": maxdiff(res["features"], base_res["features"]),
            "greedy_differs_from_base": res["greedy"] != base_exp["greedy_ids"],
        },
    }
    if save_full:
        fn = f"logits_last_{name}.npy"
        np.save(os.path.join(adapter_dir, fn), last.numpy().astype(np.float32))
        entry["logits_last_file"] = fn
    fn = f"logits_probe_{name}.npy"
    np.save(os.path.join(adapter_dir, fn), logits[:, PROBE_IDS].numpy().astype(np.float32))
    entry["logits_probe_file"] = fn
    entry["logits_probe_shape"] = [int(logits.shape[0]), len(PROBE_IDS)]
    fn = f"greedy_logits_probe_{name}.npy"
    np.save(os.path.join(adapter_dir, fn), res["rows"][:, PROBE_IDS].numpy().astype(np.float32))
    entry["greedy_logits_probe_file"] = fn
    if save_vision:
        for key, stem in (("vision", "vision_last_hidden"), ("features", "image_features")):
            fn = f"{stem}_{name}.npy"
            np.save(os.path.join(adapter_dir, fn), res[key].numpy().astype(np.float32))
            entry[f"{stem}_file"] = fn
            entry[f"{stem}_shape"] = list(res[key].shape)
    return entry


@torch.no_grad()
def bare_base_check(model: PeftModel, inputs: dict, name: str, base_exp: dict) -> dict:
    """with model.disable_adapter(): the base fixture's numbers must come back."""
    case_dir = os.path.join(BASE_REL, name)
    with model.disable_adapter():
        res = run_case(model, inputs)
    base_last = np.load(os.path.join(case_dir, base_exp["logits_last_file"]))
    base_probe = np.load(os.path.join(case_dir, base_exp["logits_probe_file"]))
    base_greedy_rows = np.load(os.path.join(case_dir, base_exp["greedy_logits_probe_file"]))
    out = {
        "last_logits_max_abs_diff_vs_base_fixture": maxdiff(res["logits"][-1], base_last),
        "probe_logits_max_abs_diff_vs_base_fixture": maxdiff(res["logits"][:, PROBE_IDS], base_probe),
        "greedy_rows_max_abs_diff_vs_base_fixture": maxdiff(res["rows"][:, PROBE_IDS], base_greedy_rows),
        "greedy_ids_equal_base_fixture": res["greedy"] == base_exp["greedy_ids"],
    }
    assert out["greedy_ids_equal_base_fixture"], (res["greedy"], base_exp["greedy_ids"])
    assert out["last_logits_max_abs_diff_vs_base_fixture"] < 1e-5, out
    assert out["probe_logits_max_abs_diff_vs_base_fixture"] < 1e-5, out
    return out


@torch.no_grad()
def merge_check(adapter_dir: str, cases: dict, unmerged: dict) -> dict:
    """merge_and_unload -> save_pretrained -> reload as Gemma3ForConditionalGeneration; compare logits with
    the unmerged adapter. Also checks the merge formula W + scaling * B @ A on every wrapped module."""
    model = PeftModel.from_pretrained(load_base(), adapter_dir).eval()
    modules = {n.removeprefix(PREFIX): m for n, m in model.named_modules()
               if isinstance(m, peft.tuners.lora.LoraLayer)}
    expect = {}
    for n, m in modules.items():
        w = m.get_base_layer().weight.detach().clone()
        a, b, s = m.lora_A["default"].weight, m.lora_B["default"].weight, m.scaling["default"]
        expect[n] = w + s * (b @ a)
    merged = model.merge_and_unload()
    assert type(merged) is Gemma3ForConditionalGeneration
    formula = max(maxdiff(merged.get_submodule(n).weight, expect[n]) for n in modules)
    in_memory = {name: run_case(merged, inp) for name, (inp, _) in cases.items()}
    tmp = tempfile.mkdtemp()
    try:
        merged.save_pretrained(tmp)
        files = sorted(os.listdir(tmp))
        with safe_open(os.path.join(tmp, "model.safetensors"), "pt") as f:
            keys = sorted(f.keys())
            dtypes = sorted({str(f.get_slice(k).get_dtype()) for k in keys})
        reloaded, info = Gemma3ForConditionalGeneration.from_pretrained(
            tmp, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
        reloaded.eval()
        assert not any(info.values()), info
        results = {name: run_case(reloaded, inp) for name, (inp, _) in cases.items()}
    finally:
        shutil.rmtree(tmp)
    out = {
        "how": "PeftModel.from_pretrained(base, adapter dir).merge_and_unload() -> save_pretrained(tmp) -> "
               "Gemma3ForConditionalGeneration.from_pretrained(tmp, float32, eager)",
        "merge_formula": "W_merged = W + scaling * (lora_B.weight @ lora_A.weight) for every wrapped nn.Linear "
                         "(fan_in_fan_out false; biases untouched); everything else is the base checkpoint",
        "merge_formula_max_abs_diff": formula,
        "saved_files": files,
        "saved_dtypes": dtypes,
        "saved_num_tensors": len(keys),
        "saved_key_prefixes": sorted({k.split(".layers.")[0] if ".layers." in k else k.rsplit(".", 1)[0]
                                      for k in keys}),
        "saved_has_lora_keys": any("lora_" in k for k in keys),
        "saved_has_lm_head": any(k.startswith("lm_head") for k in keys),
        "cases": {},
    }
    for name in cases:
        u, r, mem = unmerged[name], results[name], in_memory[name]
        out["cases"][name] = {
            "reloaded_vs_unmerged_last_logits_max_abs_diff": maxdiff(r["logits"][-1], u["logits"][-1]),
            "reloaded_vs_unmerged_all_logits_max_abs_diff": maxdiff(r["logits"], u["logits"]),
            "reloaded_vs_unmerged_relative": maxdiff(r["logits"], u["logits"]) / float(u["logits"].abs().max()),
            "in_memory_merged_vs_unmerged_all_logits_max_abs_diff": maxdiff(mem["logits"], u["logits"]),
            "reloaded_vs_in_memory_merged_max_abs_diff": maxdiff(r["logits"], mem["logits"]),
            "reloaded_vs_unmerged_image_features_max_abs_diff": maxdiff(r["features"], u["features"]),
            "greedy_ids": r["greedy"],
            "greedy_equal_unmerged": r["greedy"] == u["greedy"],
        }
        assert out["cases"][name]["greedy_equal_unmerged"], (r["greedy"], u["greedy"])
        assert out["cases"][name]["reloaded_vs_unmerged_all_logits_max_abs_diff"] < 1e-3
    return out


def make_adapter(name: str, spec: dict, out_root: str, cases: dict, base_results: dict,
                 made: dict) -> dict:
    adapter_dir = os.path.join(out_root, name)
    base = load_base()
    all_linear = [n for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)]
    cfg = LoraConfig(**copy.deepcopy(spec["config"]))
    model = get_peft_model(base, cfg).eval()
    if spec.get("same_tensors_as"):
        src = load_file(os.path.join(out_root, spec["same_tensors_as"], "adapter_model.safetensors"))
        own = {k: v for k, v in model.state_dict().items() if ".lora_" in k}
        src_renamed = {k.replace(".weight", ".default.weight"): v for k, v in src.items()}
        assert sorted(own) == sorted(src_renamed), (sorted(own)[:3], sorted(src_renamed)[:3])
        model.load_state_dict(src_renamed, strict=False)
    else:
        fill_lora(model, spec["seed"])
    written = save_adapter(model, adapter_dir)
    modules = lora_modules(model)

    # everything below runs from the saved files: reload the adapter onto a fresh base
    model = PeftModel.from_pretrained(load_base(), adapter_dir).eval()
    assert lora_modules(model) == modules
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        saved_config = json.load(f)
    index = tensor_index(os.path.join(adapter_dir, "adapter_model.safetensors"))
    touches_vision = any("vision_tower" in m for m in modules)
    save_full = not spec.get("same_tensors_as")

    results, entries, bare = {}, {}, {}
    for cname, (inputs, base_exp) in cases.items():
        results[cname] = run_case(model, inputs)
        entries[cname] = describe_case(cname, adapter_dir, results[cname], base_exp, base_results[cname],
                                       touches_vision, save_full and cname == FULL_LOGITS_CASE)
        bare[cname] = bare_base_check(model, inputs, cname, base_exp)
        # generate through peft agrees with the argmax loop
        gen = model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=None,
                             pad_token_id=0)
        entries[cname]["generate_equals_argmax_loop"] = [int(t) for t in gen[0, inputs["input_ids"].shape[1]:]] \
            == results[cname]["greedy"]
        assert entries[cname]["generate_equals_argmax_loop"]

    exp = {
        "adapter": name,
        "generator": "tools/make_lora_fixtures.py",
        "transformers_version": transformers.__version__,
        "peft_version": peft.__version__,
        "torch_version": torch.__version__,
        "what": spec["what"],
        "base_model_dir": "../../gemma3-vlm/model",
        "base_model_safetensors_sha256": BASE_SHA256[0],
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "lora_config_arguments": spec["config"],
        "init": (f"every lora_A / lora_B weight = N(0, {LORA_STD}^2), torch.Generator seed {spec['seed']}, drawn "
                 "in sorted parameter-name order (peft's own init has lora_B = 0)") if spec["seed"] is not None
                else f"the tensors of ../{spec['same_tensors_as']}/ (identical keys and values)",
        "save_pretrained_wrote": written,
        "files_kept": "adapter_config.json, adapter_model.safetensors (peft's README.md model card removed)",
        "adapter_config": saved_config,
        "safetensors_metadata": index["metadata"],
        "key_format": "base_model.model.<module name in the transformers 5 model>.lora_A.weight / .lora_B.weight; "
                      "no adapter name in the key. Module names: model.language_model.layers.<i>.self_attn."
                      "{q,k,v,o}_proj, model.language_model.layers.<i>.mlp.{gate,up,down}_proj, "
                      "model.vision_tower.encoder.layers.<i>.self_attn.{q,k,v,out}_proj, "
                      "model.vision_tower.encoder.layers.<i>.mlp.{fc1,fc2}",
        "lora_A_shape": "[r, in_features]",
        "lora_B_shape": "[out_features, r]",
        "forward": "y = base(x) + scaling * lora_B(lora_A(dropout(x))); dropout is identity in eval; "
                   "scaling = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora",
        "tensors": index["tensors"],
        "wrapped_modules": sorted(modules),
        "num_wrapped_modules": len(modules),
        "modules": modules,
        "probe_ids": PROBE_IDS,
        "cases": entries,
        "bare_base_disable_adapter": bare,
    }
    if name == "all-linear":
        exp["all_linear_resolution"] = {
            "saved_target_modules": saved_config["target_modules"],
            "note": "peft replaces 'all-linear' by every nn.Linear of the model except the output embedding "
                    "(lm_head), then stores the shortest name suffixes that select exactly those modules",
            "nn_linear_in_base": all_linear,
            "excluded": sorted(set(all_linear) - set(modules)),
            "not_linear_so_not_wrapped": [
                "model.vision_tower.embeddings.patch_embedding (Conv2d)",
                "model.multi_modal_projector.mm_input_projection_weight (a bare Parameter used with torch.matmul)",
                "model.multi_modal_projector.mm_soft_emb_norm (RMSNorm)",
                "model.language_model.embed_tokens (Embedding)",
            ],
            "includes_vision_tower": any("vision_tower" in m for m in modules),
            "includes_projector": any("multi_modal_projector" in m for m in modules),
            "includes_lm_head": any(m.endswith("lm_head") for m in modules),
        }
    if name == "qv-rslora":
        exp["rslora_scaling"] = {
            "rule": "scaling = lora_alpha / sqrt(r); r from rank_pattern, alpha from alpha_pattern when a pattern "
                    "key matches the module name as re.match(rf'(.*\\.)?({key})$', name), else r / lora_alpha",
            "by_module": {m: {"r": v["r"], "lora_alpha": v["lora_alpha"], "scaling": v["scaling"]}
                          for m, v in modules.items()},
            "distinct": sorted({(v["r"], v["lora_alpha"], v["scaling"]) for v in modules.values()}),
        }
        for m, v in modules.items():
            assert abs(v["scaling"] - v["lora_alpha"] / math.sqrt(v["r"])) < 1e-12, (m, v)
    if name == "regex-layers":
        exp["regex_with_layers_to_transform"] = resolve_regex_with_layers_to_transform()
    if spec.get("same_tensors_as"):
        ref = made[spec["same_tensors_as"]]
        exp["same_as"] = {
            "adapter": spec["same_tensors_as"],
            "wrapped_modules_equal": sorted(modules) == ref["wrapped_modules"],
            "tensors_equal": True,
            "logits_max_abs_diff": {c: maxdiff(results[c]["logits"], ref["_results"][c]["logits"]) for c in cases},
            "greedy_equal": {c: results[c]["greedy"] == ref["_results"][c]["greedy"] for c in cases},
        }
        assert exp["same_as"]["wrapped_modules_equal"]
        assert all(v == 0.0 for v in exp["same_as"]["logits_max_abs_diff"].values()), exp["same_as"]
    if name == "all-linear":
        exp["merged"] = merge_check(adapter_dir, cases, results)

    write_json(os.path.join(adapter_dir, "expected.json"), exp)
    exp["_results"] = results
    return exp


# --------------------------------------------------------------------------------------------
# Older key layouts
# --------------------------------------------------------------------------------------------

LAYOUTS = {
    "transformers-4.52": {
        "what": "transformers 4.52 - 4.57 in-memory names (Gemma3Model with language_model / vision_tower = "
                "SiglipVisionModel): model.language_model.layers.* and model.vision_tower.vision_model.encoder.*",
        "rename": [("base_model.model.model.vision_tower.encoder.",
                    "base_model.model.model.vision_tower.vision_model.encoder.")],
    },
    "transformers-4.50": {
        "what": "transformers 4.50 - 4.51 in-memory names (Gemma3ForConditionalGeneration with language_model = "
                "Gemma3ForCausalLM): language_model.model.layers.* and vision_tower.vision_model.encoder.*",
        "rename": [("base_model.model.model.language_model.", "base_model.model.language_model.model."),
                   ("base_model.model.model.vision_tower.encoder.",
                    "base_model.model.vision_tower.vision_model.encoder.")],
    },
}


@torch.no_grad()
def make_layouts(out_root: str, cases: dict, all_linear: dict) -> dict:
    src_dir = os.path.join(out_root, "all-linear")
    src = load_file(os.path.join(src_dir, "adapter_model.safetensors"))
    summary = {}
    for name, spec in LAYOUTS.items():
        d = os.path.join(out_root, "layouts", name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        shutil.copy(os.path.join(src_dir, "adapter_config.json"), os.path.join(d, "adapter_config.json"))
        renamed = {}
        for k, v in src.items():
            for a, b in spec["rename"]:
                if k.startswith(a):
                    k = b + k[len(a):]
                    break
            renamed[k] = v
        save_file(renamed, os.path.join(d, "adapter_model.safetensors"), metadata={"format": "pt"})
        model = PeftModel.from_pretrained(load_base(), d).eval()
        loaded = {c: run_case(model, inp) for c, (inp, _) in cases.items()}
        summary[name] = {
            "what": spec["what"],
            "example_keys": sorted(renamed)[:1] + [k for k in sorted(renamed) if "vision" in k][:1],
            "peft_loads_it": True,
            "logits_max_abs_diff_vs_all_linear": {c: maxdiff(loaded[c]["logits"], all_linear["_results"][c]["logits"])
                                                  for c in cases},
            "greedy_equal_all_linear": {c: loaded[c]["greedy"] == all_linear["_results"][c]["greedy"] for c in cases},
        }
    write_json(os.path.join(out_root, "layouts", "expected.json"), {
        "generator": "tools/make_lora_fixtures.py",
        "source": "../all-linear/ (same adapter_config.json, same tensor values, keys renamed)",
        "expected_results": "identical to ../all-linear/expected.json: peft (with transformers 5) renames the "
                            "older module paths on load",
        "layouts": summary,
    })
    return summary


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------

BAD_TARGET = r"model\.language_model\.layers\.0\.self_attn\.(q|v)_proj"
BAD_ARGS = dict(r=4, lora_alpha=8, target_modules=BAD_TARGET, task_type="CAUSAL_LM")


def small_adapter(base=None, seed: int = 201, **overrides) -> PeftModel:
    args = dict(BAD_ARGS)
    args.update(overrides)
    model = get_peft_model(base if base is not None else load_base(), LoraConfig(**args)).eval()
    fill_lora(model, seed)
    return model


def try_peft_load(adapter_dir: str) -> dict:
    """What peft does with the directory: the exception, or the warnings and whether the adapter is a no-op."""
    buf = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(buf):
        warnings.simplefilter("always")
        try:
            model = PeftModel.from_pretrained(load_base(), adapter_dir).eval()
        except Exception as e:  # noqa: BLE001 -- recording whatever peft raises
            msg = str(e).strip().splitlines()
            return {"peft_from_pretrained": "raises", "exception": type(e).__name__,
                    "message": [m for m in msg if m.strip()][:6]}
    msgs = sorted({str(w.message).strip().splitlines()[0][:300] for w in caught
                   if "peft" in str(w.filename) or "lora" in str(w.message).lower() or "key" in str(w.message).lower()})
    msgs += [line.strip()[:300] for line in buf.getvalue().splitlines()
             if line.strip() and "Loading weights" not in line and "it/s]" not in line]
    return {"peft_from_pretrained": "loads", "warnings": msgs,
            "wrapped_modules": sorted(n.removeprefix(PREFIX) for n, m in model.named_modules()
                                      if isinstance(m, peft.tuners.lora.LoraLayer))}


def rewrite_tensors(adapter_dir: str, fn) -> None:
    path = os.path.join(adapter_dir, "adapter_model.safetensors")
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    tensors = fn(load_file(path))
    save_file(tensors, path, metadata=meta)


def rewrite_config(adapter_dir: str, fn) -> None:
    path = os.path.join(adapter_dir, "adapter_config.json")
    with open(path) as f:
        cfg = json.load(f)
    fn(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def make_bad(out_root: str) -> dict:
    bad_root = os.path.join(out_root, "bad")
    if os.path.isdir(bad_root):
        shutil.rmtree(bad_root)
    os.makedirs(bad_root)
    info = {}
    q_b = "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_B.weight"
    v_b = "base_model.model.model.language_model.layers.0.self_attn.v_proj.lora_B.weight"

    # 1. made for a model with hidden size 16 (ours is 8): lora_A is [4, 16] where [4, 8] is needed
    d = os.path.join(bad_root, "shape-mismatch")
    cfg16 = transformers.Gemma3Config.from_pretrained(BASE_MODEL_REL)
    cfg16.text_config.hidden_size = 16
    torch.manual_seed(0)
    other = Gemma3ForConditionalGeneration(cfg16).float().eval()
    other.name_or_path = BASE_MODEL_REL  # claims our base, as a mix-up would
    save_adapter(small_adapter(base=other, seed=211), d)
    del other
    info["shape-mismatch"] = {
        "what": "made with peft on a Gemma 3 whose text hidden size is 16 (this base: 8); lora_A of q_proj and "
                "v_proj is [4, 16] where the base needs [4, 8] (lora_B shapes happen to fit: q out 16, v out 8); "
                "adapter_config.json names this base",
        "expect": "reject: lora_A in_features 16 != base in_features 8 (name the tensor and both shapes)",
    }

    # 2. a lora_B tensor missing
    d = os.path.join(bad_root, "missing-lora-b")
    save_adapter(small_adapter(seed=212), d)
    rewrite_tensors(d, lambda t: {k: v for k, v in t.items() if k != v_b})
    info["missing-lora-b"] = {
        "what": f"valid r 4 adapter on text layer 0 q_proj + v_proj with '{v_b}' deleted",
        "expect": "reject: v_proj has lora_A but no lora_B",
    }

    # 3. config says r 8, tensors have rank 4
    d = os.path.join(bad_root, "rank-mismatch")
    save_adapter(small_adapter(seed=213), d)
    rewrite_config(d, lambda c: c.update(r=8))
    info["rank-mismatch"] = {
        "what": "tensors made with r 4 (lora_A [4, in], lora_B [out, 4]); adapter_config.json edited to r 8, "
                "lora_alpha 8 left as is",
        "expect": "reject (or at least never silently use alpha / 8 with rank-4 tensors): config r 8 != tensor rank 4",
    }

    # 4. DoRA
    d = os.path.join(bad_root, "dora")
    model = small_adapter(seed=214, use_dora=True)
    save_adapter(model, d)
    info["dora"] = {
        "what": "made with peft's use_dora=True (weight-decomposed LoRA); the file holds lora_A, lora_B and "
                "lora_magnitude_vector (one [out_features] vector per module, initialised by peft to the base "
                "weight's row norms)",
        "expect": "reject: use_dora true is not supported (DoRA rescales the merged weight; plain LoRA math "
                  "would be wrong)",
    }

    # 5. modules_to_save
    d = os.path.join(bad_root, "modules-to-save")
    model = small_adapter(seed=215, modules_to_save=["multi_modal_projector"])
    with torch.no_grad():  # make the saved copy differ from the base, as training would
        mts = model.get_base_model().model.multi_modal_projector
        mts.modules_to_save["default"].mm_input_projection_weight.add_(0.5)
    save_adapter(model, d)
    info["modules-to-save"] = {
        "what": "modules_to_save ['multi_modal_projector']: besides the LoRA pairs the file holds full "
                "replacement tensors for the projector (its values shifted by +0.5 from the base)",
        "expect": "reject (unless full-module replacement is supported): modules_to_save is set",
    }

    # 6. pickle only
    d = os.path.join(bad_root, "bin-only")
    save_adapter(small_adapter(seed=216), d, safe_serialization=False)
    info["bin-only"] = {
        "what": "saved with save_pretrained(safe_serialization=False): adapter_model.bin (a torch pickle / zip) "
                "and no adapter_model.safetensors",
        "expect": "reject: adapter_model.safetensors not found (pickles are not read)",
    }

    # 7. a key that matches no base module
    d = os.path.join(bad_root, "unknown-key")
    save_adapter(small_adapter(seed=217), d)
    def add_layer7(t):
        t = dict(t)
        for k in list(t):
            if ".layers.0.self_attn.q_proj." in k:
                t[k.replace(".layers.0.", ".layers.7.")] = t[k].clone()
        return t
    rewrite_tensors(d, add_layer7)
    info["unknown-key"] = {
        "what": "valid adapter plus a lora_A / lora_B pair for model.language_model.layers.7.self_attn.q_proj "
                "(the base has 4 layers, 0..3)",
        "expect": "reject: no base module model.language_model.layers.7.self_attn.q_proj",
    }

    for name, entry in info.items():
        d = os.path.join(bad_root, name)
        entry["files"] = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))}
        st = os.path.join(d, "adapter_model.safetensors")
        if os.path.exists(st):
            entry["tensors"] = tensor_index(st)["tensors"]
        with open(os.path.join(d, "adapter_config.json")) as f:
            c = json.load(f)
        entry["config"] = {k: c[k] for k in ("r", "lora_alpha", "target_modules", "use_dora", "modules_to_save",
                                             "base_model_name_or_path")}
        entry["peft_behaviour"] = try_peft_load(d)
    write_json(os.path.join(bad_root, "expected.json"), {
        "generator": "tools/make_lora_fixtures.py",
        "peft_version": peft.__version__,
        "base_model_dir": "../../../gemma3-vlm/model",
        "valid_form": f"all but the noted defect: r 4, alpha 8, target_modules regex '{BAD_TARGET}' (text layer "
                      "0 q_proj and v_proj), F32 tensors, keys as in the good adapters",
        "cases": info,
    })
    return info


# --------------------------------------------------------------------------------------------
# READMEs
# --------------------------------------------------------------------------------------------

def write_readme(out_root: str, made: dict) -> None:
    al, qv, rl = made["all-linear"], made["qv-rslora"], made["regex-layers"]
    res = al["all_linear_resolution"]
    mg = al["merged"]["cases"]
    scal = ", ".join(f"r {r} alpha {a:g} -> {sc:.6g}" for r, a, sc in qv["rslora_scaling"]["distinct"])
    text = f"""# lora fixtures

PEFT LoRA adapters on the tiny Gemma 3 VLM of `../gemma3-vlm/model`, made with peft {peft.__version__}'s own
API (`LoraConfig` + `get_peft_model` + `save_pretrained`) by `tools/make_lora_fixtures.py` (deterministic;
rerun by hand after the base fixture changes: each `expected.json` holds the sha256 of the base
`model.safetensors` it was made from). peft initialises `lora_B` to zero; here every `lora_A` / `lora_B` is
overwritten with seeded N(0, {LORA_STD}^2) values before saving, so each adapter moves the logits by several
units. References are transformers {transformers.__version__} + peft in float32, eager attention, on the
`at-size` and `resize-large-rgb` prompts of the base fixture (its `input_ids`, `token_type_ids`,
`pixel_values`; attention mask all ones).

| adapter | config | wrapped |
| --- | --- | --- |
| `all-linear` | r 8, alpha 16, `target_modules="all-linear"`, dropout 0.1, CAUSAL_LM | {al["num_wrapped_modules"]} modules: every nn.Linear but `lm_head` (text q/k/v/o/gate/up/down x 4 layers + vision q/k/v/out_proj/fc1/fc2 x 2 layers); not the projector (no nn.Linear there) nor `patch_embedding` (Conv2d). The saved `target_modules` is the suffix list {json.dumps(res["saved_target_modules"])} |
| `qv-rslora` | r 4, alpha 8, `use_rslora`, `["q_proj","v_proj"]`, `rank_pattern` {json.dumps(qv["adapter_config"]["rank_pattern"])}, `alpha_pattern` {json.dumps(qv["adapter_config"]["alpha_pattern"])} | {qv["num_wrapped_modules"]} modules: q/v of the 4 text AND the 2 vision layers. Scaling alpha / sqrt(r): {scal} |
| `regex-layers` | r 6, alpha 12, `["gate_proj","up_proj","down_proj"]` + `layers_to_transform` [1, 3] | {rl["num_wrapped_modules"]} modules: text MLP of layers 1 and 3. peft {peft.__version__} refuses `layers_to_transform` with a regex `target_modules` ("{rl["regex_with_layers_to_transform"]}"), hence the list |
| `regex-target` | the same adapter with `target_modules` = the regex `{made["regex-target"]["adapter_config"]["target_modules"]}` (peft: `re.fullmatch` on the module name) | the same 6 modules, identical tensors and results (only probe/greedy arrays stored) |

**Keys** (`adapter_model.safetensors`, all F32, metadata `{{"format": "pt"}}`): `base_model.model.` + the module's
name in the transformers 5 model + `.lora_A.weight` ([r, in]) / `.lora_B.weight` ([out, r]); no adapter name.
Module names: `model.language_model.layers.<i>.self_attn.{{q,k,v,o}}_proj`, `model.language_model.layers.<i>.mlp.{{gate,up,down}}_proj`,
`model.vision_tower.encoder.layers.<i>.self_attn.{{q,k,v,out}}_proj`, `model.vision_tower.encoder.layers.<i>.mlp.{{fc1,fc2}}`.
E.g. `base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight`. Note these differ from the
base checkpoint's own keys (`language_model.model.layers.*`, `vision_tower.encoder.*`): peft does not apply
transformers' save-time renaming. `layouts/` holds the all-linear tensors under the key names older transformers
gave (4.52-4.57: `model.vision_tower.vision_model.encoder.*`; 4.50-4.51: `language_model.model.layers.*` +
`vision_tower.vision_model.encoder.*`); peft + transformers 5 load both to exactly the all-linear results.

**Math**: y = base(x) + scaling * lora_B(lora_A(x)), scaling = alpha / r (alpha / sqrt(r) with rsLoRA); r and alpha
per module from `rank_pattern` / `alpha_pattern` (a pattern key matches a module name when
`re.match(rf"(.*\\.)?({{key}})$", name)`), else `r` / `lora_alpha`. Dropout is inactive in eval. Merge:
W + scaling * (B @ A), biases untouched.

Files per adapter: `adapter_config.json`, `adapter_model.safetensors` (as peft wrote them; its README.md model
card removed), `expected.json` (config, tensor index, per-module r / alpha / scaling / shapes, per-case top-20,
margins, greedy ids, checks), `logits_last_at-size.npy` ([262208]; not for `regex-target`),
`logits_probe_<case>.npy` ([T, 64] at the base fixture's `probe_ids`), `greedy_logits_probe_<case>.npy` ([8, 64]:
the rows the 8 greedy tokens were picked from; argmax, KV cache, no EOS; equals peft's `generate`),
and for adapters that touch the vision tower `vision_last_hidden_<case>.npy` ([1, 64, 32]) and
`image_features_<case>.npy` ([1, 16, 8]).

**Sanity**: with `model.disable_adapter()` every adapter gives back the base fixture's logits, probe rows and
greedy ids exactly (`bare_base_disable_adapter` in each `expected.json`: all 0.0).

**Merged** (`all-linear/expected.json` -> `merged`): `merge_and_unload()` -> `save_pretrained` -> reload as
`Gemma3ForConditionalGeneration`: W_merged equals W + scaling * B @ A exactly; merged vs unmerged logits differ
by at most {mg["at-size"]["reloaded_vs_unmerged_last_logits_max_abs_diff"]:.2g} / {mg["resize-large-rgb"]["reloaded_vs_unmerged_last_logits_max_abs_diff"]:.2g}
at the last position and {mg["at-size"]["reloaded_vs_unmerged_all_logits_max_abs_diff"]:.2g} / {mg["resize-large-rgb"]["reloaded_vs_unmerged_all_logits_max_abs_diff"]:.2g}
over all positions (at-size / resize-large-rgb; relative to max |logit|:
{mg["at-size"]["reloaded_vs_unmerged_relative"]:.2g} / {mg["resize-large-rgb"]["reloaded_vs_unmerged_relative"]:.2g}); greedy ids equal.
transformers writes the merged checkpoint in the base layout (`language_model.model.*`, `vision_tower.*`,
`multi_modal_projector.*`, no `lm_head`), all F32 here. `tools/check_merged_model.py MERGED BASE ADAPTER`
compares a merged directory written by our tool against base + adapter through peft.

`bad/`: adapters a loader must reject, one defect each: see `bad/README.md` and `bad/expected.json`.
"""
    with open(os.path.join(out_root, "README.md"), "w") as f:
        f.write(text)


def write_bad_readme(out_root: str, info: dict) -> None:
    lines = [
        "# bad LoRA adapters",
        "",
        "Each folder is a small adapter on `../../gemma3-vlm/model` with one defect. The valid form they start",
        f"from: r 4, alpha 8, `target_modules` the regex `{BAD_TARGET}` (text layer 0 q_proj + v_proj), F32",
        "tensors keyed `base_model.model.model.language_model.layers.0.self_attn.{q,v}_proj.lora_{A,B}.weight`.",
        "`expected.json` lists each folder's files, tensors, key config fields and what peft "
        f"{peft.__version__} itself does with it",
        "(it accepts several of them: the 'expect' column is what our loader should do).",
        "",
        "| folder | what | expect | peft |",
        "| --- | --- | --- | --- |",
    ]
    for name, e in info.items():
        pb = e["peft_behaviour"]
        if pb["peft_from_pretrained"] == "raises":
            peft_says = f"raises {pb['exception']} (size mismatch)" if "size mismatch" in " ".join(pb["message"]) \
                else f"raises {pb['exception']}"
        else:
            peft_says = "loads" + (f"; warns: {pb['warnings'][0]}" if pb["warnings"] else " (no warning)")
        lines.append(f"| `{name}` | {e['what']} | {e['expect']} | {peft_says} |")
    lines += [
        "",
        "Notes: DoRA's magnitude key has no `.weight` suffix (`...q_proj.lora_magnitude_vector`, shape [out]);",
        "`modules_to_save` tensors are saved under the plain module path (`base_model.model.model.multi_modal_projector.",
        "mm_input_projection_weight`), with no `lora_` and no `modules_to_save` segment, so only the config (or a",
        "non-LoRA key) reveals them.",
    ]
    with open(os.path.join(out_root, "bad", "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def write_json(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    out_root = os.path.abspath(args.out)
    os.chdir(REPO_ROOT)
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    os.makedirs(out_root, exist_ok=True)
    transformers.logging.set_verbosity_error()

    BASE_SHA256.append(base_sha256())
    cases = {name: load_case(name) for name in CASES}
    base = load_base()
    base_results = {}
    for name, (inputs, exp) in cases.items():  # the base fixture must come back from its own inputs
        res = run_case(base, inputs)
        d = maxdiff(res["logits"][-1], np.load(os.path.join(BASE_REL, name, exp["logits_last_file"])))
        assert d < 1e-5 and res["greedy"] == exp["greedy_ids"], (name, d)
        base_results[name] = res
    del base

    made = {}
    for name, spec in ADAPTERS.items():
        print(f"adapter {name}")
        made[name] = make_adapter(name, spec, out_root, cases, base_results, made)
    print("layouts")
    make_layouts(out_root, cases, made["all-linear"])
    print("bad inputs")
    bad = make_bad(out_root)
    write_readme(out_root, made)
    write_bad_readme(out_root, bad)

    assert base_sha256() == BASE_SHA256[0], "the base checkpoint changed while this script ran: run it again"
    total = 0
    for root, _, files in sorted(os.walk(out_root)):
        size = sum(os.path.getsize(os.path.join(root, x)) for x in files)
        total += size
        print(f"  {os.path.relpath(root, out_root)}: {size / 1e3:.1f} kB  {sorted(files)}")
    print(f"total {total / 1e6:.3f} MB ({total / 2**20:.3f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
