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

    from s1eval.sidecar import write_text_atomic

    path = tmp_path / "out" / "graded.jsonl"
    write_text_atomic(path, "x\n")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert path.read_text() == "x\n" and [p.name for p in path.parent.iterdir()] == ["graded.jsonl"]
