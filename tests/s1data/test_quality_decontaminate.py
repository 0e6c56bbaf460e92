"""Quality rules, n-gram decontamination, dedup, and the measured collisions of the released s1K questions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from s1data.record import make_record
from s1data.stages.decontaminate import (
    AIME_STOCK_PHRASES,
    Decontaminate,
    DecontaminateOptions,
    NgramIndex,
    is_stock,
    load_benchmark,
    ngrams,
    stop_windows,
)
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


def s1k_collisions(n: int, stop_phrases: tuple[str, ...] = ()) -> list[tuple[dict, tuple]]:
    with open(DATA / "s1k_questions.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    idx = NgramIndex(n, stop_phrases)
    for bench in ("aime24", "aime25", "math500"):
        idx.add(bench, load_benchmark(bench))
    return [(r, hit) for r in rows if (hit := idx.match(r["question"])) is not None]


def test_stop_phrases_skip_only_stock_ngrams():
    bench = "Let $x$ be real. Where $m$ and $n$ are relatively prime positive integers. Find $m+n$ now."
    stock_only = "A new problem, where $m$ and $n$ are relatively prime positive integers. Find $m+n$ then."
    more = "Let $x$ be real. Where $m$ and $n$ are relatively prime positive integers, we ask."
    plain, stopped = NgramIndex(8), NgramIndex(8, ("where * and * are relatively prime positive * find * + *",))
    for idx in (plain, stopped):
        idx.add("b", [bench])
    assert plain.match(stock_only) is not None and stopped.match(stock_only) is None  # stock wording only
    assert plain.match(bench.replace("now", "then")) and stopped.match(bench.replace("now", "then"))  # whole set-up
    assert plain.match(more) is not None and stopped.match(more)[2].startswith("let $x$ be real.")
    assert stopped.stock_skipped > 0 and len(stopped.grams) == len(plain.grams) - stopped.stock_skipped
    with pytest.raises(ValueError, match="fewer than n=8 words"):
        DecontaminateOptions(stop_phrases=("find the remainder",))
    assert DecontaminateOptions(stop_phrases=("aime_stock",)).expanded_stop_phrases() == AIME_STOCK_PHRASES


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


def test_released_s1k_collisions_at_13_grams_and_with_stock_phrases():
    """Reported beside the paper's 8-grams: n=13 (the common choice elsewhere) leaves 14 collisions, and the
    `aime_stock` stop phrases leave 27 at n=8. Neither loses a real overlap: every question that still
    collides at n=20, and both whole-question matches, collide under both; and every question the stop
    phrases let through shares only stock n-grams with the benchmarks."""
    key = lambda hits: {r["question_hash"] for r, _ in hits}  # noqa: E731
    at8, at13, at20 = key(s1k_collisions(8)), key(s1k_collisions(13)), key(s1k_collisions(20))
    stock_hits = s1k_collisions(8, AIME_STOCK_PHRASES)
    stock = key(stock_hits)
    assert len(at13) == 14 and len(stock) == 27
    assert at20 <= at13 <= at8 and at20 <= stock <= at8
    assert {r["question_hash"] for r, h in s1k_collisions(8) if h[2] == "<whole question>"} <= stock

    grams = set()
    for bench in ("aime24", "aime25", "math500"):
        for q in load_benchmark(bench):
            grams.update(ngrams(q, 8))
    windows = stop_windows(AIME_STOCK_PHRASES, 8)
    let_through = [r for r, _ in s1k_collisions(8) if r["question_hash"] not in stock]
    assert len(let_through) == 118 - 27
    for r in let_through:
        shared = [g for g in ngrams(r["question"], 8) if g in grams]
        assert shared and all(is_stock(g, windows) for g in shared), r["question_hash"]
