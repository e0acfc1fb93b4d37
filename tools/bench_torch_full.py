#!/usr/bin/env python3
"""PyTorch + transformers half of scripts/bench: the same triage work as `dsa-triage`, timed in one process.

    python3 tools/bench_torch_full.py MODELDIR --images A.png [B.png ...] [--runs 3] [--threads N]
                                      [--decode-tokens 16] [--tokenizer .cache/gemma3-tokenizer.json]

MODELDIR is a Hub-layout Gemma 3 / MedGemma repository (the random-weight MedGemma 1.5 4B from
tools/make_random_medgemma.py, or the tiny test model, which is copied to a temporary folder with
--tokenizer next to it). Weights in the checkpoint's dtype (bf16 for MedGemma), CPU, --threads threads
(default: every logical CPU). The per-image work and the default task profile are those of
tools/bench_torch_triage.py (processor, vision tower + projector, prompt prefill filling a KV cache,
label scoring on copies of that cache); this script adds:
  one image   the first --images file: one warm-up, then the median of --runs runs per stage
  decode      --decode-tokens greedy steps on the prompt's KV cache after one prefill (tokens/s)
  batch       every --images file in turn (as `dsa-triage triage` does), wall time of the whole batch
  peak RSS    ru_maxrss of this process (safetensors are memory-mapped: touched pages count)
Prints one JSON object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_machine import machine_summary, model_dir_with_tokenizer  # noqa: E402
from bench_torch_triage import DEFAULT_PROFILE, DEFAULT_TOKENIZER, END_OF_TURN, log  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("modeldir")
    ap.add_argument("--images", nargs="+", required=True, help="image files; the first is the one-image workload")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of the one-image workload after one warm-up")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all CPUs)")
    ap.add_argument("--decode-tokens", type=int, default=16)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="tokenizer.json used when MODELDIR has none")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (default sdpa, transformers' default)")
    args = ap.parse_args()
    if args.runs < 1 or args.decode_tokens < 1:
        sys.exit("--runs and --decode-tokens must be at least 1")

    import torch
    import transformers
    from PIL import Image
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration

    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    profile = DEFAULT_PROFILE
    labels = [(lab["name"], lab["answer"]) for lab in profile["labels"]]
    positive = profile["positive_label"]

    load_before = os.getloadavg()
    with model_dir_with_tokenizer(args.modeldir, args.tokenizer) as load_dir:
        t0 = time.perf_counter()
        model = Gemma3ForConditionalGeneration.from_pretrained(load_dir, dtype="auto",
                                                               attn_implementation=args.attn).eval()
        processor = AutoProcessor.from_pretrained(load_dir)
        load_s = time.perf_counter() - t0
    param_dtype = next(model.model.language_model.parameters()).dtype
    tokenizer = processor.tokenizer
    answers = [tokenizer(text, add_special_tokens=False)["input_ids"] + [END_OF_TURN] for _, text in labels]
    images = []
    for path in args.images:
        with Image.open(path) as im:
            images.append(im.convert("RGB"))
    log(f"torch: loaded {args.modeldir} ({param_dtype}) in {load_s:.1f} s; {torch.get_num_threads()} threads")

    def messages(image):
        return [{"role": "system", "content": [{"type": "text", "text": profile["system"]}]},
                {"role": "user", "content": [{"type": "image", "image": image},
                                             {"type": "text", "text": profile["prompt"]}]}]

    def prefill(image, times):
        t = time.perf_counter()
        inputs = processor.apply_chat_template(messages(image), add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(param_dtype)
        text_inputs = {k: v for k, v in inputs.items() if k != "pixel_values"}
        times["process_s"] = time.perf_counter() - t
        t = time.perf_counter()
        features = model.model.get_image_features(pixel_values, return_dict=True)
        times["vision_s"] = time.perf_counter() - t
        t = time.perf_counter()
        out = model(**text_inputs, mm_encoder_outputs={"image": features}, use_cache=True, logits_to_keep=1)
        times["prefill_s"] = time.perf_counter() - t
        return out, int(inputs["input_ids"].shape[1])

    def one_image(image):
        times = {}
        out, n_prompt = prefill(image, times)
        t = time.perf_counter()
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        sums = []
        for ans in answers:
            lps = [float(first[ans[0]])]
            if len(ans) > 1:
                o = model(input_ids=torch.tensor([ans[:-1]]), cache=copy.deepcopy(out.cache), use_cache=True)
                rows = torch.log_softmax(o.logits[0].float(), dim=-1)
                lps += [float(rows[i, tok]) for i, tok in enumerate(ans[1:])]
            sums.append(math.fsum(lps))
        m = max(sums)
        ex = [math.exp(s - m) for s in sums]
        times["scoring_s"] = time.perf_counter() - t
        times["total_s"] = sum(times.values())
        return times, ex[[n for n, _ in labels].index(positive)] / sum(ex), n_prompt

    log("torch: one image, warm-up")
    one_image(images[0])
    runs = []
    for i in range(args.runs):
        times, p_pos, n_prompt = one_image(images[0])
        runs.append(times)
        log(f"torch: one image, run {i + 1}/{args.runs}: {json.dumps({k: round(v, 3) for k, v in times.items()})}")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    log(f"torch: decode {args.decode_tokens} tokens")
    out, _ = prefill(images[0], {})
    cache = out.cache
    tok = int(out.logits[0, -1].argmax())
    t = time.perf_counter()
    for _ in range(args.decode_tokens):
        out = model(input_ids=torch.tensor([[tok]]), cache=cache, use_cache=True)
        cache = out.cache
        tok = int(out.logits[0, -1].argmax())
    decode_s = time.perf_counter() - t

    log(f"torch: batch of {len(images)}")
    t = time.perf_counter()
    batch_p = [one_image(image)[1] for image in images]
    batch_s = time.perf_counter() - t

    result = {
        "engine": "pytorch+transformers",
        "model_dir": os.path.abspath(os.path.expanduser(args.modeldir)),
        "dtype": str(param_dtype).removeprefix("torch."),
        "attn_implementation": args.attn,
        "threads": torch.get_num_threads(),
        "runs": args.runs,
        "load_s": load_s,
        "prompt_tokens": n_prompt,
        "one_image": med,
        "one_image_runs_total_s": [r["total_s"] for r in runs],
        "p_" + positive: p_pos,
        "decode_tokens": args.decode_tokens,
        "decode_tok_s": args.decode_tokens / decode_s,
        "batch_images": len(images),
        "batch_s": batch_s,
        "batch_p_" + positive: batch_p,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": machine_summary(load_before),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
