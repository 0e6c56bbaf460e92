"""Parallel-scaling metrics over k sampled responses per problem: maj@k, cov@k, unbiased pass@k.

For the ``*_maj`` tasks (64 samples at temperature 1 by default). Per problem, with the responses in repeat order:
- ``exact_match``: sample 1 only (comparable to the greedy tasks' metric);
- ``mean_acc``: share of correct samples;
- ``pass@k``: the unbiased estimator 1 - C(n-c, k) / C(n, k) over all n samples with c correct (Chen et al. 2021);
- ``cov@k``: whether any of the first k samples is correct;
- ``maj@k``: whether the most frequent extracted answer among the first k samples is correct. Answers vote by a
  canonical key (the integer for AIME, the normalised string otherwise); unextracted responses do not vote; ties
  go to the answer seen first. A problem with no extracted answer in its first k samples scores 0.
k runs over 1, 2, 4, ... up to n.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb

from s1eval.grading.grade import Grade
from s1eval.grading.normalize import as_integer, normalize_exact


def ks_for(n: int) -> list[int]:
    """1, 2, 4, ... up to n (n itself included when it is not a power of two)."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks and ks[-1] != n and n > 0:
        ks.append(n)
    return ks


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct."""
    if k > n:
        raise ValueError(f"k={k} exceeds the number of samples n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def vote_key(grade: Grade, kind: str) -> str | None:
    """The key an answer votes under (None: it does not vote)."""
    if grade.extracted is None:
        return None
    if kind == "aime":
        value = as_integer(grade.extracted)
        if value is not None:
            return str(value)
    return normalize_exact(grade.extracted)


def majority_correct(grades: Sequence[Grade], kind: str) -> bool:
    """Whether the most frequent answer (ties: first seen) among `grades` is a correct one."""
    keys = [vote_key(g, kind) for g in grades]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return False
    top = max(counts.values())
    winner = next(k for k in keys if k is not None and counts[k] == top)
    return any(g.correct for g, k in zip(grades, keys) if k == winner)


def sample_metrics(grades: Sequence[Grade], kind: str) -> dict[str, float]:
    """All metrics of the module docstring for one problem's samples, in repeat order."""
    n = len(grades)
    if n == 0:
        raise ValueError("no samples to score")
    c = sum(g.correct for g in grades)
    out: dict[str, float] = {"exact_match": float(grades[0].correct), "mean_acc": c / n}
    for k in ks_for(n):
        out[f"pass@{k}"] = pass_at_k(n, c, k)
        out[f"cov@{k}"] = float(any(g.correct for g in grades[:k]))
        out[f"maj@{k}"] = float(majority_correct(grades[:k], kind))
    return out
