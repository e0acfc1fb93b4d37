#!/usr/bin/env python3
"""PyTorch + peft reference timing of LoRA / QLoRA training steps (the Swift trainer's baseline).

    python3 tools/bench_torch_train_step.py MODELDIR [--quantize none|nf4] [--steps 2] [--accum 8]
                                            [--threads 2] [--rank 8] [--alpha 16] [--dropout 0.1]
                                            [--tokenizer .cache/gemma3-tokenizer.json] [--json FILE]

e.g. tiny:       python3 tools/bench_torch_train_step.py Tests/Fixtures/gemma3-vlm/model --quantize none
     full size:  python3 tools/bench_torch_train_step.py ~/.cache/dsa-triage/medgemma-random-bf16 --quantize nf4 \
                     --steps 1 --accum 2
                 (the random-weight MedGemma 1.5 4B of tools/make_random_medgemma.py)

The model card's recipe: LoRA r 8, alpha 16, dropout 0.1 on all linear layers (peft "all-linear"), AdamW
lr 2e-5, batch 1, gradient accumulation 8; with --quantize nf4 the base is loaded through bitsandbytes
(4-bit NF4, double-quantised absmax, bf16 compute) and prepared as peft's QLoRA recipe does. One example =
the triage conversation (system + image + prompt as the user turn, the label's answer word as the model turn),
loss on the answer tokens only. One optimiser step = --accum forward/backward passes + clip to norm 1 +
AdamW. Reports seconds per forward+backward example, per optimiser step (median after one warm-up step)
and peak resident memory. Prints one JSON line on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

from bench_machine import machine_summary, model_dir_with_tokenizer
from bench_torch_triage import DEFAULT_PROFILE, DEFAULT_TOKENIZER, test_image


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("modeldir")
    ap.add_argument("--quantize", choices=["none", "nf4"], default="none")
    ap.add_argument("--full", action="store_true", help="train every parameter (no LoRA; `dsa-triage train --full`)")
    ap.add_argument("--steps", type=int, default=2, help="timed optimiser steps after one warm-up step")
    ap.add_argument("--accum", type=int, default=8, help="gradient accumulation (examples per optimiser step)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--gradient-checkpointing", action="store_true",
                    help="recompute each layer's activations in the backward pass (as dsa-triage train does); "
                         "without it a 4B NF4 step with an 896² image needs more than 24 GB here")
    ap.add_argument("--json", help="also write the JSON here")
    args = ap.parse_args()
    if args.steps < 1 or args.accum < 1:
        sys.exit("--steps and --accum must be at least 1")

    import torch
    import transformers
    import peft
    from peft import LoraConfig, get_peft_model
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration

    load_before = os.getloadavg()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    with model_dir_with_tokenizer(args.modeldir, args.tokenizer) as load_dir:
        t0 = time.perf_counter()
        kwargs = {"attn_implementation": "sdpa"}
        if args.quantize == "nf4":
            from transformers import BitsAndBytesConfig
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16)
            kwargs["dtype"] = torch.bfloat16
        else:
            kwargs["dtype"] = "auto"
        model = Gemma3ForConditionalGeneration.from_pretrained(load_dir, **kwargs)
        if args.quantize == "nf4":
            from peft import prepare_model_for_kbit_training
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=args.gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False} if args.gradient_checkpointing else None)
        elif args.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        processor = AutoProcessor.from_pretrained(load_dir)
    if args.full:
        if args.quantize != "none":
            sys.exit("--full needs --quantize none")
        model = model.float()
    else:
        config = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=args.dropout, target_modules="all-linear",
                            task_type="CAUSAL_LM")
        model = get_peft_model(model, config)
    model.train()
    load_s = time.perf_counter() - t0
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
    log(f"loaded {args.modeldir} ({args.quantize}) in {load_s:.1f} s; {n_trainable} trainable parameters; "
        f"{torch.get_num_threads()} threads")

    profile = DEFAULT_PROFILE
    base = model if args.full else model.get_base_model()
    vc = base.config.vision_config
    image = test_image(vc.image_size)
    tokenizer = processor.tokenizer
    messages = [
        {"role": "system", "content": [{"type": "text", "text": profile["system"]}]},
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": profile["prompt"]}]},
    ]
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                           return_dict=True, return_tensors="pt")
    answer = tokenizer("blocked", add_special_tokens=False)["input_ids"] + [tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    # (the demo model's own tokenizer has the same special-token names)
    prompt_len = inputs["input_ids"].shape[1]
    ids = torch.cat([inputs["input_ids"], torch.tensor([answer])], dim=1)
    labels = torch.full_like(ids, -100)
    labels[0, prompt_len:] = ids[0, prompt_len:]
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
             "pixel_values": inputs["pixel_values"].to(next(model.parameters()).dtype
                                                         if args.quantize == "none" else torch.bfloat16)}
    if "token_type_ids" in inputs:
        batch["token_type_ids"] = torch.cat([inputs["token_type_ids"], torch.zeros(1, len(answer), dtype=torch.long)], dim=1)

    example_s, step_s, losses = [], [], []
    for step in range(args.steps + 1):
        t_step = time.perf_counter()
        for _ in range(args.accum):
            t = time.perf_counter()
            out = model(**batch)
            (out.loss / args.accum).backward()
            losses.append(float(out.loss))
            if step > 0:
                example_s.append(time.perf_counter() - t)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t_step
        log(f"  step {step}{' (warm-up)' if step == 0 else ''}: {dt:.2f} s, loss {losses[-1]:.4f}")
        if step > 0:
            step_s.append(dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {
        "engine": "pytorch" if args.full else "pytorch+peft", "full": args.full, "torch": torch.__version__, "transformers": transformers.__version__,
        "peft": peft.__version__, "model": args.modeldir, "quantize": args.quantize, "gradient_checkpointing": args.gradient_checkpointing, "threads": torch.get_num_threads(),
        "rank": args.rank, "alpha": args.alpha, "dropout": args.dropout, "accumulation": args.accum,
        "sequence_tokens": int(ids.shape[1]), "trainable_parameters": n_trainable, "load_s": load_s,
        "example_s_median": statistics.median(example_s), "optimizer_step_s_median": statistics.median(step_s),
        "peak_rss_bytes": peak, "losses": losses, "machine": machine_summary(load_before),
    }
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
