"""Intervals and paired tests against cases with known answers (hand-computed, scipy as an oracle)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s1eval.scaling import statistics as st


@pytest.mark.parametrize(("worse", "better", "p"), [
    (0, 0, 1.0),
    (10, 0, 2 / 1024),                       # 2 * P[X <= 0], X ~ Bin(10, 1/2)
    (3, 7, 2 * (1 + 10 + 45 + 120) / 1024),  # 2 * P[X <= 3] = 0.34375
    (7, 3, 0.34375),                         # symmetric
    (5, 5, 1.0),                             # capped at 1
    (1, 0, 1.0),
    (6, 0, 2 / 64),
])
def test_mcnemar_hand_computed(worse, better, p):
    assert st.mcnemar_exact(worse, better) == pytest.approx(p, rel=1e-12)


def test_mcnemar_matches_scipy_binomtest():
    scipy_stats = pytest.importorskip("scipy.stats")
    for worse, better in [(0, 1), (2, 9), (13, 4), (40, 25), (100, 130), (17, 17), (600, 540)]:
        oracle = scipy_stats.binomtest(worse, worse + better, 0.5).pvalue
        assert st.mcnemar_exact(worse, better) == pytest.approx(oracle, rel=1e-9)


def test_sign_test_counts_questions_that_moved():
    base = [1, 1, 0, 0, 0.5, 0.25]
    new = [0, 1, 1, 0, 0.75, 0.25]
    assert st.sign_test(base, new) == (1, 2, st.mcnemar_exact(1, 2))


def test_wilson_matches_the_closed_form_and_scipy():
    low, high = st.wilson_interval(17, 30)
    assert (low, high) == pytest.approx((0.3920, 0.7262), abs=1e-4)
    assert st.wilson_interval(0, 30)[0] == 0 and st.wilson_interval(30, 30)[1] == pytest.approx(1)
    scipy_stats = pytest.importorskip("scipy.stats")
    ci = scipy_stats.binomtest(17, 30).proportion_ci(0.95, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    with pytest.raises(ValueError, match="successes=31, n=30"):
        st.wilson_interval(31, 30)


def test_paired_bootstrap_of_identical_runs_is_zero():
    scores = [1, 0, 1, 1, 0] * 6
    assert st.paired_bootstrap_ci(scores, scores) == (0.0, 0.0)


def test_paired_bootstrap_of_a_constant_difference_is_that_difference():
    assert st.paired_bootstrap_ci([0] * 20, [1] * 20) == (1.0, 1.0)
    assert st.paired_bootstrap_ci([1] * 20, [0] * 20) == (-1.0, -1.0)
    low, high = st.paired_bootstrap_ci([0, 1] * 10, [1, 1] * 10)  # half the questions improve
    assert 0 < low < 0.5 < high < 1


def test_paired_bootstrap_is_seeded_and_chunking_does_not_change_it(monkeypatch):
    rng = np.random.default_rng(1)
    base, new = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    first = st.paired_bootstrap_ci(base, new, seed=3)
    assert st.paired_bootstrap_ci(base, new, seed=3) == first
    other = st._resampled_means((new - base).astype(float), 100, seed=4)
    assert not np.array_equal(other, st._resampled_means((new - base).astype(float), 100, seed=3))
    monkeypatch.setattr(st, "_CHUNK_CELLS", 1000)  # 5 rows per chunk instead of all at once
    assert st.paired_bootstrap_ci(base, new, seed=3) == first


def test_paired_bootstrap_agrees_with_a_plain_loop():
    rng = np.random.default_rng(7)
    diff = rng.integers(-1, 2, 50).astype(float)
    draw = np.random.default_rng(11)
    means = [diff[draw.integers(0, 50, 50)].mean() for _ in range(2000)]
    expected = tuple(np.quantile(means, [0.025, 0.975]))
    got = st.paired_bootstrap_ci(np.zeros(50), diff, resamples=2000, seed=11)
    assert got == pytest.approx(expected)


def test_paired_bootstrap_width_matches_the_normal_approximation():
    rng = np.random.default_rng(0)
    base, new = rng.integers(0, 2, 2000), rng.integers(0, 2, 2000)
    d = new - base
    half = st.Z95 * d.std(ddof=1) / math.sqrt(d.size)
    low, high = st.paired_bootstrap_ci(base, new)
    assert (high - low) / 2 == pytest.approx(half, rel=0.05)
    assert (low + high) / 2 == pytest.approx(d.mean(), abs=0.005)


def test_bootstrap_mean_and_bad_input():
    assert st.bootstrap_mean_ci([0.5] * 10) == (0.5, 0.5)
    with pytest.raises(ValueError, match="one base and one new score per question; got 3 and 2"):
        st.paired_bootstrap_ci([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="non-empty"):
        st.bootstrap_mean_ci([])
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        st.bootstrap_mean_ci([1, 0], level=95)
