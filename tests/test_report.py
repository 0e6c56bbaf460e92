"""`s1eval report`: runs beside the paper's numbers (results/paper.yaml), with intervals and run records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1eval.analysis.report import load_paper, normalize, same_model
from s1eval.analysis.report import main as report_main
from s1eval.cli import main as s1eval_main
from s1eval.scaling.statistics import wilson_interval
from tests.scaling.lmeval_fixtures import write_run

WAIT2 = {"max_tokens_thinking": "auto", "thinking_n_ignore": 2, "thinking_n_ignore_str": "Wait"}


def test_a_run_with_the_papers_settings_sits_beside_its_numbers(tmp_path, capsys):
    write_run(tmp_path / "run", "s1_math500", [1] * 465 + [0] * 35, gen_kwargs=WAIT2)  # 93.0%
    assert report_main([str(tmp_path / "run"), "--output", str(tmp_path / "report")]) == 0
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    task = data["runs"][0]["tasks"][0]
    assert task["accuracy"] == pytest.approx(93.0) and task["n"] == 500 and task["ci_method"] == "wilson"
    assert (task["ci_low"], task["ci_high"]) == pytest.approx(tuple(100 * x for x in wilson_interval(465, 500)))
    same = {m["id"] for m in task["paper"] if not m["differs"]}
    assert same == {"t1-s1-bf-math500", "t4-wait-math500"}
    assert all(m["inside_ci"] for m in task["paper"] if m["id"] in same)
    plain = next(m for m in task["paper"] if m["id"] == "t1-s1-nobf-math500")
    assert plain["differs"] == ["max_tokens_thinking", "thinking_n_ignore", "thinking_n_ignore_str"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| 93.0 | [90.4, 94.9] wilson |" in md
    assert "93.0 (t1-s1-bf-math500); 93.0 (t4-wait-math500)" in md
    assert "### s1_math500" in md and "**without_budget_forcing**" in md
    assert '- budget_semantics_version: 1' in md and '- dtype: "torch.float32"' in md
    assert data["paper"]["s1_math500"] and all(e["task"] == "s1_math500" for e in data["paper"]["s1_math500"])


def test_other_settings_are_said_to_have_no_paper_number(tmp_path, capsys):
    write_run(tmp_path / "run", "s1_aime24", [1] * 15 + [0] * 15, gen_kwargs={"max_tokens_thinking": 4096})
    assert report_main([str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "| 50.0 |" in out and "no paper number with these settings" in out


def test_repeats_use_a_bootstrap_and_results_only_runs_use_the_json(tmp_path, capsys):
    write_run(tmp_path / "maj", "s1_aime24_maj", {d: [1, 0, 1, 1] for d in range(6)})
    samples = write_run(tmp_path / "plain", "s1_aime24", [1] * 10 + [0] * 20)
    samples.unlink()  # a run without --log_samples
    assert report_main([str(tmp_path / "maj"), str(tmp_path / "plain"), "--output", str(tmp_path / "r")]) == 0
    runs = json.loads((tmp_path / "r" / "report.json").read_text())["runs"]
    maj, plain = runs[0]["tasks"][0], runs[1]["tasks"][0]
    assert maj["ci_method"] == "bootstrap, mean of 4 samples per question" and maj["accuracy"] == pytest.approx(75.0)
    assert maj["ci_low"] == maj["ci_high"] == pytest.approx(75.0)  # every question scores 3/4
    assert plain["ci_method"] == "wilson (results JSON)" and plain["n"] == 30 and plain["grader_version"] is None


def test_settings_normalisation_and_model_names():
    assert normalize({"thinking_n_ignore_str": "Wait"}) == {
        "max_tokens_thinking": None, "thinking_n_ignore": 0, "thinking_n_ignore_str": None, "dtype": None}
    assert same_model("/models/S1-32B/", "simplescaling/s1-32B")
    assert not same_model("/models/s1.1-32B", "simplescaling/s1-32B") and not same_model(None, "x")


def test_paper_entries_reference_known_settings(tmp_path):
    paper = tmp_path / "paper.yaml"
    paper.write_text("settings: {a: {max_tokens_thinking: auto}}\n"
                     "entries: [{id: x, task: s1_aime24, value: 1, settings: b}]\n")
    with pytest.raises(ValueError, match="paper entry x names settings 'b'; known: a"):
        load_paper(paper)


def test_errors_and_the_s1eval_command(tmp_path, capsys):
    assert report_main([str(tmp_path / "missing")]) == 2
    assert "no results_*.json under" in capsys.readouterr().err
    write_run(tmp_path / "run", "s1_aime24", [1, 0, 1])
    assert s1eval_main(["report", str(tmp_path / "run")]) == 0
    assert "# s1eval report" in capsys.readouterr().out


def test_a_real_lm_eval_output_folder(capsys):
    real = Path(__file__).parent / "scaling" / "data" / "lm_eval_0.4.13_s1hf_tiny"
    assert report_main([str(real)]) == 0
    out = capsys.readouterr().out
    assert "| /tmp/tiny | s1_aime24 (v1.0, grader 1) | 2 | 0.0 | [0.0, 65.8] wilson | 13 |" in out
    assert "thinking 16, 1 ignored + 'Wait', float32" in out and '- backend: "s1hf"' in out


def test_cut_off_responses_are_counted(tmp_path, capsys):
    from tests.test_compare import _flag_cut_off

    samples = write_run(tmp_path / "run", "s1_aime24", [1] * 15 + [0] * 15, gen_kwargs={"max_tokens_thinking": 4096})
    _flag_cut_off(samples, {20, 21, 22})
    assert report_main([str(tmp_path / "run"), "--output", str(tmp_path / "report")]) == 0
    task = json.loads((tmp_path / "report" / "report.json").read_text())["runs"][0]["tasks"][0]
    assert (task["cut_off"], task["samples"]) == (3, 30)
    assert "| 3/30 |" in (tmp_path / "report" / "report.md").read_text()
    write_run(tmp_path / "old", "s1_aime24", [1] * 30)  # samples of a grader without the flag
    assert report_main([str(tmp_path / "old")]) == 0
    assert "| ? |" in capsys.readouterr().out


def test_model_args_in_either_form_lm_eval_stores(tmp_path, capsys):
    """lm-eval keeps config.model_args as given: a dict, or the command-line string (lm_eval, s1eval sweep)."""
    from s1eval.scaling.outputs import model_args

    assert model_args({"config": {"model_args": "pretrained=/m/s1-32B,max_length=4096"}}) == {
        "pretrained": "/m/s1-32B", "max_length": 4096}
    assert model_args({"config": {"model_args": {"pretrained": "x"}}}) == {"pretrained": "x"}
    assert model_args({"config": {"model_args": ""}}) == {} == model_args({"config": {}}) == model_args(None)
    write_run(tmp_path / "run", "s1_math500", [1] * 465 + [0] * 35, gen_kwargs=WAIT2)
    results = next((tmp_path / "run").rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"]["model_args"] = "pretrained=/models/s1-32B,dtype=float32"
    results.write_text(json.dumps(data))
    assert report_main([str(tmp_path / "run"), "--output", str(tmp_path / "report")]) == 0
    run = json.loads((tmp_path / "report" / "report.json").read_text())["runs"][0]
    assert run["model_args"] == {"pretrained": "/models/s1-32B", "dtype": "float32"}
    task = run["tasks"][0]
    assert task["model"] == "/models/s1-32B" and {m["id"] for m in task["paper"] if not m["differs"]}


@pytest.mark.slow
def test_a_real_s1eval_sweep_output(tiny_ends, tmp_path, capsys):
    """`s1eval sweep` passes a built model and the model_args string to simple_evaluate: the string is what
    its results JSONs hold, and report read it as a dict (AttributeError on every sweep output)."""
    import subprocess

    from tests.test_lm_eval_cli import env
    from tests.test_sweep import S1EVAL

    out = tmp_path / "sweep"
    cmd = [S1EVAL, "sweep", "--model", "s1hf", "--model_args", f"pretrained={tiny_ends},max_length=4096",
           "--tasks", "s1_aime24", "--limit", "1", "--max-tokens-thinking", "8", "--ignores", "1",
           "--apply_chat_template", "--gen_kwargs", "max_gen_toks=256", "--output", str(out), "--no-plot"]
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = next(out.rglob("results_*.json"))
    assert isinstance(json.loads(results.read_text())["config"]["model_args"], str)  # what made report crash
    assert report_main([str(out), "--output", str(tmp_path / "report")]) == 0
    run = json.loads((tmp_path / "report" / "report.json").read_text())["runs"][0]
    assert run["model_args"] == {"pretrained": tiny_ends, "max_length": 4096}
    task = run["tasks"][0]
    assert task["model"] == tiny_ends and task["n"] == 1 and task["settings"]["max_tokens_thinking"] == 8
    md = (tmp_path / "report" / "report.md").read_text()
    assert f"| 1 | {tiny_ends} | s1_aime24 " in md and "thinking 8, 1 ignored + 'Wait'" in md
