"""s1data.io writes through s1eval.sidecar's atomic writers: a failed write keeps the old file, leaves no temp file."""

from __future__ import annotations

import pytest

from s1data.io import read_parquet, write_json, write_parquet


def test_parquet_round_trip_and_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "sub" / "data.parquet"
    write_parquet(path, [{"question": "q1", "n": 1}, {"question": "q2"}])
    assert read_parquet(path) == [{"question": "q1", "n": 1}, {"question": "q2", "n": None}]
    with pytest.raises(TypeError, match="column 'n' mixes value types"):
        write_parquet(path, [{"n": 1}, {"n": "one"}])
    assert [r["question"] for r in read_parquet(path)] == ["q1", "q2"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.parquet"]


def test_json_is_replaced_whole(tmp_path):
    path = tmp_path / "stats.json"
    write_json(path, {"a": 1})
    write_json(path, {"b": "é"})
    assert path.read_text(encoding="utf-8") == '{\n  "b": "é"\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]
