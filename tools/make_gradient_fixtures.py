#!/usr/bin/env python3
"""Reference gradients for the Swift backward passes: LoRA through peft, and every parameter (full training).

For each case a tiny committed Gemma 3 checkpoint is loaded with eager attention, peft wraps it
with LoraConfig(r=4, lora_alpha=8, lora_dropout=0, target_modules="all-linear"), every lora_A / lora_B is
set to seeded random values (peft's zero lora_B would make every lora_A gradient zero), and one
teacher-forced loss is back-propagated: labels are -100 everywhere except the answer tokens, so the loss is
the mean cross-entropy over the answer tokens only. The values are drawn in a float32 run (peft's usual
path, labels passed to the model); the reference loss and gradients come from float64 autograd on the same
weights and values (the loss formed in float64 from the logits), because float32 autograd itself strays from
the exact gradient by up to ~1e-3 (relative) on the image case: that spread is recorded in expected.json.

Writes Tests/Fixtures/gradients/<case>/
  expected.json          ids, targets ([position whose logits predict, token id]), loss, the modules
                         "all-linear" targeted (canonical names and peft's own), token_type_ids (VLM)
  lora.safetensors       "<canonical module>.lora_A.weight" [r, in] / ".lora_B.weight" [out, r] values
  grads.safetensors      the gradients of those tensors (same keys)

Canonical module names are the Swift loader's: "language_model.layers.N.<...>" and
"vision_tower.encoder.layers.N.<...>".

  full-<case>/           (full training) expected.json + grads.safetensors: every base parameter's gradient
                         under FullParameters' canonical names, no LoRA

Cases
  text-sliding   Tests/Fixtures/gemma3-text/sliding-gqa (window 8 < 24-token prompt, GQA, 4 layers) + 4 answer tokens
  text-softcap   Tests/Fixtures/gemma3-text/softcap-mqa (final-logit soft-capping 3.0, MQA) + 3 answer tokens
  vlm            Tests/Fixtures/gemma3-vlm/model with the at-size chat prompt and image + answer + <end_of_turn>;
                 token_type_ids passed (transformers 5.24 then makes each image block bidirectional, in
                 training mode as in inference)
  full-text      every parameter of the text-sliding model (same example), incl. the tied embedding/output layer
  full-vlm       every parameter of the VLM (same example as vlm): vision tower incl. patch embedding and
                 positions, projector, decoder; embedding-gradient rows listed in expected.json

Run by hand:  python3 tools/make_gradient_fixtures.py [--out Tests/Fixtures/gradients]
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
import peft
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import Gemma3ForCausalLM, Gemma3ForConditionalGeneration

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANK, ALPHA = 4, 8


def canonical(name: str) -> str:
    """peft module path -> the Swift loader's canonical module path."""
    n = name.removeprefix("base_model.model.")
    for old, new in [("model.language_model.", "language_model."), ("model.vision_tower.vision_model.", "vision_tower."),
                     ("model.vision_tower.", "vision_tower."), ("model.layers.", "language_model.layers.")]:
        if n.startswith(old):
            return new + n[len(old):]
    raise ValueError(f"unexpected module {name}")


def lora_gradients(model, ids, targets, model_kwargs, values=None, seed=0):
    """One loss.backward() through peft; returns (loss, {canonical: peft module}, values, grads)."""
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules="all-linear")
    pm = get_peft_model(model, config)
    pm.train()  # dropout 0: train mode changes nothing but is what training runs in
    g = torch.Generator().manual_seed(seed)
    modules = {}
    for name, mod in pm.named_modules():
        if isinstance(mod, peft.tuners.lora.Linear):
            modules[canonical(name)] = (name, mod)
    for cname, (_, mod) in sorted(modules.items()):
        a, b = mod.lora_A["default"].weight, mod.lora_B["default"].weight
        with torch.no_grad():
            if values is None:
                a.copy_((torch.rand(a.shape, generator=g) * 2 - 1) / a.shape[1] ** 0.5)
                b.copy_(torch.randn(b.shape, generator=g) * 0.5)
            else:
                a.copy_(values[cname + ".lora_A.weight"])
                b.copy_(values[cname + ".lora_B.weight"])
    labels = torch.full((1, len(ids)), -100, dtype=torch.long)
    for pos, tok in targets:  # the model shifts labels: logits at pos predict ids[pos + 1]
        assert ids[pos + 1] == tok
        labels[0, pos + 1] = tok
    if values is None:
        out = pm(input_ids=torch.tensor([ids]), labels=labels, **(model_kwargs or {}))
        loss = out.loss
    else:
        # transformers' loss upcasts logits to float32; the float64 reference forms the same mean
        # cross-entropy over the answer rows itself, in float64.
        out = pm(input_ids=torch.tensor([ids]), **(model_kwargs or {}))
        rows = torch.stack([torch.log_softmax(out.logits[0, p], -1)[t] for p, t in targets])
        loss = -rows.mean()
    loss.backward()
    vals, grads = {}, {}
    for cname, (_, mod) in sorted(modules.items()):
        a, b = mod.lora_A["default"].weight, mod.lora_B["default"].weight
        vals[cname + ".lora_A.weight"] = a.detach().float().clone().contiguous()
        vals[cname + ".lora_B.weight"] = b.detach().float().clone().contiguous()
        grads[cname + ".lora_A.weight"] = a.grad.detach().clone().contiguous()
        grads[cname + ".lora_B.weight"] = b.grad.detach().clone().contiguous()
    # The loss is the mean cross-entropy over the answer rows of the full-vocabulary log-softmax.
    logits = out.logits[0].detach().double()
    manual = -np.mean([torch.log_softmax(logits[p], -1)[t].item() for p, t in targets])
    assert abs(manual - loss.item()) < 1e-5 * abs(manual), (manual, loss.item())
    return loss.item(), pm, modules, vals, grads


def run_case(load, ids, targets, out_dir, seed, extra=None, model_kwargs=None):
    """float32 run (draws the LoRA values), then the same values in float64: the reference gradients are
    float64 autograd's (stored as float32), since float32 autograd itself strays up to ~5e-4 (relative) from
    them on the image case; that float32 spread is recorded."""
    loss32, _, _, values, grads32 = lora_gradients(load(torch.float32), ids, targets, model_kwargs(torch.float32), seed=seed)
    loss, pm, modules, _, grads64 = lora_gradients(load(torch.float64), ids, targets, model_kwargs(torch.float64), values=values)
    spread = max(((grads32[k].double() - grads64[k]).norm() / grads64[k].norm()).item() for k in grads64)
    os.makedirs(out_dir, exist_ok=True)
    save_file(values, os.path.join(out_dir, "lora.safetensors"))
    save_file({k: v.float().contiguous() for k, v in grads64.items()}, os.path.join(out_dir, "grads.safetensors"))
    peft_names = {c: n for c, (n, _) in modules.items()}
    exp = {
        "generator": "tools/make_gradient_fixtures.py",
        "transformers_version": transformers.__version__, "torch_version": torch.__version__, "peft_version": peft.__version__,
        "lora": {"r": RANK, "lora_alpha": ALPHA, "lora_dropout": 0.0, "target_modules": "all-linear", "scale": ALPHA / RANK},
        "reference": "float64 autograd (eager attention) on the float32 checkpoint; grads stored as float32",
        "ids": ids, "targets": [[p, t] for p, t in targets], "loss": loss, "loss_float32": loss32,
        "float32_autograd_max_relative_gradient_error": spread,
        "modules": sorted(modules), "peft_module_names": peft_names,
        "not_targeted_linear": sorted(n for n, m in pm.named_modules()
                                      if isinstance(m, torch.nn.Linear) and not n.endswith(("lora_A.default", "lora_B.default"))
                                      and not any(n.startswith(pn + ".") or n == pn for pn in peft_names.values())),
    }
    exp.update(extra or {})
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
    print(out_dir, "loss", loss, "float32", loss32, "modules", len(modules), "float32 autograd spread", spread)


def canonical_parameter(name: str) -> str:
    """torch parameter name -> FullParameters' canonical name."""
    for old, new in [("model.language_model.", "language_model."), ("model.vision_tower.vision_model.", "vision_tower."),
                     ("model.vision_tower.", "vision_tower."), ("model.multi_modal_projector.", "multi_modal_projector."),
                     ("model.", "language_model.")]:
        if name.startswith(old):
            return new + name[len(old):]
    return name


def full_case(load, ids, targets, model_kwargs, out_dir, extra=None, embed_rows=None):
    """Gradients of EVERY parameter of the base model (no LoRA), float64 autograd, the loss formed in float64.
    The patch-embedding kernel [d, c, p, p] is stored flattened [d, c*p*p]; with `embed_rows` only those rows
    of the (vocabulary-sized) embedding gradient are stored."""
    model = load(torch.float64)
    model.train()
    out = model(input_ids=torch.tensor([ids]), **model_kwargs(torch.float64))
    loss = -torch.stack([torch.log_softmax(out.logits[0, p], -1)[t] for p, t in targets]).mean()
    loss.backward()
    grads, names = {}, {}
    for name, prm in model.named_parameters():
        c = canonical_parameter(name)
        g = prm.grad.detach()
        if c.endswith("patch_embedding.weight"):
            g = g.reshape(g.shape[0], -1)
        if c == "language_model.embed_tokens.weight" and embed_rows is not None:
            g = g[embed_rows]
        grads[c] = g.float().contiguous()
        names[c] = name
    os.makedirs(out_dir, exist_ok=True)
    save_file(grads, os.path.join(out_dir, "grads.safetensors"))
    exp = {"generator": "tools/make_gradient_fixtures.py", "transformers_version": transformers.__version__,
           "torch_version": torch.__version__,
           "reference": "float64 autograd of the base model (every parameter trainable), eager attention",
           "ids": ids, "targets": [[p, t] for p, t in targets], "loss": loss.item(), "torch_names": names,
           "embed_rows": embed_rows,
           "tied_output_layer": "lm_head shares embed_tokens: its gradient is part of the embedding gradient"}
    exp.update(extra or {})
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
    print(out_dir, "full loss", loss.item(), "parameters", len(grads))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "gradients"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    for case, src, answer, seed in [("text-sliding", "sliding-gqa", [17, 301, 44, 1], 21),
                                    ("text-softcap", "softcap-mqa", [7, 211, 1], 22)]:
        d = os.path.join(REPO, "Tests", "Fixtures", "gemma3-text", src)
        def load(dtype, d=d):
            return Gemma3ForCausalLM.from_pretrained(d, dtype=dtype, attn_implementation="eager")
        config = json.load(open(os.path.join(d, "config.json")))
        prompt = json.load(open(os.path.join(d, "expected.json")))["prompt_ids"]
        ids = prompt + answer
        targets = [(len(prompt) - 1 + i, t) for i, t in enumerate(answer)]
        run_case(load, ids, targets, os.path.join(args.out, case), seed, model_kwargs=lambda dtype: {},
                 extra={"base": f"Tests/Fixtures/gemma3-text/{src}", "sliding_window": config.get("sliding_window"),
                        "final_logit_softcapping": config.get("final_logit_softcapping")})
        if case == "text-sliding":
            full_case(load, ids, targets, lambda dtype: {}, os.path.join(args.out, "full-text"),
                      extra={"base": f"Tests/Fixtures/gemma3-text/{src}"})

    vdir = os.path.join(REPO, "Tests", "Fixtures", "gemma3-vlm")
    def load_vlm(dtype):
        return Gemma3ForConditionalGeneration.from_pretrained(os.path.join(vdir, "model"), dtype=dtype, attn_implementation="eager")
    ref = json.load(open(os.path.join(vdir, "at-size", "expected.json")))
    pixels = np.load(os.path.join(vdir, "at-size", ref["pixel_values_files"][0]))
    prompt = ref["input_ids"]
    # The model turn: answer words, then <end_of_turn> (ids of "blocked" and "patent" style words are any
    # real text ids here; the loss covers them and <end_of_turn>).
    answer = [236762, 5233, 106]
    ids = prompt + answer
    targets = [(len(prompt) - 1 + i, t) for i, t in enumerate(answer)]
    tti = [1 if t == 262144 else 0 for t in ids]
    run_case(load_vlm, ids, targets, os.path.join(args.out, "vlm"), 23,
             extra={"base": "Tests/Fixtures/gemma3-vlm/model", "token_type_ids": tti,
                    "pixel_values": "Tests/Fixtures/gemma3-vlm/at-size/" + ref["pixel_values_files"][0],
                    "image_block_bidirectional": "token_type_ids given: full layers see j <= i or same image; "
                                                 "sliding layers additionally need j > i - window"},
             model_kwargs=lambda dtype: {"pixel_values": torch.from_numpy(pixels).to(dtype), "token_type_ids": torch.tensor([tti])})
    # Full gradients of the VLM: the embedding gradient (262208 rows, dense through the tied output layer)
    # is stored for the example's text ids, the first rows and a few seeded random rows only.
    g = torch.Generator().manual_seed(24)
    rows = sorted(set(t for t in ids if t != 262144) | set(range(8)) | set(torch.randint(0, 262208, (24,), generator=g).tolist()))
    full_case(load_vlm, ids, targets,
              lambda dtype: {"pixel_values": torch.from_numpy(pixels).to(dtype), "token_type_ids": torch.tensor([tti])},
              os.path.join(args.out, "full-vlm"), embed_rows=rows,
              extra={"base": "Tests/Fixtures/gemma3-vlm/model",
                     "pixel_values": "Tests/Fixtures/gemma3-vlm/at-size/" + ref["pixel_values_files"][0]})


if __name__ == "__main__":
    main()
