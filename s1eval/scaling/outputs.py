"""Read lm-eval output folders into per-question scores, with the versions that make them comparable.

lm-eval 0.4.13 with ``--output_path OUT --log_samples`` writes, in ``OUT/<model_name_sanitized>/``:
``results_<date>.json`` (``results``, ``versions``, ``configs``, ``config``, ``n-samples``, ...) and one
``samples_<task>_<date>.jsonl`` per task (a row per question: ``doc_id``, ``doc_hash``, ``resps``,
``filter``, the metrics, and our ``grading`` dict or list); s1eval adds ``s1stats_<task>_<date>.jsonl``.
A run folder may be OUT itself, the model folder, or a single samples file (ours or the original fork's).

Per question the score is the mean correctness over its samples: the ``correct`` flags of a ``grading``
list (``*_maj`` tasks, one per repeat), else ``exact_match`` (or ``acc``) of the row. The grader's ``finished``
flags (False: the response was cut off inside thinking or mid-sentence) are counted per question when present
(grader version 2 on; older samples have none, and the count is then unknown). Rows of one question
under the same filter are pooled; more than one filter in a file is an error (choose with a file per filter).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s1eval import data
from s1eval.grading import grading_items

SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
SCORE_KEYS = ("exact_match", "acc")


class OutputError(ValueError):
    """An lm-eval output that cannot be read or used as asked (the message names the file and the fix)."""


@dataclass
class TaskRun:
    """One task of one run: per-question scores plus what identifies the protocol that produced them."""

    task: str
    samples_path: Path
    results_path: Path | None
    scores: dict[int, list[float]]  # doc_id -> correctness of each sample
    doc_hashes: dict[int, str] = field(default_factory=dict)
    grader_versions: set[Any] = field(default_factory=set)
    results: dict[str, Any] | None = None
    cut_off: dict[int, int] = field(default_factory=dict)  # doc_id -> samples not finished (grading's flag)
    finished_known: bool = False  # whether the grading dicts carry the flag at all

    @property
    def cut_off_samples(self) -> int | None:
        """How many samples were cut off (not finished), or None when the samples do not say."""
        return sum(self.cut_off.values()) if self.finished_known else None

    @property
    def total_samples(self) -> int:
        return sum(len(v) for v in self.scores.values())

    @property
    def per_question(self) -> dict[int, float]:
        return {doc: sum(v) / len(v) for doc, v in self.scores.items()}

    @property
    def samples_per_question(self) -> int | None:
        counts = {len(v) for v in self.scores.values()}
        return counts.pop() if len(counts) == 1 else None

    @property
    def task_version(self) -> Any:
        return ((self.results or {}).get("versions") or {}).get(self.task)

    @property
    def grader_version(self) -> Any:
        if len(self.grader_versions) == 1:
            return next(iter(self.grader_versions))
        record = ((self.results or {}).get("config") or {}).get("s1_run_record") or {}
        return record.get("grader_version")

    @property
    def accuracy(self) -> float:
        values = self.per_question.values()
        return sum(values) / len(values)


def parse_samples_name(path: Path) -> tuple[str, str | None]:
    """(task, date) from ``samples_<task>_<date>.jsonl``; a file named otherwise gives (stem, None)."""
    m = SAMPLES_RE.match(path.name)
    return (m["task"], m["date"]) if m else (path.stem, None)


def sidecar_path(samples_path: Path, kind: str) -> Path | None:
    """The ``results_<date>.json`` (kind "results") or ``s1stats_<task>_<date>.jsonl`` beside a samples file."""
    task, date = parse_samples_name(samples_path)
    if date is None:
        return None
    name = f"results_{date}.json" if kind == "results" else f"s1stats_{task}_{date}.jsonl"
    path = samples_path.parent / name
    return path if path.exists() else None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """`s1eval.data.read_jsonl`, its error as an OutputError."""
    try:
        return data.read_jsonl(path)
    except ValueError as err:
        raise OutputError(str(err)) from None


def row_scores(row: dict[str, Any], where: str) -> list[float]:
    """Correctness of each sample in one samples row (see the module docstring)."""
    grading = row.get("grading")
    if isinstance(grading, list) and grading and all(isinstance(g, dict) for g in grading):
        return [float(bool(g.get("correct"))) for g in grading]
    for key in SCORE_KEYS:
        if isinstance(row.get(key), (int, float, bool)):
            return [float(row[key])]
    raise OutputError(f"{where} has no per-sample score: expected a 'grading' list or one of "
                      f"{', '.join(SCORE_KEYS)}; keys are {sorted(row)}")


def row_cut_off(row: dict[str, Any]) -> int | None:
    """How many of a row's samples the grader flagged as not finished; None when its grading has no flag."""
    flags = [g["finished"] for g in grading_items(row) if isinstance(g, dict) and "finished" in g]
    return sum(not f for f in flags) if flags else None


def _grader_version(row: dict[str, Any]) -> Any:
    versions = {g.get("grader_version") for g in grading_items(row) if isinstance(g, dict)}
    return versions.pop() if len(versions) == 1 else None


def load_task_run(samples_path: Path, task: str | None = None) -> TaskRun:
    """Read one samples file (and the results JSON beside it, when there is one)."""
    rows = read_jsonl(samples_path)
    if not rows:
        raise OutputError(f"{samples_path} holds no samples; rerun lm-eval with --log_samples")
    filters = sorted({str(r.get("filter", "none")) for r in rows})
    if len(filters) > 1:
        raise OutputError(f"{samples_path} mixes filters {filters}; split it into one file per filter")
    results_path = sidecar_path(samples_path, "results")
    run = TaskRun(task or parse_samples_name(samples_path)[0], samples_path, results_path, {})
    if results_path is not None:
        run.results = json.loads(results_path.read_text(encoding="utf-8"))
    for i, row in enumerate(rows, 1):
        if "doc_id" not in row:
            raise OutputError(f"{samples_path}:{i} has no doc_id; is this an lm-eval samples file?")
        doc = int(row["doc_id"])
        run.scores.setdefault(doc, []).extend(row_scores(row, f"{samples_path}:{i}"))
        if row.get("doc_hash"):
            run.doc_hashes[doc] = str(row["doc_hash"])
        if "grading" in row:
            run.grader_versions.add(_grader_version(row))
        cut = row_cut_off(row)
        if cut is not None:
            run.finished_known = True
            run.cut_off[doc] = run.cut_off.get(doc, 0) + cut
    return run


def find_samples(path: Path) -> list[Path]:
    """Samples files of a run: the file itself, or every ``samples_*.jsonl`` below a folder."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise OutputError(f"{path} does not exist; give an lm-eval output folder or a samples_*.jsonl file")
    found = sorted(path.rglob("samples_*.jsonl"))
    if not found:
        raise OutputError(f"no samples_*.jsonl under {path}; rerun lm-eval with --log_samples")
    return found


def run_tasks(path: Path) -> list[str]:
    """The tasks a run holds, by its samples files' names (nothing is read); [] when it has none."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.rglob("samples_*.jsonl")) if path.is_dir() else []
    return sorted({parse_samples_name(f)[0] for f in files})


def load_run(path: Path, tasks: list[str] | None = None) -> dict[str, TaskRun]:
    """Every task of a run (or those in `tasks`), by task name.

    A samples file given directly takes its task from its name, or from `tasks` when exactly one is given.
    Two samples files for one task in a folder are an error, never a silent pick.
    """
    path = Path(path)
    if path.is_file():
        if tasks and len(tasks) > 1:
            raise OutputError(f"{path} is one samples file but {len(tasks)} tasks were asked for; give one task")
        run = load_task_run(path, tasks[0] if tasks else None)
        return {run.task: run}
    by_task: dict[str, list[Path]] = {}
    for f in find_samples(path):
        by_task.setdefault(parse_samples_name(f)[0], []).append(f)
    runs = {}
    for task, paths in sorted(by_task.items()):
        if tasks and task not in tasks:
            continue
        if len(paths) > 1:
            listed = ", ".join(str(p) for p in paths)
            raise OutputError(f"{path} holds {len(paths)} samples files for task {task!r} ({listed}); "
                              "point at one run's folder or file")
        runs[task] = load_task_run(paths[0], task)
    return runs


def model_args(results: dict[str, Any] | None) -> dict[str, Any]:
    """A results JSON's ``config.model_args`` as a dict.

    lm-eval stores what it was given: a dict (``simple_evaluate(model_args={...})``) or the command-line string
    ``pretrained=...,max_length=4096`` (``lm_eval --model_args``, and ``s1eval sweep``, which passes a built model
    and the string). The string is parsed as lm-eval parses it; one that does not parse gives ``{"raw": string}``.
    """
    value = ((results or {}).get("config") or {}).get("model_args")
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return {}
    from lm_eval.utils import simple_parse_args_string

    try:
        return simple_parse_args_string(value)
    except ValueError:
        return {"raw": value}


def run_settings(results: dict[str, Any] | None, task: str) -> dict[str, Any]:
    """Generation settings of a task in a results JSON: the task's generation_kwargs overlaid by --gen_kwargs."""
    if not results:
        return {}
    config = results.get("config") or {}
    task_kwargs = ((results.get("configs") or {}).get(task) or {}).get("generation_kwargs") or {}
    cli_kwargs = config.get("gen_kwargs") or {}
    settings = {**task_kwargs, **(cli_kwargs if isinstance(cli_kwargs, dict) else {})}
    record = config.get("s1_run_record") or {}
    dtype = record.get("dtype") or config.get("model_dtype")
    if dtype:
        settings["dtype"] = str(dtype).removeprefix("torch.")
    return settings
