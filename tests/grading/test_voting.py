"""maj@k, cov@k and unbiased pass@k for the sampling (`*_maj`) tasks."""

from __future__ import annotations

import itertools

import pytest
import yaml

from s1eval.grading.grade import Grade
from s1eval.grading.voting import ks_for, majority_correct, pass_at_k, sample_metrics


def g(extracted: str | None, correct: bool) -> Grade:
    return Grade(extracted, correct, "exact" if extracted is not None else "unextracted")


@pytest.mark.parametrize(("n", "c", "k"), [(5, 2, 1), (5, 2, 2), (6, 1, 3), (6, 0, 2), (4, 4, 3), (7, 3, 7)])
def test_pass_at_k_matches_brute_force(n, c, k):
    outcomes = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ValueError, match="exceeds"):
        pass_at_k(2, 1, 4)


def test_ks():
    assert ks_for(64) == [1, 2, 4, 8, 16, 32, 64]
    assert ks_for(5) == [1, 2, 4, 5]


def test_majority_vote_rules():
    assert majority_correct([g("5", False), g("7", True), g("7", True)], "aime")
    assert not majority_correct([g("5", False), g("5", False), g("7", True)], "aime")
    assert majority_correct([g("007", True), g("5", False), g("7", True)], "aime")  # 007 and 7 vote together
    assert not majority_correct([g("5", False), g("7", True)], "aime")  # tie: first seen wins
    assert majority_correct([g(None, False), g(None, False), g("7", True)], "aime")  # unextracted do not vote
    assert not majority_correct([g(None, False)], "math")


def test_sample_metrics():
    grades = [g("3", False), g("4", True), g("3", False), g("4", True), g("4", True), g(None, False)]
    m = sample_metrics(grades, "aime")
    assert m["exact_match"] == 0.0 and m["mean_acc"] == pytest.approx(0.5)
    assert (m["cov@1"], m["cov@2"], m["cov@4"]) == (0.0, 1.0, 1.0)
    assert (m["maj@1"], m["maj@2"], m["maj@4"], m["maj@6"]) == (0.0, 0.0, 0.0, 1.0)
    assert m["pass@6"] == 1.0 and m["pass@1"] == pytest.approx(0.5)


def test_maj_task_yamls_sample_and_keep_all_repeats():
    from pathlib import Path

    tasks = Path(__file__).resolve().parents[2] / "tasks"
    files = sorted(tasks.glob("*/s1_*_maj.yaml"))
    assert [f.stem for f in files] == ["s1_aime24_maj", "s1_aime25_maj", "s1_math500_maj"]
    for f in files:
        text = f.read_text().replace("!function ", "")
        cfg = yaml.safe_load(text)
        gen = cfg["generation_kwargs"]
        assert (gen["do_sample"], gen["temperature"], gen["until"]) == (True, 1.0, [])
        k = cfg["filter_list"][0]["filter"][0]["k"]
        assert cfg["repeats"] == k == 64
        metrics = {m["metric"] for m in cfg["metric_list"]}
        assert {f"{p}@{k}" for p in ("maj", "cov", "pass") for k in ks_for(64)} <= metrics
