"""Write per-request budget statistics beside lm-eval's samples files.

lm-eval's `EvaluationTracker.save_results_samples` writes `samples_{task}_{date}.jsonl`; the
autoload hook calls `on_samples_saved` right after it, and we write
`s1stats_{task}_{date}.jsonl` in the same folder: one row per request, keyed by
(task, doc_id, repeat), written atomically (a temporary file renamed into place). Each row also carries
the grader's ``finished`` flag for that response, read from the samples' ``grading`` (False: cut off
inside thinking or mid-sentence), so budget statistics and truncation are read side by side.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from s1eval.atomic import write_jsonl_atomic
from s1eval.budget.stats import collector_for
from s1eval.grading import grading_items

log = logging.getLogger(__name__)


def samples_dir(tracker: Any) -> Path | None:
    """The folder lm-eval writes this tracker's samples to (mirrors save_results_samples)."""
    if not getattr(tracker, "output_path", None):
        return None
    path = Path(tracker.output_path)
    if path.suffix == ".json":
        return path.parent
    return path / str(tracker.general_config_tracker.model_name_sanitized)


def finished_flags(samples: Iterable[dict[str, Any]] | None) -> dict[tuple[int, int], bool]:
    """(doc_id, repeat) -> the grader's `finished` flag, from logged samples' ``grading`` (a dict, or a list per
    repeat for the sampling tasks); responses whose grading has no flag are left out."""
    flags: dict[tuple[int, int], bool] = {}
    for sample in samples or []:
        for repeat, item in enumerate(grading_items(sample)):
            if isinstance(item, dict) and "finished" in item and "doc_id" in sample:
                flags[(int(sample["doc_id"]), repeat)] = bool(item["finished"])
    return flags


# Set on an EvaluationTracker by `take_stats_key`: whose statistics its samples are.
_KEY_ATTR = "_s1_stats_key"


def take_stats_key(tracker: Any, results: Any) -> None:
    """Before the tracker saves a run's results: note the s1 model's statistics key (`s1_stats_key` in the
    results' config, put there by the model's get_model_info) on the tracker, and take it out of the results
    (an in-process name, meaningless in a file)."""
    config = results.get("config") if isinstance(results, dict) else None
    key = config.pop("s1_stats_key", None) if isinstance(config, dict) else None
    if key:
        setattr(tracker, _KEY_ATTR, key)


def on_samples_saved(tracker: Any, task_name: str, samples: list[dict[str, Any]] | None = None) -> Path | None:
    """Write the sidecar for `task_name` if the model whose results this tracker saved produced statistics for
    it (with `samples`' finished flags)."""
    stats = collector_for(getattr(tracker, _KEY_ATTR, None))
    rows = stats.pop_task(task_name) if stats is not None else []
    folder = samples_dir(tracker)
    if not rows or folder is None:
        return None
    flags = finished_flags(samples)
    for row in rows:
        key = (int(row.get("doc_id", -1)), int(row.get("repeat", 0)))
        if key in flags:
            row["finished"] = flags[key]
    path = folder / f"s1stats_{task_name}_{tracker.date_id}.jsonl"
    write_jsonl_atomic(path, rows)
    log.info("Wrote budget-forcing statistics of %d requests to %s", len(rows), path)
    return path
