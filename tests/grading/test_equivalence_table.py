"""Table test: our grader against 330 labelled answer pairs from Math-Verify, MARIO_EVAL and hendrycks/math.

Each pair is graded through the full pipeline (`grade_math_batch`: extraction, normalisation, Math-Verify in the
worker pool). Agreement is reported per source; every row where we disagree with the label is listed below with
the policy reason (s1eval/grading/__init__.py) that makes the disagreement acceptable. A new disagreement, or a
listed one that no longer happens, fails the test, so this list stays true.
"""

from __future__ import annotations

import collections

import pytest

# Plain Math-Verify (verify(parse(gold), parse(pred))) agrees on 284-291 of the 330 rows, depending on wrapping.
MIN_AGREEMENT = 315

# row index -> (test name in the source, reason we accept the disagreement)
ACCEPTED = {
    6: ("test_number_extraction", "decimal comma in a gold: '1,22' is read as a list/thousands, never 1.22"),
    133: ("test_complex_math_expressions", "0.33 for 1/3 states only 2 significant digits (policy needs 3)"),
    186: ("test_set_rel_assymetry", "same pair as row 187 labelled 0 (library option differs); one must disagree"),
    190: ("test_boxed", "boxes separated by '++++++' are not one answer: the last box (4) is the gold"),
    253: ("test_strict_variable_comparison",
          "same pair as row 252 labelled 0 (strict=False there); one must disagree"),
    255: ("test_are_equal_under_sympy", "decimal approximation inside a symbolic expression is not the exact value"),
    271: ("test_is_equiv_complex", "i(2-i) needs i**2 = -1; i is a symbol unless Math-Verify detects complex form"),
    284: ("test_is_equiv_units", "clock times are not numbers; no time arithmetic (20:34 vs 20:34:00)"),
    285: ("test_is_equiv_units", "clock times are not numbers; no 12/24-hour conversion (08:34 P.M.)"),
    294: ("test_is_equiv_expression", "equal only for positive r, r_0; sympy (rightly) assumes nothing"),
    302: ("test_is_equiv_matrix", "[0.5, 1] is an interval in LaTeX, not a column vector"),
    303: ("test_is_equiv_matrix", "decimal approximations inside a system of equations are not exact values"),
    308: ("test_is_equiv_interval",
          "2^(2^-1000) > 1, so the intervals differ (the label is a float artefact); times out"),
    315: ("test_order", "comma lists are unordered (policy; MARIO rows 266/267 agree, hendrycks disagrees)"),
    322: ("test_decimals", "comma lists are unordered (policy; MARIO rows 266/267 agree, hendrycks disagrees)"),
}


def _source(row: dict) -> str:
    return row["source"].split("@")[0]


@pytest.fixture(scope="module")
def graded(equivalence_pairs, pool):
    from s1eval.grading.grade import grade_math_batch

    return grade_math_batch([(r["pred"], r["gold"]) for r in equivalence_pairs], pool=pool)


def test_agreement_per_source(equivalence_pairs, graded):
    agree, total = collections.Counter(), collections.Counter()
    for row, grade in zip(equivalence_pairs, graded):
        total[_source(row)] += 1
        agree[_source(row)] += int(grade.correct) == row["expected"]
    report = ", ".join(f"{src}: {agree[src]}/{total[src]}" for src in sorted(total))
    print(f"\nagreement {sum(agree.values())}/{len(equivalence_pairs)} ({report})")
    assert len(equivalence_pairs) == 330
    assert sum(agree.values()) >= MIN_AGREEMENT, report


def test_every_disagreement_is_explained(equivalence_pairs, graded):
    disagreements = {i for i, (row, g) in enumerate(zip(equivalence_pairs, graded))
                     if int(g.correct) != row["expected"]}
    unexplained = {i: (equivalence_pairs[i]["gold"], equivalence_pairs[i]["pred"], graded[i])
                   for i in disagreements - set(ACCEPTED)}
    assert not unexplained, f"new disagreements, explain or fix: {unexplained}"
    assert not set(ACCEPTED) - disagreements, (f"listed but now agreeing, remove: "
                                               f"{sorted(set(ACCEPTED) - disagreements)}")
    for i, (test_name, _reason) in ACCEPTED.items():
        assert equivalence_pairs[i]["test"] == test_name, f"row {i} moved: {equivalence_pairs[i]['test']}"


def test_timeouts_only_where_listed(graded):
    timed_out = {i for i, g in enumerate(graded) if g.method == "timeout"}
    assert timed_out <= {308}, timed_out


def test_counter_check_plain_math_verify_is_weaker(equivalence_pairs):
    """Control: the same table through plain Math-Verify agrees less (so the table can tell graders apart)."""
    from math_verify import parse, verify

    plain = sum(int(verify(parse(r["gold"]), parse(r["pred"]))) == r["expected"] for r in equivalence_pairs[:120])
    ours_floor = 120 - sum(1 for i in ACCEPTED if i < 120)
    assert plain < ours_floor
