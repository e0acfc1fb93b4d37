#!/usr/bin/env python3
"""PyTorch's GEMM rate on the linear-layer shapes `dsa-triage bench --kernels` measures.

Reads that command's JSON (its "shapes": "ROWS×IN·IN×OUT") on stdin or from a file, times
torch.nn.functional.linear (x @ Wᵀ, as transformers' Linear layers run) in bfloat16 and float32 with the
same thread count, and prints one JSON object: per dtype the whole-set rate and the per-shape rates in
GFLOP/s, so the two engines' kernels are compared on the same machine in the same run.

    dsa-triage bench --kernels > kernels.json && python3 tools/bench_torch_gemm.py kernels.json
"""
import json
import re
import sys
import time

import torch


def parse(shape):
    m = re.fullmatch(r"(\d+)\D+(\d+)\D+(\d+)\D+(\d+)", shape)
    if not m:
        sys.exit(f"bench_torch_gemm: cannot read the shape {shape!r}")
    rows, inputs, _, outputs = map(int, m.groups())
    return rows, inputs, outputs


def rate(rows, inputs, outputs, dtype, seconds=0.5):
    x = (torch.rand(rows, inputs) - 0.5).to(dtype)
    w = (torch.rand(outputs, inputs) - 0.5).to(dtype)
    torch.nn.functional.linear(x, w)
    reps, start = 0, time.perf_counter()
    while True:
        torch.nn.functional.linear(x, w)
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or reps >= 50:
            break
    return 2.0 * rows * inputs * outputs * reps, elapsed


def main():
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    kernels = json.load(source)
    torch.set_num_threads(int(kernels.get("threads") or torch.get_num_threads()))
    shapes = [parse(s) for s in kernels["shapes"]]
    out = {"engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
           "shapes": kernels["shapes"], "families": []}
    for name, dtype in (("bf16", torch.bfloat16), ("f32", torch.float32)):
        flops = secs = 0.0
        per = []
        for rows, inputs, outputs in shapes:
            f, s = rate(rows, inputs, outputs, dtype)
            flops, secs = flops + f, secs + s
            per.append(round(f / s / 1e9, 1))
        out["families"].append({"family": name, "gflops": round(flops / secs / 1e9, 1), "per_shape_gflops": per})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
