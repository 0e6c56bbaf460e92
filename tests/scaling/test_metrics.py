"""Control, Scaling and Performance reproduce the paper's Table 3 from the data in S1_FACTS.md (AIME24)."""

from __future__ import annotations

import math

import pytest

from s1eval.scaling.metrics import (
    Point,
    all_metrics,
    class_bounds,
    control,
    performance,
    scaling,
    scaling_slopes,
    step_bounds,
    token_bounds,
    within_budget_share,
)

N_AIME24 = 30


def pct(published: float) -> float:
    """The exact accuracy behind a one-decimal AIME24 number (k of 30 questions right)."""
    return 100 * round(published * N_AIME24 / 100) / N_AIME24


def points(tokens, accuracies, bounds) -> list[Point]:
    return [Point(t, pct(a), *b) for t, a, b in zip(tokens, accuracies, bounds)]


TOKEN_BUDGETS = [1024, 2048, 4096, 8192, 16384]
STEPS = [16, 32, 64, 128, 256]
TOKEN_COND = ([7939, 7158, 8263, 7108, 7500], [26.7, 30.0, 33.3, 33.3, 40.0])
TOKEN_COND_BF = ([1024, 2048, 4031, 5664, 6330], [3.3, 30.0, 33.3, 33.3, 40.0])
STEP_COND = ([7252, 6277, 5396, 5552, 7551], [33.3, 23.3, 33.3, 36.7, 33.3])
STEP_COND_BF = ([1517, 2963, 4636, 5409, 7551], [23.3, 23.3, 33.3, 36.7, 33.3])

# (name, data, bounds, Control %, Scaling, Performance) as published in Table 3.
TABLE3 = [
    ("token-conditional", TOKEN_COND, [token_bounds(b) for b in TOKEN_BUDGETS], 40, -24, 40.0),
    ("token-conditional + BF", TOKEN_COND_BF, [token_bounds(b) for b in TOKEN_BUDGETS], 100, 13, 40.0),
    ("step-conditional", STEP_COND, [step_bounds(s) for s in STEPS], 60, 3, 36.7),
    ("step-conditional + BF", STEP_COND_BF, [step_bounds(s) for s in STEPS], 100, 6, 36.7),
]


@pytest.mark.parametrize(("name", "data", "bounds", "ctrl", "slope", "perf"), TABLE3, ids=[r[0] for r in TABLE3])
def test_table3_rows(name, data, bounds, ctrl, slope, perf):
    pts = points(*data, bounds)
    assert control(pts) == pytest.approx(ctrl)
    assert scaling(pts) == pytest.approx(slope, abs=0.5)
    assert performance(pts) == pytest.approx(perf, abs=0.05)
    assert all_metrics(pts) == {"control": control(pts), "scaling": scaling(pts), "performance": performance(pts)}


@pytest.mark.parametrize("unprompted_tokens", [5000, 7000, 8032])
def test_class_conditional(unprompted_tokens):
    # short 30.0% at 8033 tokens, long 36.7% at 9651: Scaling 25, Control 50% (Table 3)
    pts = [Point(8033, pct(30.0), *class_bounds("short", unprompted_tokens), label="short"),
           Point(9651, pct(36.7), *class_bounds("long", unprompted_tokens), label="long")]
    assert scaling(pts) == pytest.approx(25, abs=0.5)
    assert control(pts) == 50
    assert performance(pts) == pytest.approx(36.7, abs=0.05)


def test_class_conditional_reference_between_the_two_would_give_full_control():
    pts = [Point(8033, 30, *class_bounds("short", 9000)), Point(9651, 36.7, *class_bounds("long", 9000))]
    assert control(pts) == 100
    with pytest.raises(ValueError, match="class 'medium' is unknown; use one of short, long"):
        class_bounds("medium", 9000)


def test_published_scaling_needs_exact_accuracies_and_the_log2_axis():
    tokens, accs = TOKEN_COND
    rounded = [Point(t, a) for t, a in zip(tokens, accs)]
    assert scaling(rounded) == pytest.approx(-23.45, abs=0.01)  # one-decimal table values: off by 0.55
    exact = [Point(t, pct(a)) for t, a in zip(tokens, accs)]
    assert scaling(exact) == pytest.approx(-23.77, abs=0.01)
    # per token instead of per doubling: a different, much smaller number
    linear = [(b.accuracy - a.accuracy) / (b.thinking_tokens - a.thinking_tokens)
              for i, a in enumerate(sorted(exact, key=lambda p: p.thinking_tokens))
              for b in sorted(exact, key=lambda p: p.thinking_tokens)[i + 1:]]
    assert abs(sum(linear) / len(linear)) < 0.01


def test_scaling_is_points_per_doubling():
    assert scaling([Point(1000, 10), Point(2000, 15), Point(4000, 20)]) == pytest.approx(5)
    assert scaling([Point(1000, 10), Point(8000, 40)]) == pytest.approx(10)


def test_ties_in_thinking_tokens_are_not_pairs():
    # (100, 10)-(200, 30): 20 per doubling; (100, 20)-(200, 30): 10; the tied pair (100, 100) is left out
    pts = [Point(100, 10), Point(100, 20), Point(200, 30)]
    assert scaling_slopes(pts) == [pytest.approx(20), pytest.approx(10)]
    assert scaling(pts) == pytest.approx(15)
    with pytest.raises(ValueError, match=r"two settings with different thinking tokens; got \[100, 100\]"):
        scaling([Point(100, 10), Point(100, 20)])
    assert all_metrics([Point(100, 10, a_max=200), Point(100, 20, a_max=200)])["scaling"] is None


def test_zero_token_settings_raise_or_are_skipped():
    pts = [Point(0, 5, label="no thinking"), Point(1000, 10), Point(2000, 15)]
    with pytest.raises(ValueError, match=r"undefined for settings with no thinking: 'no thinking' \(0\)"):
        scaling(pts)
    with pytest.raises(ValueError, match="no thinking"):
        all_metrics(pts)
    assert scaling(pts, zero_tokens="skip") == pytest.approx(5)
    with pytest.raises(ValueError, match="zero_tokens='drop' is unknown"):
        scaling(pts, zero_tokens="drop")


def test_control_bounds():
    assert control([Point(100, 0, a_min=100, a_max=100)]) == 100  # bounds are inclusive
    assert control([Point(99, 0, a_min=100), Point(101, 0, a_max=100), Point(50, 0, 10, 60)]) == pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="setting 'x' has neither a_min nor a_max"):
        control([Point(5, 1, label="x")])
    assert all_metrics([Point(5, 1), Point(10, 2)])["control"] is None
    with pytest.raises(ValueError, match="at least one setting"):
        control([])


def test_within_budget_share_is_per_sample():
    assert within_budget_share([10, 20, 30, 40], 25) == 50
    assert within_budget_share([10, 20], None) is None
    assert within_budget_share([], 10) is None
    assert step_bounds(64) == (None, 6400) and step_bounds(8, tokens_per_step=50) == (None, 400)
    assert math.isclose(token_bounds(1024)[1], 1024)
