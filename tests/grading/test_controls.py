"""Controls on the shipped golds: each parses, each verifies against itself boxed, shuffled pairs do not verify."""

from __future__ import annotations

import random

import pytest

from s1eval.data import shipped_rows
from s1eval.grading.normalize import normalize_exact

BENCHES = ("aime24", "aime25", "math500")


@pytest.fixture(scope="module")
def golds() -> list[str]:
    return [str(r["answer"]) for bench in BENCHES for r in shipped_rows(bench)]


def test_shipped_sizes():
    assert [len(shipped_rows(b)) for b in BENCHES] == [30, 30, 500]


def test_every_gold_parses_and_verifies_boxed(golds, pool):
    # check_pair goes straight to Math-Verify (no exact-string shortcut), so this exercises the parser.
    outcomes = pool.map("check_pair", [(g, "\\boxed{" + g + "}") for g in golds])
    failures = [(g, o) for g, o in zip(golds, outcomes) if o.status != "ok" or not o.value[0] or o.value[1]]
    assert not failures, failures[:10]


def test_shuffled_golds_do_not_verify(golds, pool):
    shuffled = golds[:]
    random.Random(1234).shuffle(shuffled)
    pairs = [(g, s) for g, s in zip(golds, shuffled)]
    outcomes = pool.map("check_pair", pairs)
    verified = [(g, s) for (g, s), o in zip(pairs, outcomes) if o.status == "ok" and o.value[0]]
    # Only genuinely equal golds may verify (MATH500 has many answers like "2"); anything else is a false positive.
    false_positives = [(g, s) for g, s in verified if normalize_exact(g) != normalize_exact(s)]
    assert not false_positives
    distinct = sum(normalize_exact(g) != normalize_exact(s) for g, s in pairs)
    assert distinct > 500  # the control really compared different answers


def test_bad_gold_is_an_error_not_a_zero(pool):
    from s1eval.grading.equivalence import GoldParseError
    from s1eval.grading.grade import grade_math

    with pytest.raises(GoldParseError):
        grade_math("\\boxed{5}", "\\\\\\", pool=pool)
