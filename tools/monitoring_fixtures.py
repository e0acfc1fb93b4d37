#!/usr/bin/env python3
"""Reference values for the Monitoring tests (Tests/Fixtures/monitoring/*.json), computed independently of
the Swift code: statsmodels' Wilson interval, scipy's two-sample KS test and Kolmogorov distribution, numpy
for PSI, inverse-probability-weighted estimates and the CUSUM recursion.

    pip install numpy scipy statsmodels
    python3 tools/monitoring_fixtures.py        # writes Tests/Fixtures/monitoring/
"""
import json
import math
import os
from datetime import datetime, timedelta, timezone

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "monitoring")


def wilson(count, nobs):
    lo, hi = proportion_confint(count, nobs, alpha=0.05, method="wilson")
    return [float(lo), float(hi)]


def write(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def wilson_fixture():
    whole = [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (17, 20), (95, 100), (1, 250), (123, 456)]
    real = [(3.7, 9.2), (41.5, 44.25), (0.0, 12.3), (12.3, 12.3), (88.8, 101.01)]
    write("wilson.json", {
        "whole": [{"count": k, "nobs": n, "ci": wilson(k, n)} for k, n in whole],
        "real": [{"count": k, "nobs": n, "proportion": k / n, "ci": wilson(k, n)} for k, n in real],
    })


def ks_fixture():
    rng = np.random.default_rng(18)
    pairs = [
        ("beta_shift", rng.beta(2, 5, 300), rng.beta(2.5, 5, 800)),
        ("same", rng.uniform(0, 1, 150), rng.uniform(0, 1, 400)),
        ("ties", np.round(rng.normal(0.5, 0.2, 200), 1), np.round(rng.normal(0.55, 0.2, 120), 1)),
        ("small", rng.uniform(0, 1, 12), rng.uniform(0.3, 1.3, 15)),
    ]
    out = []
    for name, a, b in pairs:
        r = stats.ks_2samp(a, b)
        en = len(a) * len(b) / (len(a) + len(b))
        lam = (math.sqrt(en) + 0.12 + 0.11 / math.sqrt(en)) * r.statistic
        out.append({"name": name, "a": a.tolist(), "b": b.tolist(), "statistic": float(r.statistic),
                    "p_kolmogorov_stephens": float(stats.kstwobign.sf(lam)), "p_scipy_ks_2samp": float(r.pvalue)})
    lambdas = [0.2, 0.5, 0.8, 1.0, 1.17, 1.19, 1.5, 2.0, 3.0]
    write("ks.json", {"pairs": out, "kolmogorov_sf": [{"lambda": x, "sf": float(stats.kstwobign.sf(x))} for x in lambdas]})


def psi(cur, ref, eps=1e-4):
    a = np.maximum(np.asarray(cur, float) / np.sum(cur), eps)
    e = np.maximum(np.asarray(ref, float) / np.sum(ref), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_fixture():
    # Hand-checked: shares (0.5, 0.5) against (0.25, 0.75):
    # (0.5-0.25) ln 2 + (0.5-0.75) ln(2/3) = 0.25 (ln 2 - ln(2/3)) = 0.25 ln 3 = 0.274653...
    hand = {"current": [10, 10], "reference": [5, 15], "psi": 0.25 * math.log(3)}
    assert abs(psi(hand["current"], hand["reference"]) - hand["psi"]) < 1e-15
    # An empty bin: the share 0 is floored at 1e-4.
    empty = {"current": [0, 30, 70], "reference": [20, 30, 50]}
    empty["psi"] = psi(empty["current"], empty["reference"])
    rng = np.random.default_rng(1818)
    ref = rng.beta(1.2, 3, 2000)
    cur = np.clip(rng.beta(1.6, 2.6, 500), 0, 1)
    uniform_edges = (np.arange(1, 10) / 10).tolist()
    ref_uniform = np.bincount(np.searchsorted(uniform_edges, ref, side="right"), minlength=10)
    cur_uniform = np.bincount(np.searchsorted(uniform_edges, cur, side="right"), minlength=10)
    decile_edges = np.quantile(ref, np.arange(1, 10) / 10).tolist()
    ref_dec = np.bincount(np.searchsorted(decile_edges, ref, side="right"), minlength=10)
    cur_dec = np.bincount(np.searchsorted(decile_edges, cur, side="right"), minlength=10)
    write("psi.json", {
        "hand": hand, "empty_bin": empty,
        "samples": {"reference": ref.tolist(), "current": cur.tolist(),
                    "uniform": {"edges": uniform_edges, "reference_counts": ref_uniform.tolist(),
                                "current_counts": cur_uniform.tolist(), "psi": psi(cur_uniform, ref_uniform)},
                    "deciles": {"edges": decile_edges, "reference_counts": ref_dec.tolist(),
                                "current_counts": cur_dec.tolist(), "psi": psi(cur_dec, ref_dec)}},
    })


def cusum(xs, p0, p1):
    up, down = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    s, path = 0.0, []
    for x in xs:
        s = max(0.0, s + (up if x else down))
        path.append(s)
    return path


def cusum_fixture():
    # Hand-checked: p0 = 0.1, p1 = 0.3: up = ln 3 = 1.0986, down = ln(0.7/0.9) = -0.2513.
    # x = 1, 0, 0, 1, 1: 1.0986, 0.8473, 0.5960, 1.6946, 2.7932 → crosses h = 2.5 at the 5th observation.
    hand_x = [1, 0, 0, 1, 1]
    hand = {"x": hand_x, "p0": 0.1, "p1": 0.3, "h": 2.5, "path": cusum(hand_x, 0.1, 0.3), "first_crossing": 4}
    assert abs(hand["path"][-1] - (3 * math.log(3) + 2 * math.log(7 / 9))) < 1e-12
    rng = np.random.default_rng(7)
    xs = (np.concatenate([rng.random(300) < 0.05, rng.random(200) < 0.2])).astype(int).tolist()
    path = cusum(xs, 0.05, 0.2)
    first = next((i for i, s in enumerate(path) if s > 8), None)
    write("cusum.json", {"hand": hand, "long": {"x": xs, "p0": 0.05, "p1": 0.2, "h": 8.0, "path": path, "first_crossing": first}})


def estimates_fixture():
    """Cases and verdicts for the whole monitor; expected figures per group computed with plain numpy."""
    rng = np.random.default_rng(2026)
    now = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
    sites = ["North", "South"]
    cases, verdicts = [], []
    vid = 0
    for job in range(1, 601):
        decided = now - timedelta(days=float(rng.uniform(0, 45)))
        site = sites[rng.integers(2)]
        u = rng.random()
        decision = "skipped" if u < 0.03 else "unreadable" if u < 0.05 else None
        truth = bool(rng.random() < 0.35)
        p = None
        pi = 0.0
        if decision is None:
            p = float(np.clip(rng.normal(0.7 if truth else 0.25, 0.2), 0, 1))
            decision = "manual_review" if 0.35 <= p < 0.65 else ("blocked" if p >= 0.65 else "patent")
            pi = 1.0 if decision == "manual_review" else (0.25 if decision == "patent" else 0.15)
        sampled = decision in ("blocked", "patent", "manual_review") and rng.random() < pi
        cases.append({"job_id": job, "decided_at": decided.timestamp(), "decision": decision, "p_blocked": p,
                      "site": site, "sampling_probability": pi})
        if not sampled:
            continue
        t = decided + timedelta(hours=float(rng.uniform(1, 40)))
        kind = rng.random()
        if kind < 0.05:
            seq = ["non_diagnostic"]
        elif kind < 0.10:
            seq = ["non_diagnostic", "blocked" if truth else "patent"]
        elif kind < 0.15:
            seq = ["patent" if truth else "blocked", "blocked" if truth else "patent"]  # disagreement, later one right
        else:
            seq = ["blocked" if truth else "patent"]
        for k, v in enumerate(seq):
            vid += 1
            verdicts.append({"id": vid, "case_job_id": job, "verdict": v, "recorded_at": (t + timedelta(hours=3 * k)).timestamp()})

    def label_of(job):
        vs = sorted([v for v in verdicts if v["case_job_id"] == job and v["recorded_at"] <= now.timestamp()],
                    key=lambda v: (v["recorded_at"], v["id"]))
        diag = [v for v in vs if v["verdict"] != "non_diagnostic"]
        if not diag:
            return None, bool(vs), False
        return diag[-1]["verdict"] == "blocked", False, len({v["verdict"] for v in diag}) > 1

    def figures(rows):
        tri = [c for c in rows if c["decision"] in ("blocked", "patent", "manual_review")]
        lab = []
        for c in tri:
            y, _, _ = label_of(c["job_id"])
            if y is not None:
                lab.append((y, c["decision"] in ("blocked", "manual_review"), c["decision"], c["sampling_probability"]))
        y = np.array([a[0] for a in lab], bool)
        f = np.array([a[1] for a in lab], bool)
        w = 1 / np.array([a[3] for a in lab], float)

        def naive(success, denom):
            n = int(denom.sum())
            k = int((success & denom).sum())
            return {"value": k / n if n else None, "ci": wilson(k, n) if n else None, "n": n}

        def weighted(success, denom):
            ws = w[denom]
            n = int(denom.sum())
            if n == 0:
                return {"value": None, "ci": None, "n": 0, "effective_n": None}
            p = float(ws[success[denom]].sum() / ws.sum())
            neff = float(ws.sum() ** 2 / (ws ** 2).sum())
            return {"value": p, "ci": wilson(p * neff, neff), "n": n, "effective_n": neff}

        review = sum(1 for c in tri if c["decision"] == "manual_review")
        return {
            "cases": len(rows), "triaged": len(tri), "adjudicated": len(lab),
            "disagreements": sum(1 for c in tri if label_of(c["job_id"])[2]),
            "non_diagnostic_only": sum(1 for c in tri if label_of(c["job_id"])[1]),
            "sensitivity": naive(f, y), "specificity": naive(~f, ~y), "ppv": naive(y, f), "npv": naive(~y, ~f),
            "review_rate": {"value": review / len(tri), "ci": wilson(review, len(tri)), "n": len(tri)},
            "weighted": {"sensitivity": weighted(f, y), "specificity": weighted(~f, ~y), "ppv": weighted(y, f), "npv": weighted(~y, ~f)},
        }

    window = [c for c in cases if c["decided_at"] > (now - timedelta(days=30)).timestamp()]
    expected = {"overall": figures(window)}
    for s in sites:
        expected["site=" + s] = figures([c for c in window if c["site"] == s])
    write("estimates.json", {"now": now.timestamp(), "cases": cases, "verdicts": verdicts, "last_30_days": expected})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    wilson_fixture()
    ks_fixture()
    psi_fixture()
    cusum_fixture()
    estimates_fixture()
    print("wrote", sorted(os.listdir(OUT)))
