#!/usr/bin/env python3
"""Reference fixture: a multimodal Gemma 3 config that sets final_logit_softcapping.

transformers applies `final_logit_softcapping` in Gemma3ForCausalLM.forward only; the vision-language class
Gemma3ForConditionalGeneration computes lm_head(hidden) and never reads it. A checkpoint whose `gemma3`
config carries a cap (as configs converted from text checkpoints do) therefore gives uncapped logits in the
reference. This script proves that on the committed tiny VLM (Tests/Fixtures/gemma3-vlm/model) with a cap
that bites (10, where the fixture's logits reach ~20), and writes what dsa-triage must reproduce.

Writes Tests/Fixtures/gemma3-vlm/softcap/
  config.json       gemma3-vlm/model/config.json with text_config.final_logit_softcapping = 10.0
  logits_last.npy   float32 [262208] last-position logits of the at-size prompt, Gemma3ForConditionalGeneration
                    loaded with that config (equal to the uncapped model's: checked here)
  expected.json     the facts checked here, and per-token log-likelihoods of two answers after the at-size
                    prompt (teacher forcing, as label scoring computes them)

Tests replace model/config.json by softcap/config.json in a temporary copy of model/ (plus the reference
tokenizer) and compare. The text-only causal LM keeps capping: Tests/Fixtures/gemma3-text/softcap-mqa.

Run by hand (after tools/make_gemma3_vlm_fixtures.py):
  python3 tools/make_gemma3_vlm_softcap_fixture.py [--fixtures Tests/Fixtures/gemma3-vlm]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

import transformers
from transformers import Gemma3ForCausalLM, Gemma3ForConditionalGeneration
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
from transformers.models.gemma3 import modeling_gemma3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FIXTURES = os.path.join(REPO_ROOT, "Tests", "Fixtures", "gemma3-vlm")

CAP = 10.0
CASE = "at-size"
END_OF_TURN = 106
# Two answers scored after the at-size prompt: the first two greedy tokens (likely), and the ids of
# "patent" / "blocked" as the triage fixtures tokenize them (unlikely, so the cap would move them most).
ANSWERS = [("greedy", None), ("patent", [187576, END_OF_TURN]), ("blocked", [98542, END_OF_TURN])]


def softcap(x: torch.Tensor, cap: float) -> torch.Tensor:
    return torch.tanh(x / cap) * cap


@torch.no_grad()
def answer_logprobs(model, inputs: dict, answer: list[int]) -> list[float]:
    """log p(answer[k] | prompt, answer[:k]) for each k, one forward pass over prompt + answer."""
    ids = torch.cat([inputs["input_ids"], torch.tensor([answer])], dim=1)
    tt = torch.cat([inputs["token_type_ids"], torch.zeros(1, len(answer), dtype=inputs["token_type_ids"].dtype)], dim=1)
    out = model(input_ids=ids, pixel_values=inputs["pixel_values"], token_type_ids=tt,
                attention_mask=torch.ones_like(ids), use_cache=False)
    n = inputs["input_ids"].shape[1]
    logp = torch.log_softmax(out.logits[0].double(), dim=-1)
    return [float(logp[n - 1 + k, t]) for k, t in enumerate(answer)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", default=DEFAULT_FIXTURES)
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    # The reference source itself: only the causal LM's forward reads the cap.
    assert "final_logit_softcapping" in inspect.getsource(Gemma3ForCausalLM.forward)
    assert "final_logit_softcapping" not in inspect.getsource(Gemma3ForConditionalGeneration.forward)
    assert "final_logit_softcapping" not in inspect.getsource(modeling_gemma3.Gemma3Model.forward)
    # ... and a "gemma3" config is that class also when loaded as a causal LM.
    assert MODEL_FOR_CAUSAL_LM_MAPPING_NAMES["gemma3"] == "Gemma3ForConditionalGeneration"
    assert MODEL_FOR_CAUSAL_LM_MAPPING_NAMES["gemma3_text"] == "Gemma3ForCausalLM"

    model_dir = os.path.join(args.fixtures, "model")
    case_dir = os.path.join(args.fixtures, CASE)
    out_dir = os.path.join(args.fixtures, "softcap")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(case_dir, "expected.json")) as f:
        case = json.load(f)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    assert config["model_type"] == "gemma3" and config["text_config"]["final_logit_softcapping"] is None
    config["text_config"]["final_logit_softcapping"] = CAP
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")

    inputs = {
        "input_ids": torch.tensor([case["input_ids"]]),
        "token_type_ids": torch.tensor([case["token_type_ids"]]),
        "attention_mask": torch.ones(1, len(case["input_ids"]), dtype=torch.long),
        "pixel_values": torch.from_numpy(np.load(os.path.join(case_dir, "pixel_values.npy"))),
    }

    work = tempfile.mkdtemp()
    try:
        plain_repo = os.path.join(work, "plain")
        capped_repo = os.path.join(work, "capped")
        shutil.copytree(model_dir, plain_repo)
        shutil.copytree(model_dir, capped_repo)
        shutil.copy(os.path.join(out_dir, "config.json"), os.path.join(capped_repo, "config.json"))
        plain = Gemma3ForConditionalGeneration.from_pretrained(plain_repo, dtype=torch.float32,
                                                               attn_implementation="eager").eval()
        capped, info = Gemma3ForConditionalGeneration.from_pretrained(
            capped_repo, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
        capped.eval()
        assert not any(info.values()), info
        assert capped.config.text_config.final_logit_softcapping == CAP

        plain_last = plain(**inputs).logits[0, -1].float()
        capped_last = capped(**inputs).logits[0, -1].float()
        assert torch.equal(plain_last, capped_last), "Gemma3ForConditionalGeneration applied the cap"
        ref_case = torch.from_numpy(np.load(os.path.join(case_dir, "logits_last.npy")))
        case_diff = float((capped_last - ref_case).abs().max())
        assert case_diff < 1e-5, case_diff
        if_capped = softcap(capped_last, CAP)
        cap_effect = float((if_capped - capped_last).abs().max())
        max_logit = float(capped_last.abs().max())
        assert cap_effect > 0.2 * max_logit, (cap_effect, max_logit)  # the cap would bite
        np.save(os.path.join(out_dir, "logits_last.npy"), capped_last.numpy().astype(np.float32))

        # The same text weights as Gemma3ForCausalLM with the same text_config do cap.
        causal = Gemma3ForCausalLM(capped.config.text_config).float().eval()
        causal.model.load_state_dict(capped.model.language_model.state_dict(), strict=True)
        causal.lm_head.weight = causal.model.embed_tokens.weight
        text_ids = torch.tensor([[2, 105, 2364, 107, 236761, 106, 107, 105, 4368, 107]])
        plain_text = plain.model.language_model(input_ids=text_ids).last_hidden_state
        causal_logits = causal(input_ids=text_ids).logits[0, -1].float()
        uncapped_text = plain.lm_head(plain_text)[0, -1].float()
        causal_diff = float((causal_logits - softcap(uncapped_text, CAP)).abs().max())
        assert causal_diff < 1e-4, causal_diff

        answers = []
        for label, ids in ANSWERS:
            ids = ids or case["greedy_ids"][:2] + [END_OF_TURN]
            lp = answer_logprobs(capped, inputs, ids)
            lp_plain = answer_logprobs(plain, inputs, ids)
            assert lp == lp_plain, (label, lp, lp_plain)
            answers.append({"label": label, "ids": ids, "token_logprobs": lp})
    finally:
        shutil.rmtree(work)

    expected = {
        "generator": "tools/make_gemma3_vlm_softcap_fixture.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "case": CASE,
        "final_logit_softcapping": CAP,
        "config_file": "config.json",
        "logits_last_file": "logits_last.npy",
        "facts": {
            "conditional_generation": "Gemma3ForConditionalGeneration with text_config.final_logit_softcapping "
                                      f"{CAP} gives exactly the logits of the uncapped config",
            "causal_lm": "Gemma3ForCausalLM with the same text_config and weights returns cap * tanh(logits / cap) "
                         f"(max |diff| {causal_diff:.2e} on a text prompt)",
            "source": "only Gemma3ForCausalLM.forward reads final_logit_softcapping (checked on the installed source)",
            "auto_classes": "a 'gemma3' config maps to Gemma3ForConditionalGeneration also in AutoModelForCausalLM",
        },
        "max_abs_logit": max_logit,
        "max_abs_change_if_capped": cap_effect,
        "max_abs_diff_to_case_logits_last": case_diff,
        "answers": answers,
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(json.dumps({k: expected[k] for k in ("max_abs_logit", "max_abs_change_if_capped")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
