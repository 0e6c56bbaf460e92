"""Intervals and paired tests for accuracies: Wilson, bootstrap, paired bootstrap, exact McNemar.

Inputs are per-question scores in [0, 1]: 0/1 for one greedy sample, the mean correctness for repeated
samples of a question (each question counts once, however many samples it has). Results are fractions;
callers multiply by 100 for percentage points.

- `wilson_interval`: the score interval of a binomial proportion (0/1 scores only).
- `bootstrap_mean_ci`: percentile bootstrap of a mean over questions (any scores, e.g. means of repeats).
- `paired_bootstrap_ci`: percentile bootstrap of mean(new - base) resampling *questions* (both runs keep
  their pairing), 10,000 resamples by default (the paper's Table 2), seeded, vectorised in numpy in chunks.
- `mcnemar_exact`: the exact two-sided McNemar p-value from the discordant counts, i.e. a binomial test of
  b "got worse" against c "got better" questions at p = 1/2 (p = min(1, 2 * P[X <= min(b, c)])).
- `accuracy_ci`: the mean with its 95% interval, Wilson for 0/1 scores, bootstrap otherwise.
- `sign_test`: McNemar generalised to per-question means: questions whose score went down vs up (ties
  dropped); for 0/1 scores it *is* McNemar's test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054  # standard normal 97.5% quantile
DEFAULT_RESAMPLES = 10_000
_CHUNK_CELLS = 4_000_000  # resampled indices held in memory at once (32 MB of int64)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion `successes / n` (default 95%)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0; got successes={successes}, n={n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _scores(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty list of per-question scores; got shape {arr.shape}")
    return arr


def _resampled_means(data: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of `resamples` bootstrap resamples of `data` (drawn row by row from one seeded generator)."""
    rng = np.random.default_rng(seed)
    n = data.size
    rows = max(1, _CHUNK_CELLS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = data[idx].mean(axis=1)
    return means


def _percentiles(means: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95); got {level}")
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_mean_ci(values: Sequence[float], resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-question scores."""
    data = _scores(values, "values")
    return _percentiles(_resampled_means(data, resamples, seed), level)


def paired_bootstrap_ci(base: Sequence[float], new: Sequence[float], resamples: int = DEFAULT_RESAMPLES,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of mean(new) - mean(base), resampling questions with their pairing kept."""
    b, n = _scores(base, "base"), _scores(new, "new")
    if b.shape != n.shape:
        raise ValueError(f"paired scores need one base and one new score per question; got {b.size} and {n.size}")
    return _percentiles(_resampled_means(n - b, resamples, seed), level)


def mcnemar_exact(worse: int, better: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pair counts (1.0 when there are none)."""
    if worse < 0 or better < 0:
        raise ValueError(f"discordant counts must be >= 0; got worse={worse}, better={better}")
    total = worse + better
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, i) for i in range(min(worse, better) + 1))
    return min(1.0, 2 * tail / 2**total)


def sign_test(base: Sequence[float], new: Sequence[float]) -> tuple[int, int, float]:
    """(questions worse, questions better, exact two-sided p) over paired per-question scores."""
    b, n = _scores(base, "base"), _scores(new, "new")
    if b.shape != n.shape:
        raise ValueError(f"paired scores need one base and one new score per question; got {b.size} and {n.size}")
    worse, better = int(np.sum(n < b)), int(np.sum(n > b))
    return worse, better, mcnemar_exact(worse, better)


def accuracy_ci(scores: Sequence[float], resamples: int = DEFAULT_RESAMPLES,
                seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of per-question scores: Wilson for 0/1 scores, else a percentile bootstrap."""
    data = _scores(scores, "scores")
    mean = float(data.mean())
    if np.isin(data, (0.0, 1.0)).all():
        low, high = wilson_interval(int(data.sum()), int(data.size))
    else:
        low, high = bootstrap_mean_ci(data, resamples, seed)
    return mean, low, high
