"""Algorithm 1 under statistics: uniform domains (chi-square), P(rank) ∝ 2^-rank, the exact seed set, seeds."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from scipy.stats import chi2  # a test dependency (dev extra): the statistical oracle never skips

from s1data.stages.select import Select, SelectOptions, in_seed_set, sample_rank
from tests.s1data.conftest import featurised_pool


def _chi_square_p(observed: list[int], expected: list[float]) -> float:
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected))
    return float(chi2.sf(stat, len(observed) - 1))


def _run(rows, **kw):
    return Select(SelectOptions(**kw)).process(rows)


def test_domains_uniform_and_rank_law():
    # 8 domains x 2,000 questions: no domain runs out in 4,000 draws, so each draw is uniform over 8.
    rows = featurised_pool(16000, seed=1)
    for r in rows:
        r["teacher_correct"] = False  # no seed set: every pick is sampled
    out = _run(rows, n=4000, seed=7, drop_if_correct=[])
    picks = [r for r in out.kept if r["select_via"] == "sampled"]
    assert len(picks) == 4000
    by_domain = Counter(r["domain"] for r in picks)
    assert _chi_square_p(list(by_domain.values()), [500.0] * 8) > 0.001
    # rank law: P(r) = 2^-(r+1) for large domains; bins 0..5 and >= 6
    ranks = Counter(min(r["select_rank"], 6) for r in picks)
    expected = [4000 * 2.0 ** -(k + 1) for k in range(6)] + [4000 * 2.0 ** -6]
    assert _chi_square_p([ranks[k] for k in range(7)], expected) > 0.001


def test_sample_rank_small_domain_exact():
    rng = random.Random(0)
    counts = Counter(sample_rank(3, rng) for _ in range(70000))
    expected = [70000 * w / 1.75 for w in (1, 0.5, 0.25)]  # 2^-r normalised over 3 ranks
    assert _chi_square_p([counts[i] for i in range(3)], expected) > 0.001


def test_rank_zero_is_longest():
    rows = featurised_pool(50, seed=2, n_domains=1)
    for r in rows:
        r["teacher_correct"] = False
    out = _run(rows, n=1, seed=3, drop_if_correct=[])
    pick = out.kept[0]
    pool = sorted(rows, key=lambda r: -r["thinking_tokens"])
    assert pool[pick["select_rank"]]["question_hash"] == pick["question_hash"]


def test_seed_set_is_exactly_the_rule():
    rows = featurised_pool(600, seed=3)
    opts = SelectOptions(n=500, seed=0)
    out = Select(opts).process(rows)
    seeded = {r["question_hash"] for r in out.kept if r["select_via"] == "seed"}
    eligible = [r for r in rows if not (r["qwen7b_correct"] or r["qwen32b_correct"])]
    rule = {r["question_hash"] for r in eligible if r["teacher_correct"] and (
        "AIME" in r["source_type"] or "gpqa" in r["source_type"]
        or ("openaimath" in r["source_type"] and r["thinking_tokens"] > 5600))}
    assert seeded == rule and len(rule) > 20
    assert all(in_seed_set(r, opts) for r in out.kept if r["select_via"] == "seed")
    assert not any(r["qwen7b_correct"] or r["qwen32b_correct"] for r in out.kept)


def test_counts_reconcile_and_seed_reproducible():
    rows = featurised_pool(400, seed=4)
    a, b, c = (_run(rows, n=100, seed=s) for s in (5, 5, 6))
    assert len(a.kept) + len(a.dropped) == 400
    assert [r["question_hash"] for r in a.kept] == [r["question_hash"] for r in b.kept]
    assert [r["question_hash"] for r in a.kept] != [r["question_hash"] for r in c.kept]
    reasons = Counter(d.reason for _, d in a.dropped)
    assert set(reasons) <= {"too_easy:qwen7b_correct", "too_easy:qwen32b_correct", "not_selected"}


@pytest.mark.parametrize("method", ["random", "diverse", "longest", "full"])
def test_ablation_selectors(method):
    rows = featurised_pool(300, seed=5)
    out = _run(rows, method=method, n=100, seed=1, drop_if_correct=[])
    assert len(out.kept) == (300 if method == "full" else 100)
    assert len(out.kept) + len(out.dropped) == 300
    if method == "longest":
        cutoff = min(r["thinking_tokens"] for r in out.kept)
        assert all(r["thinking_tokens"] <= cutoff for r, _ in out.dropped)


def test_notebook_variant_needs_weights_and_uses_them():
    with pytest.raises(ValueError, match="domain_weights"):
        SelectOptions(variant="notebook")
    rows = featurised_pool(4000, seed=6)
    for r in rows:
        r["teacher_correct"] = False
    out = _run(rows, n=400, seed=2, drop_if_correct=[], variant="notebook", switch_at=100, domain_weights={"11": 1.0})
    late = [r["domain"] for r in out.kept if r["select_order"] >= 100]
    assert set(late) == {"11"}
