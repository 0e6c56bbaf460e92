"""Rebuild a sweep's summary from the files its settings wrote (so a resumed sweep is complete).

For each finished setting and task: accuracy with a 95% CI (from the per-sample scores in
lm-eval's samples file), mean thinking tokens, the share of samples within the budget and the share
whose answer was forced (from our statistics sidecar, over `stats_n` rows: fewer than `n` when some
responses came from a request cache without stored statistics, and the table says so). Writes
`summary.csv` and `summary.json` atomically, plus the paper's metrics (Control, Scaling, Performance)
and the scaling plot.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from s1eval.atomic import write_text_atomic
from s1eval.data import read_jsonl

FIELDS = ("setting", "task", "budget", "ignores", "control", "n", "accuracy", "ci_low", "ci_high",
          "stats_n", "thinking_tokens_mean", "within_budget_share", "forced_share")


def _latest(folder: Path, kind: str, task: str) -> Path | None:
    """The newest `{kind}_{task}_{date}.jsonl` below `folder`: exactly this task's, never `{task}_maj`'s."""
    name = re.compile(rf"{kind}_{re.escape(task)}_\d{{4}}-\d\d-\d\dT[\d.-]+\.jsonl")
    files = sorted(p for p in folder.rglob(f"{kind}_{task}_*.jsonl") if name.fullmatch(p.name))
    return files[-1] if files else None


def _read_jsonl(path: Path | None) -> list[dict[str, Any]]:
    return [] if path is None else read_jsonl(path)


def setting_rows(folder: Path, setting: Any, tasks: Sequence[str]) -> list[dict[str, Any]]:
    """One summary row per task with samples in a setting's folder: accuracy with its CI, and budget statistics."""
    from s1eval.scaling.statistics import accuracy_ci

    rows = []
    for task in tasks:
        samples = _read_jsonl(_latest(folder, "samples", task))
        stats = _read_jsonl(_latest(folder, "s1stats", task))
        if not samples:
            continue
        scores = [float(s["exact_match"]) for s in samples]
        acc, low, high = accuracy_ci(scores)
        thinking = [r["thinking_tokens"] for r in stats]
        within = [r["budget"] is None or r["thinking_tokens"] <= r["budget"] for r in stats]
        rows.append({
            "setting": setting.name, "task": task, "budget": setting.budget, "ignores": setting.ignores,
            "control": setting.control,
            "n": len(scores), "accuracy": acc, "ci_low": low, "ci_high": high, "stats_n": len(stats),
            "thinking_tokens_mean": statistics.fmean(thinking) if thinking else None,
            "within_budget_share": sum(within) / len(within) if within else None,
            "forced_share": sum(bool(r["forced"]) for r in stats) / len(stats) if stats else None,
        })
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _table(rows: list[dict[str, Any]]) -> str:
    """The summary as a table; budget figures over fewer rows than samples say over how many."""
    lines = [f"{'setting':<24} {'task':<16} {'n':>4} {'accuracy':>9} {'95% CI':>15} {'thinking':>9} {'within':>7} "
             f"{'forced':>7}"]
    for r in rows:
        think = "-" if r["thinking_tokens_mean"] is None else f"{r['thinking_tokens_mean']:.1f}"
        partial = f"  (budget figures over {r['stats_n']} of {r['n']})" if r["stats_n"] != r["n"] else ""
        lines.append(f"{r['setting']:<24} {r['task']:<16} {r['n']:>4} {100 * r['accuracy']:>8.1f}% "
                     f"[{100 * r['ci_low']:5.1f}, {100 * r['ci_high']:5.1f}] {think:>9} "
                     f"{_pct(r['within_budget_share']):>7} {_pct(r['forced_share']):>7}{partial}")
    return "\n".join(lines)


def _metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    """The paper's three metrics per task (Control and Performance in %, Scaling in points per doubling)."""
    lines = [f"{'task':<16} {'Control':>8} {'Scaling':>8} {'Performance':>12} {'settings':>9}"]
    notes = []
    for task, m in metrics.items():
        control = "-" if m["control"] is None else f"{m['control']:.1f}%"
        scaling = "-" if m["scaling"] is None else f"{m['scaling']:.1f}"
        perf = "-" if m["performance"] is None else f"{m['performance']:.1f}%"
        lines.append(f"{task:<16} {control:>8} {scaling:>8} {perf:>12} {m['settings']:>9}")
        notes += [f"{task}: {note}" for note in m.get("notes") or []]
    return "\n".join(lines + notes)


def progress_line(i: int, total: int, setting: str, rows: list[dict[str, Any]], seconds: float) -> str:
    """One line per finished setting: accuracy, thinking tokens and share forced per task, and the time."""
    parts = []
    for r in (r for r in rows if r["setting"] == setting):
        think = "-" if r["thinking_tokens_mean"] is None else f"{r['thinking_tokens_mean']:.1f}"
        parts.append(f"{r['task']} {100 * r['accuracy']:.1f}% [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}] "
                     f"(n={r['n']}), thinking {think}, forced {_pct(r['forced_share'])}")
    return f"[{i}/{total}] {setting}: {'; '.join(parts) or 'no samples'} ({seconds:.1f} s)"


def done_record(folder: Path) -> dict[str, Any] | None:
    """A setting folder's done marker (`done.json`, one JSON line), or None when it is absent or unreadable."""
    try:
        [record] = read_jsonl(folder / "done.json")
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_summary(out: Path, settings: Sequence[Any], plot: bool = True,
                  finished: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """Summarise every finished setting under `out` (`finished(done record)`: done under this run's identity,
    limit and tasks; default: a done marker exists); return the summary with a printable table."""
    from s1eval.scaling.metrics import sweep_metrics

    rows: list[dict[str, Any]] = []
    for setting in settings:
        folder = out / "settings" / setting.name
        record = done_record(folder)
        if record is not None and (finished is None or finished(record)):
            rows.extend(setting_rows(folder, setting, record.get("leaf_tasks") or record["tasks"]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "summary.csv", buf.getvalue())
    metrics = sweep_metrics(rows)
    summary = {"rows": rows, "metrics": metrics}
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2))
    # until a setting with thinking is done (a sweep may start at budget 0) there is nothing for a log2 axis
    if plot and any((r.get("thinking_tokens_mean") or 0) > 0 for r in rows):
        from s1eval.scaling.plot import plot_scaling

        plot_scaling(rows, out / "scaling.png")
    return {**summary, "table": _table(rows) + "\n\n" + _metrics_table(metrics)}

