"""Adversarial inputs: hangs, huge and deeply nested responses, unicode, empty and malformed text.

Hang tests use a short per-item timeout; the bound asserted is generous (timeout plus start-up slack), it only
proves that a comparison which would run for hours (10**10**10) is cut off and the run goes on.
"""

from __future__ import annotations

import time

import pytest

from s1eval.grading.grade import grade_math, grade_math_batch
from s1eval.grading.pool import WorkerPool


@pytest.fixture(scope="module")
def fast_pool():
    with WorkerPool(workers=2, timeout_s=1.0) as p:
        yield p


@pytest.mark.parametrize("answer", ["10^{10^{10}}", "9^{9^{9}}", "10^{10^{10^{10}}}"])
def test_c_level_hang_is_cut_off_and_marked_timeout(fast_pool, answer):
    start = time.monotonic()
    grade = grade_math("\\boxed{" + answer + "}", "5", pool=fast_pool)
    elapsed = time.monotonic() - start
    assert (grade.correct, grade.method) == (False, "timeout")
    assert elapsed < 1.0 + 15.0  # timeout plus generous slack for replacing the worker on a loaded machine


def test_pool_recovers_after_a_hang(fast_pool):
    kills_before = fast_pool.kills
    assert grade_math("\\boxed{10^{10^{10}}}", "5", pool=fast_pool).method == "timeout"
    assert fast_pool.kills == kills_before + 1
    assert grade_math("\\boxed{5}", "\\frac{10}{2}", pool=fast_pool).correct


def test_one_hang_does_not_hold_up_the_batch(fast_pool):
    items = [("\\boxed{10^{10^{10}}}", "5")] + [(f"\\boxed{{{i}}}", f"\\frac{{{2 * i}}}{{2}}") for i in range(6)]
    grades = grade_math_batch(items, pool=fast_pool)
    assert [g.method for g in grades] == ["timeout"] + ["symbolic"] * 6
    assert [g.correct for g in grades] == [False] + [True] * 6


def test_one_megabyte_response(pool):
    filler = ("We consider the next case and compute 12 + 30 = 42. " * 20000)[:1_000_000]
    assert grade_math(filler + "\n\nSo the answer is \\boxed{204}.", "204", kind="aime", pool=pool).correct
    unfinished = grade_math(filler, "204", kind="aime", pool=pool)
    assert unfinished.method == "unextracted" and not unfinished.correct


def test_deeply_nested_braces(fast_pool):
    nested = "{" * 5000 + "7" + "}" * 5000
    grade = grade_math("\\boxed{" + nested + "}", "7", pool=fast_pool)
    assert grade.extracted == nested and grade.method in ("exact", "symbolic", "timeout")
    unbalanced = grade_math("\\boxed{" + "{" * 5000 + "7", "7", pool=fast_pool)
    assert unbalanced.method == "unextracted" and not unbalanced.correct


@pytest.mark.parametrize(
    ("response", "gold", "correct"),
    [
        ("", "5", False),
        ("\x00\x01 \ufeff", "5", False),
        ("答案是 \\boxed{５}", "5", False),  # a full-width digit is not the ASCII digit: no silent folding
        ("Die Antwort ist \\boxed{12} 🎉", "12", True),
        ("\\boxed{}", "0", False),
        ("}}}{{{ \\boxed{3}", "3", True),
        ("\\boxed{3} }}}}", "3", True),
        ("$$$$$$", "1", False),
    ],
)
def test_odd_text(pool, response, gold, correct):
    assert grade_math(response, gold, pool=pool).correct is correct


@pytest.mark.parametrize(
    ("response", "gold", "correct"),
    [
        ("\\boxed{10\\text{ cm}}", "10", True),  # units are ignored
        ("\\boxed{10}", "10\\text{ cm}^2", True),
        ("\\boxed{50\\%}", "50", True),  # percentages
        ("\\boxed{90^\\circ}", "90", True),  # degrees
        ("\\boxed{\\text{(C)}}", "\\text{(C)}", True),
        ("\\boxed{(-\\infty, 2]}", "(-\\infty,2]", True),  # intervals
        ("\\boxed{(-\\infty, 2)}", "(-\\infty,2]", False),
        ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", True),
        ("\\boxed{\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False),
        ("\\boxed{(3, 4)}", "(3,4)", True),  # tuples keep order
        ("\\boxed{(4, 3)}", "(3,4)", False),
        ("\\boxed{3, 5}", "5, 3", True),  # plain lists do not
        ("Final Answer:\n\\[\n\\frac{1}{2}\n\\]", "\\frac12", True),  # answer split across lines
        ("\\boxed{023}", "23", True),
        ("\\boxed{1.732}", "\\sqrt{3}", True),  # stated-precision decimal
        ("\\boxed{1.7}", "\\sqrt{3}", False),
    ],
)
def test_policy_cases(pool, response, gold, correct):
    assert grade_math(response, gold, pool=pool).correct is correct


def test_aime_integers(pool):
    assert grade_math("\\boxed{023}", "23", kind="aime", pool=pool).method == "exact"
    assert grade_math("\\boxed{1{,}000}", "1000", kind="aime", pool=pool).correct
    assert not grade_math("\\boxed{24}", "23", kind="aime", pool=pool).correct
    assert grade_math("\\boxed{\\frac{46}{2}}", "23", kind="aime", pool=pool).correct


@pytest.mark.parametrize("response", [
    # Qwen2.5-Math's tool-integrated format: the harness stopped the response; its last tool output is not an answer.
    "Let's compute it.\n```python\nprint(50)\n```\n```output\n50\n```\n\nReach max function call limit.",
    # A response that ends in code states no answer in prose: the fallback does not read numbers out of code.
    "We verify with code.\n```python\nresult = 25 + 25\nprint(result)  # 50\n```",
])
def test_tool_output_and_code_are_not_answers(pool, response):
    grade = grade_math(response, "50", pool=pool)
    assert (grade.correct, grade.method) == (False, "unextracted")
