"""`s1eval stats` on a samples file written with the tiny model's tokenizer (tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1eval.cli import main as s1eval_main
from s1eval.stats_cli import main as stats_main
from tests.scaling.lmeval_fixtures import sample_row

THINK, ANSWER = "<|im_start|>think", "<|im_start|>answer"
NATURAL = f"{THINK}\nLet me check the sum.{ANSWER}\n42"
FORCED = f"{THINK}\nLet me check the sum. Let me check the sum.\n{ANSWER}\nFinal Answer: 42"
CUT_OFF = f"{THINK}\nLet me check the"


@pytest.fixture(scope="module")
def tok(tiny_ends):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_ends)


def count(tok, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=False))


def write_samples(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_counts_forced_answers_and_over_budget(tiny_ends, tok, tmp_path, capsys):
    rows = [sample_row("s1_aime24", 0, [1], responses=[NATURAL], gen_kwargs={"max_tokens_thinking": 8}),
            sample_row("s1_aime24", 1, [0], responses=[FORCED], gen_kwargs={"max_tokens_thinking": 8}),
            sample_row("s1_aime24", 2, [0, 1], responses=[CUT_OFF, NATURAL],
                       gen_kwargs={"max_tokens_thinking": "auto"})]
    samples = write_samples(tmp_path / "samples_s1_aime24_2026-01-01T00-00-00.0.jsonl", rows)
    out, summary = tmp_path / "rows.jsonl", tmp_path / "summary.json"
    assert stats_main([str(samples), "--tokenizer", tiny_ends, "--output", str(out), "--json", str(summary)]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    natural = count(tok, "\nLet me check the sum.")
    forced = count(tok, "\nLet me check the sum. Let me check the sum.")  # the inserted newline is not thinking
    assert [(r["doc_id"], r["repeat"], r["budget"]) for r in got] == [(0, 0, 8), (1, 0, 8), (2, 0, None), (2, 1, None)]
    assert [r["thinking_tokens"] for r in got] == [natural, forced, count(tok, "\nLet me check the"), natural]
    assert [r["answer_tokens"] for r in got] == [count(tok, "\n42"), count(tok, " 42"), 0, count(tok, "\n42")]
    assert [r["forced"] for r in got] == [False, True, False, False]
    assert [r["has_answer_delimiter"] for r in got] == [True, True, False, True]
    assert natural <= 8 < forced  # so exactly one sample is over its budget
    assert [r["over_budget"] for r in got] == [False, True, None, None]
    s = json.loads(summary.read_text())
    assert s["responses"] == 4 and s["forced"] == 1 and s["without_answer_delimiter"] == 1
    assert (s["with_known_budget"], s["over_budget"]) == (2, 1)
    assert "over budget: 1 of 2 with a known budget" in capsys.readouterr().out


def test_budget_override_and_think_tags_through_the_s1eval_command(tiny_ends, tok, tmp_path, capsys):
    rows = [sample_row("t", 0, [1], responses=["<think>\nLet me check the sum.</think>\n42"])]
    samples = write_samples(tmp_path / "fork_samples.jsonl", rows)
    assert s1eval_main(["stats", str(samples), "--tokenizer", tiny_ends, "--preset", "think_tags",
                        "--budget", "2", "--json", str(tmp_path / "s.json")]) == 0
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["thinking_tokens_mean"] == count(tok, "\nLet me check the sum.") and s["over_budget"] == 1


def test_unreadable_input(tiny_ends, tmp_path, capsys):
    bad = write_samples(tmp_path / "bad.jsonl", [{"doc_id": 0}])
    assert stats_main([str(bad), "--tokenizer", tiny_ends]) == 2
    assert "has no 'resps' or 'filtered_resps'" in capsys.readouterr().err
    assert stats_main([str(tmp_path / "missing.jsonl"), "--tokenizer", tiny_ends]) == 2


def test_agrees_with_the_sidecar_of_a_real_run(tiny_ends, tmp_path):
    # the real run's s1stats sidecar holds the engine's own counts (tests/scaling/data/README.md)
    folder = Path(__file__).parent / "data" / "lm_eval_0.4.13_s1hf_tiny" / "__tmp__tiny"
    samples = next(folder.glob("samples_*.jsonl"))
    engine = [json.loads(line) for line in next(folder.glob("s1stats_*.jsonl")).read_text().splitlines()]
    out = tmp_path / "rows.jsonl"
    assert stats_main([str(samples), "--tokenizer", tiny_ends, "--output", str(out)]) == 0
    ours = [json.loads(line) for line in out.read_text().splitlines()]
    keys = ("doc_id", "repeat", "budget", "thinking_tokens", "answer_tokens", "forced")
    assert [{k: r[k] for k in keys} for r in ours] == [{k: r[k] for k in keys} for r in engine]
