#!/usr/bin/env python3
"""PyTorch's CPU attention on the vision tower's shape (4096 patches, 16 heads of 72, bidirectional), float32
and bf16, through scaled_dot_product_attention, with the same thread count as the Swift measurement
(AttentionSpeedTests). Prints milliseconds per layer and GFLOP/s, best of five. Benchmark only: not run in CI."""
import time

import torch

torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
tokens, heads, head_dim = 4096, 16, 72
flop = 4 * tokens * tokens * head_dim * heads
for dtype in (torch.float32, torch.bfloat16):
    q, k, v = (torch.randn(1, heads, tokens, head_dim, dtype=dtype) for _ in range(3))
    torch.nn.functional.scaled_dot_product_attention(q, k, v)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        torch.nn.functional.scaled_dot_product_attention(q, k, v)
        best = min(best, time.perf_counter() - t0)
    print(f"torch {torch.__version__} sdpa {str(dtype).removeprefix('torch.')}: {best * 1e3:.1f} ms per layer, "
          f"{flop / best / 1e9:.0f} GFLOP/s, x27 = {27 * best:.2f} s")
