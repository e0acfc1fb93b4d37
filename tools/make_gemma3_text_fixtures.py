#!/usr/bin/env python3
"""Reference fixtures for the Gemma 3 text model: tiny random checkpoints plus transformers' outputs.

Writes Tests/Fixtures/gemma3-text/<case>/ with
  config.json, model.safetensors   the checkpoint, as `save_pretrained` writes it
  expected.json                    prompt ids, greedy ids, margins, resolved config facts, checks
  logits.npy                       float32 logits of every prompt position, shape [T, vocab]
  greedy_logits.npy                float32 logits each greedy token was picked from, shape [12, vocab]
                                   (row 0 = last prompt position, row k = after k generated tokens)
  logits_f32ref.npy                (bfloat16 cases) float32 compute on the same bf16-rounded weights

Cases
  sliding-gqa    4 layers with explicit `layer_types`, GQA 4/2, head_dim 32 != hidden/heads,
                 sliding window 8 < prompt 24, query_pre_attn_scalar 24 != head_dim,
                 global rope 1e6 with linear x8, local rope 1e4. Tied embeddings.
  softcap-mqa    3 layers, MQA 2/1, config.json in the legacy Hub form (no `layer_types`,
                 `sliding_window_pattern`, `rope_theta`/`rope_local_base_freq`/`rope_scaling`),
                 final soft-capping 3.0 (biting), attn_logit_softcapping 2.0 in the config --
                 which transformers' Gemma 3 never applies (Gemma3Attention does not pass
                 `softcap` to the attention function), so the logits are those of no capping.
  bf16           sliding-gqa's weights rounded to bfloat16, computed by transformers in bfloat16.
  bf16-softcap   softcap-mqa's weights in bfloat16; hidden 48, so sqrt(hidden) = 6.928... is
                 rounded to 6.9375 by the bf16 embedding scale (64 gives an exact 8).

Every weight is random (norm weights too, std 0.5, so a missing `1 +` in RMSNorm shows).
The reference always runs with attn_implementation="eager"; sdpa is checked against it.

Run by hand:  python3 tools/make_gemma3_text_fixtures.py [--out Tests/Fixtures/gemma3-text] [--case NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

import transformers
from transformers import Gemma3ForCausalLM, Gemma3TextConfig
from transformers.models.gemma3 import modeling_gemma3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "gemma3-text")
NEW_TOKENS = 12


# --------------------------------------------------------------------------------------------
# Case definitions
# --------------------------------------------------------------------------------------------

def sliding_gqa_config() -> Gemma3TextConfig:
    return Gemma3TextConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        sliding_window=8,
        query_pre_attn_scalar=24,
        # transformers 5.x: one rope dict per layer type (legacy `rope_theta` +
        # `rope_local_base_freq` + `rope_scaling` are converted into this form on load).
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        rms_norm_eps=1e-6,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        bos_token_id=2,
        eos_token_id=1,
        pad_token_id=0,
    )


def softcap_mqa_config() -> Gemma3TextConfig:
    # Built through the legacy keyword path on purpose: `sliding_window_pattern` instead of
    # `layer_types`, `rope_theta`/`rope_local_base_freq` instead of `rope_parameters`.
    return Gemma3TextConfig(
        vocab_size=300,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=5,
        sliding_window_pattern=2,
        query_pre_attn_scalar=16,
        rope_theta=1_000_000.0,
        rope_local_base_freq=10_000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        attn_logit_softcapping=2.0,
        final_logit_softcapping=3.0,
        bos_token_id=2,
        eos_token_id=1,
        pad_token_id=0,
    )


# Legacy Hub-style config.json for softcap-mqa (what checkpoints published with transformers 4.5x
# look like). Written over the save_pretrained one; the script checks transformers resolves both
# to the same layer types and rope parameters.
SOFTCAP_MQA_LEGACY_JSON_EDITS = {
    "drop": ["layer_types", "rope_parameters", "_sliding_window_pattern"],
    "set": {
        "sliding_window_pattern": 2,
        "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10_000.0,
        "rope_scaling": None,
    },
}


def weight_spec(case: str):
    """(std for embeddings, std for linear weights, norm mean/std, q/k-norm mean/std)"""
    if case == "sliding-gqa":
        return dict(embed=0.1, linear=0.05, norm=(0.0, 0.5), qk_norm=(0.0, 0.5))
    if case == "softcap-mqa":
        # q/k norms centred on 0.6, so (1 + w) ~ 1.6 and raw scores exceed 2; the final norm
        # centred on 2, so (1 + w) ~ 3 and raw final logits exceed the cap of 3.
        return dict(embed=0.1, linear=0.06, norm=(0.0, 0.5), qk_norm=(0.6, 0.5), final_norm=(1.0, 0.3))
    raise ValueError(case)


CASES = {
    "sliding-gqa": dict(config=sliding_gqa_config, seed=21, prompt_len=24, weights="sliding-gqa", dtype="float32"),
    "softcap-mqa": dict(config=softcap_mqa_config, seed=52, prompt_len=20, weights="softcap-mqa", dtype="float32"),
    "bf16": dict(base="sliding-gqa", dtype="bfloat16"),
    "bf16-softcap": dict(base="softcap-mqa", dtype="bfloat16"),
}


def prompt_ids_for(vocab: int, length: int, salt: int) -> list[int]:
    """A fixed prompt: BOS, then a deterministic spread of ids >= 3 (0 pad, 1 eos, 2 bos)."""
    ids = [2]
    for k in range(length - 1):
        ids.append(3 + (salt + 97 * k + (k * k) % 13) % (vocab - 3))
    return ids


# --------------------------------------------------------------------------------------------
# Model building
# --------------------------------------------------------------------------------------------

def randomize(model: Gemma3ForCausalLM, seed: int, spec: dict) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if name.endswith("q_norm.weight") or name.endswith("k_norm.weight"):
                mean, std = spec["qk_norm"]
            elif name == "model.norm.weight":
                mean, std = spec.get("final_norm", spec["norm"])
            elif "norm" in name:
                mean, std = spec["norm"]
            elif "embed_tokens" in name:
                mean, std = 0.0, spec["embed"]
            else:
                mean, std = 0.0, spec["linear"]
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * std + mean)


def load(model_dir: str, dtype: torch.dtype, attn: str = "eager") -> Gemma3ForCausalLM:
    model = Gemma3ForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation=attn)
    model.eval()
    return model


# --------------------------------------------------------------------------------------------
# Reference computations
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def prompt_logits(model, ids: list[int]) -> torch.Tensor:
    out = model(input_ids=torch.tensor([ids]), use_cache=False)
    return out.logits[0].float()


def top2_margin(row: torch.Tensor) -> float:
    top = torch.topk(row.float(), 2).values
    return float(top[0] - top[1])


@torch.no_grad()
def greedy_with_cache(model, ids: list[int], n: int):
    """Argmax decoding with the model's own KV cache; no EOS stopping."""
    out = model(input_ids=torch.tensor([ids]), use_cache=True)
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
def greedy_recompute(model, ids: list[int], n: int):
    """Argmax decoding recomputing the whole sequence each step; no cache, no EOS stopping."""
    seq = list(ids)
    new, rows = [], []
    for _ in range(n):
        row = model(input_ids=torch.tensor([seq]), use_cache=False).logits[0, -1]
        tok = int(torch.argmax(row))
        new.append(tok)
        rows.append(row.float())
        seq.append(tok)
    return new, torch.stack(rows)


@torch.no_grad()
def greedy_generate(model, ids: list[int], n: int, poisoned_eos: int | None = None):
    """model.generate with EOS disabled. With `poisoned_eos`, the model's generation config names
    that id as EOS first, so the call proves `eos_token_id=None` really overrides it."""
    saved = model.generation_config.eos_token_id
    if poisoned_eos is not None:
        model.generation_config.eos_token_id = poisoned_eos
    try:
        out = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            do_sample=False,
            max_new_tokens=n,
            eos_token_id=None,
            pad_token_id=0,
        )
    finally:
        model.generation_config.eos_token_id = saved
    return [int(t) for t in out[0, len(ids):]]


@torch.no_grad()
def sliding_window_rule(model, ids: list[int]) -> dict:
    """Read off which key positions each query sees, from eager attention weights."""
    out = model(input_ids=torch.tensor([ids]), use_cache=False, output_attentions=True)
    cfg = model.config
    w = cfg.sliding_window
    T = len(ids)
    result = {}
    for layer, kind in enumerate(cfg.layer_types):
        att = out.attentions[layer][0].float()  # [heads, T, T]
        visible = (att.abs().amax(dim=0) > 0).numpy()
        if kind == "sliding_attention":
            rule = np.array([[(j <= i) and (j > i - w) for j in range(T)] for i in range(T)])
        else:
            rule = np.array([[j <= i for j in range(T)] for i in range(T)])
        assert (visible == rule).all(), f"layer {layer} ({kind}): attention pattern does not match the stated rule"
        result.setdefault(kind, int(visible.sum(axis=1).max()))
    return {
        "rule": "sliding layers: query i sees key j iff i - sliding_window < j <= i "
                "(the query itself plus the sliding_window - 1 keys before it); "
                "full layers: j <= i",
        "max_visible_keys": result,
        "verified_on_layers": list(range(len(cfg.layer_types))),
    }


class ScoreProbe:
    """Wraps transformers' eager attention to record the largest raw |q.k * scaling|."""

    def __init__(self):
        self.max_raw = 0.0
        self.frac_over = []
        self._orig = modeling_gemma3.eager_attention_forward

    def __enter__(self):
        probe = self

        def wrapped(module, query, key, value, attention_mask, **kw):
            k = modeling_gemma3.repeat_kv(key, module.num_key_value_groups)
            raw = torch.matmul(query.float(), k.float().transpose(2, 3)) * kw.get("scaling", module.scaling)
            if attention_mask is not None:
                keep = attention_mask > torch.finfo(attention_mask.dtype).min / 2
                raw = torch.where(keep, raw, torch.zeros_like(raw))
                cap = module.config.attn_logit_softcapping
                if cap:
                    probe.frac_over.append(float(((raw.abs() > cap) & keep).sum() / keep.expand_as(raw).sum()))
            probe.max_raw = max(probe.max_raw, float(raw.abs().max()))
            return probe._orig(module, query, key, value, attention_mask, **kw)

        modeling_gemma3.eager_attention_forward = wrapped
        return self

    def __exit__(self, *exc):
        modeling_gemma3.eager_attention_forward = self._orig


def rope_facts(model) -> dict:
    cfg = model.config
    rot = model.model.rotary_emb
    facts = {}
    for kind in sorted(set(cfg.layer_types)):
        params = dict(cfg.rope_parameters[kind])
        facts[kind] = {
            "rope_type": params.get("rope_type"),
            "rope_theta": params.get("rope_theta"),
            "factor": params.get("factor"),
            "attention_scaling": getattr(rot, f"{kind}_attention_scaling"),
            "inv_freq": [float(x) for x in getattr(rot, f"{kind}_inv_freq").float().tolist()],
        }
    return facts


def config_facts(model, case_dtype: torch.dtype) -> dict:
    cfg = model.config
    embed_scale = model.model.embed_tokens.embed_scale
    return {
        "layer_types": list(cfg.layer_types),
        "rope": rope_facts(model),
        "rope_note": "cos/sin are computed in float32 from position * inv_freq (inv_freq already divided "
                     "by the linear factor), then cast to the activation dtype; rotate_half pairs dim d "
                     "with d + head_dim/2",
        "hidden_activation": cfg.hidden_activation,
        "head_dim": cfg.head_dim,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads,
        "query_pre_attn_scalar": cfg.query_pre_attn_scalar,
        "scaling": cfg.query_pre_attn_scalar ** -0.5,
        "sliding_window": cfg.sliding_window,
        "attn_logit_softcapping": cfg.attn_logit_softcapping,
        "final_logit_softcapping": cfg.final_logit_softcapping,
        "rms_norm_eps": cfg.rms_norm_eps,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "embed_scale_exact": math.sqrt(cfg.hidden_size),
        "embed_scale_applied": float(embed_scale.to(case_dtype).float()),
        "embed_scale_note": "embeddings are multiplied by sqrt(hidden_size) cast to the weight dtype "
                            "(float32 tensor .to(weight.dtype)), so in bfloat16 the factor is rounded",
    }


# --------------------------------------------------------------------------------------------
# Case driver
# --------------------------------------------------------------------------------------------

def save_checkpoint(model: Gemma3ForCausalLM, case_dir: str) -> None:
    tmp = tempfile.mkdtemp()
    try:
        model.save_pretrained(tmp)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(tmp, name), os.path.join(case_dir, name))
    finally:
        shutil.rmtree(tmp)


def rewrite_legacy_config(case_dir: str, edits: dict) -> None:
    path = os.path.join(case_dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    for key in edits["drop"]:
        cfg.pop(key, None)
    cfg.update(edits["set"])
    with open(path, "w") as f:
        json.dump(dict(sorted(cfg.items())), f, indent=2)
        f.write("\n")


def build_float_case(name: str, spec: dict, case_dir: str) -> Gemma3ForCausalLM:
    cfg = spec["config"]()
    cfg._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = Gemma3ForCausalLM(cfg).float()
    randomize(model, spec["seed"], weight_spec(spec["weights"]))
    save_checkpoint(model, case_dir)
    if name == "softcap-mqa":
        rewrite_legacy_config(case_dir, SOFTCAP_MQA_LEGACY_JSON_EDITS)
    return model


def lm_head_saved(case_dir: str) -> bool:
    from safetensors import safe_open

    with safe_open(os.path.join(case_dir, "model.safetensors"), "np") as f:
        return "lm_head.weight" in f.keys()


def run_case(name: str, out_root: str, built: dict) -> dict:
    spec = CASES[name]
    case_dir = os.path.join(out_root, name)
    os.makedirs(case_dir, exist_ok=True)
    notes = []

    if "base" in spec:
        base = CASES[spec["base"]]
        base_dir = os.path.join(out_root, spec["base"])
        src = load(base_dir, torch.float32)
        bf = src.to(torch.bfloat16)
        save_checkpoint(bf, case_dir)
        if spec["base"] == "softcap-mqa":
            rewrite_legacy_config(case_dir, SOFTCAP_MQA_LEGACY_JSON_EDITS)
        prompt = prompt_ids_for(src.config.vocab_size, base["prompt_len"], base["seed"])
        dtype = torch.bfloat16
        notes.append(f"weights are {spec['base']}'s float32 weights rounded to bfloat16 (round-to-nearest-even)")
    else:
        build_float_case(name, spec, case_dir)
        prompt = prompt_ids_for(spec["config"]().vocab_size, spec["prompt_len"], spec["seed"])
        dtype = torch.float32

    model = load(case_dir, dtype, "eager")
    assert model.config._attn_implementation == "eager"
    for p in model.parameters():
        assert p.dtype == dtype, (p.dtype, dtype)

    # checks on how the checkpoint / config round-trip
    if name in ("softcap-mqa", "bf16-softcap"):
        ref = spec["config"]() if "config" in spec else CASES["softcap-mqa"]["config"]()
        assert list(model.config.layer_types) == list(ref.layer_types), (model.config.layer_types, ref.layer_types)
        assert model.config.rope_parameters == ref.rope_parameters, (model.config.rope_parameters, ref.rope_parameters)
        notes.append("config.json is in the legacy Hub form (sliding_window_pattern, rope_theta, "
                     "rope_local_base_freq, rope_scaling null, no layer_types/rope_parameters); transformers "
                     "resolves it to the layer_types and rope parameters in config_facts")

    logits = prompt_logits(model, prompt)  # [T, V] float32 (cast from bf16 for bf16 cases)
    logits_np = logits.float().numpy().astype(np.float32)
    np.save(os.path.join(case_dir, "logits.npy"), logits_np)

    greedy, margins, step_rows = greedy_with_cache(model, prompt, NEW_TOKENS)
    np.save(os.path.join(case_dir, "greedy_logits.npy"), step_rows.numpy().astype(np.float32))
    recompute, recompute_rows = greedy_recompute(model, prompt, NEW_TOKENS)
    cache_vs_recompute = float((recompute_rows - step_rows).abs().max()) if recompute == greedy else None
    gen_plain = greedy_generate(model, prompt, NEW_TOKENS)
    gen_poisoned = greedy_generate(model, prompt, NEW_TOKENS, poisoned_eos=greedy[0])
    assert greedy == gen_plain, ("generate differs from the argmax loop", greedy, gen_plain)
    assert greedy == gen_poisoned, ("generate stopped or differed with eos_token_id=None", greedy, gen_poisoned)
    if greedy != recompute:
        notes.append(f"full-recompute greedy differs from cached greedy: {recompute}")

    # sdpa vs eager
    sdpa = load(case_dir, dtype, "sdpa")
    sdpa_logits = prompt_logits(sdpa, prompt)
    sdpa_diff = float((sdpa_logits - logits).abs().max())
    tol = 1e-5 if dtype == torch.float32 else 0.25
    assert sdpa_diff <= tol, f"sdpa differs from eager by {sdpa_diff}"
    del sdpa

    # sliding window semantics, from the attention weights themselves
    window = sliding_window_rule(model, prompt)

    # soft-capping effects
    capping = {}
    if model.config.attn_logit_softcapping is not None or model.config.final_logit_softcapping is not None:
        with ScoreProbe() as probe:
            prompt_logits(model, prompt)
        capping["attn_max_abs_raw_score"] = probe.max_raw
        capping["attn_fraction_of_visible_scores_over_cap"] = max(probe.frac_over) if probe.frac_over else 0.0
        fcap = model.config.final_logit_softcapping
        model.config.final_logit_softcapping = None
        raw = prompt_logits(model, prompt)
        model.config.final_logit_softcapping = fcap
        capping["final_max_abs_raw_logit"] = float(raw.abs().max())
        capping["final_max_abs_change_from_capping"] = float((raw - logits).abs().max())
        capping["final_fraction_of_raw_logits_over_cap"] = float((raw.abs() > fcap).float().mean()) if fcap else 0.0
        acap = model.config.attn_logit_softcapping
        model.config.attn_logit_softcapping = None
        nocap = prompt_logits(model, prompt)
        model.config.attn_logit_softcapping = acap
        capping["logit_change_without_attn_softcap"] = float((nocap - logits).abs().max())
        if capping["logit_change_without_attn_softcap"] == 0.0:
            notes.append("attn_logit_softcapping is set in config.json but transformers' Gemma 3 ignores it: "
                         "Gemma3Attention never passes `softcap` to the attention function, so removing it "
                         "changes no logit. The reference logits are those of uncapped attention scores.")
        print(f"  [{name}] attention: max |raw score| {probe.max_raw:.3f} vs cap {acap}; "
              f"without attn cap logits move by {capping['logit_change_without_attn_softcap']:.4f}")
        print(f"  [{name}] final: max |raw logit| {capping['final_max_abs_raw_logit']:.3f} vs cap {fcap}; "
              f"capping changed logits by up to {capping['final_max_abs_change_from_capping']:.3f}")

    expected = {
        "case": name,
        "generator": "tools/make_gemma3_text_fixtures.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "compute_dtype": "bfloat16" if dtype == torch.bfloat16 else "float32",
        "attn_implementation": "eager",
        "prompt_ids": prompt,
        "greedy_ids": greedy,
        "greedy_note": "argmax of the last-position logits at each step, KV cache, no EOS stopping; "
                       "equal to model.generate(do_sample=False, eos_token_id=None, max_new_tokens=12)",
        "greedy_margins": margins,
        "greedy_min_margin": min(margins),
        "prompt_last_position_margin": top2_margin(logits[-1]),
        "max_abs_logit": float(np.abs(logits_np).max()),
        "logits_file": "logits.npy",
        "logits_shape": list(logits_np.shape),
        "greedy_logits_file": "greedy_logits.npy",
        "greedy_logits_shape": list(step_rows.shape),
        "config_facts": config_facts(model, dtype),
        "sliding_window_semantics": window,
        "checkpoint": {
            "lm_head_weight_in_safetensors": lm_head_saved(case_dir),
            "safetensors_dtype": "BF16" if dtype == torch.bfloat16 else "F32",
        },
        "checks": {
            "sdpa_vs_eager_max_abs_diff": sdpa_diff,
            "greedy_cache_equals_recompute": greedy == recompute,
            "greedy_logits_cache_vs_recompute_max_abs_diff": cache_vs_recompute,
            "generate_equals_argmax_loop": True,
            "generate_ignores_model_eos_when_eos_token_id_none": True,
        },
        "notes": notes,
    }
    if capping:
        expected["softcapping"] = capping

    if dtype == torch.bfloat16:
        f32 = load(case_dir, torch.float32, "eager")
        ref = prompt_logits(f32, prompt).numpy().astype(np.float32)
        np.save(os.path.join(case_dir, "logits_f32ref.npy"), ref)
        g32, m32, _ = greedy_with_cache(f32, prompt, NEW_TOKENS)
        expected["f32ref"] = {
            "logits_file": "logits_f32ref.npy",
            "note": "float32 compute on the bf16-rounded weights (weights upcast exactly); embed scale "
                    "unrounded sqrt(hidden)",
            "greedy_ids": g32,
            "greedy_margins": m32,
            "greedy_min_margin": min(m32),
            "max_abs_logit": float(np.abs(ref).max()),
            "max_abs_diff_vs_bf16_logits": float(np.abs(ref - logits_np).max()),
        }
        expected["bf16_compute_notes"] = [
            "RMSNorm: x upcast to float32, x * rsqrt(mean(x^2) + eps) * (1 + w.float()), result cast to bf16",
            "embedding: weight row (bf16) * embed_scale cast to bf16, product rounded to bf16",
            "rope cos/sin computed in float32, cast to bf16; q/k rotation in bf16",
            "attention scores: bf16 matmul, * scaling; softmax in float32, probabilities cast to bf16",
            "attention: mask added in bf16 (min bf16 value on hidden keys) before the float32 softmax",
            "MLP: gelu_pytorch_tanh(gate) * up in bf16 (each op rounds to bf16); residual additions in bf16",
            "lm_head in bf16; final soft-capping (if any) is three bf16 ops: /cap, tanh, *cap; logits cast to "
            "float32 only for the fixture",
            "sdpa differs from eager by up to sdpa_vs_eager_max_abs_diff here (checked against 0.25): in bf16 "
            "only the eager path is the reference",
        ]

    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")

    print(f"  [{name}] max |logit| {expected['max_abs_logit']:.4f}, greedy {greedy}, "
          f"min margin {min(margins):.4f}, sdpa diff {sdpa_diff:.2e}, lm_head saved: "
          f"{expected['checkpoint']['lm_head_weight_in_safetensors']}")
    return expected


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--case", action="append", choices=list(CASES), help="only these cases (default: all)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    names = args.case or list(CASES)
    built = {}
    for name in names:
        print(f"case {name}")
        built[name] = run_case(name, args.out, built)
    for name in names:
        d = os.path.join(args.out, name)
        total = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"  {name}: {total / 1024:.1f} KiB in {sorted(os.listdir(d))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
