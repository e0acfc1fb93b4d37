#!/usr/bin/env python3
"""Benchmark transformers (PyTorch, CPU, bf16) on a MedGemma-4B-sized model: the Swift engine's baseline.

    python3 tools/bench_torch_medgemma.py MODELDIR [--json FILE] [--threads N] [--prompt-tokens 307]
                                          [--decode-tokens 16] [--repeats 3] [--attn sdpa]

MODELDIR is a Hub-layout Gemma 3 / MedGemma repository, e.g. the random-weight one that
tools/make_random_medgemma.py writes to ~/.cache/dsa-triage/medgemma-random-bf16 (timings do not
depend on the weight values). One process, bf16 weights and compute:
  load     Gemma3ForConditionalGeneration.from_pretrained(dtype=bfloat16) + AutoProcessor
  process  the processor on one 896x896 RGB image + the chat prompt (PIL image processor here)
  vision   vision tower + projector for one 896x896 image (get_image_features); median of --repeats
           after one warm-up
  prefill  one forward of the image + chat prompt (--prompt-tokens in all, 256 of them image tokens)
           with a fresh KV cache and logits for the last position only (logits_to_keep=1, as generate
           does); median of --repeats after one warm-up
  language the same forward given the precomputed image features (mm_encoder_outputs): the language
           model's share of the prefill; median of --repeats after one warm-up
  decode   --decode-tokens greedy steps with the KV cache after a prefill (decode time only)
  peak RSS ru_maxrss of this process (safetensors are memory-mapped: touched weight pages count)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

from bench_machine import cpu_name

PARAGRAPH = (
    "This is a digital subtraction angiogram of the cerebral arteries after contrast injection. "
    "Decide whether the main artery shown is occluded or patent, considering abrupt vessel cut-off, "
    "missing distal branches, delayed filling and collateral flow. "
)
QUESTION = "Is the artery blocked? Answer yes or no."


def test_image(size: int):
    from PIL import Image

    rng = np.random.RandomState(0)
    y, x = np.mgrid[0:size, 0:size] / size
    gray = 140 + 60 * np.sin(6 * x + 3 * y) - 100 * np.exp(-((y - 0.5 - 0.2 * np.sin(7 * x)) ** 2) / 0.001)
    rgb = np.stack([gray] * 3, axis=-1) + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")


def build_inputs(processor, image, target_tokens: int):
    """Chat inputs with one image whose total length is as close to target_tokens as words allow."""
    words = (PARAGRAPH * 40).split()

    def inputs_for(n_words: int):
        text = " ".join(words[:n_words]) + " " + QUESTION
        messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                             return_dict=True, return_tensors="pt")

    lo, hi = 0, len(words)
    while lo < hi:  # largest word count whose prompt fits in target_tokens
        mid = (lo + hi + 1) // 2
        if inputs_for(mid)["input_ids"].shape[1] <= target_tokens:
            lo = mid
        else:
            hi = mid - 1
    t = time.perf_counter()
    inputs = dict(inputs_for(lo))
    return inputs, time.perf_counter() - t


def timed(fn, repeats: int):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("modeldir")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's default)")
    ap.add_argument("--prompt-tokens", type=int, default=307, help="total prompt length, image tokens included")
    ap.add_argument("--decode-tokens", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (default sdpa, transformers' default)")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration

    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    model = Gemma3ForConditionalGeneration.from_pretrained(args.modeldir, dtype=torch.bfloat16,
                                                           attn_implementation=args.attn).eval()
    processor = AutoProcessor.from_pretrained(args.modeldir)
    load_s = time.perf_counter() - t0
    vc = model.config.vision_config
    image = test_image(vc.image_size)

    inputs, process_s = build_inputs(processor, image, args.prompt_tokens)
    n_tokens = int(inputs["input_ids"].shape[1])
    n_image = int((inputs["input_ids"] == model.config.image_token_id).sum())
    pixel_values = inputs["pixel_values"].to(torch.bfloat16)
    inputs["pixel_values"] = pixel_values

    vision_s, vision_all = timed(lambda: model.model.get_image_features(pixel_values), args.repeats)

    def prefill():
        return model(**inputs, use_cache=True, logits_to_keep=1)

    prefill_s, prefill_all = timed(prefill, args.repeats)

    features = {"image": model.model.get_image_features(pixel_values)}
    text_inputs = {k: v for k, v in inputs.items() if k != "pixel_values"}

    def language():
        return model(**text_inputs, mm_encoder_outputs=dict(features), use_cache=True, logits_to_keep=1)

    ref = prefill().logits
    assert torch.equal(language().logits, ref), "precomputed image features change the logits"
    language_s, language_all = timed(language, args.repeats)

    out = prefill()
    cache = out.cache
    tok = int(out.logits[0, -1].argmax())
    t = time.perf_counter()
    for _ in range(args.decode_tokens):
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache = out.cache
        tok = int(out.logits[0, -1].argmax())
    decode_s = time.perf_counter() - t
    assert torch.isfinite(out.logits).all()

    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "threads": torch.get_num_threads(),
        "attn_implementation": args.attn,
        "dtype": "bfloat16",
        "load_s": load_s,
        "process_s": process_s,
        "image_size": vc.image_size,
        "prompt_tokens": n_tokens,
        "image_tokens": n_image,
        "vision_s_median": vision_s,
        "vision_s_all": vision_all,
        "prefill_s_median": prefill_s,
        "prefill_s_all": prefill_all,
        "language_s_median": language_s,
        "language_s_all": language_all,
        "language_tokens_per_s": n_tokens / language_s,
        "decode_tokens": args.decode_tokens,
        "decode_s": decode_s,
        "decode_tokens_per_s": args.decode_tokens / decode_s,
        "peak_rss_mib": peak_rss_mib,
    }
    report = {
        "tool": "tools/bench_torch_medgemma.py",
        "model_dir": os.path.abspath(args.modeldir),
        "machine": {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "result": result,
    }

    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {cpu_name()}, "
          f"{os.cpu_count()} logical CPUs, {result['threads']} torch threads, attention {args.attn}, bf16; "
          f"load average before/after {load_before[0]:.2f}/{os.getloadavg()[0]:.2f} "
          "(other processes on the machine skew the numbers)")
    rows = [
        ("load (model + processor)", f"{load_s:.2f} s"),
        ("processor (1 image + chat)", f"{process_s:.3f} s"),
        (f"vision + projector ({vc.image_size}^2)", f"{vision_s:.2f} s  (median of {args.repeats}: "
                                                     + ", ".join(f"{x:.2f}" for x in vision_all) + ")"),
        (f"prefill ({n_tokens} tokens, {n_image} image)", f"{prefill_s:.2f} s  (median of {args.repeats}: "
                                                            + ", ".join(f"{x:.2f}" for x in prefill_all) + ")"),
        ("language model alone (same prompt)", f"{language_s:.2f} s  = {n_tokens / language_s:.1f} tok/s  "
                                                f"(median of {args.repeats}: "
                                                + ", ".join(f"{x:.2f}" for x in language_all) + ")"),
        (f"decode ({args.decode_tokens} greedy tokens)", f"{decode_s:.2f} s  = {result['decode_tokens_per_s']:.2f} tok/s"),
        ("peak RSS", f"{peak_rss_mib:.0f} MiB"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:{width}}  {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
