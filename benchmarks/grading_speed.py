"""Grading speed: s1eval's grader against plain Math-Verify on the same long responses, side by side.

    python benchmarks/grading_speed.py [--n 500] [--chars 20000] [--workers N]

Builds N realistic responses: a synthetic ~20K-character reasoning trace (prose, inline LaTeX, intermediate
numbers and boxed partial results) followed by ``<|im_start|>answer`` and a final answer that is the MATH500
gold (70%) or another problem's gold (30%). Grades them with
- plain Math-Verify in this process: ``verify(parse("$" + gold + "$"), parse(response))``;
- s1eval: ``grade_math_batch`` (extraction here, Math-Verify in the bounded worker pool).
Prints responses/s for both and their ratio (target: s1eval >= 0.8x plain), the worst single response for plain
Math-Verify, s1eval's timeouts (target 0) and how often the two verdicts agree. Ratios only, no assertions: this
is a measurement, run in one process so both sides see the same machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCES = [
    "Let me reconsider the constraint on $x$ and see whether $x^2 - {a}x + {b} = 0$ has integer roots.",
    "Substituting $n = {a}$ gives ${a}^2 + {b} = {c}$, which is not what we need.",
    "Wait, I should double-check the case where the denominator vanishes, i.e. $t = {a}$.",
    "So far the partial sum is $S_{a} = \\frac{{{b}}}{{{a}}}$, and the pattern suggests a telescoping series.",
    "Hmm, that gives \\boxed{{{c}}} for the sub-case, but the problem asks for something else.",
    "Using the identity $\\sin^2\\theta + \\cos^2\\theta = 1$ we simplify the expression to ${a} - {b}\\cos\\theta$.",
    "The number of ways is $\\binom{{{a}}}{{{b}}}$, but we have overcounted by a factor of ${b}$.",
    "Alternatively, consider the generating function $f(z) = \\sum_{{k}} z^k$ and evaluate at $z = {a}$.",
]


def make_response(rng: random.Random, answer: str, chars: int) -> str:
    parts: list[str] = ["<|im_start|>think\n"]
    size = 0
    while size < chars:
        s = rng.choice(SENTENCES).format(a=rng.randint(2, 99), b=rng.randint(2, 99), c=rng.randint(100, 9999))
        parts.append(s + (" " if rng.random() < 0.8 else "\n\n"))
        size += len(s) + 1
    parts.append("\n<|im_start|>answer\nFinal Answer: The final answer is $\\boxed{" + answer + "}$.")
    return "".join(parts)


def build(n: int, chars: int, seed: int = 0) -> list[tuple[str, str]]:
    from s1eval.data import shipped_rows

    golds = [str(r["answer"]) for r in shipped_rows("math500")]
    rng = random.Random(seed)
    items = []
    for i in range(n):
        gold = golds[i % len(golds)]
        answer = gold if rng.random() < 0.7 else rng.choice(golds)
        items.append((make_response(rng, answer, chars), gold))
    return items


def run_plain(items: list[tuple[str, str]]) -> tuple[float, float, list[bool]]:
    from math_verify import parse, verify

    verdicts, worst = [], 0.0
    start = time.perf_counter()
    for response, gold in items:
        t0 = time.perf_counter()
        verdicts.append(bool(verify(parse("$" + gold + "$"), parse(response))))
        worst = max(worst, time.perf_counter() - t0)
    return time.perf_counter() - start, worst, verdicts


def run_ours(items: list[tuple[str, str]], workers: int | None) -> tuple[float, float, list, int]:
    from s1eval.grading.grade import grade_math_batch
    from s1eval.grading.pool import WorkerPool

    with WorkerPool(workers) as pool:
        pool.map("check_pair", [("1", "1")] * pool.size)  # start the workers outside the timed region
        start = time.perf_counter()
        grades = grade_math_batch(items, pool=pool)
        elapsed = time.perf_counter() - start
        t0 = time.perf_counter()
        worst_item = max(items, key=lambda it: len(it[0]))
        grade_math_batch([worst_item], pool=pool)
        single = time.perf_counter() - t0
        return elapsed, single, grades, pool.kills


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--chars", type=int, default=20000)
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    items = build(args.n, args.chars)
    plain_s, plain_worst, plain_verdicts = run_plain(items)
    ours_s, ours_single, grades, kills = run_ours(items, args.workers)
    agree = sum(g.correct == v for g, v in zip(grades, plain_verdicts))
    timeouts = sum(g.method == "timeout" for g in grades)
    print(f"responses: {len(items)} of ~{args.chars} characters")
    print(f"plain Math-Verify: {len(items) / plain_s:8.1f} responses/s   worst single response {plain_worst:.3f} s")
    print(f"s1eval grader:     {len(items) / ours_s:8.1f} responses/s   "
          f"one long response end to end {ours_single:.3f} s")
    print(f"ratio s1eval / plain: {plain_s / ours_s:.2f}x (target >= 0.8x)")
    print(f"s1eval timeouts: {timeouts} (target 0), workers replaced: {kills}")
    print(f"verdicts agree on {agree}/{len(items)}; s1eval correct {sum(g.correct for g in grades)}, "
          f"plain correct {sum(plain_verdicts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
