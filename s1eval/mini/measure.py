"""Measurements behind the claim that the answer cannot be had without thinking (`s1eval.mini` docstring).

`measure()` draws held-out problems (the dev split, or any list) and reports the answer distribution (entropy,
largest class share) and the accuracy of trivial predictors: a number from the question or one step of the map
applied to it, and the majority answer per value of every combination of up to three problem features
(family, x0, a, b, k), learned on a large train-split sample. Chance is 1/P (1/41).

CLI: ``python -m s1eval.mini measure [--n 1000] [--seed 0] [--pool 50000]``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

from s1eval.mini.problems import P, Problem, sample_problems

FEATURES = ("family", "x0", "a", "b", "k")


def entropy_bits(values: list[int]) -> float:
    """Shannon entropy, in bits, of the empirical distribution of `values`."""
    counts = Counter(values)
    n = len(values)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _feature(p: Problem, name: str) -> Any:
    return getattr(p, name)


def rule_baselines(problems: list[Problem]) -> dict[str, float]:
    """Accuracy of fixed rules that read the question but do no iteration."""
    rules = {
        "answer = x0": lambda p: p.x0,
        "answer = a": lambda p: p.a,
        "answer = b": lambda p: p.b,
        "answer = k": lambda p: p.k,
        "answer = x0 + a": lambda p: (p.x0 + p.a) % P,
        "answer = x0 + b": lambda p: (p.x0 + p.b) % P,
        "answer = sigma(x0) + a (first step)": lambda p: (p.fam.sigma(p.x0) + p.a) % P,
        "answer = sigma(x0) + b (one step)": lambda p: (p.fam.sigma(p.x0) + p.b) % P,
        "answer = sigma(x0)": lambda p: p.fam.sigma(p.x0),
    }
    return {name: sum(f(p) == p.answer for p in problems) / len(problems) for name, f in rules.items()}


def majority_baselines(problems: list[Problem], train: list[Problem], max_features: int = 3) -> dict[str, float]:
    """Accuracy of "the most frequent train answer among problems with the same values of these features"
    (falling back to the overall most frequent train answer for unseen values)."""
    overall = Counter(p.answer for p in train).most_common(1)[0][0]
    out = {"most frequent answer": sum(p.answer == overall for p in problems) / len(problems)}
    for size in range(1, max_features + 1):
        for combo in combinations(FEATURES, size):
            table: dict[tuple, Counter] = defaultdict(Counter)
            for p in train:
                table[tuple(_feature(p, f) for f in combo)][p.answer] += 1
            hits = 0
            for p in problems:
                cell = table.get(tuple(_feature(p, f) for f in combo))
                guess = cell.most_common(1)[0][0] if cell else overall
                hits += guess == p.answer
            out["majority by " + "+".join(combo)] = hits / len(problems)
    return out


def measure(n: int = 1000, seed: int = 0, pool: int = 50_000, split: str = "dev",
            problems: list[Problem] | None = None) -> dict[str, Any]:
    """Answer distribution and trivial-predictor accuracies on `n` held-out problems (or `problems`)."""
    held = problems if problems is not None else sample_problems(n, seed, split)
    train = sample_problems(pool, seed + 1, "train")
    answers = [p.answer for p in held]
    counts = Counter(answers)
    baselines = {**rule_baselines(held), **majority_baselines(held, train)}
    best = max(baselines, key=baselines.get)
    return {
        "n": len(held),
        "chance": 1 / P,
        "distinct_answers": len(counts),
        "entropy_bits": entropy_bits(answers),
        "max_entropy_bits": math.log2(P),
        "max_class_share": counts.most_common(1)[0][1] / len(held),
        "baselines": baselines,
        "best_baseline": best,
        "best_baseline_accuracy": baselines[best],
    }


def format_report(m: dict[str, Any]) -> str:
    """`measure()`'s result as text: the answer distribution, then each baseline, most accurate first."""
    lines = [f"{m['n']} held-out problems; chance {m['chance']:.2%}",
             f"distinct answers {m['distinct_answers']} of {P}; entropy {m['entropy_bits']:.3f} bits "
             f"(uniform {m['max_entropy_bits']:.3f}); largest answer share {m['max_class_share']:.2%}"]
    for name, acc in sorted(m["baselines"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {acc:6.2%}  {name}")
    return "\n".join(lines)
