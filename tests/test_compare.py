"""`s1eval compare` on hand-made lm-eval output folders (tests/scaling/lmeval_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1eval.analysis.compare import main as compare_main
from s1eval.cli import main as s1eval_main
from tests.scaling.lmeval_fixtures import write_run

TASK = "s1_aime24"
BASE = [1] * 20 + [0] * 10  # 20 of 30 right


def flipped(n_wrong: int) -> list[int]:
    """BASE with its first `n_wrong` right answers turned wrong."""
    return [0] * n_wrong + BASE[n_wrong:]


def run(*argv) -> int:
    return compare_main([str(a) for a in argv])


def test_ten_of_thirty_flipping_to_wrong_fails_the_gate(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, flipped(10))
    out = tmp_path / "cmp.json"
    assert run(tmp_path / "base", tmp_path / "new", "--fail-on-regression", "--json", out) == 1
    report = json.loads(out.read_text())
    task = report["tasks"][0]
    assert report["passed"] is False and task["regressed"] is True
    assert task["questions"] == 30 and task["samples_per_question"] == 1
    assert task["base_accuracy"] == pytest.approx(200 / 3) and task["delta"] == pytest.approx(-100 / 3)
    assert task["worse"] == list(range(10)) and task["better"] == []
    assert task["p_value"] == pytest.approx(2 / 2**10)  # McNemar: 10 discordant, all one way
    assert task["ci_high"] < 0  # every resample loses
    assert "REGRESSION" in capsys.readouterr().out


def test_identical_runs_pass_with_a_zero_interval(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, BASE)
    out = tmp_path / "cmp.json"
    assert run(tmp_path / "base", tmp_path / "new", "--fail-on-regression", "--json", out) == 0
    task = json.loads(out.read_text())["tasks"][0]
    assert (task["delta"], task["ci_low"], task["ci_high"], task["p_value"]) == (0, 0, 0, 1)
    assert task["worse"] == task["better"] == []


def test_without_the_flag_a_regression_is_reported_but_exits_zero(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, flipped(10))
    assert run(tmp_path / "base", tmp_path / "new") == 0
    assert "worse on 10" in capsys.readouterr().out


@pytest.mark.parametrize(("tolerance", "alpha", "status"), [
    ("0", None, 1),     # a one-question drop (3.3 points) fails at zero tolerance
    ("5", None, 0),     # ... and passes at 5 points
    ("0", "0.05", 0),   # ... and is not significant (McNemar p = 1)
])
def test_tolerance_and_significance(tmp_path, tolerance, alpha, status):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, flipped(1))
    extra = ["--alpha", alpha] if alpha else []
    assert run(tmp_path / "base", tmp_path / "new", "--fail-on-regression", "--tolerance", tolerance, *extra) == status


@pytest.mark.parametrize(("max_worse", "status"), [(None, 0), ("0", 1), ("4", 1), ("5", 0)])
def test_max_worse_fails_lost_questions_that_gains_hide(tmp_path, capsys, max_worse, status):
    """Five questions lost and five gained: no net drop, so tolerance 0 passes; a gate on the baseline's own
    model (which must reproduce every question) fails it with --max-worse 0."""
    swapped = [0] * 5 + BASE[5:20] + [1] * 5 + BASE[25:]
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, swapped)
    extra = ["--max-worse", max_worse] if max_worse else []
    out = tmp_path / "cmp.json"
    assert run(tmp_path / "base", tmp_path / "new", "--fail-on-regression", "--json", out, *extra) == status
    task = json.loads(out.read_text())["tasks"][0]
    assert task["delta"] == 0 and len(task["worse"]) == len(task["better"]) == 5 and task["regressed"] == bool(status)
    limit = f", at most {max_worse} questions worse" if max_worse else ""
    assert f"gate: {'REGRESSION' if status else 'ok'} (tolerance 0 points{limit})" in capsys.readouterr().out


def test_improvements_never_fail_the_gate(tmp_path):
    write_run(tmp_path / "base", TASK, flipped(10))
    write_run(tmp_path / "new", TASK, BASE)
    assert run(tmp_path / "base", tmp_path / "new", "--fail-on-regression") == 0


def expect_error(tmp_path, capsys, *fragments, extra=()):
    assert run(tmp_path / "base", tmp_path / "new", "--fail-on-regression", *extra) == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_different_question_sets_are_an_error_not_a_partial_comparison(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, BASE[:25])  # e.g. another --limit
    expect_error(tmp_path, capsys, "different question sets", "BASE has 30 questions, NEW 25",
                 "only in BASE: 25, 26, 27, 28, 29")


def test_same_doc_ids_with_other_questions_are_an_error(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, BASE, question_salt=" (other data file)")
    expect_error(tmp_path, capsys, "doc_hash differs", "doc 0, 1, 2, 3, 4 and 25 more")


def test_task_versions_must_match(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE, version=1.0)
    write_run(tmp_path / "new", TASK, BASE, version=2.0)
    expect_error(tmp_path, capsys, "task version differs: BASE 1.0, NEW 2.0")


def test_grader_versions_must_match(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE, grader_version=1)
    write_run(tmp_path / "new", TASK, BASE, grader_version=2)
    expect_error(tmp_path, capsys, "grader version differs: BASE 1, NEW 2")


def test_unknown_versions_need_an_explicit_flag(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    samples = write_run(tmp_path / "new", TASK, BASE, with_results=False, grader_version=None)
    expect_error(tmp_path, capsys, "task version unknown for NEW", "--allow-unknown-versions")
    assert run(tmp_path / "base", samples, "--allow-unknown-versions") == 0


def test_a_task_in_one_run_only_is_an_error_unless_selected(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "base", "s1_math500", BASE)
    write_run(tmp_path / "new", TASK, BASE)
    expect_error(tmp_path, capsys, "only in BASE ['s1_math500']")
    assert run(tmp_path / "base", tmp_path / "new", "--task", TASK) == 0
    assert run(tmp_path / "base", tmp_path / "new", "--task", "s1_math500") == 2


def test_two_runs_of_one_task_in_a_folder_are_an_error(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "base", TASK, BASE, date="2026-11-30T10-00-00.000000")
    write_run(tmp_path / "new", TASK, BASE)
    expect_error(tmp_path, capsys, "2 samples files for task 's1_aime24'")


def test_repeated_samples_are_compared_per_question(tmp_path):
    base = {d: [1, 1, 0, 0] for d in range(10)}  # each question 50%
    new = dict(base)
    new[3] = [0, 0, 0, 0]  # worse
    new[7] = [1, 1, 1, 0]  # better
    new[8] = [0, 0, 1, 1]  # same mean, different samples: not a flip
    write_run(tmp_path / "base", "s1_aime24_maj", base)
    write_run(tmp_path / "new", "s1_aime24_maj", new)
    out = tmp_path / "cmp.json"
    assert run(tmp_path / "base", tmp_path / "new", "--json", out) == 0
    task = json.loads(out.read_text())["tasks"][0]
    assert task["samples_per_question"] == 4 and task["questions"] == 10
    assert task["worse"] == [3] and task["better"] == [7]
    assert task["delta"] == pytest.approx(100 * (-0.5 + 0.25) / 10)
    assert task["p_value"] == 1.0


def test_different_repeats_are_an_error(tmp_path, capsys):
    write_run(tmp_path / "base", "s1_aime24_maj", {d: [1, 0, 1, 0] for d in range(5)})
    write_run(tmp_path / "new", "s1_aime24_maj", {d: [1, 0] for d in range(5)})
    expect_error(tmp_path, capsys, "different samples per question (doc 0: BASE 4, NEW 2)")


def test_settings_and_semantics_differences_are_notes(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE, gen_kwargs={"max_tokens_thinking": 4096})
    write_run(tmp_path / "new", TASK, BASE, gen_kwargs={"max_tokens_thinking": 8192}, semantics=2)
    assert run(tmp_path / "base", tmp_path / "new") == 0
    out = capsys.readouterr().out
    assert "setting max_tokens_thinking: BASE 4096, NEW 8192" in out
    assert "budget-semantics version differs: BASE 1, NEW 2" in out


def test_samples_files_and_the_s1eval_command(tmp_path, capsys):
    base = write_run(tmp_path / "base", TASK, BASE)
    new = write_run(tmp_path / "new", TASK, flipped(10))
    assert s1eval_main(["compare", str(base), str(new), "--fail-on-regression"]) == 1
    assert "s1_aime24: 30 questions, 1 sample each (task version 1.0, grader version 1)" in capsys.readouterr().out


REAL_RUN = Path(__file__).parent / "scaling" / "data" / "lm_eval_0.4.13_s1hf_tiny"


def test_a_real_lm_eval_output_folder(tmp_path):
    # a real `lm_eval --model s1hf ... --log_samples` output (tests/scaling/data/README.md) against itself
    out = tmp_path / "cmp.json"
    assert run(REAL_RUN, REAL_RUN, "--fail-on-regression", "--json", out) == 0
    task = json.loads(out.read_text())["tasks"][0]
    assert (task["task"], task["questions"], task["task_version"], task["grader_version"]) == ("s1_aime24", 2, 1.0, 1)
    assert task["delta"] == 0


def _flag_cut_off(samples: Path, cut: set[int]) -> None:
    """Give every grading dict of a samples file the grader's `finished` flag (False for the docs in `cut`)."""
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    for row in rows:
        for g in row["grading"] if isinstance(row["grading"], list) else [row["grading"]]:
            g["finished"] = row["doc_id"] not in cut
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_cut_off_responses_are_counted_and_named_among_the_worse(tmp_path, capsys):
    _flag_cut_off(write_run(tmp_path / "base", TASK, BASE), set())
    # NEW loses questions 0-3; its responses to 1 and 3 (and to 25, a question wrong in both) were cut off.
    _flag_cut_off(write_run(tmp_path / "new", TASK, flipped(4)), {1, 3, 25})
    out = tmp_path / "cmp.json"
    assert run(tmp_path / "base", tmp_path / "new", "--json", out) == 0
    task = json.loads(out.read_text())["tasks"][0]
    assert (task["base_cut_off"], task["new_cut_off"], task["samples"]) == (0, 3, 30)
    assert task["worse"] == [0, 1, 2, 3] and task["worse_cut_off"] == [1, 3]
    text = capsys.readouterr().out
    assert "cut off (not finished): base 0/30, new 3/30" in text
    assert "worse on 4: 0, 1, 2, 3 (cut off in new: 1, 3)" in text


def test_samples_without_the_flag_say_the_count_is_unknown(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "new", TASK, BASE)
    assert run(tmp_path / "base", tmp_path / "new") == 0
    assert "cut off (not finished): base unknown (grader without the finished flag)" in capsys.readouterr().out


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("--tolerance", "-3", "must be from 0 to 100 points (the accuracy drop the gate forgives)"),
    ("--tolerance", "nan", "must be from 0 to 100 points (the accuracy drop the gate forgives)"),
    ("--tolerance", "101", "must be from 0 to 100 points (the accuracy drop the gate forgives)"),
    ("--alpha", "0", "must be a p-value threshold above 0 and at most 1"),
    ("--max-worse", "-1", "must be a whole number >= 0 (questions allowed to get worse)"),
    ("--alpha", "1.5", "must be a p-value threshold above 0 and at most 1"),
    ("--resamples", "0", "must be a whole number >= 1"),
])
def test_gate_options_out_of_range_are_usage_errors(tmp_path, capsys, option, value, allowed):
    """A negative tolerance would fail identical runs; each is refused in one line: value, range, fix."""
    write_run(tmp_path / "base", TASK, BASE)
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path / "base", tmp_path / "base", "--fail-on-regression", option, value)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {option}: {allowed}, got {value!r}; e.g. {option} " in err


def test_an_unknown_task_lists_the_tasks_each_run_has(tmp_path, capsys):
    write_run(tmp_path / "base", TASK, BASE)
    write_run(tmp_path / "base", "s1_math500", BASE)
    write_run(tmp_path / "new", TASK, BASE)
    assert run(tmp_path / "base", tmp_path / "new", "--task", "s1_aim24") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[]" not in err
    assert (f"BASE ({tmp_path / 'base'}) has no 's1_aim24'; its tasks: s1_aime24, s1_math500 "
            "(did you mean 's1_aime24' for 's1_aim24'?)") in err
    assert f"NEW ({tmp_path / 'new'}) has no 's1_aim24'; its tasks: s1_aime24 (did you mean" in err
    assert run(tmp_path / "base", tmp_path / "new", "--task", "s1_math500") == 2
    err = capsys.readouterr().err
    assert "BASE" not in err and f"NEW ({tmp_path / 'new'}) has no 's1_math500'; its tasks: s1_aime24" in err
