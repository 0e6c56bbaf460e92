"""The task family: maps, questions, answers, the split partition, and the measured hardness without thinking."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from s1eval.mini.measure import measure
from s1eval.mini.problems import FAMILIES, K_MAX, K_MIN, P, Problem, R, parse_question, sample_problems, split_of


def test_every_map_is_a_permutation_of_z_p():
    for fam in FAMILIES.values():
        assert sorted(fam.sigma(x) for x in range(P)) == list(range(P)), fam.name


def test_answer_follows_the_written_recurrence():
    p = Problem("cube", 31, 11, 9)
    assert p.k == 3
    x = 31
    for r in (11, 10, 9):
        x = (x ** 3 + r) % 41
    assert p.answer == x
    assert p.question == ("Let x = 31. In 03 steps, for r from 11 down to 09, replace x by x^3 + r mod 41. "
                          "What is x at the end?")
    assert Problem("double_cube", 5, 3, 3).answer == (2 * 5 ** 3 + 3) % 41
    assert "3x^7 + r" in Problem("triple_seventh", 5, 3, 3).question


def test_questions_parse_back():
    for p in sample_problems(300, 1, "train"):
        assert parse_question(p.question) == p
    with pytest.raises(ValueError):
        parse_question("What is 2+2?")
    with pytest.raises(ValueError, match="04 steps, but r from 11 down to 09 is 3"):  # the count must match r
        parse_question(Problem("cube", 31, 11, 9).question.replace("03 steps", "04 steps"))


def test_invalid_problems_are_refused():
    for bad in (("cube", P, 3, 1), ("cube", 1, 2, 3), ("cube", 1, R, 0), ("square", 1, 2, 1)):
        with pytest.raises(ValueError):
            Problem(*bad)


def test_partition_by_trajectory_start():
    shares = Counter(split_of(f, x, a) for f in FAMILIES for x in range(P) for a in range(R))
    total = sum(shares.values())
    assert abs(shares["test"] / total - 1 / 16) < 0.01 and abs(shares["dev"] / total - 1 / 16) < 0.01
    for split in ("train", "dev", "test"):
        probs = sample_problems(400, 3, split)
        assert {p.split for p in probs} == {split}
        assert all(K_MIN <= p.k <= K_MAX for p in probs)
    # Problems sharing a start share a trace prefix, hence a split.
    assert len({Problem("seventh", 7, 20, b).split for b in range(21)}) == 1


def test_sampling_is_deterministic_and_uniform_in_k():
    a, b = sample_problems(2000, 5), sample_problems(2000, 5)
    assert a == b and a != sample_problems(2000, 6)
    ks = Counter(p.k for p in a)
    assert set(ks) == set(range(K_MIN, K_MAX + 1))
    assert max(ks.values()) < 2.0 * min(ks.values())
    assert len(set(sample_problems(500, 0, "test", unique=True))) == 500


def test_no_thinking_is_near_chance():
    """Answers are spread over all 41 values and no trivial predictor beats chance (2.44%) by much: the numbers in
    the question, one step of the map, or the majority answer per combination of up to three problem features
    learned on 20,000 train problems (measured on 1,000 dev problems, where one predictor's standard error is
    0.5 points and the best of ~35 sits about two of them above chance by luck alone)."""
    m = measure(n=1000, seed=0, pool=20_000)
    assert m["distinct_answers"] == P
    assert m["entropy_bits"] > math.log2(P) - 0.1
    assert m["max_class_share"] < 2 / P
    assert len(m["baselines"]) > 30
    assert m["best_baseline_accuracy"] < 2 / P, (m["best_baseline"], m["best_baseline_accuracy"])


def test_answer_is_uniform_given_everything_but_the_start_value():
    # For fixed (map, a, b) the answer is a bijection of x0: knowing the map, a, b and k leaves 89 equally likely
    # answers; there is no short cycle in k to exploit either, since r never repeats within a trajectory.
    for fam in FAMILIES:
        for a, b in ((5, 4), (23, 0), (39, 16)):
            assert len({Problem(fam, x0, a, b).answer for x0 in range(P)}) == P
