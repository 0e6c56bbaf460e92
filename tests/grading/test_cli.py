"""`s1eval grade` logic (s1eval.grading.cli.main): lm-eval sample files and plain rows, in input order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1eval.grading.cli import main


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def read_jsonl(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_plain_rows_in_order(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"response": "so \\boxed{023}", "gold": "23"},
        {"response": "Let me think about 5 and then", "gold": "5"},
        {"response": "<|im_start|>answer\nFinal Answer: 24", "gold": "23"},
    ])
    out = tmp_path / "out.jsonl"
    assert main(["--task", "aime24", src, "--output", str(out)]) == 0
    rows = read_jsonl(out)
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert [(r["correct"], r["method"]) for r in rows] == [(True, "exact"), (False, "unextracted"), (False, "exact")]
    assert [r["finished"] for r in rows] == [True, False, True]  # the second was cut off mid-sentence
    assert "accuracy 0.3333 (1/3), unextracted 1, cut off (not finished) 1" in capsys.readouterr().err


def test_lm_eval_samples_file(tmp_path, capsys):
    # The shape lm-eval (and the s1 fork) writes with --log_samples.
    src = write_jsonl(tmp_path / "samples.jsonl", [
        {"doc_id": 7, "doc": {"answer": "\\frac{1}{2}"}, "target": "\\frac{1}{2}",
         "resps": [["The answer is $0.5$."]], "filtered_resps": ["The answer is $0.5$."]},
        {"doc_id": 3, "doc": {}, "target": "(1,2)", "resps": [["\\boxed{(2, 1)}"]]},
    ])
    assert main(["--task", "math500", src]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(x) for x in captured.out.splitlines()]
    assert [(r["doc_id"], r["correct"]) for r in rows] == [(7, True), (3, False)]
    assert "accuracy 0.5000" in captured.err


def test_gpqa_rows_with_choices(tmp_path, capsys):
    src = write_jsonl(tmp_path / "gpqa.jsonl", [
        {"response": "Answer: Paris", "gold": "B", "choices": ["London", "Paris", "Berlin", "Madrid"]},
        {"response": "I cannot decide.", "gold": "A"},
        {"response": "\\boxed{C}", "gold": "(C)"},
    ])
    assert main(["--task", "gpqa_diamond", src]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["extracted"], r["correct"], r["method"]) for r in rows] == [
        ("B", True, "exact"), (None, False, "unextracted"), ("C", True, "exact")]


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["--task", "aime24", str(tmp_path / "missing.jsonl")]) == 2
    src = write_jsonl(tmp_path / "bad.jsonl", [{"text": "no response field"}])
    assert main(["--task", "aime24", src]) == 2
    assert "neither 'response'" in capsys.readouterr().err


def test_every_repeat_of_a_sampled_row_is_graded(tmp_path, capsys):
    """A *_maj samples row (repeats=64 in the tasks) holds all repeats: lm-eval writes
    resps=[[s1, ..., sk]] and, with take_first_k, filtered_resps=[[s1, ..., sk]]."""
    samples = ["\\boxed{23}", "\\boxed{5}", "\\boxed{023}", "no answer"]
    rows = [
        {"doc_id": 0, "doc": {}, "target": "23", "resps": [samples], "filtered_resps": [samples]},
        {"doc_id": 1, "doc": {}, "target": "5", "resps": [["\\boxed{4}", "\\boxed{5}", "\\boxed{4}", "\\boxed{5}"]]},
    ]
    src, out = write_jsonl(tmp_path / "maj.jsonl", rows), tmp_path / "out.jsonl"
    assert main(["--task", "aime24", src, "--output", str(out)]) == 0
    graded = read_jsonl(out)
    assert [(r["index"], r["sample"], r["correct"]) for r in graded] == [
        (0, 0, True), (0, 1, False), (0, 2, True), (0, 3, False),
        (1, 0, False), (1, 1, True), (1, 2, False), (1, 3, True)]
    err = capsys.readouterr().err
    assert "accuracy 0.5000 (4/8)" in err
    # row 0: 23 wins 2:1; row 1: 4 and 5 tie 2:2, the first seen (4) wins
    assert "majority vote 0.5000 (1/2)" in err



def test_bad_input_is_named_before_any_grading(tmp_path, capsys):
    good = write_jsonl(tmp_path / "in.jsonl", [{"response": "\\boxed{1}", "gold": "1"}])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"response": "x", "gold": "1"}\n{"response": "cut off\n')
    assert main(["--task", "math500", str(broken)]) == 2
    assert "broken.jsonl:2 is not JSON" in capsys.readouterr().err
    # --output on the input file would replace the user's responses with grades: refused, the file untouched.
    before = Path(good).read_text()
    assert main(["--task", "math500", str(good), "--output", str(good)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert Path(good).read_text() == before
    for option, value, allowed in (("--timeout", "0", "seconds > 0"), ("--workers", "-1", "an integer > 0"),
                                   ("--workers", "two", "an integer > 0"), ("--judge-timeout", "-3", "seconds > 0"),
                                   ("--judge-retries", "-1", "an integer >= 0"),
                                   ("--judge-concurrency", "0", "an integer > 0")):
        with pytest.raises(SystemExit):
            main(["--task", "math500", str(good), option, value])
        assert f"argument {option}: must be {allowed}, got {value!r}" in capsys.readouterr().err


def test_an_empty_file_is_an_error_not_a_0_of_0_accuracy(tmp_path, capsys):
    out = tmp_path / "graded.jsonl"
    for name, text in (("empty.jsonl", ""), ("blank.jsonl", "\n  \n")):
        (tmp_path / name).write_text(text)
        assert main(["--task", "aime24", str(tmp_path / name), "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{tmp_path / name} holds no rows" in err and "0/0" not in err
        assert not out.exists()


def test_a_bad_row_is_named_by_its_line_in_the_file_and_outputs_get_the_usual_mode(tmp_path, capsys):
    """Blank lines are skipped but still counted: the error names the file's line, not the row's index."""
    import os
    import stat

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"response": "\\\\boxed{1}", "gold": "1"}\n\n\n{"response": "x", "gold": \n')
    assert main(["--task", "math500", str(broken)]) == 2
    assert f"{broken}:4 is not JSON" in capsys.readouterr().err
    src, out = write_jsonl(tmp_path / "in.jsonl", [{"response": "\\boxed{1}", "gold": "1"}]), tmp_path / "o.jsonl"
    umask = os.umask(0o022)
    os.umask(umask)
    assert main(["--task", "math500", src, "--output", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # as lm-eval's own files, not mkstemp's 0600
