"""collect: every one of the 16 loaders on fixture rows in its hub schema (tests/s1data/data/collect_fixtures.json).

Each fixture names where its row comes from and how much of it is real (`copied`: row, question, none).
Rows whose question is a released s1K question must come out with that question's hash: the loader
reproduces the authors' text exactly. Filter rows must be dropped with their reason, and every row
read must be counted as kept or dropped.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from s1data.config import make_stage
from s1data.io import read_parquet
from s1data.pipeline import run_pipeline
from s1data.record import question_hash
from s1data.sources import SOURCES, agieval_question

FIXTURES = json.loads((Path(__file__).parent / "data" / "collect_fixtures.json")
                      .read_text(encoding="utf-8"))["fixtures"]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collect")
    files: dict[str, list] = defaultdict(list)
    for f in FIXTURES:
        files[f["source"]].append({**f["row"], **({"_config": f["config"]} if f["config"] else {})})
    paths = {}
    for source, rows in files.items():
        paths[source] = str(tmp / f"{source}.jsonl")
        Path(paths[source]).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                       encoding="utf-8")
    diamond = tmp / "diamond.csv"  # a synthetic GPQA Diamond file (the real one must not be published)
    diamond.write_text("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
                       "Some other synthetic question?,a,b,c,d\n")
    [res] = run_pipeline([make_stage("collect", {"sources": sorted(paths), "paths": paths,
                                                 "gpqa_diamond_data": str(diamond)})], tmp / "run")
    return res, read_parquet(res.data)


def test_every_source_has_a_fixture_with_its_provenance():
    assert {f["source"] for f in FIXTURES} == set(SOURCES)
    for f in FIXTURES:
        assert f["copied"] in ("row", "question", "none") and len(f["provenance"]) > 40, f["source"]
    # the sources with no real row are named (and the report says why)
    assert {f["source"] for f in FIXTURES if f["copied"] == "none"} == {"usaco", "gpqa", "livecodebench"}


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if "drop" not in f["expect"]],
                         ids=lambda f: f"{f['source']}-{f['copied']}")
def test_loader_maps_the_row(fixture, collected):
    _, rows = collected
    want = fixture["expect"]
    qhash = want.get("question_hash") or question_hash(want["question"])
    [got] = [r for r in rows if r["question_hash"] == qhash and r["source_type"] == want["source_type"]]
    if "question" in want:
        assert got["question"] == want["question"]
    assert got["cot_type"] == want["cot_type"]
    if "solution" in want:
        assert got["solution"] == want["solution"]
    assert got["metadata"].startswith("{")  # str() of the remaining hub columns, as in the release


def test_filters_drop_with_their_reason_and_counts_reconcile(collected):
    res, rows = collected
    drops = Counter(f["expect"]["drop"] for f in FIXTURES if "drop" in f["expect"])
    assert res.stats["dropped"] == dict(drops)
    assert res.stats["in"] == len(FIXTURES) == res.stats["kept"] + res.stats["dropped_total"]
    per_source = res.stats["extra"]["per_source"]
    assert set(per_source) == set(SOURCES) and not res.stats["extra"]["failed_sources"]


def test_agieval_join_is_the_collect_scripts():
    """simplescaling/s1 data/collect_data.py: (passage + "\\n\\n").strip() + question + "\\n" + "\\n".join(options).
    The strip eats the separator, so passage and question touch; an empty passage leaves the question first."""
    assert agieval_question(" Rules.  ", "Which?", ["(A)x", "(B)y"]) == "Rules.Which?\n(A)x\n(B)y"
    assert agieval_question("", "Which?", ["(A)x"]) == "Which?\n(A)x"
    [lsat] = [f for f in FIXTURES if f["config"] == "lsat_ar"]
    assert "on Wednesday.Which one of the following" in lsat["expect"]["question"]
