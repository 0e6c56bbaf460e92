"""The `s1data` command: select --pool on a pool without features fails with the missing columns and the
stages that compute them; on a featurised pool it runs quality + select + export; a failing source is reported."""

from __future__ import annotations

import json

import pytest

from s1data.cli import main
from s1data.io import write_parquet
from s1data.record import make_record
from tests.s1data.conftest import featurised_pool


def test_select_pool_lists_missing_features(tmp_path, capsys):
    rows = [{**make_record(f"q{i} long enough", "1", "math", "s", "{}"), "thinking_trajectories": ["t"],
             "attempt": "a"}
            for i in range(5)]  # the s1K columns only, like simplescaling/data_ablation_full59K
    write_parquet(tmp_path / "pool.parquet", rows)
    assert main(["select", "--pool", str(tmp_path / "pool.parquet"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    for col in ("qwen7b_correct", "qwen32b_correct", "domain", "thinking_tokens", "teacher_correct"):
        assert col in err
    assert "['difficulty', 'domains']" in err


def test_select_pool_runs(tmp_path, tiny_tok, capsys):
    write_parquet(tmp_path / "pool.parquet", featurised_pool(300))
    assert main(["select", "--pool", str(tmp_path / "pool.parquet"), "--out", str(tmp_path / "o"), "--seed", "1",
                 "--set", "n=50"]) == 2  # the default export tokenizer (Qwen2.5-32B) is not available offline
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"seed: 1\nstages:\n  - select: {{n: 50}}\n  - export: {{tokenizer: {tiny_tok}}}\n")
    assert main(["select", "--pool", str(tmp_path / "pool.parquet"), "--out", str(tmp_path / "o"),
                 "--config", str(cfg)]) == 0
    summary = json.loads((tmp_path / "o/summary.json").read_text())
    assert [s["stage"] for s in summary] == ["quality", "select", "export"] and summary[-1]["kept"] == 50


def test_failing_source_is_reported(tmp_path):
    from s1data.config import make_stage
    from s1data.pipeline import run_pipeline

    with pytest.raises(RuntimeError, match="source 'aime'.*on_error: report"):
        run_pipeline([make_stage("collect", {"sources": ["aime"],
                                             "paths": {"aime": str(tmp_path / "missing.jsonl")}})],
                     tmp_path / "run")
    res = run_pipeline([make_stage("collect", {"sources": ["aime"], "on_error": "report",
                                               "paths": {"aime": str(tmp_path / "missing.jsonl")}})],
                       tmp_path / "run2")
    assert "aime" in res[0].stats["extra"]["failed_sources"]
