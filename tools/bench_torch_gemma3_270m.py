#!/usr/bin/env python3
"""Benchmark transformers (PyTorch, CPU) on Gemma 3 270M: the baseline the Swift engine is measured against.

    python3 tools/bench_torch_gemma3_270m.py [--model-dir DIR] [--dtypes f32,bf16] [--json FILE]

For each dtype, in its own subprocess (so peak RSS is that dtype's alone):
  prefill  one forward of a 256-token prompt with a fresh KV cache, logits for the last position
           only (logits_to_keep=1, as generate does); median of 5 after one warm-up -> tokens/s
  decode   64 greedy steps with the KV cache after that prefill; median of 3 after one warm-up
           -> tokens/s (decode time only, prefill excluded)
  peak RSS ru_maxrss of the worker process (model load included)
The model is loaded from the safetensors export of tools/gguf_to_safetensors.py (float32 on disk;
bf16 is cast at load). torch's thread count is left at its default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

from bench_machine import cpu_name

DEFAULT_DIR = os.environ.get(
    "DSA_GEMMA3_270M_DIR",
    os.path.join(os.environ.get("DSA_CACHE", os.path.expanduser("~/.cache/dsa-triage")), "gemma3-270m", "hf-f32"),
)
PARAGRAPH = (
    "Coronary angiography is an imaging study of the arteries of the heart. A catheter is guided to "
    "the coronary ostia and contrast medium is injected while X-ray frames are recorded; digital "
    "subtraction removes the static background so that the vessels stand out. "
)


def worker(model_dir: str, dtype_name: str, prompt_tokens: int, decode_tokens: int, attn: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_grad_enabled(False)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation=attn).eval()
    load_s = time.perf_counter() - t0
    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = tok(PARAGRAPH * 16).input_ids[:prompt_tokens]
    assert len(ids) == prompt_tokens
    prompt = torch.tensor([ids])

    def prefill():
        return model(input_ids=prompt, use_cache=True, logits_to_keep=1)

    prefill()  # warm-up
    times = []
    for _ in range(5):
        t = time.perf_counter()
        prefill()
        times.append(time.perf_counter() - t)
    prefill_s = statistics.median(times)

    def decode():
        out = prefill()
        cache = out.cache
        tok_id = int(out.logits[0, -1].argmax())
        t = time.perf_counter()
        for _ in range(decode_tokens):
            out = model(input_ids=torch.tensor([[tok_id]]), cache=cache, use_cache=True)
            cache = out.cache
            tok_id = int(out.logits[0, -1].argmax())
        return time.perf_counter() - t

    decode()  # warm-up
    dtimes = [decode() for _ in range(3)]
    decode_s = statistics.median(dtimes)
    return {
        "dtype": dtype_name,
        "attn_implementation": attn,
        "threads": torch.get_num_threads(),
        "load_s": load_s,
        "prefill_tokens": prompt_tokens,
        "prefill_s_median": prefill_s,
        "prefill_s_all": times,
        "prefill_tokens_per_s": prompt_tokens / prefill_s,
        "decode_tokens": decode_tokens,
        "decode_s_median": decode_s,
        "decode_s_all": dtimes,
        "decode_tokens_per_s": decode_tokens / decode_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", default=DEFAULT_DIR)
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (default sdpa, transformers' own default)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker(args.model_dir, args.worker, args.prompt_tokens, args.decode_tokens, args.attn)))
        return 0

    if not os.path.exists(os.path.join(args.model_dir, "model.safetensors")):
        print(f"no model.safetensors in {args.model_dir}; run tools/gguf_to_safetensors.py first", file=sys.stderr)
        return 1
    import torch
    import transformers

    results = []
    load_before = os.getloadavg()
    for dtype in args.dtypes.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", dtype, "--model-dir", args.model_dir,
               "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens),
               "--attn", args.attn]
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    report = {
        "tool": "tools/bench_torch_gemma3_270m.py",
        "model_dir": args.model_dir,
        "machine": {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "results": results,
    }
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {cpu_name()}, "
          f"{os.cpu_count()} logical CPUs, load average before/after {load_before[0]:.2f}/{os.getloadavg()[0]:.2f} "
          "(other processes on the machine skew the numbers)")
    print(f"{'dtype':6} {'threads':>7} {'prefill tok/s':>14} {'prefill s':>10} {'decode tok/s':>13} "
          f"{'decode s':>9} {'peak RSS MiB':>13} {'load s':>7}")
    for r in results:
        print(f"{r['dtype']:6} {r['threads']:7d} {r['prefill_tokens_per_s']:14.1f} {r['prefill_s_median']:10.3f} "
              f"{r['decode_tokens_per_s']:13.2f} {r['decode_s_median']:9.3f} {r['peak_rss_mib']:13.0f} "
              f"{r['load_s']:7.2f}")
    print(f"prefill: {args.prompt_tokens} tokens, median of 5; decode: {args.decode_tokens} tokens with KV cache, "
          f"median of 3; attention {args.attn}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
