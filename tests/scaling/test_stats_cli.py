"""`s1eval stats` on a samples file written with the tiny model's tokenizer (tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1eval.analysis.stats import main as stats_main
from s1eval.cli import main as s1eval_main
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


# A natural end the model followed with "Final Answer:" itself, and a forced one: the same text around the
# delimiter; only the budget tells them apart (issue 18, item 4).
OWN_PREFIX = f"{THINK}\nLet me check the sum\n{ANSWER}\nFinal Answer: 42"


def recomputed(tiny_ends, tmp_path, rows, *flags):
    samples = write_samples(tmp_path / "samples.jsonl", rows)
    out, summary = tmp_path / "rows.jsonl", tmp_path / "summary.json"
    flags = ["--output", str(out), "--json", str(summary), *flags]
    assert stats_main([str(samples), "--tokenizer", tiny_ends, *flags]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()], json.loads(summary.read_text())


def test_the_budget_tells_a_forced_end_from_the_models_own_prefix(tiny_ends, tok, tmp_path, capsys):
    thinking = count(tok, "\nLet me check the sum\n")
    inserted = count(tok, "\nLet me check the sum")  # had the forced end written the newline
    assert inserted == thinking - 1
    rows = [sample_row("t", 0, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": thinking + 5}),
            sample_row("t", 1, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": inserted}),
            sample_row("t", 2, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": "auto"})]
    got, summary = recomputed(tiny_ends, tmp_path, rows)
    assert [r["forced"] for r in got] == [False, True, None]
    assert [r["thinking_tokens"] for r in got] == [thinking, inserted, None]
    assert [r["answer_tokens"] for r in got] == [count(tok, "\nFinal Answer: 42"), count(tok, " 42"), None]
    assert (summary["forced"], summary["forced_unknown"], summary["thinking_tokens_unknown"]) == (1, 1, 1)
    assert summary["thinking_tokens_mean"] == (thinking + inserted) / 2  # over the two known rows
    out = capsys.readouterr().out
    assert "forced unknown: 1" in out and "pass --budget N" in out and "(over 2; unknown for 1)" in out
    # --budget overrides every row's: now all three read as forced at that budget
    got, _ = recomputed(tiny_ends, tmp_path, rows, "--budget", str(inserted))
    assert [(r["forced"], r["budget"]) for r in got] == [(True, inserted)] * 3


def test_ignores_left_mean_forced_and_the_rows_delimiters_are_used(tiny_ends, tok, tmp_path):
    kw = {"thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"}  # no budget: auto up to the context
    once = f"{THINK}\nLet me check the sum.\nWait the sum.\n{ANSWER}\nFinal Answer: 42"
    twice = f"{THINK}\nLet me check the sum.\nWait the sum.\nWait.\n{ANSWER}\nFinal Answer: 42"
    tags = "<think>\nLet me check the sum.\n</think>\nFinal Answer: 42"
    rows = [sample_row("t", 0, [1], responses=[once], gen_kwargs=kw),
            sample_row("t", 1, [1], responses=[twice], gen_kwargs=kw),
            sample_row("t", 2, [1], responses=[tags], gen_kwargs={"max_tokens_thinking": 100,
                                                                 "delimiters": "think_tags"})]
    got, _ = recomputed(tiny_ends, tmp_path, rows)
    # one Wait of two: that end could not have been accepted, so it was forced (the budget ran out)
    assert [r["forced"] for r in got] == [True, None, False]
    assert got[0]["answer_tokens"] == count(tok, " 42")
    assert got[2]["thinking_tokens"] == count(tok, "\nLet me check the sum.\n")


def test_auto_and_lowered_budgets_are_planned_as_the_engine_plans_them(tiny_ends, tok, tmp_path):
    prompt = "Problem 0"
    start, forced_end = count(tok, THINK), count(tok, "\n") + count(tok, f"{ANSWER}\nFinal Answer:")
    rows = [sample_row("t", 0, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": "auto",
                                                                        "max_gen_toks": 200}),
            sample_row("t", 1, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": 500,
                                                                        "max_gen_toks": 200})]
    assert rows[0]["arguments"]["gen_args_0"]["arg_0"] == prompt
    lowered = 200 - start - forced_end - 100  # answer_reserve 100 (s1eval.budget.planning)
    got, _ = recomputed(tiny_ends, tmp_path, rows)
    assert [r["budget"] for r in got] == [None, lowered]  # auto needs the context length
    context = 150
    got, _ = recomputed(tiny_ends, tmp_path, rows, "--max-length", str(context))
    auto = min(200, context - count(tok, prompt)) - start - forced_end - 100
    assert [r["budget"] for r in got] == [auto, auto]


@pytest.mark.parametrize("flag,value,message", [
    ("--budget", "-3", "'-3' is not an integer >= 0; pass e.g. --budget 512"),
    ("--max-length", "0", "'0' is not an integer >= 1; pass e.g. --max-length 32768"),
])
def test_bad_numbers_are_usage_errors(tiny_ends, tmp_path, capsys, flag, value, message):
    samples = write_samples(tmp_path / "s.jsonl", [sample_row("t", 0, [1], responses=[OWN_PREFIX])])
    with pytest.raises(SystemExit) as exit_info:
        stats_main([str(samples), "--tokenizer", tiny_ends, flag, value])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_unreadable_gen_kwargs_name_the_row(tiny_ends, tmp_path, capsys):
    rows = [sample_row("t", 0, [1], responses=[OWN_PREFIX], gen_kwargs={"thinking_n_ignor": 1})]
    samples = write_samples(tmp_path / "s.jsonl", rows)
    assert stats_main([str(samples), "--tokenizer", tiny_ends]) == 2
    err = capsys.readouterr().err
    assert "s.jsonl:1: the row's gen_kwargs cannot be read" in err and "Did you mean thinking_n_ignore" in err


def test_a_row_without_budget_forcing_has_no_budget_even_with_max_length(tiny_ends, tok, tmp_path):
    plain = "Let me check the sum. The answer is 42."
    rows = [sample_row("t", 0, [1], responses=[plain]),  # gen_kwargs ask for no budget forcing
            sample_row("t", 1, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": "auto"})]
    got, summary = recomputed(tiny_ends, tmp_path, rows, "--max-length", "150")
    assert got[0]["budget"] is None and got[0]["over_budget"] is None  # not a made-up context budget
    assert got[1]["budget"] is not None  # the forcing row still gets its planned budget
    assert summary["with_known_budget"] == 1


def test_lm_evals_aliases_of_max_gen_toks_bound_the_budget_and_none_leaves_it_unknown(tiny_ends, tok, tmp_path):
    start, forced_end = count(tok, THINK), count(tok, "\n") + count(tok, f"{ANSWER}\nFinal Answer:")
    lowered = 200 - start - forced_end - 100  # as in the test above: answer_reserve 100

    def row(doc_id, **allowance):
        r = sample_row("t", doc_id, [1], responses=[OWN_PREFIX], gen_kwargs={"max_tokens_thinking": 500, **allowance})
        del r["arguments"]["gen_args_0"]["arg_1"]["max_gen_toks"]  # sample_row's default
        return r

    rows = [row(0, max_new_tokens=200), row(1, max_tokens=200), row(2, max_completion_tokens=200),
            row(3, max_new_tokens=200, max_tokens=10_000),  # lm-eval's priority: max_new_tokens first
            row(4)]  # no allowance in the file: the backend's default lowered the budget by an unknown amount
    got, _ = recomputed(tiny_ends, tmp_path, rows)
    assert [r["budget"] for r in got] == [lowered] * 4 + [None]
