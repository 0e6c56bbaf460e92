"""The paper's test-time scaling metrics (s1, section 3.2): Control, Scaling, Performance.

A method is run at several settings (budgets, instructed lengths, prompts) on one benchmark. Each
setting gives a `Point`: its mean thinking tokens ``a``, its accuracy ``f(a)`` in percentage points,
and the bounds ``[a_min, a_max]`` its thinking was asked to stay within.

- **Control** (`control`): the share of *settings* whose mean thinking tokens fall within their bounds, in %.
  A setting with neither bound has no target, so Control is undefined for it (an error).
- **Within-budget share** (`within_budget_share`): a different quantity, the share of *samples* whose
  own thinking tokens stay within a budget. Sweeps report it per setting; it is not the paper's Control.
- **Scaling** (`scaling`): the mean over all pairs of settings ``a < b`` of ``(f(b) - f(a)) / (x(b) - x(a))``
  with ``x = log2(thinking tokens)``: accuracy points per doubling of thinking. The published values are
  reproduced only on this axis (a linear axis gives numbers 5-10x smaller and a different order).
  Ties: the paper's sum runs over ``a < b``, so pairs of settings with *equal* mean thinking tokens are not
  pairs of the sum and are left out (a greedy model that stops before both budgets gives such ties).
  Fewer than two distinct token counts: an error (no slope exists). Zero (or negative) thinking tokens have
  no place on a log axis: an error naming the setting, unless ``zero_tokens="skip"`` drops those settings.
- **Performance** (`performance`): the best accuracy over the settings.

`sweep_metrics` applies all three per task to the summary rows of a budget-forcing sweep (``a_max`` = the
setting's integer budget; zero-token settings skipped and named).

How the paper's bounds come out of its own data (AIME24, Table 3; tests/scaling/test_metrics.py):
- budget forcing, token-conditional, rejection sampling: ``a_max`` = the budget in tokens
  (`token_bounds`); token-conditional 7939/7158/8263/7108/7500 tokens for 1024..16384 gives 2 of 5 = 40%.
- step-conditional: ``a_max`` = 100 tokens per instructed step (`step_bounds`); 7252/6277/5396/5552/7551
  tokens for 16..256 steps gives 3 of 5 = 60%.
- class-conditional: the bound is the unprompted run's mean thinking ``a0`` (`class_bounds`): "short" must
  think at most ``a0``, "long" at least ``a0``. Short (8033) and long (9651) give 50% for any ``a0`` below
  8033, i.e. the short prompt made the model think *more* than no prompt. This reading is ours: the paper
  does not print ``a0`` (S1_FACTS.md neither), and ``a0`` between 8033 and 9651 would give 100%.
- The published Scaling values need the exact accuracies (k/30 on AIME24): the table's one-decimal values
  give -23.4 instead of -24 for token-conditional prompting (the exact 8/30 ... 12/30 give -23.8).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from s1eval.scaling.statistics import accuracy_ci  # noqa: F401  (the sweep summary's accuracy interval)

CLASSES = ("short", "long")
ZERO_TOKEN_RULES = ("raise", "skip")


@dataclass(frozen=True)
class Point:
    """One setting of a method: mean thinking tokens, accuracy in points, and its thinking bounds."""

    thinking_tokens: float
    accuracy: float  # percentage points, 0-100
    a_min: float | None = None
    a_max: float | None = None
    label: str = ""

    def name(self) -> str:
        return self.label or f"{self.thinking_tokens:g} tokens"


def token_bounds(budget: float) -> tuple[None, float]:
    """Bounds of a setting asked to think at most `budget` tokens (budget forcing, token-conditional)."""
    return None, float(budget)


def step_bounds(steps: int, tokens_per_step: float = 100.0) -> tuple[None, float]:
    """Bounds of a step-conditional setting: `tokens_per_step` tokens per instructed step (paper: 100)."""
    return None, float(steps) * tokens_per_step


def class_bounds(cls: str, reference_tokens: float) -> tuple[float | None, float | None]:
    """Bounds of a class-conditional setting relative to the unprompted run's mean thinking tokens."""
    if cls not in CLASSES:
        raise ValueError(f"class {cls!r} is unknown; use one of {', '.join(CLASSES)}")
    return (None, float(reference_tokens)) if cls == "short" else (float(reference_tokens), None)


def within(point: Point) -> bool:
    """Whether a setting's mean thinking tokens fall within its bounds (at least one bound required)."""
    if point.a_min is None and point.a_max is None:
        raise ValueError(f"setting {point.name()!r} has neither a_min nor a_max, so Control is undefined "
                         "for it; give it bounds (token_bounds, step_bounds, class_bounds) or leave it out")
    low = -math.inf if point.a_min is None else point.a_min
    high = math.inf if point.a_max is None else point.a_max
    return low <= point.thinking_tokens <= high


def control(points: Sequence[Point]) -> float:
    """Share of settings (in %) whose mean thinking tokens fall within [a_min, a_max]."""
    if not points:
        raise ValueError("Control needs at least one setting; got none")
    return 100.0 * sum(within(p) for p in points) / len(points)


def within_budget_share(thinking_tokens: Iterable[float], budget: float | None) -> float | None:
    """Share of samples (in %) whose thinking tokens are at most `budget`; None without a budget or samples."""
    values = list(thinking_tokens)
    if budget is None or not values:
        return None
    return 100.0 * sum(t <= budget for t in values) / len(values)


def _loggable(points: Sequence[Point], zero_tokens: str) -> list[Point]:
    if zero_tokens not in ZERO_TOKEN_RULES:
        raise ValueError(f"zero_tokens={zero_tokens!r} is unknown; use one of {', '.join(ZERO_TOKEN_RULES)}")
    bad = [p for p in points if not p.thinking_tokens > 0]
    if bad and zero_tokens == "raise":
        names = ", ".join(f"{p.name()!r} ({p.thinking_tokens:g})" for p in bad)
        raise ValueError(f"Scaling uses log2(thinking tokens), undefined for settings with no thinking: {names}; "
                         "leave them out or pass zero_tokens='skip'")
    return [p for p in points if p.thinking_tokens > 0]


def scaling_slopes(points: Sequence[Point], zero_tokens: str = "raise") -> list[float]:
    """The pairwise slopes (points per doubling) the Scaling mean runs over; tied pairs are not pairs."""
    usable = sorted(_loggable(points, zero_tokens), key=lambda p: p.thinking_tokens)
    slopes = []
    for lo, hi in combinations(usable, 2):
        if hi.thinking_tokens == lo.thinking_tokens:
            continue  # a == b: not a pair of the sum over a < b
        dx = math.log2(hi.thinking_tokens) - math.log2(lo.thinking_tokens)
        slopes.append((hi.accuracy - lo.accuracy) / dx)
    if not slopes:
        raise ValueError(f"Scaling needs two settings with different thinking tokens; got "
                         f"{[p.thinking_tokens for p in usable]}; add a setting with another budget")
    return slopes


def scaling(points: Sequence[Point], zero_tokens: str = "raise") -> float:
    """Mean pairwise slope of accuracy (points) over log2(thinking tokens): points per doubling."""
    slopes = scaling_slopes(points, zero_tokens)
    return sum(slopes) / len(slopes)


def performance(points: Sequence[Point]) -> float:
    """The best accuracy over the settings."""
    if not points:
        raise ValueError("Performance needs at least one setting; got none")
    return max(p.accuracy for p in points)


def all_metrics(points: Sequence[Point], zero_tokens: str = "raise") -> dict[str, float | None]:
    """Control (None when a setting has no bounds), Scaling (None with < 2 distinct token counts), Performance."""
    try:
        ctrl: float | None = control(points)
    except ValueError:
        ctrl = None
    distinct = {p.thinking_tokens for p in _loggable(points, zero_tokens)}
    slope = scaling(points, zero_tokens) if len(distinct) >= 2 else None
    return {"control": ctrl, "scaling": slope, "performance": performance(points)}


def _row_points(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Point], list[str]]:
    """Points of sweep rows (accuracy as a fraction, budget int/"auto"/None) and notes on what was left out."""
    pts, notes = [], []
    for r in rows:
        if r.get("thinking_tokens_mean") is None:
            notes.append(f"{r.get('setting')}: no thinking-token statistics (no s1stats sidecar); left out")
            continue
        budget = r.get("budget")
        a_max = float(budget) if isinstance(budget, (int, float)) and not isinstance(budget, bool) else None
        pts.append(Point(float(r["thinking_tokens_mean"]), 100.0 * float(r["accuracy"]), None, a_max,
                         str(r.get("setting", ""))))
    return pts, notes


def task_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Control, Scaling, Performance of one task's sweep rows, with notes on settings left out."""
    pts, notes = _row_points(rows)
    if not pts:
        return {"control": None, "scaling": None, "performance": None, "settings": 0, "notes": notes}
    unbounded = [p.name() for p in pts if p.a_max is None]
    if unbounded:
        notes.append(f"Control needs an integer budget for every setting; without one: {', '.join(unbounded)}")
    zero = [p.name() for p in pts if not p.thinking_tokens > 0]
    if zero:
        notes.append(f"Scaling leaves out settings without thinking tokens (log2 axis): {', '.join(zero)}")
    out = all_metrics(pts, zero_tokens="skip")
    return {**out, "settings": len(pts), "notes": notes}


def sweep_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """`task_metrics` for every task of sweep summary rows.

    Row keys used: task, setting, budget (int, "auto" or None), accuracy (a fraction), thinking_tokens_mean.
    """
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        tasks.setdefault(str(r.get("task")), []).append(r)
    return {task: task_metrics(task_rows) for task, task_rows in tasks.items()}
