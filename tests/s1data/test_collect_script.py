"""collect: the authors' per-source steps (simplescaling/s1 data/collect_data.py) beyond each loader's mapping.

- decontamination runs during collection, per source and before subsampling: a question sharing an n-gram
  with an evaluation question is dropped (`contaminated:<benchmark>`), and one sharing an n-gram with a
  question kept from an earlier source too (`overlap:<source>`), in the script's source order;
- subsampling is the seeded shuffle of `datasets` (seed 42 in the script), and keep-list questions survive it;
- the sources run in the script's order.
Input rows are real: the fixture rows of collect_fixtures.json and MATH500 rows (the openaimath schema); where
a test needs a cross-source duplicate it reuses one fixture's question in another source's schema, as the
pool's real duplicates are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1data.config import make_stage
from s1data.io import read_parquet
from s1data.pipeline import run_pipeline
from s1data.sources import SOURCES
from s1data.subsample import hf_permutation

FIXTURES = json.loads((Path(__file__).parent / "data" / "collect_fixtures.json")
                      .read_text(encoding="utf-8"))["fixtures"]


def _fixture(source: str, copied: str = "row") -> dict:
    return next(f["row"] for f in FIXTURES
                if f["source"] == source and f["copied"] == copied and "drop" not in f["expect"])


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _run(tmp_path, opts: dict):
    [res] = run_pipeline([make_stage("collect", opts, seed=42)], tmp_path / "run")
    return res, read_parquet(res.data), read_parquet(Path(res.data).parent / "dropped.parquet")


def test_sources_run_in_the_scripts_order():
    script = ["math", "olympicarena", "theoremqa", "numinamath", "omnimath", "scieval", "olympiadbench", "jeebench",
              "agieval", "s1_prob", "gpqa", "xword", "usaco", "s1_teasers", "livecodebench"]
    assert list(SOURCES)[:len(script)] == script and list(SOURCES)[-1] == "aime"


def test_decontamination_during_collection_against_benchmarks_and_earlier_sources(tmp_path):
    math_row, omni_row = _fixture("math"), _fixture("omnimath")
    # MATH holds the Omni-MATH question too (a cross-source duplicate), and a benchmark holds MATH's own
    math_rows = [math_row, {**math_row, "problem": omni_row["problem"], "unique_id": "dup"}]
    bench = _jsonl(tmp_path / "bench.jsonl", [{"problem": math_row["problem"]}])
    opts = {"sources": ["math", "omnimath"],
            "paths": {"math": _jsonl(tmp_path / "m.jsonl", math_rows),
                      "omnimath": _jsonl(tmp_path / "o.jsonl", [omni_row])},
            "decontaminate": {"n": 8, "benchmarks": [bench]}}
    res, kept, dropped = _run(tmp_path, opts)
    assert ([r["question"] for r in kept] == [omni_row["problem"]]
            and kept[0]["source_type"].startswith("qfq/openaimath"))
    assert sorted(r["drop_reason"] for r in dropped) == sorted([f"contaminated:{bench}", "overlap:math"])
    assert res.stats["extra"]["per_source"]["omnimath"]["dropped"] == {"overlap:math": 1}
    assert res.stats["extra"]["benchmarks_checked"] == {bench: 1}

    # without across_sources only the benchmark hit goes; without decontaminate nothing does
    _, kept2, _ = _run(tmp_path / "b", {**opts, "across_sources": False})
    assert len(kept2) == 2
    _, kept3, _ = _run(tmp_path / "c", {k: v for k, v in opts.items() if k != "decontaminate"})
    assert len(kept3) == 3


def _math500_rows(k: int) -> list[dict]:
    """The first k MATH500 rows (s1eval's shipped copy of prm800k math_splits/test.jsonl, the openaimath schema)."""
    from s1eval.data import shipped_rows

    rows = list(shipped_rows("math500"))[:k]
    assert len(rows) == k and {"problem", "solution", "subject"} <= set(rows[0])
    return rows


def test_subsampling_follows_decontamination_and_the_datasets_shuffle(tmp_path):
    rows = _math500_rows(40)
    perm = hf_permutation(len(rows) - 1, 42)
    bench = _jsonl(tmp_path / "bench.jsonl", [{"problem": rows[0]["problem"]}])
    opts = {"sources": ["math"], "paths": {"math": _jsonl(tmp_path / "m.jsonl", rows)}, "samples": {"math": 5},
            "decontaminate": {"benchmarks": [bench]}}
    res, kept, dropped = _run(tmp_path, opts)
    # the contaminated row goes first, then 5 of the remaining 39 in the order Dataset.shuffle(seed=42) gives
    assert [r["question"] for r in kept] == [rows[1:][i]["problem"] for i in perm[:5]]
    reasons = [r["drop_reason"] for r in dropped]
    assert reasons.count(f"contaminated:{bench}") == 1 and reasons.count("subsampled") == len(rows) - 6
    assert res.stats["kept"] == 5


def test_keep_questions_survive_subsampling(tmp_path):
    rows = _math500_rows(40)
    never_drawn = rows[hf_permutation(len(rows), 42)[-1]]["problem"]  # the last row of the shuffle
    keep = tmp_path / "keep.json"
    keep.write_text(json.dumps([never_drawn]))
    opts = {"sources": ["math"], "paths": {"math": _jsonl(tmp_path / "m.jsonl", rows)}, "samples": {"math": 3},
            "keep_questions": str(keep)}
    _, kept, _ = _run(tmp_path, opts)
    assert len(kept) == 3 and kept[-1]["question"] == never_drawn
    assert [r["question"] for r in kept[:2]] == [rows[i]["problem"] for i in hf_permutation(len(rows), 42)[:2]]


def test_bad_decontaminate_options_fail_before_loading():
    with pytest.raises(ValueError, match="collect.decontaminate: .*valid keys: n, benchmarks"):
        make_stage("collect", {"decontaminate": {"ngram": 8}})
    with pytest.raises(ValueError, match="dedup is the decontaminate stage's job"):
        make_stage("collect", {"decontaminate": {"dedup": True}})


def test_aime_is_checked_against_benchmarks_but_not_earlier_sources(tmp_path):
    """The script had no AIME loader; the 1983-2021 rows joined the pool afterwards. An AIME problem that
    MATH also holds stays; one that a benchmark holds goes."""
    aime = [next(f["row"] for f in FIXTURES if f["source"] == "aime" and f["row"]["ID"] == "2021-II-13"),
            next(f["row"] for f in FIXTURES if f["source"] == "aime" and f["row"]["ID"] == "1983-3")]
    math_row = {**_fixture("math"), "problem": aime[0]["Question"]}  # MATH holding the same AIME problem
    bench = _jsonl(tmp_path / "bench.jsonl", [{"problem": aime[1]["Question"]}])
    opts = {"sources": ["math", "aime"], "decontaminate": {"benchmarks": [bench]},
            "paths": {"math": _jsonl(tmp_path / "m.jsonl", [math_row]), "aime": _jsonl(tmp_path / "a.jsonl", aime)}}
    _, kept, dropped = _run(tmp_path, opts)
    assert [r["source_type"] for r in kept] == ["qfq/openaimath/" + math_row["subject"], "qq8933/AIME_1983_2024"]
    assert [r["drop_reason"] for r in dropped] == [f"contaminated:{bench}"]


def test_numinamath_keeps_aops_forum_and_the_keep_lists(tmp_path):
    """NuminaMath beyond aops_forum only for the listed questions (numinamath_500 or the script's keep list)."""
    aops = _fixture("numinamath", "question")
    other = {**aops, "source": "cn_k12", "problem": aops["problem"] + " (as a cn_k12 row)"}
    path = _jsonl(tmp_path / "n.jsonl", [aops, other])
    base = {"sources": ["numinamath"], "paths": {"numinamath": path}}
    _, kept, dropped = _run(tmp_path / "a", base)
    assert [r["source_type"] for r in kept] == ["AI-MO/NuminaMath-CoT/aops_forum"]
    assert [r["drop_reason"] for r in dropped] == ["numina:not_aops_forum_or_kept"]
    listed = _jsonl(tmp_path / "n500.jsonl", [{"problem": other["problem"]}])
    for extra in ({"numinamath_keep": listed}, {"keep_questions": listed}):
        _, kept, _ = _run(tmp_path / next(iter(extra)), {**base, **extra})
        assert [r["source_type"] for r in kept] == ["AI-MO/NuminaMath-CoT/aops_forum", "AI-MO/NuminaMath-CoT/cn_k12"]


def test_a_keep_list_without_questions_is_named(tmp_path):
    bad = _jsonl(tmp_path / "bad.jsonl", [{"text": "no question column"}])
    opts = {"sources": ["numinamath"],
            "paths": {"numinamath": _jsonl(tmp_path / "n.jsonl", [_fixture("numinamath", "question")])},
            "keep_questions": bad}
    with pytest.raises(ValueError, match="no `problem` or `question` string"):
        _run(tmp_path, opts)
