"""The real `s1eval sweep` on the tiny model: a 3 budgets x 2 ignores grid, killed and resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_lm_eval_cli import env

S1EVAL = str(Path(sys.executable).parent / "s1eval")


def sweep_cmd(model: str, out: Path) -> list[str]:
    return [S1EVAL, "sweep", "--model", "s1hf", "--model_args", f"pretrained={model},max_length=4096",
            "--tasks", "s1_aime24", "--limit", "2", "--max-tokens-thinking", "4,8,16", "--ignores", "0,1",
            "--apply_chat_template", "--gen_kwargs", "max_gen_toks=512", "--output", str(out)]


def summary_rows(out: Path) -> list[dict]:
    return json.loads((out / "summary.json").read_text())["rows"]


@pytest.mark.slow
def test_sweep_killed_and_resumed_matches_an_uninterrupted_run(tiny_ends, tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    proc = subprocess.run(sweep_cmd(tiny_ends, whole), env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = summary_rows(whole)
    assert [r["setting"] for r in rows] == [f"budget{b}_ignore{n}" for b in (4, 8, 16) for n in (0, 1)]
    assert all(r["n"] == 2 and r["within_budget_share"] == 1.0 for r in rows)
    assert rows[0]["thinking_tokens_mean"] == 4 and rows[-1]["thinking_tokens_mean"] > 8
    assert (whole / "summary.csv").read_text().count("\n") == 7
    assert (whole / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # each setting's results JSON totals its own 2 requests (the statistics did add up across settings)
    totals = [json.loads(p.read_text())["config"]["s1_budget_stats"]["s1_aime24"]["requests"]
              for p in sorted(whole.glob("settings/*/*/results_*.json"))]
    assert totals == [2] * 6

    killed = subprocess.Popen(sweep_cmd(tiny_ends, resumed), env=env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list(resumed.glob("settings/*/done.json")) and time.time() < deadline and killed.poll() is None:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    finished = len(list(resumed.glob("settings/*/done.json")))
    assert 1 <= finished < 6, f"the kill landed after {finished} of 6 settings"
    proc = subprocess.run(sweep_cmd(tiny_ends, resumed), env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Skipping {finished} finished settings" in proc.stderr
    assert summary_rows(resumed) == rows


def test_control_baselines_are_a_grid_dimension():
    from s1eval.analysis.sweep import build_parser, settings_of

    args = build_parser().parse_args(["--model", "s1hf", "--tasks", "s1_aime24", "--output", "x",
                                      "--controls", "token:512,step:16", "--max-tokens-thinking", "none,512"])
    settings = settings_of(args)
    assert [s.name for s in settings] == ["budgetnone_ignore0_token512", "budget512_ignore0_token512",
                                          "budgetnone_ignore0_step16", "budget512_ignore0_step16"]
    assert settings[0].gen_kwargs({}) == {"control": "token:512"}
    assert settings[3].gen_kwargs({"max_gen_toks": 9}) == {"max_gen_toks": 9, "max_tokens_thinking": 512,
                                                           "control": "step:16"}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--model", "m", "--tasks", "t", "--output", "x", "--controls", "tokens:5"])
