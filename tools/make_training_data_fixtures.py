#!/usr/bin/env python3
"""Writes Tests/Fixtures/training-data/: small training manifests (good, with bad rows, one class only,
JSONL), the tiny pictures they point to, and expected.json holding what independent code computes for
them: the manifests' sha256 (hashlib), scikit-learn's "balanced" class weights, epoch orders of the
sampler (SplitMix64, Fisher-Yates and class-balanced draws written out here in Python from their
definitions), and validation metrics from scikit-learn (recall, balanced accuracy, ROC AUC, log loss,
ROC curve for the best sensitivity at a specificity floor).

Run by hand from anywhere (needs numpy, Pillow, scikit-learn):  python3 tools/make_training_data_fixtures.py
"""
import hashlib
import json
import os

import numpy as np
from PIL import Image
from sklearn.metrics import (balanced_accuracy_score, log_loss, recall_score, roc_auc_score, roc_curve)
from sklearn.utils.class_weight import compute_class_weight

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "training-data")
MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


class SplitMix64:
    """Steele, Lea and Flood's generator: state += gamma, then two xor-shift-multiply rounds."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + GAMMA) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        """Uniform in range(bound) by rejection of the top partial block of 2^64."""
        limit = MASK - MASK % bound
        while True:
            v = self.next()
            if v < limit:
                return v % bound


def epoch_generator(seed, epoch):
    """The epoch's generator: seeded by the first output of SplitMix64(seed + epoch * gamma)."""
    key = SplitMix64((seed + epoch * GAMMA) & MASK)
    return SplitMix64(key.next())


def epoch_order(classes, n_classes, mode, seed, epoch):
    g = epoch_generator(seed, epoch)
    n = len(classes)
    if mode == "sampler":
        members = [[i for i, c in enumerate(classes) if c == k] for k in range(n_classes)]
        out = []
        for _ in range(n):
            c = g.below(n_classes)
            out.append(members[c][g.below(len(members[c]))])
        return out
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = g.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def write_png(rel, value):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8), mode="L").save(path)


def validation_case(name, labels, p, threshold, floors):
    y = np.array([1 if l == "blocked" else 0 for l in labels])
    p = np.array(p, dtype=np.float64)
    yhat = (p >= threshold).astype(int)
    out = {"name": name, "labels": labels, "p_blocked": p.tolist(), "threshold": threshold,
           "sensitivity": recall_score(y, yhat, pos_label=1),
           "specificity": recall_score(y, yhat, pos_label=0),
           "balanced_accuracy": balanced_accuracy_score(y, yhat),
           "auroc": roc_auc_score(y, p),
           # log_loss clips P to [eps, 1 - eps] with eps float64's machine epsilon.
           "mean_loss": log_loss(y, p, labels=[0, 1])}
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    best = {}
    for f in floors:
        cands = [(tpr[i], 1 - fpr[i], thr[i]) for i in range(len(thr)) if 1 - fpr[i] >= f - 1e-12]
        s, sp, t = max(cands, key=lambda c: (c[0], c[1]))
        best[str(f)] = {"sensitivity": s, "specificity": sp, "threshold": None if np.isinf(t) else float(t)}
    out["at_floor"] = best
    out["roc_points"] = len(thr)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, v in [("p1", 40), ("p2", 60), ("p3", 80), ("p4", 100), ("p5", 120), ("b1", 200), ("b2", 220)]:
        write_png(f"images/{name}.png", v)
    open(os.path.join(OUT, "images", "empty.png"), "wb").close()

    files = {
        # 5 patent, 2 blocked (minority share 2/7 < 0.30); one label in capitals (labels ignore case).
        "manifest.csv": "path,label,site\nimages/p1.png,patent,A\nimages/b1.png,blocked,A\nimages/p2.png,patent,B\n"
                        "images/p3.png,patent,B\nimages/b2.png,Blocked,A\nimages/p4.png,patent,A\nimages/p5.png,patent,B\n",
        "manifest.jsonl": '{"path": "images/p1.png", "label": "patent"}\n{"path": "images/b1.png", "label": "blocked"}\n'
                          '{"path": "images/p2.png", "label": "patent", "site": "B"}\n',
        # Line 1 is the header; each bad row's reason is stated in expected.json.
        "manifest-bad.csv": "path,label\nimages/p1.png,patent\n,blocked\nimages/missing.png,blocked\nimages/p2.png,occluded\n"
                            "./images/p1.png,patent\nimages/empty.png,patent\nimages/p3.png,\nimages/b1.png,blocked\n",
        "manifest-one-class.csv": "path,label\nimages/p1.png,patent\nimages/p2.png,patent\nimages/gone.png,blocked\n",
    }
    for name, text in files.items():
        with open(os.path.join(OUT, name), "w") as f:
            f.write(text)
    bad_rows = [
        {"line": 3, "reason": "empty path"},
        {"line": 4, "reason": 'no such file "images/missing.png"'},
        {"line": 5, "reason": 'label "occluded" is not in the task profile\'s vocabulary (patent, blocked)'},
        {"line": 6, "reason": 'duplicate path "./images/p1.png" (first on line 2)'},
        {"line": 7, "reason": '"images/empty.png" is empty'},
        {"line": 8, "reason": "empty label"},
    ]

    counts = {"patent": 5, "blocked": 2}
    y = np.array(["patent"] * counts["patent"] + ["blocked"] * counts["blocked"])
    weights = compute_class_weight("balanced", classes=np.array(["patent", "blocked"]), y=y)

    classes = [0, 1, 0, 0, 1, 0, 0]  # manifest.csv's rows, patent = 0, blocked = 1
    sampler = []
    for mode in ["none", "sampler"]:
        for seed in [0, 42, 0xFFFFFFFFFFFFFFFF]:
            for epoch in [0, 1, 7]:
                sampler.append({"mode": mode, "seed": str(seed), "epoch": epoch,
                                "order": epoch_order(classes, 2, mode, seed, epoch)})
    # A long sampler epoch: its class shares are near one half despite 5:2 rows.
    long_classes = [0] * 90 + [1] * 10
    long_order = epoch_order(long_classes, 2, "sampler", 7, 0)
    long = {"classes": long_classes, "seed": "7", "epoch": 0, "order": long_order}

    floors = [0.0, 0.5, 0.8, 0.9, 1.0]
    validation = [
        validation_case("ties", ["patent", "blocked", "patent", "patent", "blocked", "patent", "patent", "blocked", "patent", "patent"],
                        [0.10, 0.80, 0.35, 0.35, 0.35, 0.60, 0.05, 0.90, 0.20, 0.70], 0.35, floors),
        validation_case("extremes", ["patent", "blocked", "blocked", "patent", "patent", "blocked"],
                        [0.0, 1.0, 0.0, 1.0, 0.25, 0.5], 0.5, floors),
        validation_case("separable", ["blocked", "patent", "patent", "patent", "patent", "blocked"],
                        [0.9, 0.1, 0.2, 0.3, 0.4, 0.6], 0.5, floors),
    ]

    expected = {
        "sha256": {n: hashlib.sha256(open(os.path.join(OUT, n), "rb").read()).hexdigest() for n in files},
        "bad_rows": bad_rows,
        "class_counts": counts,
        "class_weights": {"patent": weights[0], "blocked": weights[1]},
        "sampler_classes": classes,
        "sampler": sampler,
        "sampler_long": long,
        "validation": validation,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
