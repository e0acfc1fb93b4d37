#!/usr/bin/env python3
"""Seed a worker database with review cases and verdicts for scripts/bench-review (python3 stdlib only).

The database must already be migrated by the tool itself (e.g. `dsa-triage users add --db URL ...`); this
writes rows that match the `v2-review` schema (Sources/WorkerQueue/SQLiteReviewSchema.swift and
PostgresReviewSchema.swift), with `verdict_count` and `disagreement` kept as the store keeps them.

  --sqlite PATH   insert straight into that SQLite file (one transaction)
  --csv-dir DIR   write reviewers.csv, cases.csv, verdicts.csv and load-postgres.sql (for `psql -f`, which
                  \\copies them in one transaction; NULL = an empty unquoted field)
  --expected F    write what the pages must show (worklist counts, a sample case, sites, scanners) as JSON

The mix (deterministic for a given --seed and --now): two sites, three scanners, decisions spread evenly
over --days days up to --now (job ids increase with time); 78 % patent, 9.5 % blocked, 10 % manual review,
2 % skipped, 0.5 % unreadable. Every manual-review case is on the worklist with sampling probability 1;
patent and blocked calls are audit-sampled with probabilities 0.02 and 0.1 (the serve defaults), drawn here
at random. Verdicts go to worklist cases only, oldest first: most of the worklist is reviewed (recent cases
less often; first reads take at most 60 % of --verdicts), and the rest of the --verdicts budget is second
(and third) reads by other reviewers, about 8 % of which disagree. Five reviewer accounts (reviewer-a … reviewer-e) are added without a usable
password; they never sign in.
"""
import argparse
import csv
import hashlib
import json
import os
import random
import sqlite3
import sys
import time

CASE_COLUMNS = [
    "job_id", "series_key", "study_instance_uid", "series_instance_uid", "decided_at", "decision", "priority",
    "reasons", "p_blocked", "threshold", "review_band_low", "review_band_high", "site", "manufacturer",
    "manufacturer_model", "software_versions", "protocol_name", "mean_gray", "dynamic_range", "frame_count",
    "frames_used", "worklist_reason", "sampling_probability", "image_file", "report_sop_instance_uid",
    "verdict_count", "disagreement",
]
VERDICT_COLUMNS = ["case_job_id", "user_name", "verdict", "comment", "recorded_at"]
REVIEWERS = ["reviewer-a", "reviewer-b", "reviewer-c", "reviewer-d", "reviewer-e"]
PRIORITY = {"manual_review": 0, "blocked": 1, "patent": 2, "skipped": 3, "unreadable": 3}
THRESHOLD, BAND = 0.5, (0.35, 0.65)
AUDIT = {"patent": 0.02, "blocked": 0.1}
# (manufacturer, model, software versions, protocol); the sites use them with these weights
SCANNERS = [
    ("Siemens Healthineers", "Artis Q", "VD11C", "DSA Lower Limb"),
    ("Philips", "Azurion 7 M20", "R2.2.6", "Peripheral DSA 2fps"),
    ("GE Healthcare", "Innova IGS 530", "IGS_2.10", "Runoff DSA"),
]
SITES = [("north", 0.6, [0.55, 0.45, 0.0]), ("south", 0.4, [0.3, 0.0, 0.7])]
DAY = 86_400.0


def uid(rng):
    return "2.25.%d" % rng.getrandbits(120)


def generate(n_cases, n_verdicts, days, seed, now):
    rng = random.Random(seed)
    times = sorted(now - rng.random() * days * DAY for _ in range(n_cases))
    cases = []
    for i, decided in enumerate(times):
        job = i + 1
        site, _, weights = rng.choices(SITES, weights=[s[1] for s in SITES])[0]
        maker, model, software, protocol = rng.choices(SCANNERS, weights=weights)[0]
        r = rng.random()
        decision = ("unreadable" if r < 0.005 else "skipped" if r < 0.025 else "manual_review" if r < 0.125
                    else "blocked" if r < 0.22 else "patent")
        series = uid(rng)
        key = hashlib.sha256(series.encode()).hexdigest()
        c = dict.fromkeys(CASE_COLUMNS)
        c.update(job_id=job, series_key=key, study_instance_uid=uid(rng), series_instance_uid=series,
                 decided_at=round(decided, 3), decision=decision, priority=PRIORITY[decision], site=site,
                 manufacturer=maker, manufacturer_model=model, software_versions=software, protocol_name=protocol,
                 frame_count=rng.randint(12, 60), frames_used="[]", sampling_probability=0.0, verdict_count=0,
                 disagreement=0)
        if decision in ("skipped", "unreadable"):
            c["reasons"] = json.dumps(["not routed: patient younger than 18 years" if decision == "skipped" and rng.random() < 0.5
                                       else "not routed: modality RF is not XA" if decision == "skipped"
                                       else "unreadable: pixel data ends before the last frame"])
        else:
            if decision == "patent":
                p = BAND[0] * rng.betavariate(1.3, 4.0)
            elif decision == "blocked":
                p = BAND[1] + (1 - BAND[1]) * rng.betavariate(4.0, 1.3)
            else:
                p = rng.uniform(*BAND) if rng.random() < 0.85 else rng.random()
            if decision == "manual_review" and not BAND[0] <= p <= BAND[1]:
                reason = "quality: contrast too low in %d of %d frames" % (rng.randint(3, 9), c["frame_count"])
            elif decision == "manual_review":
                reason = ("P(blocked) %.3f lies in the review band [%.3f, %.3f] (threshold %.3f): uncertain, for manual review"
                          % (p, BAND[0], BAND[1], THRESHOLD))
            else:
                reason = "P(blocked) %.3f %s threshold %.3f" % (p, ">=" if p >= THRESHOLD else "<", THRESHOLD)
            first = rng.randint(2, max(2, c["frame_count"] - 8))
            c.update(reasons=json.dumps([reason]), p_blocked=round(p, 6), threshold=THRESHOLD, review_band_low=BAND[0],
                     review_band_high=BAND[1], mean_gray=round(rng.gauss(118, 12), 2), dynamic_range=round(rng.gauss(182, 18), 2),
                     frames_used=json.dumps(list(range(first, first + 6)), separators=(",", ":")),
                     image_file=key[:40] + ".png", report_sop_instance_uid=uid(rng))
            if decision == "manual_review":
                c.update(worklist_reason="manual_review", sampling_probability=1.0)
            else:
                c["sampling_probability"] = AUDIT[decision]
                if rng.random() < AUDIT[decision]:
                    c["worklist_reason"] = "audit_sample"
        cases.append(c)

    # Verdicts: the worklist, oldest first; recent cases are less often read yet.
    listed = [c for c in cases if c["worklist_reason"]]
    # (at most 60 % of the budget on first reads, so that a large worklist still has second reads)
    reviewed = [c for c in listed if rng.random() < (0.93 if now - c["decided_at"] > 3 * DAY else 0.3)][:int(0.6 * n_verdicts)]
    truth_blocked = {"blocked": 0.88, "patent": 0.03, "manual_review": 0.35}
    reads = {c["job_id"]: [] for c in reviewed}
    verdicts = []

    def read(c, after, agree_with=None):
        users = [u for u, _, _ in reads[c["job_id"]]]
        user = rng.choice([u for u in REVIEWERS if u not in users] or REVIEWERS)
        if agree_with is not None and rng.random() < 0.92:
            verdict = agree_with
        elif rng.random() < 0.03:
            verdict = "non_diagnostic"
        else:
            blocked = rng.random() < truth_blocked[c["decision"]]
            verdict = "blocked" if blocked else "patent"
            if agree_with is not None and verdict == agree_with:
                verdict = "patent" if agree_with == "blocked" else "blocked"
        at = min(after + rng.expovariate(1 / (0.8 * DAY)), now - 60)
        comment = rng.choice(["collaterals fill the distal segment", "motion artefact, still readable",
                              "occlusion at the popliteal trifurcation", "agree"]) if rng.random() < 0.1 else None
        reads[c["job_id"]].append((user, verdict, at))
        verdicts.append({"case_job_id": c["job_id"], "user_name": user, "verdict": verdict, "comment": comment,
                         "recorded_at": round(at, 3)})

    for c in reviewed:
        read(c, c["decided_at"])
    while len(verdicts) < n_verdicts and reviewed:
        extra = rng.sample(reviewed, min(n_verdicts - len(verdicts), len(reviewed)))
        for c in extra:
            user, verdict, at = reads[c["job_id"]][-1]
            read(c, at, agree_with=verdict)
    verdicts.sort(key=lambda v: (v["recorded_at"], v["case_job_id"]))
    by_id = {c["job_id"]: c for c in reviewed}
    for job, rs in reads.items():
        c = by_id[job]
        c["verdict_count"] = len(rs)
        c["disagreement"] = int(any(a[0] != b[0] and a[1] != b[1] for a in rs for b in rs))
    return cases, verdicts


def expected(cases, verdicts, now):
    pending = [c for c in cases if c["worklist_reason"] and c["verdict_count"] == 0]
    # The sample case page: the oldest disagreement (else the oldest case with most verdicts), and its readers.
    sample = next((c for c in cases if c["disagreement"]), None) or max(cases, key=lambda c: (c["verdict_count"], -c["job_id"]))
    readers = sorted({v["user_name"] for v in verdicts if v["case_job_id"] == sample["job_id"]})
    return {
        "now": now,
        "cases": len(cases),
        "verdicts": len(verdicts),
        "pending_manual_review": sum(1 for c in pending if c["worklist_reason"] == "manual_review"),
        "pending_audit_samples": sum(1 for c in pending if c["worklist_reason"] == "audit_sample"),
        "reviewed": sum(1 for c in cases if c["verdict_count"] > 0),
        "disagreements": sum(1 for c in cases if c["disagreement"]),
        "on_worklist": sum(1 for c in cases if c["worklist_reason"]),
        "decisions": {d: sum(1 for c in cases if c["decision"] == d) for d in PRIORITY},
        "sites": sorted({c["site"] for c in cases}),
        "scanners": sorted({c["manufacturer"] for c in cases} | {c["manufacturer_model"] for c in cases}),
        "sample_case": sample["job_id"],
        "sample_case_verdicts": sample["verdict_count"],
        "sample_case_disagreement": bool(sample["disagreement"]),
        "sample_case_readers": readers,
    }


def load_sqlite(path, cases, verdicts, now):
    db = sqlite3.connect(path)
    db.execute("PRAGMA busy_timeout = 10000")
    with db:
        db.executemany("INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) "
                       "VALUES (?, 'reviewer', '!', 0, ?, ?)", [(u, now - 200 * DAY, now - 200 * DAY) for u in REVIEWERS])
        db.executemany("INSERT INTO cases (%s) VALUES (%s)" % (", ".join(CASE_COLUMNS), ", ".join("?" * len(CASE_COLUMNS))),
                       [tuple(c[k] for k in CASE_COLUMNS) for c in cases])
        ids = dict(db.execute("SELECT name, id FROM users"))
        db.executemany("INSERT INTO verdicts (case_job_id, user_id, user_name, verdict, comment, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [(v["case_job_id"], ids[v["user_name"]], v["user_name"], v["verdict"], v["comment"], v["recorded_at"])
                        for v in verdicts])
        db.execute("INSERT INTO audit_events (at, actor, action, case_job_id, detail) "
                   "SELECT recorded_at, user_name, 'verdict', case_job_id, 'verdict ' || id || ': ' || verdict FROM verdicts ORDER BY id")
    db.close()


def write_csv(folder, cases, verdicts, now):
    os.makedirs(folder, exist_ok=True)

    def dump(name, header, rows):
        with open(os.path.join(folder, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")  # None → empty unquoted field → NULL for COPY … CSV
            w.writerows([[r[k] for k in header] for r in rows])

    dump("reviewers.csv", ["name", "role", "password_hash", "disabled", "created_at", "updated_at"],
         [{"name": u, "role": "reviewer", "password_hash": "!", "disabled": 0, "created_at": now - 200 * DAY,
           "updated_at": now - 200 * DAY} for u in REVIEWERS])
    dump("cases.csv", CASE_COLUMNS, cases)
    dump("verdicts.csv", VERDICT_COLUMNS, verdicts)
    path = lambda name: os.path.abspath(os.path.join(folder, name)).replace("'", "''")
    with open(os.path.join(folder, "load-postgres.sql"), "w") as f:
        f.write(f"""\\set ON_ERROR_STOP 1
BEGIN;
\\copy users (name, role, password_hash, disabled, created_at, updated_at) FROM '{path("reviewers.csv")}' WITH (FORMAT csv)
\\copy cases ({", ".join(CASE_COLUMNS)}) FROM '{path("cases.csv")}' WITH (FORMAT csv)
CREATE TEMP TABLE verdict_seed (case_job_id bigint, user_name text, verdict text, comment text, recorded_at double precision);
\\copy verdict_seed ({", ".join(VERDICT_COLUMNS)}) FROM '{path("verdicts.csv")}' WITH (FORMAT csv)
INSERT INTO verdicts (case_job_id, user_id, user_name, verdict, comment, recorded_at)
    SELECT s.case_job_id, u.id, s.user_name, s.verdict, s.comment, s.recorded_at
    FROM verdict_seed s JOIN users u ON u.name = s.user_name ORDER BY s.recorded_at, s.case_job_id;
INSERT INTO audit_events (at, actor, action, case_job_id, detail)
    SELECT recorded_at, user_name, 'verdict', case_job_id, 'verdict ' || id || ': ' || verdict FROM verdicts ORDER BY id;
COMMIT;
""")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--verdicts", type=int, default=20_000)
    ap.add_argument("--days", type=float, default=120)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--now", type=float, default=None, help="epoch seconds of the newest decision (default: now)")
    ap.add_argument("--sqlite")
    ap.add_argument("--csv-dir")
    ap.add_argument("--expected")
    a = ap.parse_args()
    if not a.sqlite and not a.csv_dir:
        ap.error("give --sqlite PATH or --csv-dir DIR")
    now = a.now if a.now is not None else time.time()
    t0 = time.time()
    cases, verdicts = generate(a.cases, a.verdicts, a.days, a.seed, now)
    if len(verdicts) != a.verdicts:
        sys.exit("seed_review_bench: the worklist (%d cases) cannot take %d verdicts" % (
            sum(1 for c in cases if c["worklist_reason"]), a.verdicts))
    t1 = time.time()
    if a.sqlite:
        load_sqlite(a.sqlite, cases, verdicts, now)
    if a.csv_dir:
        write_csv(a.csv_dir, cases, verdicts, now)
    t2 = time.time()
    if a.expected:
        with open(a.expected, "w") as f:
            json.dump(expected(cases, verdicts, now), f, indent=1)
    print("seed_review_bench: %d cases, %d verdicts generated in %.1f s, written in %.1f s"
          % (len(cases), len(verdicts), t1 - t0, t2 - t1), file=sys.stderr)


if __name__ == "__main__":
    main()
