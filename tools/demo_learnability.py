#!/usr/bin/env python3
"""Can the demo architecture learn the triage task from synthetic angiograms? A PyTorch study that
trains every parameter of models/demo-base (tools/make_demo_base.py) the way `dsa-triage train --full`
is meant to, and measures held-out sensitivity and specificity as triage computes them.

Each example is the triage conversation: <bos> + the user turn with the task profile's system text,
one image block (64 soft tokens, bidirectional within the image) and the question, then the model
turn's answer "patent" or "blocked" followed by <end_of_turn>. The loss is the mean cross-entropy over
the answer tokens only. P(blocked) is the softmax over the two answers' summed log-likelihoods
(LabelScorer in Sources/Triage); a case is called blocked when P(blocked) >= threshold.

Images come from `dsa-triage synth` (PNG, 8-bit gray, already 256x256 = the model's input size), read
from each set's labels.csv; the processor's rescale and normalisation ((x/255 - 0.5)/0.5, gray copied to
RGB) are applied here.

Make the sets (distinct seeds), then run, e.g.
  S=.build/release/dsa-triage
  $S synth --out /tmp/demo-data/train --count 4000 --prevalence 0.3 --seed 101 --size 256 --frames 8 \
      --runs subtracted --transfer-syntax explicit-le
  $S synth --out /tmp/demo-data/val  --count 400 --prevalence 0.3 --seed 202 ...
  $S synth --out /tmp/demo-data/test --count 600 --prevalence 0.3 --seed 303 ...
  python3 tools/demo_learnability.py --data /tmp/demo-data --steps 1500 --log /tmp/demo-study.jsonl

One thread (torch.set_num_threads(1)) unless --threads says otherwise: the machine is shared.
Writes one JSON line per evaluation to --log and a summary at the end; --save DIR keeps the weights of
the best validation evaluation (transformers layout) for a final test-set check.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
from make_demo_base import IMAGE_TOKEN, PROFILE, triage_prompt  # noqa: E402


def load_set(directory: str, limit: int | None = None):
    """(images uint8 [N, H, W], labels int [N], 1 = blocked) from a synth output folder."""
    from PIL import Image

    with open(os.path.join(directory, "labels.csv")) as f:
        rows = list(csv.DictReader(f))
    if limit:
        rows = rows[:limit]
    images, labels = [], []
    for row in rows:
        images.append(np.asarray(Image.open(os.path.join(directory, row["png"])).convert("L"), dtype=np.uint8))
        labels.append(1 if row["label"] == "blocked" else 0)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def pixels(batch_u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(batch_u8).float().div_(255.0).sub_(0.5).div_(0.5)
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


class Conversation:
    """Token ids of the triage prompt and of each label's answer (answer words + <end_of_turn>)."""

    def __init__(self, tokenizer_path: str, mm_tokens: int):
        from tokenizers import Tokenizer

        with open(PROFILE) as f:
            profile = json.load(f)
        tok = Tokenizer.from_file(tokenizer_path)
        self.prompt = tok.encode(triage_prompt(profile, mm_tokens)).ids
        eot = tok.token_to_id("<end_of_turn>")
        by_name = {label["name"]: tok.encode(label["answer"], add_special_tokens=False).ids + [eot]
                   for label in profile["labels"]}
        self.answers = [by_name["patent"], by_name["blocked"]]  # index = label (1 = blocked)
        self.threshold = profile["threshold"]
        assert len({len(a) for a in self.answers}) == 1, "the study batches answers of equal length"
        self.answer_len = len(self.answers[0])

    def batch(self, labels) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.tensor([self.prompt + self.answers[int(y)] for y in labels])
        return ids, (ids == IMAGE_TOKEN).long()


def answer_logprobs(model, conv: Conversation, px: torch.Tensor, labels) -> torch.Tensor:
    """log P(answer_i | prompt, image_i) summed over the answer tokens, shape [B]."""
    ids, tt = conv.batch(labels)
    p = len(conv.prompt)
    out = model(input_ids=ids, pixel_values=px, token_type_ids=tt, logits_to_keep=conv.answer_len + 1)
    # logits_to_keep keeps the last answer_len + 1 positions; the first answer_len of them predict the answer.
    logits = out.logits[:, : conv.answer_len].float()
    targets = ids[:, p:]
    lp = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return lp.sum(-1)


@torch.no_grad()
def evaluate(model, conv: Conversation, images: np.ndarray, labels: np.ndarray, batch: int = 32) -> dict:
    model.eval()
    scores = []
    for start in range(0, len(labels), batch):
        px = pixels(images[start:start + batch])
        n = px.shape[0]
        both = torch.cat([px, px])
        lp = answer_logprobs(model, conv, both, [0] * n + [1] * n)
        lp_patent, lp_blocked = lp[:n].double(), lp[n:].double()
        scores.append(torch.sigmoid(lp_blocked - lp_patent))  # softmax over the two answers
    model.train()
    p = torch.cat(scores).numpy()
    return metrics(p, labels, conv.threshold) | {"p_blocked": p.tolist()}


def metrics(p: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    pos, neg = y == 1, y == 0
    call = p >= threshold
    sens = float((call & pos).sum() / max(pos.sum(), 1))
    spec = float((~call & neg).sum() / max(neg.sum(), 1))
    # AUC by ranks (Mann-Whitney), ties counted half.
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    for v in np.unique(p):
        m = p == v
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    auc = float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / max(pos.sum() * neg.sum(), 1))
    # The threshold that maximises balanced accuracy on this set (reported, not used for the headline).
    best = max(((float(((p >= t) & pos).sum() / pos.sum()) + float(((p < t) & neg).sum() / neg.sum())) / 2, float(t))
               for t in np.unique(p))
    return {"threshold": threshold, "sensitivity": sens, "specificity": spec,
            "balanced_accuracy": (sens + spec) / 2, "auc": auc,
            "best_balanced_accuracy": best[0], "best_threshold": best[1]}


def lr_at(step: int, args) -> float:
    """Linear warm-up, then cosine decay to lr * min_lr_ratio at the last step."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def run_probe(args) -> None:
    """A plain binary classifier on the same images, to locate the difficulty: the demo's SigLIP tower
    with a mean- or max-pool over its patch tokens and a linear head (vit-p8: a fresh tower of the same
    size with patch 8 on the image halved to 128x128, mean pool) (50 warm-up steps, the tower's
    gradient clipped at --clip), or a small CNN (constant lr, no clipping). BCE loss, AdamW (weight decay
    0.01), class-balanced batches; validation AUC every --eval-every steps."""
    import torch.nn as nn
    from transformers import Gemma3ForConditionalGeneration

    train_x, train_y = load_set(os.path.join(args.data, "train"), args.train_limit)
    val_x, val_y = load_set(os.path.join(args.data, "val"))
    if args.probe == "cnn":
        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
        net = nn.Sequential(block(1, 16), block(16, 32), block(32, 64), block(64, 64), block(64, 96),
                            nn.Conv2d(96, 96, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                            nn.Linear(96, 1))
        forward = lambda u8: net(pixels(u8)[:, :1]).squeeze(-1)  # noqa: E731  (gray: one channel)
        params = list(net.parameters())
        clipped, warmup = [], 0
        modules = [net]
    else:
        tower = Gemma3ForConditionalGeneration.from_pretrained(args.model).model.vision_tower
        shrink = args.probe == "vit-p8"
        if shrink:
            # The same tower with patch 8 on a 128x128 image (2x2 mean of the 256x256 picture): the same
            # 256 patch tokens, each seeing a 4x smaller area.
            from transformers import SiglipVisionConfig, SiglipVisionModel
            cfg = SiglipVisionConfig(**{**tower.config.to_dict(), "patch_size": 8, "image_size": 128})
            tower = SiglipVisionModel(cfg)
        head = nn.Linear(tower.config.hidden_size, 1)

        def forward(u8):
            px = pixels(u8)
            if shrink:
                px = nn.functional.avg_pool2d(px, 2)
            h = tower(pixel_values=px).last_hidden_state
            return head(h.amax(1) if args.probe == "vit-max" else h.mean(1)).squeeze(-1)
        params = list(tower.parameters()) + list(head.parameters())
        clipped, warmup = list(tower.parameters()), 50
        modules = [tower, head]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = np.random.default_rng(args.seed)
    by_class = [np.flatnonzero(train_y == c) for c in (0, 1)]
    log = open(args.log, "w")
    log.write(json.dumps({"event": "config", **vars(args)}) + "\n")
    losses, t0 = [], time.time()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / warmup) if warmup else args.lr
        idx = np.array([rng.choice(by_class[int(c)]) for c in rng.random(args.batch) < 0.5])
        loss = nn.functional.binary_cross_entropy_with_logits(forward(train_x[idx]), torch.tensor(train_y[idx]).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clipped:
            torch.nn.utils.clip_grad_norm_(clipped, args.clip)
        opt.step()
        losses.append(float(loss.detach()))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            for m in modules:
                m.eval()
            with torch.no_grad():
                p = torch.cat([torch.sigmoid(forward(val_x[i:i + 50])) for i in range(0, len(val_y), 50)]).numpy()
            for m in modules:
                m.train()
            rec = {"event": "eval", "probe": args.probe, "step": step + 1, "examples_seen": (step + 1) * args.batch,
                   "train_loss": float(np.mean(losses[-args.eval_every:])),
                   "seconds_per_step": (time.time() - t0) / (step + 1), **metrics(p, val_y, 0.5)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)
    log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(REPO_ROOT, "models", "demo-base"))
    ap.add_argument("--data", required=True, help="folder with train/, val/ and test/ synth outputs")
    ap.add_argument("--train-limit", type=int)
    ap.add_argument("--steps", type=int, default=1500, help="optimiser steps")
    ap.add_argument("--batch", type=int, default=16, help="examples per optimiser step (micro-batch x accumulation)")
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--balance", choices=["sampling", "none"], default="sampling",
                    help="sampling: each example is blocked with probability 1/2; none: epochs of shuffled data")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log", required=True)
    ap.add_argument("--save", help="keep the best-validation weights here")
    ap.add_argument("--probe", choices=["vit-mean", "vit-max", "vit-p8", "cnn"],
                    help="instead of the conversation, train a plain classifier probe (see run_probe)")
    ap.add_argument("--time-budget", type=float, default=0, help="stop after this many seconds of training (0: none)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.probe:
        run_probe(args)
        return
    rng = np.random.default_rng(args.seed)
    from transformers import Gemma3ForConditionalGeneration

    model = Gemma3ForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32,
                                                           attn_implementation="sdpa")
    model.train()
    conv = Conversation(os.path.join(args.model, "tokenizer.json"), model.config.mm_tokens_per_image)
    t0 = time.time()
    train_x, train_y = load_set(os.path.join(args.data, "train"), args.train_limit)
    val_x, val_y = load_set(os.path.join(args.data, "val"))
    print(f"loaded {len(train_y)} train ({train_y.mean():.2f} blocked), {len(val_y)} val in {time.time() - t0:.1f}s",
          flush=True)

    decay, no_decay = [], []
    for name, prm in model.named_parameters():
        (no_decay if prm.ndim < 2 or "norm" in name or "embedding" in name.split(".")[-2] else decay).append(prm)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

    by_class = [np.flatnonzero(train_y == c) for c in (0, 1)]
    order, cursor = rng.permutation(len(train_y)), 0

    def draw(n: int) -> np.ndarray:
        nonlocal order, cursor
        if args.balance == "sampling":
            cls = rng.random(n) < 0.5
            return np.array([rng.choice(by_class[int(c)]) for c in cls])
        out = []
        for _ in range(n):
            if cursor == len(order):
                order, cursor = rng.permutation(len(train_y)), 0
            out.append(order[cursor])
            cursor += 1
        return np.array(out)

    log = open(args.log, "w")
    log.write(json.dumps({"event": "config", **vars(args), "prompt_tokens": len(conv.prompt),
                          "train": len(train_y), "val": len(val_y)}) + "\n")
    best = None
    train_seconds, losses = 0.0, []
    accum = max(1, args.batch // args.micro_batch)
    for step in range(args.steps):
        ts = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        opt.zero_grad(set_to_none=True)
        step_loss = 0.0
        for _ in range(accum):
            idx = draw(args.micro_batch)
            ids, tt = conv.batch(train_y[idx])
            out = model(input_ids=ids, pixel_values=pixels(train_x[idx]), token_type_ids=tt,
                        logits_to_keep=conv.answer_len + 1)
            logits = out.logits[:, : conv.answer_len]
            targets = ids[:, len(conv.prompt):]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            (loss / accum).backward()
            step_loss += float(loss.detach()) / accum
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip))
        opt.step()
        train_seconds += time.time() - ts
        losses.append(step_loss)
        if (step + 1) % 10 == 0:
            print(f"step {step + 1} loss {np.mean(losses[-10:]):.4f} gnorm {gnorm:.2f} lr {lr_at(step, args):.2e} "
                  f"{train_seconds / (step + 1):.2f}s/step", flush=True)
        last = step + 1 == args.steps or (args.time_budget and train_seconds > args.time_budget)
        if (step + 1) % args.eval_every == 0 or last:
            te = time.time()
            m = evaluate(model, conv, val_x, val_y)
            m.pop("p_blocked")
            rec = {"event": "eval", "step": step + 1, "examples_seen": (step + 1) * args.batch,
                   "epochs": (step + 1) * args.batch / len(train_y), "train_loss": float(np.mean(losses[-args.eval_every:])),
                   "seconds_per_step": train_seconds / (step + 1), "eval_seconds": time.time() - te, **m}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)
            score = (min(m["sensitivity"], m["specificity"]), m["auc"])
            if best is None or score > best[0]:
                best = (score, step + 1)
                if args.save:
                    model.save_pretrained(args.save)
        if last:
            break
    log.write(json.dumps({"event": "done", "steps": len(losses), "train_seconds": train_seconds,
                          "best_step": best[1] if best else None, "losses": losses}) + "\n")
    log.close()

    if args.save and best:
        test_x, test_y = load_set(os.path.join(args.data, "test"))
        again = Gemma3ForConditionalGeneration.from_pretrained(args.save, dtype=torch.float32, attn_implementation="sdpa")
        m = evaluate(again, conv, test_x, test_y)
        m.pop("p_blocked")
        with open(args.log, "a") as f:
            f.write(json.dumps({"event": "test", "best_step": best[1], "test": len(test_y), **m}) + "\n")
        print(json.dumps({"test": m, "best_step": best[1]}), flush=True)


if __name__ == "__main__":
    main()
