"""Quality rules, n-gram decontamination, dedup, and the measured collisions of the released s1K questions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from s1data.record import make_record
from s1data.stages.decontaminate import Decontaminate, DecontaminateOptions, NgramIndex, load_benchmark
from s1data.stages.quality import QualityOptions, check_row

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("question,source,extra,reason", [
    ("Find x. [asy]draw((0,0)--(1,1));[/asy]", "qfq/openaimath/Geometry", {}, "asy"),
    ("Find x. [asy]draw((0,0)--(1,1));[/asy]", "qq8933/AIME_1983_2024", {}, None),
    ("See the figure ![Image](http://x/y.png) and answer.", "KbsdJames/Omni-MATH", {}, "image_reference"),
    ("p1. Find all primes. p2. Show that 7 divides n.", "AI-MO/NuminaMath-CoT/aops_forum", {}, "numbered_parts"),
    ("**Problem 3** Let n be odd.", "AI-MO/NuminaMath-CoT/aops_forum", {}, "bold_digits"),
    ("Let **a** be a vector; find its norm.", "AI-MO/NuminaMath-CoT/aops_forum", {}, None),
    ("What is 2 + 2?", "x", {"api_error": "HTTP 429"}, "api_error"),
    ("What is 2 + 2?", "x", {"thinking_trajectory": "  "}, "missing:thinking_trajectory"),
    ("Consider the map p1.5 units long", "x", {}, None),
])
def test_quality_rules(question, source, extra, reason):
    row = {**make_record(question, "4", "math", source, "{}"), "thinking_trajectory": "t", "attempt": "4", **extra}
    verdict = check_row(row, QualityOptions(required=("question", "thinking_trajectory", "attempt")))
    assert (verdict.reason if verdict else None) == reason


def test_ngram_whitespace_and_case_folding():
    idx = NgramIndex(8)
    idx.add("bench", ["Find the   number of ordered pairs of positive\nintegers such that x + y = 10."])
    assert idx.match("FIND the number of ORDERED pairs of positive integers, please")[0] == "bench"
    assert idx.match("find the number of ordered pairs of negative integers") is None
    assert idx.match("short") is None


def test_decontaminate_and_dedup_stage():
    math500 = load_benchmark("math500")
    rows = [make_record(q, None, "math", "s", "{}") for q in
            ["A brand new question with enough words to form many eight grams here.",
             math500[0] + " Extra words.",
             "A brand new question with enough words to form many eight grams here.",
             "a brand  NEW question with enough words to form many eight grams here."]]
    out = Decontaminate(DecontaminateOptions(benchmarks=("math500",))).process(rows)
    assert [d.reason for _, d in out.dropped] == ["contaminated:math500", "duplicate:exact", "duplicate:normalised"]
    assert len(out.kept) == 1


def test_missing_benchmark_fails_or_is_reported():
    with pytest.raises(RuntimeError, match="allow_missing"):
        Decontaminate(DecontaminateOptions(benchmarks=("gpqa_diamond",), gpqa_data="/nonexistent.csv")).process([])
    out = Decontaminate(DecontaminateOptions(benchmarks=("gpqa_diamond",), gpqa_data="/nonexistent.csv",
                                             allow_missing=("gpqa_diamond",))).process([])
    assert "gpqa_diamond" in out.extra["benchmarks_missing"]


def s1k_collisions(n: int) -> list[tuple[dict, tuple]]:
    rows = [json.loads(line) for line in open(DATA / "s1k_questions.jsonl", encoding="utf-8")]
    idx = NgramIndex(n)
    for bench in ("aime24", "aime25", "math500"):
        idx.add(bench, load_benchmark(bench))
    return [(r, hit) for r in rows if (hit := idx.match(r["question"])) is not None]


def test_released_s1k_collisions_measured():
    """Measured: 118 of the 1,000 released s1K questions share a word 8-gram with AIME24/AIME25/MATH500.
    Most share stock AIME phrasing ("where $m$ and $n$ are relatively prime positive", 44 times); 2 are the
    same problem outright. Under 20-grams 4 remain, all real overlaps (see the report)."""
    hits = s1k_collisions(8)
    for r, (bench, i, gram) in hits:
        print(r["question_hash"], r["source_type"], bench, i, repr(gram))
    assert len(hits) == 118
    assert Counter(h[0] for _, h in hits) == {"aime24": 72, "aime25": 26, "math500": 20}
    assert sum(h[2] == "<whole question>" for _, h in hits) == 2
    assert len(s1k_collisions(20)) == 4
