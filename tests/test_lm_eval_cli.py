"""The real `lm_eval` command (and `s1eval lm-eval`) in a subprocess on the tiny model."""

from __future__ import annotations

import json
import os
import signal
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

    from s1eval.budget import parse_gen_kwargs, stats_from_text

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
        cfg, _ = parse_gen_kwargs(dict(kv.split("=", 1) for kv in GEN.split(",")))
        again = stats_from_text(text, tok, budget=row["budget"], config=cfg)
        assert (again["thinking_tokens"], again["forced"]) == (row["thinking_tokens"], row["forced"])
    # The grader's finished flag reaches the sidecar, equal to the sample's own.
    assert {r["doc_id"]: r["finished"] for r in stats} == {s["doc_id"]: s["grading"]["finished"] for s in samples}
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
    """Responses in lm-eval's request cache (their statistics are stored beside them: not counted)."""
    from sqlitedict import SqliteDict

    if not db.exists():
        return 0
    try:
        with SqliteDict(str(db), flag="r", timeout=1) as cache:
            return sum(isinstance(value, str) for value in cache.values())
    except Exception:  # being created, or locked by the writer: try again
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
    stats = outputs(tmp_path / "second", "s1stats")
    # Only unfinished requests reached the engine; the finished ones' statistics came back from the cache.
    assert sum(not r.get("from_cache") for r in stats) == 4 - done
    assert sorted(r["doc_id"] for r in stats) == [0, 1, 2, 3]
    assert all(r["thinking_tokens"] == 700 and r["forced"] and r["forced_reason"] == "budget" for r in stats)
    samples = outputs(tmp_path / "second", "samples")
    assert len(samples) == 4 and all(s["resps"][0][0].startswith("<|im_start|>think") for s in samples)
    results = json.loads(sorted((tmp_path / "second").rglob("results_*.json"))[0].read_text())
    totals = results["config"]["s1_budget_stats"]["s1_aime24"]
    assert (totals["requests"], totals["from_cache"], totals["forced"]) == (4, done, 4)


@pytest.mark.slow
def test_a_fully_cached_rerun_keeps_every_statistic(tiny_ends, tmp_path):
    cache = ["--use_cache", str(tmp_path / "cache")]
    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_ends, tmp_path / "first", extra=cache)])
    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_ends, tmp_path / "second", extra=cache)])
    first, second = outputs(tmp_path / "first", "s1stats"), outputs(tmp_path / "second", "s1stats")
    assert not any(r.get("from_cache") for r in first) and all(r["from_cache"] for r in second)
    assert [{**r, "from_cache": None} for r in second] == [{**r, "from_cache": None} for r in first]
    check_run(tmp_path / "second", tiny_ends)  # totals over both requests, finished flags, ...


@pytest.mark.slow
def test_real_lm_eval_command_with_s1vllm(tiny_ends, tmp_path):
    pytest.importorskip("vllm")
    engine = ",max_model_len=2048,gpu_memory_utilization=0.15,enforce_eager=true"
    run([str(BIN / "lm_eval"), *lm_eval_args(tiny_ends, tmp_path, model="s1vllm", model_args=engine)])
    check_run(tmp_path, tiny_ends, backend="s1vllm")


# ------------------------------------------------------------------------------------ GPQA samples are hashed
GPQA_CSV = Path(__file__).parent / "grading" / "data" / "gpqa_synthetic.csv"


def _gpqa_texts() -> list[str]:
    """Every question and answer text of the synthetic GPQA file."""
    import csv

    with open(GPQA_CSV, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
    return [row[c] for row in rows for c in columns]


def _files_holding(folder: Path, texts: list[str]) -> dict[str, list[str]]:
    """{file: texts it holds} for every file under `folder` holding any of `texts`."""
    found = {}
    for path in folder.rglob("*") if folder.exists() else []:
        if path.is_file():
            data = path.read_bytes().decode("utf-8", "replace")
            hits = [t for t in texts if t in data or json.dumps(t, ensure_ascii=False)[1:-1] in data]
            if hits:
                found[str(path.relative_to(folder))] = hits
    return found


def _gpqa_run(tmp_path: Path, model_path: str, name: str, **metadata) -> tuple[Path, Path, list[dict]]:
    out, hf = tmp_path / name, tmp_path / f"{name}_hf"  # its own Hugging Face cache, to look inside afterwards
    args = ["--model", "s1hf", "--model_args", f"pretrained={model_path}", "--tasks", "s1_gpqa_diamond",
            "--limit", "2", "--apply_chat_template", "--gen_kwargs", GEN, "--log_samples", "--output_path", str(out),
            "--metadata", json.dumps({"gpqa_data": str(GPQA_CSV), **metadata})]
    run([str(BIN / "lm_eval"), *args], HF_HOME=str(hf / "home"), HF_DATASETS_CACHE=str(hf / "datasets"))
    [samples] = out.rglob("samples_s1_gpqa_diamond_*.jsonl")
    return out, hf, [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_gpqa_samples_hold_hashes_unless_opted_in(tiny_ends, tmp_path):
    from s1eval.grading.cli import main as grade_main

    texts = _gpqa_texts()
    out, hf, rows = _gpqa_run(tmp_path, tiny_ends, "hashed")
    assert len(rows) == 2
    for row in rows:
        assert row["doc"]["question"].startswith("sha256:") and len(row["doc"]["choices"]) == 4
        assert row["arguments"]["gen_args_0"]["arg_0"].startswith("sha256:")
        assert row["target"] in "ABCD" and row["resps"][0][0].startswith("<|im_start|>think")
    assert list(out.rglob("s1stats_s1_gpqa_diamond_*.jsonl"))  # the statistics sidecar is still written
    assert _files_holding(out, texts) == {}  # samples, results, sidecar: no question or choice anywhere
    assert _files_holding(hf, texts) == {}  # and no copy of the CSV in the Hugging Face cache

    # The hashed file is still re-gradable from the gold letters, with the run's verdicts.
    [samples] = out.rglob("samples_s1_gpqa_diamond_*.jsonl")
    graded = tmp_path / "graded.jsonl"
    assert grade_main(["--task", "gpqa_diamond", str(samples), "--output", str(graded)]) == 0
    regraded = [json.loads(line) for line in graded.read_text(encoding="utf-8").splitlines()]
    assert [(g["doc_id"], g["extracted"], g["correct"]) for g in regraded] == \
        [(r["doc_id"], r["grading"]["extracted"], bool(r["exact_match"])) for r in rows]

    out, _, rows = _gpqa_run(tmp_path, tiny_ends, "plain", log_plaintext=True)
    questions = texts[::5]
    assert [r["doc"]["question"] for r in rows] == [questions[r["doc_id"]] for r in rows]
    assert all(questions[r["doc_id"]] in r["arguments"]["gen_args_0"]["arg_0"] for r in rows)
    # Only the samples file holds the text (the check above can fail: here it finds it).
    assert {Path(name).name.split("_20")[0] for name in _files_holding(out, texts)} == {"samples_s1_gpqa_diamond"}


@pytest.mark.parametrize("change, expected", [
    (["--gen_kwargs", "temprature=0.6"],
     "--gen_kwargs: s1hf does not use gen_kwargs temprature (did you mean temperature?)"),
    (["--gen_kwargs", "max_tokens_thinking=abc"], "--gen_kwargs: "),
    (["--model_args", "pretrained={model},max_lenght=4096"], "max_lenght (did you mean max_length?)"),
    (["--model_args", "pretrained=/no/such/model"], "pretrained=/no/such/model does not exist"),
    (["--model_args", '{{"pretrained": "/no/such/model"}}'], "pretrained=/no/such/model does not exist"),
])
def test_s1eval_lm_eval_checks_an_s1_backends_arguments_before_the_model_loads(change, expected, tiny_ends, tmp_path,
                                                                              capsys, monkeypatch):
    import transformers

    from s1eval.cli import main

    def no_weights(*a, **k):
        raise AssertionError("weights were loaded before the arguments were checked")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_weights)
    args = {"--model": "s1hf", "--model_args": f"pretrained={tiny_ends}", "--tasks": "s1_aime24",
            "--output_path": str(tmp_path / "out")}
    args.update({change[0]: change[1].format(model=tiny_ends)})
    assert main(["lm-eval", "run", *(x for kv in args.items() for x in kv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("s1eval lm-eval: ") and expected in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
