#!/usr/bin/env python3
"""Writes Tests/Fixtures/evaluation/: small prediction sets and the metric values scikit-learn, scipy and
statsmodels compute for them, so the Swift evaluation is checked against independent implementations.

Run by hand (needs numpy, scikit-learn, scipy, statsmodels):  python3 tools/make_evaluation_fixtures.py
"""
import csv
import json
import math
import os

import numpy as np
from scipy import stats
from sklearn.metrics import (accuracy_score, average_precision_score, brier_score_loss, confusion_matrix,
                             f1_score, matthews_corrcoef, precision_recall_curve, roc_auc_score,
                             roc_curve)
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "evaluation")
THRESHOLD = 0.35


def ratio(a, b):
    return None if b == 0 else a / b


def wilson(k, n):
    if n == 0:
        return None
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return [float(lo), float(hi)]


def ece(y, p):
    """Ten equal-width bins, the last closed at 1."""
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    b = np.minimum(np.floor(p * 10).astype(int), 9)
    e = 0.0
    for k in range(10):
        m = b == k
        if m.any():
            e += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(e)


def expectations(y, p, decision):
    y = np.asarray(y, int)
    p = np.asarray(p, float)
    flagged = np.array([d != "patent" for d in decision], int)
    cm = confusion_matrix(y, flagged, labels=[0, 1])
    tn, fp, fn, tp = (int(v) for v in cm.ravel())
    both = len(set(y.tolist())) == 2
    sens, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    out = {
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "accuracy": float(accuracy_score(y, flagged)),
        "sensitivity": sens, "specificity": spec,
        "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
        "balanced_accuracy": None if sens is None or spec is None else (sens + spec) / 2,
        # scikit-learn returns 0 where F1 / MCC are undefined; the evaluation reports null there.
        "f1": float(f1_score(y, flagged, zero_division=0)) if 2 * tp + fp + fn > 0 else None,
        "mcc": float(matthews_corrcoef(y, flagged)) if den > 0 else None,
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if y.sum() > 0 else None,
        "brier": float(brier_score_loss(y, p, pos_label=1)) if len(y) else None,
        "ece": ece(y, p),
        "wilson": {
            "accuracy": wilson(tp + tn, len(y)), "sensitivity": wilson(tp, tp + fn), "specificity": wilson(tn, tn + fp),
            "ppv": wilson(tp, tp + fp), "npv": wilson(tn, tn + fn), "prevalence": wilson(tp + fn, len(y)),
        },
    }
    return out


def delong(y, a, b):
    """Paired DeLong test by explicit placement values (O(m n), independent of the Swift midrank code)."""
    y = np.asarray(y, int)
    pos, neg = np.where(y == 1)[0], np.where(y == 0)[0]
    m, n = len(pos), len(neg)

    def psi(x, z):
        return (x > z) + 0.5 * (x == z)

    v10, v01, aucs = [], [], []
    for s in (np.asarray(a, float), np.asarray(b, float)):
        k = psi(s[pos][:, None], s[neg][None, :]).astype(float)
        aucs.append(k.mean())
        v10.append(k.mean(axis=1))
        v01.append(k.mean(axis=0))
    s10 = np.cov(np.vstack(v10))
    s01 = np.cov(np.vstack(v01))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    diff = aucs[0] - aucs[1]
    z = diff / math.sqrt(var)
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": float(diff),
            "se": float(math.sqrt(var)), "z": float(z), "p_value": float(2 * stats.norm.sf(abs(z)))}


def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    sets = {}

    # A realistic imbalanced set: 80 cases, ~20 % blocked, scores rounded to 2 decimals (ties), some reviews.
    n = 80
    y = (rng.random(n) < 0.22).astype(int)
    p = np.clip(np.round(0.25 + 0.35 * y + rng.normal(0, 0.2, n), 2), 0, 1)
    dec = np.where(p >= THRESHOLD, "blocked", "patent").astype(object)
    dec[(p >= 0.3) & (p <= 0.4)] = "manual_review"
    sets["main"] = (y, p, dec)
    # A second model on the same cases, for the paired tests.
    p2 = np.clip(np.round(0.3 + 0.2 * y + rng.normal(0, 0.22, n), 2), 0, 1)
    dec2 = np.where(p2 >= THRESHOLD, "blocked", "patent").astype(object)

    sets["one_class_absent"] = (np.zeros(6, int), np.array([0.1, 0.2, 0.5, 0.05, 0.9, 0.3]),
                                np.array(["patent", "patent", "blocked", "patent", "blocked", "patent"], object))
    sets["all_predictions_equal"] = (np.array([1, 0, 0, 1, 0]), np.full(5, 0.4), np.array(["blocked"] * 5, object))
    sets["ties"] = (np.array([1, 1, 0, 0, 1, 0, 0, 0]), np.array([0.8, 0.5, 0.5, 0.5, 0.2, 0.2, 0.1, 0.8]),
                    np.array(["blocked", "blocked", "blocked", "blocked", "patent", "patent", "patent", "blocked"], object))
    sets["n1"] = (np.array([1]), np.array([0.7]), np.array(["blocked"], object))
    sets["majority_class_failure"] = (np.array([0] * 18 + [1] * 2), np.array([0.05] * 18 + [0.1, 0.3]),
                                      np.array(["patent"] * 20, object))

    expected = {"threshold": THRESHOLD, "sets": {}}
    for name, (yy, pp, dd) in sets.items():
        expected["sets"][name] = {
            "labels": [int(v) for v in yy], "p_blocked": [float(v) for v in pp], "decision": [str(v) for v in dd],
            "expected": expectations(yy, pp, dd),
        }

    # Wilson intervals on their own, edges included.
    expected["wilson"] = [{"k": k, "n": nn, "ci": wilson(k, nn)} for k, nn in
                          [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (1, 2), (17, 80), (499, 1000), (1, 3)]]

    # McNemar: exact (binomial) and chi-square with continuity correction.
    mc = []
    for b, c in [(0, 0), (1, 0), (3, 9), (10, 14), (30, 12), (40, 41)]:
        table = [[5, b], [c, 7]]
        ex = mcnemar(table, exact=True)
        ch = mcnemar(table, exact=False, correction=True)
        if b + c == 0:  # no discordant pair: no evidence of a difference
            mc.append({"b": b, "c": c, "exact_p": float(ex.pvalue), "chi2_statistic": 0.0, "chi2_p": 1.0})
            continue
        mc.append({"b": b, "c": c, "exact_p": float(ex.pvalue), "chi2_statistic": float(ch.statistic),
                   "chi2_p": float(ch.pvalue)})
    expected["mcnemar"] = mc

    # Curves of the main set: scikit-learn's ROC and precision-recall points at every distinct score.
    y, pm = sets["main"][0], sets["main"][1]
    fpr, tpr, thr = roc_curve(y, pm, drop_intermediate=False)
    prec, rec, pthr = precision_recall_curve(y, pm)
    expected["curves"] = {"roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": [None] + thr[1:].tolist()},
                          "pr": {"precision": prec.tolist(), "recall": rec.tolist(), "threshold": pthr.tolist()}}
    expected["delong"] = {"labels": [int(v) for v in y], "a": [float(v) for v in sets["main"][1]],
                          "b": [float(v) for v in p2], "expected": delong(y, sets["main"][1], p2)}
    with open(os.path.join(OUT, "expectations.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")

    # CLI inputs: the main set as a manifest and two prediction files (paths are names only).
    sites = ["north", "south"]
    scanners = ["A", "B", "C"]
    manifest, preds, preds2 = [], [], []
    for i in range(n):
        path = f"case_{i:03d}.dcm"
        label = "blocked" if y[i] else "patent"
        split = "validation" if i % 2 == 0 else "test"
        manifest.append({"path": path, "label": label, "site": sites[i % 2 == 0 and (i // 2) % 2], "scanner": scanners[i % 3],
                         "date": f"2025-{1 + i % 3:02d}-{1 + i % 28:02d}", "split": split})
        preds.append({"path": path, "label": label, "p_blocked": f"{sets['main'][1][i]:.2f}", "decision": sets["main"][2][i]})
        preds2.append({"path": path, "label": label, "p_blocked": f"{p2[i]:.2f}", "decision": dec2[i]})
    write_csv(os.path.join(OUT, "manifest.csv"), manifest, ["path", "label", "site", "scanner", "date", "split"])
    write_csv(os.path.join(OUT, "predictions.csv"), preds, ["path", "label", "p_blocked", "decision"])
    write_csv(os.path.join(OUT, "predictions-b.csv"), preds2, ["path", "label", "p_blocked", "decision"])


if __name__ == "__main__":
    main()
