#!/usr/bin/env python3
"""PyTorch/transformers reference timing of triage label scoring (the Swift engine's baseline).

    python3 tools/bench_torch_triage.py MODELDIR [--adapter DIR] [--runs 3] [--threads 2] [--dtype auto]
                                        [--profile PROFILE.json] [--tokenizer .cache/gemma3-tokenizer.json]
                                        [--image PNG] [--attn sdpa]

e.g. tiny:       python3 tools/bench_torch_triage.py Tests/Fixtures/gemma3-vlm/model --adapter Tests/Fixtures/triage/adapter
     full size:  python3 tools/bench_torch_triage.py ~/.cache/dsa-triage/medgemma-random-bf16 --runs 1
                 (the random-weight MedGemma 1.5 4B written by tools/make_random_medgemma.py; timings do not
                 depend on the weight values)

MODELDIR is a Hub-layout Gemma 3 / MedGemma repository. When it has no tokenizer.json (the tiny test
model) it is copied to a temporary folder and --tokenizer is put next to it. One image per prompt; per
image the work is:
  process   the processor: image resize/normalise + chat template + tokenize
  vision    vision tower + projector (get_image_features)
  prefill   one language-model forward of the whole prompt given the image features, filling a KV cache,
            logits for the last position only (logits_to_keep=1)
  scoring   for each label: a copy of the prompt cache (copy.deepcopy), one forward of the label's answer
            tokens (minus the last) on it, log_softmax of the full-vocabulary logits at the answer
            positions (transformers computes the whole output layer there), sum -> label log-likelihood;
            then P(blocked) = softmax over the labels
Each stage is timed per run; the JSON reports the median over --runs runs after one warm-up run, and
images/s = 1 / (median of the per-run total; the stage medians need not add up to it exactly). The
warm-up's label log-likelihoods are checked against one plain forward over prompt + answer without a
cache (tolerance 1e-3 in float32, loose in bfloat16, where the two routes round differently).

Prints one JSON line on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

from bench_machine import machine_summary

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TOKENIZER = os.path.join(REPO_ROOT, ".cache", "gemma3-tokenizer.json")
END_OF_TURN = 106

# The default task profile's texts (profiles/default-task-profile.json); --profile reads another one.
DEFAULT_PROFILE = {
    "system": "You are an expert interventional neuroradiologist reading digital subtraction angiography.",
    "prompt": "Is there a vessel occlusion in this digital subtraction angiogram? Answer with one word: "
              "patent or blocked.",
    "labels": [{"name": "patent", "answer": "patent"}, {"name": "blocked", "answer": "blocked"}],
    "positive_label": "blocked",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def test_image(size: int):
    """A grayscale DSA-like picture (light background, dark curved vessel), as an RGB PIL image."""
    from PIL import Image

    rng = np.random.RandomState(0)
    y, x = np.mgrid[0:size, 0:size] / size
    gray = 200 + 15 * y - 140 * np.exp(-((x - 0.45 - 0.12 * np.sin(5 * y + 0.3)) ** 2) / 0.0025)
    gray = gray + rng.normal(0, 4, (size, size))
    g = np.clip(gray, 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([g] * 3, axis=-1), mode="RGB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("modeldir")
    ap.add_argument("--adapter", help="a peft LoRA adapter directory (applied unmerged, as peft does)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (median reported)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                    help="auto: the checkpoint's dtype from config.json (bfloat16 for MedGemma, float32 for the tiny model)")
    ap.add_argument("--profile", help="a task profile JSON (system, prompt, labels[].name/answer, positive_label)")
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="tokenizer.json used when MODELDIR has none")
    ap.add_argument("--image", help="an image file (default: a generated DSA-like picture at the model's size)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (default sdpa, transformers' default)")
    args = ap.parse_args()
    if args.runs < 1:
        sys.exit("--runs must be at least 1")

    import torch
    import transformers
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration

    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    profile = DEFAULT_PROFILE
    if args.profile:
        with open(args.profile) as f:
            profile = json.load(f)
    labels = [(lab["name"], lab["answer"]) for lab in profile["labels"]]
    positive = profile.get("positive_label", "blocked")
    assert positive in [n for n, _ in labels], (positive, labels)

    load_before = os.getloadavg()
    work = None
    model_dir = os.path.abspath(os.path.expanduser(args.modeldir))
    if not os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        if not os.path.exists(args.tokenizer):
            sys.exit(f"{model_dir} has no tokenizer.json and {args.tokenizer} does not exist: mkdir -p .cache && "
                     "xz -dc ../shared/reference/gemma3-tokenizer.json.xz > .cache/gemma3-tokenizer.json")
        work = tempfile.mkdtemp()
        copy_dir = os.path.join(work, "model")
        shutil.copytree(model_dir, copy_dir)
        shutil.copy(args.tokenizer, os.path.join(copy_dir, "tokenizer.json"))
        load_dir = copy_dir
    else:
        load_dir = model_dir
    try:
        t0 = time.perf_counter()
        dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
        model = Gemma3ForConditionalGeneration.from_pretrained(load_dir, dtype=dtype,
                                                               attn_implementation=args.attn).eval()
        if args.adapter:
            from peft import PeftModel
            model = PeftModel.from_pretrained(model, os.path.expanduser(args.adapter)).eval()
        processor = AutoProcessor.from_pretrained(load_dir)
        load_s = time.perf_counter() - t0
    finally:
        if work:
            shutil.rmtree(work)
    inner = model.get_base_model() if args.adapter else model
    param_dtype = next(inner.model.language_model.parameters()).dtype
    n_params = sum(p.numel() for p in inner.parameters())
    vc = inner.config.vision_config
    if args.image:
        from PIL import Image
        image = Image.open(args.image)
        image.load()
    else:
        image = test_image(vc.image_size)
    tokenizer = processor.tokenizer
    answers = [tokenizer(text, add_special_tokens=False)["input_ids"] + [END_OF_TURN] for _, text in labels]
    log(f"loaded {args.modeldir} ({n_params / 1e6:.1f} M parameters, {param_dtype}) in {load_s:.1f} s; "
        f"{torch.get_num_threads()} threads; labels {labels}")

    messages = []
    if profile.get("system"):
        messages.append({"role": "system", "content": [{"type": "text", "text": profile["system"]}]})
    messages.append({"role": "user", "content": [{"type": "image", "image": image},
                                                 {"type": "text", "text": profile["prompt"]}]})

    def one_image():
        times = {}
        t = time.perf_counter()
        inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(param_dtype)
        text_inputs = {k: v for k, v in inputs.items() if k != "pixel_values"}
        times["process_s"] = time.perf_counter() - t

        t = time.perf_counter()
        features = inner.model.get_image_features(pixel_values, return_dict=True)
        times["vision_s"] = time.perf_counter() - t

        t = time.perf_counter()
        out = model(**text_inputs, mm_encoder_outputs={"image": features}, use_cache=True, logits_to_keep=1)
        prompt_cache = out.cache
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        times["prefill_s"] = time.perf_counter() - t

        t = time.perf_counter()
        sums = []
        for ans in answers:
            lps = [float(first[ans[0]])]
            if len(ans) > 1:
                cache = copy.deepcopy(prompt_cache)
                o = model(input_ids=torch.tensor([ans[:-1]]), cache=cache, use_cache=True)
                rows = torch.log_softmax(o.logits[0].float(), dim=-1)
                lps += [float(rows[i, tok]) for i, tok in enumerate(ans[1:])]
            sums.append(math.fsum(lps))
        m = max(sums)
        ex = [math.exp(s - m) for s in sums]
        probs = [e / sum(ex) for e in ex]
        times["scoring_s"] = time.perf_counter() - t
        times["total_s"] = sum(times.values())
        return times, probs, sums, inputs

    log("warm-up run")
    warm, probs, sums, inputs = one_image()
    log(f"  warm-up: {json.dumps({k: round(v, 4) for k, v in warm.items()})}")

    # cross-check: one plain forward over prompt + answer (no cache; the image features computed once more)
    # gives the same label log-likelihoods
    check_features = inner.model.get_image_features(inputs["pixel_values"].to(param_dtype), return_dict=True)
    check = []
    for ans in answers:
        p = inputs["input_ids"].shape[1]
        ids = torch.cat([inputs["input_ids"], torch.tensor([ans])], dim=1)
        tt = torch.cat([inputs["token_type_ids"], torch.zeros((1, len(ans)), dtype=torch.long)], dim=1)
        o = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=tt,
                  mm_encoder_outputs={"image": check_features}, use_cache=False)
        rows = torch.log_softmax(o.logits[0, p - 1:p - 1 + len(ans)].float(), dim=-1)
        check.append(math.fsum(float(rows[i, tok]) for i, tok in enumerate(ans)))
    check_diff = max(abs(a - b) for a, b in zip(sums, check))
    tol = 1e-3 if param_dtype == torch.float32 else 0.5 * len(max(answers, key=len))
    assert check_diff < tol, (sums, check)

    runs = []
    for i in range(args.runs):
        times, probs_i, _, _ = one_image()
        runs.append(times)
        log(f"  run {i + 1}/{args.runs}: {json.dumps({k: round(v, 4) for k, v in times.items()})}")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    n_prompt = int(inputs["input_ids"].shape[1])
    n_image = int((inputs["input_ids"] == inner.config.image_token_id).sum())
    result = {
        "tool": "tools/bench_torch_triage.py",
        "model_dir": args.modeldir,
        "adapter": args.adapter,
        "parameters": n_params,
        "dtype": str(param_dtype).removeprefix("torch."),
        "attn_implementation": args.attn,
        "threads": torch.get_num_threads(),
        "runs": args.runs,
        "images_per_s": 1.0 / med["total_s"],
        "s_per_image": med["total_s"],
        "process_s": med["process_s"],
        "vision_s": med["vision_s"],
        "prefill_s": med["prefill_s"],
        "scoring_s": med["scoring_s"],
        "runs_total_s": [r["total_s"] for r in runs],
        "image_size": vc.image_size,
        "prompt_tokens": n_prompt,
        "image_tokens": n_image,
        "labels": {name: ids for (name, _), ids in zip(labels, answers)},
        "scored_tokens": sum(len(a) - 1 for a in answers),
        "p_" + positive: probs_i[[n for n, _ in labels].index(positive)],
        "label_logprobs": {name: s for (name, _), s in zip(labels, sums)},
        "check_single_forward_max_abs_diff": check_diff,
        "load_s": load_s,
        "machine": machine_summary(load_before),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
