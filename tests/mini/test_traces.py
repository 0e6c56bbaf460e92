"""Teacher traces (slips, re-checks, Wait), s1K rows, the pretraining pool, and the s1data interfaces."""

from __future__ import annotations

import json
import random

import pytest

from s1eval.mini.problems import P, Problem, parse_question
from s1eval.mini.traces import (
    PLAIN,
    WAIT,
    TraceConfig,
    check_trace,
    line,
    pool_rows,
    recorded_replies,
    teacher_rows,
    write_trace,
)

S1K_COLUMNS = ["solution", "question", "cot_type", "source_type", "metadata", "cot", "thinking_trajectories",
               "attempt"]


def test_plain_trace_one_line_per_step():
    p = Problem("cube", 31, 11, 9)
    t = write_trace(p, random.Random(0), PLAIN)
    lines = t.text.split("\n")
    assert len(lines) == 3 and t.correct and t.value == p.answer
    x = 31
    for ln, n, r in zip(lines, (3, 2, 1), (11, 10, 9)):  # n: steps left, so the last line is always 01
        s = x ** 3 % P
        y = (s + r) % P
        assert ln == f"{n:02d}:{x:02d}->{s:02d}+{r:02d}={y:02d}"
        x = y
    assert t.attempt == f"Final Answer: {p.answer:02d}"
    chk = check_trace(p, t.text)
    assert chk.complete and chk.final == p.answer and not chk.errors and chk.started_right
    # a right computation from a misread question (count, x0 or r not the question's) did not start right
    for misread in (t.text.replace("03:", "02:", 1), lines[1], line(3, 30, 30 ** 3 % P, 11, (30 ** 3 + 11) % P)):
        assert not check_trace(p, misread).started_right, misread


def _rows(n=2000, **cfg):
    return teacher_rows(n, 0, TraceConfig(**cfg)) if cfg else teacher_rows(n, 0)


def test_wait_follows_slips_and_correct_steps_alike():
    rows = _rows()
    slip_waits = confirm_waits = final_confirms = double_finals = 0
    for row in rows:
        p = parse_question(row["question"])
        text = row["thinking_trajectories"][0]
        chk = check_trace(p, text)
        assert chk.complete and chk.final == p.answer and row["attempt"] == f"Final Answer: {p.answer:02d}"
        lines = text.split("\n")
        for i, ln in enumerate(lines):
            if ln.startswith(WAIT):
                redo = ln[len(WAIT):]
                # the redone step has the same count and starts from the same x, and is right
                before = lines[i - 1].removeprefix(WAIT)  # a re-check may follow a re-check
                assert redo.split("->")[0] == before.split("->")[0]
                assert check_trace(p, redo).errors == []
                if redo == before:
                    confirm_waits += 1
                    final_confirms += i == len(lines) - 1
                else:
                    slip_waits += 1
                    assert check_trace(p, lines[i - 1]).errors == [0]  # the step before it was wrong
        # the last step re-checked again and again (what a second forced Wait asks for)
        last_plain = max(i for i, ln in enumerate(lines) if not ln.startswith(WAIT))
        tail = lines[last_plain + 1:]
        if all(ln == WAIT + lines[last_plain] for ln in tail):  # (not a slip's correction)
            double_finals += len(tail) >= 2
        meta = json.loads(row["metadata"])
        assert meta["teacher_correct"] and meta["split"] == "train" and meta["domain"] == p.family
    steps = sum(json.loads(r["metadata"])["k"] for r in rows)
    # per-step rates 3% / 3% (the last step's re-check 30% per trace, and 30% again after each)
    assert 0.02 < slip_waits / steps < 0.04
    assert 0.02 < (confirm_waits - final_confirms) / steps < 0.04
    assert 0.26 < final_confirms / len(rows) < 0.34
    assert 0.06 < double_finals / len(rows) < 0.12  # 30% of the 30%
    with_slip = sum(json.loads(r["metadata"])["slips"] > 0 for r in rows) / len(rows)
    with_recheck = sum(json.loads(r["metadata"])["rechecks"] > 0 for r in rows) / len(rows)
    assert 0.15 < with_slip < 0.35 and 0.2 < with_recheck < 0.45  # k 2..16: 22% and 32% measured


def test_rates_are_configurable():
    none = _rows(300, slip_rate=0.0, recheck_rate=0.0, final_recheck_rate=0.0)
    assert not any(WAIT in r["thinking_trajectories"][0] for r in none)
    only_slips = _rows(300, slip_rate=0.2, recheck_rate=0.0, final_recheck_rate=0.0)
    assert all(json.loads(r["metadata"])["rechecks"] == 0 for r in only_slips)
    assert sum(json.loads(r["metadata"])["slips"] for r in only_slips) > 300
    with pytest.raises(ValueError, match="greedy"):
        TraceConfig(final_recheck_rate=0.5)
    with pytest.raises(ValueError):
        TraceConfig(slip_rate=1.5)


def test_uncorrected_errors_give_wrong_attempts():
    rows = _rows(200, error_rate=1.0)
    for row in rows:
        meta = json.loads(row["metadata"])
        assert not meta["teacher_correct"] and row["attempt"] != f"Final Answer: {meta['answer']:02d}"
        assert row["solution"] == str(meta["answer"])  # the reference answer stays right


def test_s1k_schema_and_distinct_train_problems():
    rows = _rows(500)
    assert all(list(r) == S1K_COLUMNS for r in rows)
    assert all(isinstance(r["thinking_trajectories"], list) and len(r["thinking_trajectories"]) == 1 for r in rows)
    assert len({r["question"] for r in rows}) == 500
    assert teacher_rows(50, 1) == teacher_rows(50, 1) != teacher_rows(50, 2)


def test_pool_plain_traces_and_answer_only_rows():
    rows = pool_rows(1000, 0)
    assert all(list(r) == S1K_COLUMNS and r["source_type"] == "s1eval.mini/pool" for r in rows)
    empty = [r for r in rows if r["thinking_trajectories"] == [""]]
    assert 0.03 < len(empty) / len(rows) < 0.08  # 5% by default
    for r in rows:
        p = parse_question(r["question"])
        assert r["attempt"] == f"Final Answer: {p.answer:02d}" and p.split == "train"
        assert WAIT not in r["thinking_trajectories"][0]
    short = pool_rows(200, 0, answer_only_share=0.0, k_range=(2, 4))
    assert all(2 <= json.loads(r["metadata"])["k"] <= 4 and r["thinking_trajectories"][0] for r in short)


def test_recorded_replies_feed_s1data_traces(tmp_path):
    from s1data.clients import make_client, prompt_hash

    rows = _rows(20)
    path = tmp_path / "replies.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recorded_replies(rows)))
    client = make_client({"kind": "recorded", "path": str(path), "model": "mini-solver"})
    replies = client.chat([r["question"] for r in rows])
    assert [(x.reasoning, x.text, x.error) for x in replies] == \
        [(r["thinking_trajectories"][0], r["attempt"], None) for r in rows]
    assert recorded_replies(rows)[0]["prompt_hash"] == prompt_hash(rows[0]["question"])


def test_training_text_with_mini_tokenizer(mini_tok):
    from s1data.stages.export import training_text

    row = _rows(1)[0]
    text = training_text(mini_tok, row["question"], row["thinking_trajectories"][0], row["attempt"])
    assert text.endswith(f"<|im_start|>think\n{row['thinking_trajectories'][0]}\n<|im_start|>answer\n"
                         f"{row['attempt']}<|im_end|>\n")  # "Answer: " is not added again
    assert "Final Answer: Final" not in text
    assert mini_tok.decode(mini_tok.encode(text, add_special_tokens=False)) == text


def test_cli_rows_feed_s1train_formatting(tmp_path, mini_tok):
    from s1eval.mini.__main__ import main
    from s1train.data import format_dataset, load_rows

    main(["teacher", str(tmp_path / "teacher.jsonl"), "--n", "20", "--replies", str(tmp_path / "replies.jsonl")])
    main(["pool", str(tmp_path / "pool.jsonl"), "--n", "40", "--answer-only-share", "0.5"])
    assert len((tmp_path / "replies.jsonl").read_text().splitlines()) == 20
    for name in ("teacher.jsonl", "pool.jsonl"):
        rows = load_rows(str(tmp_path / name))
        ds = format_dataset(rows, mini_tok)
        for row, ex in zip(rows, ds):
            assert ex["prompt"].endswith(f"{row['question']}<|im_end|>\n<|im_start|>assistant\n")
            trace = row["thinking_trajectories"][0]
            assert ex["completion"] == (f"<|im_start|>think\n{trace}\n<|im_start|>answer\n"
                                        f"{row['attempt']}<|im_end|>")
    # answer-only pool rows: an empty thinking
    assert any(ex["completion"].startswith("<|im_start|>think\n\n<|im_start|>answer\nFinal Answer: ")
               for ex in format_dataset(load_rows(str(tmp_path / "pool.jsonl")), mini_tok))
