"""The embedded mini-s1 model (s1eval/data/mini/model): complete, loadable offline, faithful tokenizer,
in the wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from s1eval.demo import MODEL_DIR
from s1eval.mini.problems import sample_problems
from s1eval.mini.traces import ANSWER_PREFIX, TraceConfig, write_trace

REPO = Path(__file__).resolve().parents[2]
NEEDED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "MODEL_CARD.md")


def test_shipped_files_and_architecture():
    missing = [n for n in NEEDED if not (MODEL_DIR / n).is_file()]
    assert not missing, f"{MODEL_DIR} lacks {missing}; `make mini-s1` remakes and ships the model"
    cfg = json.loads((MODEL_DIR / "config.json").read_text())
    assert cfg["model_type"] == "qwen2" and cfg["hidden_size"] >= 64
    assert cfg["hidden_size"] // cfg["num_attention_heads"] >= 32  # vLLM's CPU attention
    assert (MODEL_DIR / "model.safetensors").stat().st_size < 8 * 2**20  # a few MB, as package data should be
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert "make mini-s1" in card


def test_tokenizer_round_trip_and_delimiters():
    import random

    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(MODEL_DIR)
    rng = random.Random(0)
    for p in sample_problems(20, 3, "test"):
        trace = write_trace(p, rng, TraceConfig(0.3, 0.3, 0.3))
        text = f"{p.question}\n<|im_start|>think\n{trace.text}\n<|im_start|>answer\n{ANSWER_PREFIX}{trace.value:02d}"
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text  # transformers 5 can load a tokenizer that drops spaces and newlines
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == "<|im_end|>"
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat.endswith("<|im_start|>assistant\n") and "You are Qwen" in chat


def test_the_wheel_carries_the_model():
    # hatch puts every non-ignored file of a listed package into the wheel: the model must be neither outside
    # those packages nor git-ignored (hatch honours .gitignore)
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = meta["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "s1eval" in wheel["packages"] and not wheel.get("exclude")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: .gitignore cannot be checked")
    paths = [str((MODEL_DIR / n).relative_to(REPO)) for n in NEEDED]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True).stdout
    assert not ignored.strip(), f"git-ignored, so left out of the wheel: {ignored}"


def test_demo_runs_the_real_sweep_command_on_the_embedded_model(tmp_path, capsys):
    from s1eval import demo
    from s1eval.analysis.sweep import build_parser

    args = build_parser().parse_args(demo.sweep_argv(MODEL_DIR, tmp_path, demo.BUDGETS, demo.IGNORES, 40, 64))
    assert args.model == "s1hf" and args.tasks == ["s1_mini"] and f"pretrained={MODEL_DIR}" in args.model_args
    assert 0 in args.max_tokens_thinking and len(args.max_tokens_thinking) >= 3 and args.ignores == [0, 1, 2]
    assert args.apply_chat_template and args.limit == 40
    with pytest.raises(SystemExit):
        demo.main(["--model", str(tmp_path / "nothing"), "--output", str(tmp_path / "out")])
    assert "make mini-s1" in capsys.readouterr().err


def test_the_shipped_model_has_learned_the_task():
    # A regression guard for the shipped weights (the card's numbers come from them): teacher-forced, every
    # skill of a trace line and the end of thinking; greedy, whole traces on dev problems end on the answer.
    from s1eval.mini.probe import forced_accuracy, probe

    forced = forced_accuracy(str(MODEL_DIR), n=24, seed=1)
    assert min(forced.values()) > 0.95, forced
    report, _ = probe(str(MODEL_DIR), n=24, seed=1)
    assert report.final_right / report.problems > 0.9 and report.ended == report.problems, report.format()
    assert report.started_right / report.problems > 0.9, report.format()  # it reads k, x0 and r first
