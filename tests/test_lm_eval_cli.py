"""The real `lm_eval` command (and `s1eval lm-eval`) in a subprocess on the tiny model."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
GEN = "max_tokens_thinking=16,thinking_n_ignore=1,thinking_n_ignore_str=Wait"


def lm_eval_args(model_path: str, out: Path, gen_kwargs: str = GEN, limit: int = 2, extra=(),
                 model: str = "s1hf", model_args: str = "") -> list[str]:
    return ["--model", model, "--model_args", f"pretrained={model_path}{model_args}", "--tasks", "s1_aime24",
            "--limit", str(limit), "--apply_chat_template", "--gen_kwargs", gen_kwargs,
            "--log_samples", "--output_path", str(out), *extra]


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "S1EVAL_NO_AUTOLOAD"}
    e.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)
    return e


def run(cmd: list[str], **extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env(**extra), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def outputs(out: Path, kind: str) -> list[dict]:
    files = sorted(out.rglob(f"{kind}_s1_aime24_*.jsonl"))
    assert len(files) == 1, files
    return [json.loads(line) for line in files[0].read_text().splitlines()]


def check_run(out: Path, model_path: str, backend: str = "s1hf") -> None:
    from transformers import AutoTokenizer

    from s1eval.budget import stats_from_text

    tok = AutoTokenizer.from_pretrained(model_path)
    samples, stats = outputs(out, "samples"), outputs(out, "s1stats")
    assert sorted(s["doc_id"] for s in samples) == [0, 1]
    assert [(r["task"], r["doc_id"], r["repeat"]) for r in stats] == [("s1_aime24", 0, 0), ("s1_aime24", 1, 0)]
    by_doc = {s["doc_id"]: s["resps"][0][0] for s in samples}
    for row in stats:
        text = by_doc[row["doc_id"]]
        assert text.startswith("<|im_start|>think") and "<|im_start|>answer" in text
        # the tiny model ends a round after 7-10 tokens: one Wait is appended within the budget
        assert row["ignores_used"] == 1 and row["rounds"] == 2 and text.count("Wait") == 1
        assert row["thinking_tokens"] <= 16 and row["budget"] == 16
        assert row["forced"] == ("<|im_start|>answer\nFinal Answer:" in text)
        assert stats_from_text(text, tok)["thinking_tokens"] == row["thinking_tokens"]
    results = json.loads(sorted(out.rglob("results_*.json"))[0].read_text())
    record = results["config"]["s1_run_record"]
    assert record["backend"] == backend and record["dtype"] == "torch.float32"
    assert results["config"]["s1_budget_stats"]["s1_aime24"]["requests"] == 2


@pytest.mark.slow
def test_real_lm_eval_command_runs_budget_forcing(tiny_ends, tmp_path):
    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_ends, tmp_path)])
    check_run(tmp_path, tiny_ends)


@pytest.mark.slow
def test_s1eval_lm_eval_fallback_works_without_the_pth_hook(tiny_ends, tmp_path):
    run([str(BIN / "s1eval"), "lm-eval", *lm_eval_args(tiny_ends, tmp_path)], S1EVAL_NO_AUTOLOAD="1")
    check_run(tmp_path, tiny_ends)


def _cached_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("select count(*) from unnamed").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_use_cache_resumes_a_killed_run_without_regenerating(tiny_never, tmp_path):
    # The never-ending model thinks up to the whole budget: each request takes a while.
    gen = "max_tokens_thinking=700"
    cache = tmp_path / "cache"
    args = lm_eval_args(tiny_never, tmp_path / "first", gen, limit=4, extra=["--use_cache", str(cache)])
    proc = subprocess.Popen([str(BIN / "lm_eval"), *args], env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db = Path(f"{cache}_rank0.db")
    deadline = time.time() + 300
    while _cached_rows(db) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _cached_rows(db)
    assert 1 <= done < 4, f"kill landed after {done} of 4 requests; the run must be killed mid-way"
    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_never, tmp_path / "second", gen, limit=4,
                                            extra=["--use_cache", str(cache)])])
    regenerated = outputs(tmp_path / "second", "s1stats")
    assert len(regenerated) == 4 - done  # only unfinished requests reached the engine
    samples = outputs(tmp_path / "second", "samples")
    assert len(samples) == 4 and all(s["resps"][0][0].startswith("<|im_start|>think") for s in samples)


@pytest.mark.slow
def test_real_lm_eval_command_with_s1vllm(tiny_ends, tmp_path):
    pytest.importorskip("vllm")
    engine = ",max_model_len=2048,gpu_memory_utilization=0.15,enforce_eager=true"
    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_ends, tmp_path, model="s1vllm", model_args=engine)])
    check_run(tmp_path, tiny_ends, backend="s1vllm")
