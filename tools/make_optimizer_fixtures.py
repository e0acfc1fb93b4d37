#!/usr/bin/env python3
"""Reference fixtures for the training optimiser, learning-rate schedules, gradient clipping and the PEFT
adapter writer (Sources/Training/Optim, Sources/Training/Artifacts).

Everything here comes from the libraries the Swift code must agree with: torch.optim.AdamW,
torch.nn.utils.clip_grad_norm_, transformers' schedule functions and TrainingArguments, and peft's own
get_peft_model + save_pretrained. Inputs are seeded, so a rerun writes the same files.

Writes Tests/Fixtures/training-optim/
  adamw.json          torch AdamW over 6 steps on 3 float32 tensors of different shapes, fixed gradient
                      sequences, per-step learning rates from a warm-up + linear-decay schedule; weight decay
                      0 and 0.01; parameters after every step from the single-tensor implementation (what
                      AdamW uses on CPU by default) and from the fused one (transformers' default optimiser
                      'adamw_torch_fused'); final exp_avg / exp_avg_sq. torch 2.15's CPU sqrt is not
                      correctly rounded (about 1 value in 6 is one ulp off), so the file also holds the same
                      op sequence in torch kernels with a correctly rounded sqrt ('expected_replica_ieee_sqrt'),
                      after checking that the replica with torch.sqrt reproduces torch.optim.AdamW exactly.
  schedules.json      per-step learning rates of get_linear/cosine/constant_schedule_with_warmup as seen by
                      the optimiser over a whole run (read before each optimizer.step), warm-up given as steps
                      or as a ratio resolved by TrainingArguments.get_warmup_steps; TrainingArguments defaults.
  clipping.json       clip_grad_norm_ on 3 gradients: pre-clip total norm and the clipped gradients, for a
                      max_norm below (clips) and above (leaves them) the norm, and for the inf norm.
  peft-vlm/           adapter saved by peft for the tiny Gemma3ForConditionalGeneration of
                      Tests/Fixtures/gemma3-vlm/model (r 2, alpha 4, dropout 0.1, all-linear), with lora_A /
                      lora_B set to seeded values, + modules.json (each wrapped module's name in the model).
  peft-text/          the same for the tiny Gemma3ForCausalLM of Tests/Fixtures/gemma3-text/sliding-gqa
                      (r 4, alpha 8, target_modules ["q_proj", "v_proj"]).

All numbers are float32 values written as JSON numbers (a float32 widened to double prints exactly and
reads back to the same float32).

Run by hand:  python3 tools/make_optimizer_fixtures.py [--out Tests/Fixtures/training-optim]
(re-executes itself with PYTHONHASHSEED=0: peft writes a resolved 'all-linear' list from a Python set)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "Fixtures", "training-optim")
VLM_REL = os.path.join("Tests", "Fixtures", "gemma3-vlm", "model")
TEXT_REL = os.path.join("Tests", "Fixtures", "gemma3-text", "sliding-gqa")


def floats(t: torch.Tensor) -> list[float]:
    return [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def dump(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------- AdamW

SHAPES = {"a": [3, 5], "b": [7], "c": [2, 3, 4]}


def linear_lambda(step: int, warmup: int, total: int) -> float:
    # transformers' linear warm-up + decay written out here (schedules.json checks the library's own)
    if step < warmup:
        return float(step) / float(max(1, warmup))
    return max(0.0, float(total - step) / float(max(1, total - warmup)))


def adamw_replica(init, grads, lrs, weight_decay, betas, eps, sqrt):
    """torch's single-tensor AdamW written out with the same torch kernels in the same order, with the square
    root passed in: with torch.sqrt it reproduces torch.optim.AdamW bit for bit (checked below); with a
    correctly rounded sqrt it is what an IEEE implementation of the same op order must give exactly."""
    beta1, beta2 = betas
    params = {k: v.clone() for k, v in init.items()}
    m = {k: torch.zeros_like(v) for k, v in init.items()}
    v2 = {k: torch.zeros_like(v) for k, v in init.items()}
    after = []
    for step, lr in enumerate(lrs):
        t = float(step + 1)
        for k, p in params.items():
            g = grads[step][k]
            if weight_decay != 0:
                p.mul_(1 - lr * weight_decay)
            m[k].lerp_(g, 1 - beta1)
            v2[k].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            step_size = lr / (1 - beta1 ** t)
            denom = (sqrt(v2[k]) / ((1 - beta2 ** t) ** 0.5)).add_(eps)
            p.addcdiv_(m[k], denom, value=-step_size)
        after.append({k: floats(p) for k, p in params.items()})
    return after


def ieee_sqrt(t: torch.Tensor) -> torch.Tensor:
    # float32 -> float64 sqrt -> float32 is the correctly rounded float32 square root
    return t.double().sqrt().float()


def adamw_case(name: str, weight_decay: float, betas, eps: float, base_lr: float, steps: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    init = {k: torch.randn(s, generator=g) for k, s in SHAPES.items()}
    # gradients of varied scale, one entry exactly zero, so the update is not the same in every element
    grads = []
    for step in range(steps):
        row = {}
        for k, s in SHAPES.items():
            gr = torch.randn(s, generator=g) * (10.0 ** (step % 3 - 1))
            gr.reshape(-1)[0] = 0.0
            row[k] = gr
        grads.append(row)
    lrs = [base_lr * linear_lambda(i, 2, steps) for i in range(steps)]
    # LambdaLR sets lr = base_lr * lambda(step); lambda(0) = 0 would make the first step a no-op on the
    # parameters (not on the moments), which is exactly what happens in a run with warm-up: keep it.

    out = {"name": name, "weight_decay": weight_decay, "betas": list(betas), "eps": eps, "base_lr": base_lr,
           "lrs": lrs, "shapes": SHAPES, "init": {k: floats(v) for k, v in init.items()},
           "grads": [{k: floats(v) for k, v in row.items()} for row in grads]}
    for impl in ("single", "fused"):
        params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
        kwargs = dict(lr=base_lr, betas=betas, eps=eps, weight_decay=weight_decay)
        if impl == "fused":
            kwargs["fused"] = True
        else:
            kwargs["foreach"] = False
        opt = torch.optim.AdamW(list(params.values()), **kwargs)
        after = []
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = lrs[step]
            for k, p in params.items():
                p.grad = grads[step][k].clone()
            opt.step()
            after.append({k: floats(p) for k, p in params.items()})
        out["expected_" + impl] = after
        if impl == "single":
            out["final_exp_avg"] = {k: floats(opt.state[p]["exp_avg"]) for k, p in params.items()}
            out["final_exp_avg_sq"] = {k: floats(opt.state[p]["exp_avg_sq"]) for k, p in params.items()}
            out["final_step"] = [float(opt.state[p]["step"]) for p in params.values()]
    assert adamw_replica(init, grads, lrs, weight_decay, betas, eps, torch.sqrt) == out["expected_single"], \
        "the replica does not reproduce torch.optim.AdamW"
    out["expected_replica_ieee_sqrt"] = adamw_replica(init, grads, lrs, weight_decay, betas, eps, ieee_sqrt)
    x = torch.rand(100000, generator=g)
    out["torch_sqrt_not_ieee_fraction"] = float((x.sqrt() != ieee_sqrt(x)).float().mean())
    return out


def make_adamw(out_dir: str) -> None:
    cases = [
        adamw_case("wd0", 0.0, (0.9, 0.999), 1e-8, 1e-2, 6, 11),
        adamw_case("wd0.01", 0.01, (0.9, 0.999), 1e-8, 2e-2, 6, 12),
        adamw_case("wd0.1-betas", 0.1, (0.8, 0.95), 1e-6, 5e-3, 6, 13),
    ]
    dump(os.path.join(out_dir, "adamw.json"), {"torch": torch.__version__, "cases": cases})


# ---------------------------------------------------------------- schedules

def make_schedules(out_dir: str) -> None:
    import transformers
    from transformers import (TrainingArguments, get_constant_schedule_with_warmup,
                              get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup)

    settings = [
        ("linear", 3, None, 10, 2e-5),
        ("linear", 0, None, 7, 1e-3),
        ("linear", None, 0.1, 25, 2e-5),
        ("cosine", 4, None, 12, 1e-4),
        ("cosine", None, 0.03, 40, 2e-4),
        ("constant", 5, None, 9, 3e-4),
        ("constant", 0, None, 4, 3e-4),
        ("linear", 12, None, 10, 1e-3),   # warm-up longer than the run
    ]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, wsteps, wratio, total, lr in settings:
            if wratio is not None:
                args = TrainingArguments(output_dir=tmp, warmup_steps=wratio, report_to=[])
                warm = args.get_warmup_steps(total)
            else:
                warm = wsteps
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.AdamW([p], lr=lr)
            if kind == "linear":
                sched = get_linear_schedule_with_warmup(opt, warm, total)
            elif kind == "cosine":
                sched = get_cosine_schedule_with_warmup(opt, warm, total)
            else:
                sched = get_constant_schedule_with_warmup(opt, warm)
            lrs = []
            for _ in range(total):
                lrs.append(opt.param_groups[0]["lr"])
                p.grad = torch.zeros(1)
                opt.step()
                sched.step()
            cases.append({"kind": kind, "warmup_steps": wsteps, "warmup_ratio": wratio, "resolved_warmup": warm,
                          "total_steps": total, "base_lr": lr, "lrs": lrs})
        d = TrainingArguments(output_dir=tmp, report_to=[])
        defaults = {"learning_rate": d.learning_rate, "weight_decay": d.weight_decay, "adam_beta1": d.adam_beta1,
                    "adam_beta2": d.adam_beta2, "adam_epsilon": d.adam_epsilon, "max_grad_norm": d.max_grad_norm,
                    "lr_scheduler_type": str(getattr(d.lr_scheduler_type, "value", d.lr_scheduler_type)),
                    "warmup_steps": d.warmup_steps, "optim": str(getattr(d.optim, "value", d.optim))}
    dump(os.path.join(out_dir, "schedules.json"),
         {"transformers": transformers.__version__, "training_arguments_defaults": defaults, "cases": cases})


# ---------------------------------------------------------------- clipping

def make_clipping(out_dir: str) -> None:
    g = torch.Generator().manual_seed(21)
    grads = {k: torch.randn(s, generator=g) * 0.7 for k, s in SHAPES.items()}
    cases = []
    for max_norm, norm_type in [(1.0, 2.0), (100.0, 2.0), (0.5, float("inf"))]:
        params = {k: torch.nn.Parameter(torch.zeros(s)) for k, s in SHAPES.items()}
        for k, p in params.items():
            p.grad = grads[k].clone()
        total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm, norm_type=norm_type)
        cases.append({"max_norm": max_norm, "norm_type": "inf" if norm_type == float("inf") else norm_type,
                      "total_norm": float(total),
                      "clipped": {k: floats(p.grad) for k, p in params.items()}})
    dump(os.path.join(out_dir, "clipping.json"),
         {"torch": torch.__version__, "shapes": SHAPES, "grads": {k: floats(v) for k, v in grads.items()},
          "cases": cases})


# ---------------------------------------------------------------- peft adapters

def save_peft(model, config, seed: int, dest: str, base_rel: str) -> None:
    from peft import get_peft_model
    pm = get_peft_model(model, config)
    g = torch.Generator().manual_seed(seed)
    modules = []
    with torch.no_grad():
        for name, mod in pm.named_modules():
            if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
                for lin in (mod.lora_A["default"], mod.lora_B["default"]):
                    lin.weight.copy_(torch.randn(lin.weight.shape, generator=g) * 0.2)
                modules.append(name)
    tmp = tempfile.mkdtemp()
    try:
        pm.save_pretrained(tmp)
        os.makedirs(dest, exist_ok=True)
        for f in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(os.path.join(tmp, f), os.path.join(dest, f))
            os.chmod(os.path.join(dest, f), 0o644)
    finally:
        shutil.rmtree(tmp)
    with open(os.path.join(dest, "adapter_config.json")) as f:
        cfg = json.load(f)
    cfg["base_model_name_or_path"] = base_rel  # peft records the path it was given; keep it repo-relative
    dump(os.path.join(dest, "adapter_config.json"), cfg)
    tensors = load_file(os.path.join(dest, "adapter_model.safetensors"))
    dump(os.path.join(dest, "modules.json"), {
        "wrapped_modules": sorted(modules),
        "keys": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)} for k, v in sorted(tensors.items())},
    })


def make_peft(out_dir: str) -> None:
    from peft import LoraConfig
    from transformers import Gemma3ForCausalLM, Gemma3ForConditionalGeneration
    os.chdir(REPO_ROOT)
    vlm = Gemma3ForConditionalGeneration.from_pretrained(VLM_REL, dtype=torch.float32)
    save_peft(vlm, LoraConfig(r=2, lora_alpha=4, lora_dropout=0.1, target_modules="all-linear", task_type="CAUSAL_LM"),
              41, os.path.join(out_dir, "peft-vlm"), VLM_REL)
    text = Gemma3ForCausalLM.from_pretrained(TEXT_REL, dtype=torch.float32)
    save_peft(text, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.05, target_modules=["q_proj", "v_proj"],
                               task_type="CAUSAL_LM"),
              42, os.path.join(out_dir, "peft-text"), TEXT_REL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    make_adamw(out)
    make_schedules(out)
    make_clipping(out)
    make_peft(out)
    print("wrote", out)


if __name__ == "__main__":
    main()
