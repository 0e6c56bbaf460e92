"""Hand-made lm-eval 0.4.13 output folders, laid out and keyed like a real `--log_samples` run.

Mimics what `lm_eval --model dummy --tasks s1_aime24 --limit 3 --log_samples --output_path OUT` writes:
``OUT/<model_name_sanitized>/results_<date>.json`` and ``samples_<task>_<date>.jsonl`` (fields doc_id, doc,
target, arguments, resps, filtered_resps, filter, metrics, doc_hash, prompt_hash, target_hash, the metric
values and our grading dict), plus s1eval's ``s1stats_<task>_<date>.jsonl`` when thinking tokens are given.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

DATE = "2026-11-29T20-49-10.548072"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _grading(correct: bool, grader_version: Any) -> dict[str, Any]:
    g = {"extracted": "42" if correct else "7", "correct": bool(correct), "method": "exact", "rule": "boxed",
         "detail": ""}
    if grader_version is not None:
        g["grader_version"] = grader_version
    return g


def sample_row(task: str, doc_id: int, correct: list[int], grader_version: Any = 1, question_salt: str = "",
               gen_kwargs: dict[str, Any] | None = None, responses: list[str] | None = None) -> dict[str, Any]:
    """One samples row; several `correct` flags make it a repeated-samples (`*_maj`) row."""
    problem = f"Problem {doc_id}{question_salt}"
    responses = responses or [f"<|im_start|>think\nthinking {doc_id}\n<|im_start|>answer\n\\boxed{{42}}"
                              for _ in correct]
    args = {"until": [], "do_sample": len(correct) > 1, "temperature": 1.0 if len(correct) > 1 else 0.0,
            "max_gen_toks": 32768, **(gen_kwargs or {})}
    row: dict[str, Any] = {
        "doc_id": doc_id, "doc": {"id": doc_id, "problem": problem, "answer": "42"}, "target": "42",
        "arguments": {"gen_args_0": {"arg_0": problem, "arg_1": args}},
        "resps": [responses], "filtered_resps": [responses] if len(correct) > 1 else [responses[0]],
        "filter": "none", "metrics": ["exact_match", "grading"],
        "doc_hash": _sha(problem), "prompt_hash": _sha("prompt" + problem), "target_hash": _sha("42"),
        "exact_match": int(correct[0]),
    }
    if len(correct) > 1:
        row["mean_acc"] = sum(correct) / len(correct)
        row["grading"] = [_grading(c, grader_version) for c in correct]
    else:
        row["grading"] = _grading(correct[0], grader_version)
    return row


def results_json(task: str, n: int, accuracy: float, version: Any = 1.0, repeats: int = 1,
                 gen_kwargs: dict[str, Any] | None = None, dtype: str = "torch.float32",
                 model: str = "/models/s1-32B", semantics: int = 1) -> dict[str, Any]:
    return {
        "results": {task: {"name": task, "alias": task, "sample_len": n, "exact_match,none": accuracy,
                           "exact_match_stderr,none": 0.0, "grading,none": 1.0, "grading_stderr,none": "N/A"}},
        "group_subtasks": {},
        "configs": {task: {"task": task, "repeats": repeats, "metadata": {"version": version},
                           "generation_kwargs": {"until": [], "do_sample": False, "temperature": 0.0,
                                                 "max_gen_toks": 32768}}},
        "versions": {task: version},
        "n-shot": {task: 0}, "higher_is_better": {task: {"exact_match": True, "grading": True}},
        "n-samples": {task: {"original": 30, "effective": n}},
        "config": {"model": "s1vllm", "model_args": {"pretrained": model}, "gen_kwargs": gen_kwargs or {},
                   "s1_run_record": {"s1eval_version": "0.1.0", "budget_semantics_version": semantics,
                                     "backend": "s1vllm", "dtype": dtype, "seed": 1234,
                                     "versions": {"lm_eval": "0.4.13"}, "tokenizer_sha": "abc"},
                   "limit": None, "random_seed": 0},
        "lm_eval_version": "0.4.13", "model_name": model, "model_name_sanitized": model.replace("/", "__"),
        "date": 1795985342.9,
    }


def write_run(out: Path, task: str, correct: dict[int, list[int]] | list[int], version: Any = 1.0,
              grader_version: Any = 1, with_results: bool = True, question_salt: str = "",
              gen_kwargs: dict[str, Any] | None = None, thinking: dict[int, list[int]] | None = None,
              date: str = DATE, model: str = "/models/s1-32B", semantics: int = 1) -> Path:
    """Write one task's run under ``out/<model>/``; returns the samples file."""
    flags = {i: [c] for i, c in enumerate(correct)} if isinstance(correct, list) else correct
    folder = Path(out) / model.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    rows = [sample_row(task, d, c, grader_version, question_salt, gen_kwargs) for d, c in sorted(flags.items())]
    samples = folder / f"samples_{task}_{date}.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if with_results:
        first = [c[0] for c in flags.values()]
        repeats = len(next(iter(flags.values())))
        res = results_json(task, len(rows), sum(first) / len(first), version, repeats, gen_kwargs, model=model,
                           semantics=semantics)
        path = folder / f"results_{date}.json"
        if path.exists():  # one results JSON per run holds every task
            old = json.loads(path.read_text())
            for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples"):
                res[key] = {**old[key], **res[key]}
        path.write_text(json.dumps(res))
    if thinking is not None:
        budget = (gen_kwargs or {}).get("max_tokens_thinking")
        stats = [{"task": task, "doc_id": d, "repeat": r, "budget": budget, "thinking_tokens": t,
                  "answer_tokens": 5, "rounds": 1, "ignores_used": 0, "forced": False, "cached_tokens": 0}
                 for d, ts in sorted(thinking.items()) for r, t in enumerate(ts)]
        (folder / f"s1stats_{task}_{date}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stats))
    return samples
