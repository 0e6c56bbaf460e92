"""Runner contract: stats and dropped rows per stage, in = kept + dropped, skip on rerun, chunked resume."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from s1data.config import load_config, make_stage
from s1data.io import read_parquet, write_parquet
from s1data.pipeline import FilterStage, PipelineError, Stage, StageOutput, run_pipeline
from s1data.record import Drop


@dataclass(frozen=True)
class _Opts:
    chunk_size: int | None = None
    fail_at: int = -1


class Odd(FilterStage):
    name = "odd"
    Options = _Opts

    def check(self, row):
        return Drop("even") if row["i"] % 2 == 0 else None


class Lossy(Stage):
    name = "lossy"
    Options = _Opts

    def process(self, rows):
        return StageOutput(kept=rows[1:])


class Counting(Stage):
    """Marks rows; raises once at row `fail_at` to simulate a kill mid-stage."""

    name = "counting"
    Options = _Opts
    seen: list[int] = []

    def process(self, rows):
        out = []
        for r in rows:
            if r["i"] == self.options.fail_at and not getattr(Counting, "failed", False):
                Counting.failed = True
                raise KeyboardInterrupt("simulated kill")
            Counting.seen.append(r["i"])
            out.append({**r, "done": True})
        return StageOutput(kept=out)


def _input(tmp_path, n=20):
    path = tmp_path / "in.parquet"
    write_parquet(path, [{"i": i, "question": f"q{i}"} for i in range(n)])
    return str(path)


def test_stats_dropped_and_skip(tmp_path):
    src = _input(tmp_path)
    res = run_pipeline([Odd(_Opts())], tmp_path / "run", src)
    stats = json.loads((tmp_path / "run/00_odd/stats.json").read_text())
    assert (stats["in"], stats["kept"], stats["dropped"]) == (20, 10, {"even": 10})
    dropped = read_parquet(tmp_path / "run/00_odd/dropped.parquet")
    assert {r["drop_reason"] for r in dropped} == {"even"} and len(dropped) == 10
    assert not res[0].skipped
    assert run_pipeline([Odd(_Opts())], tmp_path / "run", src)[0].skipped


def test_lost_rows_raise(tmp_path):
    with pytest.raises(PipelineError, match="in=20 but kept=19"):
        run_pipeline([Lossy(_Opts())], tmp_path / "run", _input(tmp_path))


def test_interrupted_chunked_stage_resumes(tmp_path):
    src = _input(tmp_path, 20)
    Counting.seen, Counting.failed = [], False
    with pytest.raises(KeyboardInterrupt):
        run_pipeline([Counting(_Opts(chunk_size=5, fail_at=12))], tmp_path / "run", src)
    assert Counting.seen == list(range(12))  # chunks 0, 1 written; chunk 2 died at row 12
    res = run_pipeline([Counting(_Opts(chunk_size=5, fail_at=12))], tmp_path / "run", src)
    assert Counting.seen[12:] == list(range(10, 20))  # resumed at chunk 2: rows 0-9 not redone
    assert res[0].stats["kept"] == 20


def test_changed_options_recompute(tmp_path):
    src = _input(tmp_path)
    run_pipeline([make_stage("quality", {})], tmp_path / "run", src)
    res = run_pipeline([make_stage("quality", {"rules": ["asy"]})], tmp_path / "run", src)
    assert not res[0].skipped


def test_unknown_option_did_you_mean(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'benchmarks'"):
        make_stage("decontaminate", {"benchmark": ["aime24"]})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stages:\n  - selct: {}\n")
    with pytest.raises(ValueError, match="did you mean 'select'"):
        load_config(cfg)
