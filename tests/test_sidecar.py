"""The statistics sidecar: rows keyed by (task, doc_id, repeat), with the grader's finished flag merged in."""

from __future__ import annotations


def test_sidecar_rows_carry_the_graders_finished_flag():
    from s1eval.sidecar import finished_flags

    samples = [{"doc_id": 3, "grading": {"correct": True, "finished": True}},
               {"doc_id": 4, "grading": [{"finished": False}, {"finished": True}, {"correct": False}]},
               {"doc_id": 5, "grading": {"correct": True}}]  # an older grader: no flag, left out
    assert finished_flags(samples) == {(3, 0): True, (4, 0): False, (4, 1): True}
    assert finished_flags(None) == {}


def test_atomic_writes_get_the_mode_of_any_new_file(tmp_path):
    import os
    import stat

    from s1eval.atomic import write_text_atomic

    path = tmp_path / "out" / "graded.jsonl"
    write_text_atomic(path, "x\n")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert path.read_text() == "x\n" and [p.name for p in path.parent.iterdir()] == ["graded.jsonl"]


def test_each_model_keeps_its_own_statistics_and_the_sidecar_takes_the_saved_runs(tmp_path):
    """Two s1 models in one process (say, a user's script evaluating A, then B, without logging A's samples):
    B's sidecar holds B's rows only, matched through the key B's results carried, which never reaches a file."""
    import gc
    import json
    from types import SimpleNamespace

    from s1eval.budget.stats import StatsCollector, collector_for
    from s1eval.sidecar import on_samples_saved, take_stats_key

    def row(doc_id, thinking):
        return {"task": "t", "doc_id": doc_id, "repeat": 0, "thinking_tokens": thinking}

    a, b = StatsCollector(), StatsCollector()
    a.add_row(row(0, 111))
    b.add_row(row(0, 7))
    b.add_row(row(1, 8))
    tracker = SimpleNamespace(output_path=str(tmp_path), date_id="D",
                              general_config_tracker=SimpleNamespace(model_name_sanitized="m"))
    results = {"config": {"s1_budget_stats": {}, "s1_stats_key": b.key}}
    take_stats_key(tracker, results)
    assert "s1_stats_key" not in results["config"]  # what the tracker then writes carries no in-process key
    key = b.key
    del b
    gc.collect()  # lm-eval drops the model it built before the tracker saves its samples
    path = on_samples_saved(tracker, "t", [])
    assert [json.loads(line)["thinking_tokens"] for line in path.read_text().splitlines()] == [7, 8]
    assert collector_for(key).pop_task("t") == [] and a.pop_task("t") == [row(0, 111)]
    a.add_row(row(1, 9))
    unkeyed = SimpleNamespace(**{k: v for k, v in vars(tracker).items() if k != "_s1_stats_key"})
    assert on_samples_saved(unkeyed, "t", []) is None  # a run whose results named no s1 model: no rows
