#!/usr/bin/env python3
"""Time the Gemma 3 / MedGemma vision tower (SigLIP) + multimodal projector alone in PyTorch + transformers.

    python3 tools/bench_torch_vision.py MODELDIR [--dtype bf16,f32] [--threads 2] [--warmup 1] [--repeats 1]
                                       [--attn sdpa] [--no-projector] [--timeout 480] [--json FILE]

MODELDIR is a Hub-layout Gemma 3 / MedGemma repository (config.json + *.safetensors), e.g. the one that
`tools/make_random_medgemma.py OUTDIR --vision-only` writes (vision tower and projector tensors only, ~0.84 GB
in BF16; timings do not depend on the weight values). Only those tensors are read, so no language model is
built or loaded.

For each --dtype, in its own child process (so that its peak RSS is its own):
  build   transformers' SiglipVisionModel from config.json's vision_config (attn_implementation --attn;
          sdpa is transformers' default) and Gemma3MultiModalProjector from the whole config, then load the
          checkpoint's vision_tower / multi_modal_projector tensors (any of the three key layouts: model.
          vision_tower.vision_model.*, vision_tower.vision_model.*, vision_tower.*), cast to the dtype
  vision  one forward of a random 1x3xSxS pixel tensor (S = vision_config.image_size, 896 for MedGemma)
          through the tower (+ the projector unless --no-projector), under torch.inference_mode;
          --warmup untimed runs, then --repeats timed runs (median reported)
  peak RSS ru_maxrss of the child (safetensors are memory-mapped: touched weight pages count)
A child that runs past --timeout seconds is killed; whatever it had timed by then is reported (partial).

FLOPs (multiply-add = 2) of the tower: per layer 8*N*d^2 (q, k, v, o) + 4*N*d*m (MLP) + 4*N^2*d
(QK^T and AV), plus the patch embedding and the projector; N = (S/patch)^2 patches, d = hidden size,
m = MLP size. For SigLIP so400m at 896 px (N 4096, 27 layers, d 1152, m 4304): ~5.46 TFLOP.

Prints one JSON object (and writes it to --json FILE).
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

DTYPES = {"bf16": "bfloat16", "f32": "float32"}
PREFIXES = ("model.vision_tower.vision_model.", "vision_tower.vision_model.", "vision_tower.")
PROJECTOR_PREFIXES = ("model.multi_modal_projector.", "multi_modal_projector.")


def tower_flops(vc: dict, mm_tokens: int, text_hidden: int, projector: bool) -> float:
    side = vc["image_size"] // vc["patch_size"]
    n, d, m, layers = side * side, vc["hidden_size"], vc["intermediate_size"], vc["num_hidden_layers"]
    per_layer = 8 * n * d * d + 4 * n * d * m + 4 * n * n * d
    patch = 2 * n * (vc.get("num_channels", 3) * vc["patch_size"] ** 2) * d
    proj = 2 * mm_tokens * d * text_hidden if projector else 0
    return float(layers * per_layer + patch + proj)


def safetensors_files(model_dir: str) -> list[str]:
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return sorted({os.path.join(model_dir, v) for v in json.load(f)["weight_map"].values()})
    return sorted(os.path.join(model_dir, n) for n in os.listdir(model_dir) if n.endswith(".safetensors"))


def load_vision_tensors(model_dir: str):
    """(tower state dict keyed 'vision_model.*' as in transformers 4.x's SiglipVisionModel, projector state dict)."""
    from safetensors import safe_open

    tower, proj = {}, {}
    for path in safetensors_files(model_dir):
        with safe_open(path, framework="pt") as f:
            for key in f.keys():
                for p in PROJECTOR_PREFIXES:
                    if key.startswith(p):
                        proj[key[len(p):]] = f.get_tensor(key)
                        break
                else:
                    for p in PREFIXES:
                        if key.startswith(p):
                            tower["vision_model." + key[len(p):]] = f.get_tensor(key)
                            break
    return tower, proj


def child(args) -> None:
    """One dtype in this process; prints JSON lines as it goes (so a killed run still reports)."""
    import torch
    from transformers import Gemma3Config, SiglipVisionConfig, SiglipVisionModel
    from transformers.models.gemma3.modeling_gemma3 import Gemma3MultiModalProjector

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, DTYPES[args.dtype])

    def emit(**kw):
        print(json.dumps(kw), flush=True)

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    t0 = time.perf_counter()
    vcfg = SiglipVisionConfig.from_dict(cfg["vision_config"])
    vcfg._attn_implementation = args.attn
    tower = SiglipVisionModel(vcfg).eval()
    tower_sd, proj_sd = load_vision_tensors(args.model)
    if not any(k.startswith("vision_model.") for k in tower.state_dict()):  # transformers 5: no wrapper prefix
        tower_sd = {k[len("vision_model."):]: v for k, v in tower_sd.items()}
    missing, unexpected = tower.load_state_dict(tower_sd, strict=False)
    if missing or unexpected:
        raise SystemExit(f"vision tower: missing {missing[:5]}, unexpected {unexpected[:5]}")
    tower = tower.to(dtype)
    projector = None
    if not args.no_projector:
        projector = Gemma3MultiModalProjector(Gemma3Config.from_dict(cfg)).eval()
        projector.load_state_dict(proj_sd, strict=True)
        projector = projector.to(dtype)
    del tower_sd, proj_sd
    emit(event="loaded", load_s=round(time.perf_counter() - t0, 3),
         attn=tower.config._attn_implementation, threads=torch.get_num_threads())

    size = cfg["vision_config"]["image_size"]
    gen = torch.Generator().manual_seed(0)
    pixels = (torch.rand(1, 3, size, size, generator=gen) * 2 - 1).to(dtype)

    def forward():
        with torch.inference_mode():
            h = tower(pixel_values=pixels).last_hidden_state
            if projector is not None:
                h = projector(h)
        return h

    for i in range(args.warmup):
        t = time.perf_counter()
        out = forward()
        emit(event="warmup", s=round(time.perf_counter() - t, 3), shape=list(out.shape),
             finite=bool(torch.isfinite(out.float()).all()))
    for i in range(args.repeats):
        t = time.perf_counter()
        out = forward()
        emit(event="timed", s=round(time.perf_counter() - t, 3), shape=list(out.shape))
    emit(event="done", peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


def run_dtype(args, dtype: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), args.model, "--child", "--dtype", dtype,
           "--threads", str(args.threads), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--attn", args.attn] + (["--no-projector"] if args.no_projector else [])
    t0 = time.perf_counter()
    timed_out = False
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        timed_out = True
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc = None
    r = {"dtype": DTYPES[dtype], "wall_s": round(time.perf_counter() - t0, 1), "returncode": rc,
         "timed_out": timed_out, "warmup_s": [], "timed_s": []}
    for line in out.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind = ev.pop("event", None)
        if kind == "loaded":
            r.update(ev)
        elif kind == "warmup":
            r["warmup_s"].append(ev["s"])
            r["output_shape"], r["finite"] = ev["shape"], ev["finite"]
        elif kind == "timed":
            r["timed_s"].append(ev["s"])
            r["output_shape"] = ev["shape"]
        elif kind == "done":
            r.update(ev)
    r["vision_s"] = statistics.median(r["timed_s"]) if r["timed_s"] else None
    r["partial"] = timed_out or rc != 0 or not r["timed_s"]
    if rc not in (0, None):
        r["stderr_tail"] = err[-2000:]
    print(f"{dtype}: {r['vision_s']} s (warm-up {r['warmup_s']}, timed {r['timed_s']}, "
          f"peak RSS {r.get('peak_rss_mb')} MB{', TIMED OUT' if timed_out else ''})", file=sys.stderr)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--dtype", default="bf16,f32", help="comma-separated: bf16, f32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--no-projector", action="store_true")
    ap.add_argument("--timeout", type=float, default=480.0, help="seconds per dtype before the child is killed")
    ap.add_argument("--json")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0

    import torch
    import transformers

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    vc = cfg["vision_config"]
    flops = tower_flops(vc, cfg.get("mm_tokens_per_image", 256), cfg["text_config"]["hidden_size"],
                        not args.no_projector)
    load_before = os.getloadavg()
    results = {}
    for dtype in args.dtype.split(","):
        r = run_dtype(args, dtype.strip())
        if r["vision_s"]:
            r["gflops_per_s"] = round(flops / r["vision_s"] / 1e9, 1)
        results[r["dtype"]] = r
    report = {
        "model": os.path.abspath(args.model),
        "what": "vision tower" + ("" if args.no_projector else " + multimodal projector") + ", one image",
        "image_size": vc["image_size"], "patches": (vc["image_size"] // vc["patch_size"]) ** 2,
        "layers": vc["num_hidden_layers"], "flops": flops,
        "threads": args.threads, "attn": args.attn, "warmup": args.warmup, "repeats": args.repeats,
        "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
        "cpu": cpu_name(), "logical_cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
