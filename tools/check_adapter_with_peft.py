#!/usr/bin/env python3
"""Checks an adapter written by dsa-triage against peft: peft must load it onto the base model with no missing
or unexpected LoRA tensors, hold exactly the file's values, and (given our logits) give the same logits.

    python3 tools/check_adapter_with_peft.py ADAPTER_DIR BASE_DIR [--ours DIR]

ADAPTER_DIR  adapter_config.json + adapter_model.safetensors (as written by PEFTAdapterWriter)
BASE_DIR     the base model directory (Gemma3ForConditionalGeneration when config.json has a vision_config,
             else Gemma3ForCausalLM)
--ours DIR   a folder with input.json ({"input_ids": [...], "case_dir": a base-fixture case folder holding
             pixel_values.npy and expected.json with token_type_ids}) and logits_last.npy (our float32
             last-position logits); written by AdapterWriterTests.testKeepAdapterForPeftCheck when
             DSA_KEEP_ADAPTER_DIR is set (ADAPTER_DIR is then DIR/adapter).

Prints one JSON object with the checks; exits 1 when one fails. float32, eager attention, one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

torch.set_num_threads(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("adapter")
    ap.add_argument("base")
    ap.add_argument("--ours")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |Δlogit| / max |logit| (default 1e-4)")
    a = ap.parse_args()

    import peft
    import transformers
    from peft import PeftModel

    with open(os.path.join(a.base, "config.json")) as f:
        base_config = json.load(f)
    is_vlm = "vision_config" in base_config
    cls = transformers.Gemma3ForConditionalGeneration if is_vlm else transformers.Gemma3ForCausalLM
    base = cls.from_pretrained(a.base, dtype=torch.float32, attn_implementation="eager")
    base.eval()
    model = PeftModel.from_pretrained(base, a.adapter)
    model.eval()

    report: dict = {"peft": peft.__version__, "transformers": transformers.__version__, "architecture": cls.__name__}
    ok = True

    # Every tensor of the file sits in the model under the same key (peft inserts the adapter name), with
    # the same values, and the model has no LoRA weight the file lacks.
    file_tensors = load_file(os.path.join(a.adapter, "adapter_model.safetensors"))
    state = {k.replace(".default", ""): v for k, v in model.state_dict().items() if "lora_" in k}
    missing_in_model = sorted(set(file_tensors) - set(state))
    missing_in_file = sorted(set(state) - set(file_tensors))
    worst = max((float((state[k] - v).abs().max()) for k, v in file_tensors.items() if k in state), default=0.0)
    report.update(tensors=len(file_tensors), not_in_model=missing_in_model[:5], not_in_file=missing_in_file[:5],
                  max_abs_weight_difference=worst)
    ok &= not missing_in_model and not missing_in_file and worst == 0.0

    if a.ours:
        with open(os.path.join(a.ours, "input.json")) as f:
            inp = json.load(f)
        ids = torch.tensor([inp["input_ids"]])
        kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if is_vlm:
            case = inp["case_dir"]
            with open(os.path.join(case, "expected.json")) as f:
                exp = json.load(f)
            kwargs["pixel_values"] = torch.from_numpy(np.load(os.path.join(case, "pixel_values.npy")))
            kwargs["token_type_ids"] = torch.tensor([exp["token_type_ids"]])
        with torch.no_grad():
            logits = model(**kwargs).logits[0, -1].float().numpy()
            with model.disable_adapter():
                bare = model(**kwargs).logits[0, -1].float().numpy()
        ours = np.load(os.path.join(a.ours, "logits_last.npy")).reshape(-1)
        scale = float(np.abs(logits).max())
        diff = float(np.abs(ours - logits).max())
        report.update(max_abs_logit=scale, max_abs_logit_difference=diff, relative=diff / scale,
                      argmax_equal=bool(ours.argmax() == logits.argmax()),
                      adapter_effect=float(np.abs(logits - bare).max()))
        ok &= diff <= a.tolerance * scale and report["adapter_effect"] > 1e-2
    report["ok"] = bool(ok)
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
