"""Grader agreement with hand labels, against plain Math-Verify, per class of response, side by side.

    python benchmarks/grading_agreement.py [--corpus FILE ...] [--workers N]

Each corpus is a JSONL (optionally .gz) of labelled responses: ``response``, ``gold``, ``correct`` and, when known,
``bench`` (``aime*`` grades as AIME), ``model`` and ``style``. Default: the project's two corpora
(tests/grading/data/real_responses_dev.jsonl.gz and tests/grading/data/styles/real_styles.jsonl); pass the
held-out half of the real-response corpus the same way to measure it. Graded by
- s1eval: ``grade_math_batch`` (the grader the tasks use);
- plain Math-Verify on the whole response: ``verify(parse("$" + gold + "$"), parse(response))``, in this process.
Prints agreement overall and per class (model, style, our extraction rule, finished or cut off), with the
responses each grader gets wrong, and marks every class where s1eval agrees less than plain Math-Verify.
A measurement, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_CORPORA = [ROOT / "tests/grading/data/real_responses_dev.jsonl.gz",
                   ROOT / "tests/grading/data/styles/real_styles.jsonl"]


def load(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def grade_ours(rows: list[dict], workers: int | None) -> list:
    from s1eval.grading.grade import grade_math_batch
    from s1eval.grading.pool import WorkerPool

    out: list = [None] * len(rows)
    with WorkerPool(workers) as pool:
        for kind in ("aime", "math"):
            idx = [i for i, r in enumerate(rows) if str(r.get("bench", "")).startswith("aime") == (kind == "aime")]
            for i, g in zip(idx, grade_math_batch([(rows[i]["response"], rows[i]["gold"]) for i in idx],
                                                  kind=kind, pool=pool)):
                out[i] = g
    return out


def grade_plain(rows: list[dict]) -> list[bool]:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # its parse timeouts log whole responses
    verdicts = []
    for r in rows:
        try:
            verdicts.append(bool(verify(parse("$" + r["gold"] + "$"), parse(r["response"]))))
        except Exception:  # noqa: BLE001 - a crash is a wrong verdict for the plain baseline
            verdicts.append(False)
    return verdicts


def by_class(rows, ours, plain, key) -> list[str]:
    agree_o, agree_p, total = collections.Counter(), collections.Counter(), collections.Counter()
    for r, o, p in zip(rows, ours, plain):
        c = key(r, o)
        total[c] += 1
        agree_o[c] += o.correct == r["correct"]
        agree_p[c] += p == r["correct"]
    lines = []
    for c in sorted(total, key=str):
        flag = "   <-- s1eval below Math-Verify" if agree_o[c] < agree_p[c] else ""
        lines.append(f"    {str(c):45s} n={total[c]:5d}  s1eval {agree_o[c] / total[c]:7.2%}  "
                     f"Math-Verify {agree_p[c] / total[c]:7.2%}{flag}")
    return lines


def report(name: str, rows: list[dict], workers: int | None) -> None:
    t0 = time.perf_counter()
    ours = grade_ours(rows, workers)
    t1 = time.perf_counter()
    plain = grade_plain(rows)
    t2 = time.perf_counter()
    n = len(rows)
    ok_o = sum(o.correct == r["correct"] for r, o in zip(rows, ours))
    ok_p = sum(p == r["correct"] for r, p in zip(rows, plain))
    print(f"\n== {name}: {n} responses")
    print(f"  s1eval      {ok_o / n:.2%} ({ok_o}/{n})  {t1 - t0:6.1f} s")
    print(f"  Math-Verify {ok_p / n:.2%} ({ok_p}/{n})  {t2 - t1:6.1f} s")
    for title, key in (("model", lambda r, o: r.get("model", "?")), ("style", lambda r, o: r.get("style", "-")),
                       ("s1eval rule", lambda r, o: o.rule), ("finished", lambda r, o: o.finished),
                       ("label", lambda r, o: "correct" if r["correct"] else "wrong")):
        print(f"  by {title}:")
        print("\n".join(by_class(rows, ours, plain, key)))
    for who, wrong in (("s1eval", [i for i, (r, o) in enumerate(zip(rows, ours)) if o.correct != r["correct"]]),
                       ("Math-Verify", [i for i, (r, p) in enumerate(zip(rows, plain)) if p != r["correct"]])):
        print(f"  {who} disagrees on {len(wrong)}: " + ", ".join(
            f"{rows[i].get('id', i)}({'FP' if not rows[i]['correct'] else 'FN'})" for i in wrong))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", action="append", type=Path, help="labelled JSONL(.gz); repeatable")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    for path in args.corpus or DEFAULT_CORPORA:
        report(path.name, load(path), args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
