"""Regression tables on real model responses: the development half of the labelled corpus, and other styles.

`data/real_responses_dev.jsonl.gz`: 1,651 responses of six open models (Sky-T1 variants, Qwen2.5-Math-7B,
Qwen2.5-14B-Instruct, Gemma-2-27B-it) to AIME24 and MATH500, each labelled by reading it (policy in
`data/README.md`). `data/styles/real_styles.jsonl`: 85 real responses in styles the corpus lacks (GPT-3 answer lines,
R1-distill `</think>`, QwQ headers, PRM800K, sign-offs, loops), with provenance per row.

Every response goes through the full pipeline (`grade_math_batch`). Every row where our verdict differs from the
label is listed below with the reason we accept it; a new disagreement, or a listed one that no longer happens,
fails the test, so the list stays true. Agreement per class (model, extraction rule, finished or cut off) is
printed, so a rule that helps one class at another's expense shows. Plain Math-Verify on the same rows is
measured by `benchmarks/grading_agreement.py` (too slow for the test suite: ~80 s).
"""

from __future__ import annotations

import collections
import gzip
import json

import pytest

from tests.grading.conftest import DATA

# corpus id -> why our verdict differs from the label
ACCEPTED_DEV = {
    2707: "label wrong under its own policy: the response commits to \\boxed{√53}, which is the gold \\sqrt{53} "
          "(unicode math is normalised, as the corpus's other √ answers require)",
    2781: "the boxed expression is not simplified but equals the gold 1/16 exactly (checked numerically); we grade "
          "the value, not its form",
    3452: "label wrong under its own policy: the response concludes 'the equation y = -2x correctly describes this "
          "line' and the gold is y = -2x",
}
ACCEPTED_STYLES: dict[str, str] = {}
MIN_DEV_AGREEMENT = 0.998


def _load_jsonl(path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _kind(row: dict) -> str:
    return "aime" if row.get("bench", "").startswith("aime") else "math"


def _grade_all(rows: list[dict], pool) -> list:
    from s1eval.grading.grade import grade_math_batch

    out: list = [None] * len(rows)
    for kind in ("aime", "math"):
        idx = [i for i, r in enumerate(rows) if _kind(r) == kind]
        for i, grade in zip(idx, grade_math_batch([(rows[i]["response"], rows[i]["gold"]) for i in idx],
                                                  kind=kind, pool=pool)):
            out[i] = grade
    return out


def _by_class(rows: list[dict], grades: list, key) -> str:
    agree, total = collections.Counter(), collections.Counter()
    for row, grade in zip(rows, grades):
        cls = key(row, grade)
        total[cls] += 1
        agree[cls] += grade.correct == row["correct"]
    return ", ".join(f"{c}: {agree[c]}/{total[c]}" for c in sorted(total))


@pytest.fixture(scope="module")
def dev(pool):
    rows = _load_jsonl(DATA / "real_responses_dev.jsonl.gz")
    return rows, _grade_all(rows, pool)


def test_dev_agreement_and_every_disagreement_explained(dev):
    rows, grades = dev
    assert len(rows) == 1651
    disagree = {r["id"]: (r["gold"], g.extracted, g.rule) for r, g in zip(rows, grades) if g.correct != r["correct"]}
    agreement = 1 - len(disagree) / len(rows)
    print(f"\ndev agreement {agreement:.4f} ({len(rows) - len(disagree)}/{len(rows)})")
    for name, key in (("model", lambda r, g: r["model"]), ("rule", lambda r, g: g.rule),
                      ("finished", lambda r, g: g.finished), ("bench", lambda r, g: r["bench"])):
        print(f"  by {name}: {_by_class(rows, grades, key)}")
    unexplained = {k: v for k, v in disagree.items() if k not in ACCEPTED_DEV}
    assert not unexplained, f"new disagreements, explain or fix: {unexplained}"
    assert not set(ACCEPTED_DEV) - set(disagree), (f"listed but now agreeing: "
                                                   f"{sorted(set(ACCEPTED_DEV) - set(disagree))}")
    assert agreement >= MIN_DEV_AGREEMENT


def test_dev_truncated_responses_are_not_credited(dev):
    """Precision: no response labelled wrong that was cut off (not finished) is graded correct."""
    rows, grades = dev
    cut = [(r, g) for r, g in zip(rows, grades) if not g.finished]
    assert len(cut) > 150  # the corpus has many truncated responses; the check is not vacuous
    credited = [r["id"] for r, g in cut if g.correct and not r["correct"]]
    assert not credited


def test_dev_finished_flag_tracks_truncation(dev):
    """Cut-off responses are flagged: nearly every unfinished response is labelled wrong, and nearly every
    response labelled right finished (the exceptions answered in their thinking before the answer was cut)."""
    rows, grades = dev
    unfinished_right = [r["id"] for r, g in zip(rows, grades) if not g.finished and r["correct"]]
    assert len(unfinished_right) <= 6, unfinished_right
    assert all(g.rule.endswith("_in_thinking") or g.rule == "announced" for r, g in zip(rows, grades)
               if not g.finished and r["correct"])


def test_other_styles(pool):
    rows = _load_jsonl(DATA / "styles" / "real_styles.jsonl")
    grades = _grade_all(rows, pool)
    disagree = {r["id"]: (r["gold"], g.extracted, g.rule) for r, g in zip(rows, grades) if g.correct != r["correct"]}
    print(f"\nstyles agreement {len(rows) - len(disagree)}/{len(rows)}; by style: "
          f"{_by_class(rows, grades, lambda r, g: r['style'])}")
    assert len(rows) == 85
    assert {k: v for k, v in disagree.items() if k not in ACCEPTED_STYLES} == {}
    assert not set(ACCEPTED_STYLES) - set(disagree)


def test_answers_restated_in_prose_are_still_read(dev, pool):
    """Real sentence shapes without the box: each dev response whose committed answer is a box near its end is
    re-graded with the box removed (`\\boxed{X}` -> `X`, so "the answer is $\\boxed{39}$." becomes "the answer is
    $39$."), against X. The closing-statement reader must still find X in nearly all of them; the misses are
    responses whose box was the only thing telling two answers apart (several questions answered in one
    response, "either $\\boxed{9}$ (or $7$)")."""
    from s1eval.grading.extract import _boxes, extract
    from s1eval.grading.grade import grade_math_batch

    rows, _ = dev
    items = []
    for row in rows:
        text = row["response"]
        found = extract(text)
        if found.rule != "boxed" or not found.finished:
            continue
        start, end, content = _boxes(text)[0][-1]
        if len(text) - end <= 400 and "\\text" not in content:
            items.append((text[:start] + content + text[end:], content))
    grades = grade_math_batch(items, pool=pool)
    read = sum(g.correct for g in grades)
    print(f"\nanswers restated in prose: {read}/{len(items)} still read; by rule "
          f"{dict(collections.Counter(g.rule for g in grades))}")
    assert len(items) > 1200
    assert read / len(items) >= 0.96
