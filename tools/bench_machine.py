"""What the reference benchmark scripts record about the machine they ran on."""
from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import tempfile


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (or what platform reports)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_summary(load_before) -> dict:
    """CPU, logical CPUs and the load average before the run and now (rounded to 2 places)."""
    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()]}


@contextlib.contextmanager
def model_dir_with_tokenizer(model_dir: str, tokenizer: str):
    """The folder to load MODEL_DIR from: itself when it has a tokenizer.json, else a temporary copy with
    TOKENIZER put in as tokenizer.json (the tiny test model ships without one); removed afterwards."""
    model_dir = os.path.abspath(os.path.expanduser(model_dir))
    if os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        yield model_dir
        return
    if not os.path.exists(tokenizer):
        sys.exit(f"{model_dir} has no tokenizer.json and {tokenizer} does not exist: mkdir -p .cache && "
                 "xz -dc ../shared/reference/gemma3-tokenizer.json.xz > .cache/gemma3-tokenizer.json")
    work = tempfile.mkdtemp()
    try:
        load_dir = os.path.join(work, "model")
        shutil.copytree(model_dir, load_dir)
        shutil.copy(tokenizer, os.path.join(load_dir, "tokenizer.json"))
        yield load_dir
    finally:
        shutil.rmtree(work)
