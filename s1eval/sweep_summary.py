"""Rebuild a sweep's summary from the files its settings wrote (so a resumed sweep is complete).

For each finished setting and task: accuracy with a 95% CI (from the per-sample scores in
lm-eval's samples file), mean thinking tokens and the share of samples within the budget (from
our statistics sidecar). Writes `summary.csv` and `summary.json` atomically, plus the paper's
metrics (Control, Scaling, Performance) and the scaling plot.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any, Sequence

from s1eval.sidecar import write_text_atomic

FIELDS = ("setting", "task", "budget", "ignores", "control", "n", "accuracy", "ci_low", "ci_high",
          "thinking_tokens_mean", "within_budget_share", "forced_share")


def _latest(folder: Path, pattern: str) -> Path | None:
    files = sorted(folder.rglob(pattern))
    return files[-1] if files else None


def _read_jsonl(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def setting_rows(folder: Path, setting: Any, tasks: Sequence[str]) -> list[dict[str, Any]]:
    from s1eval.scaling.statistics import accuracy_ci

    rows = []
    for task in tasks:
        samples = _read_jsonl(_latest(folder, f"samples_{task}_*.jsonl"))
        stats = _read_jsonl(_latest(folder, f"s1stats_{task}_*.jsonl"))
        if not samples:
            continue
        scores = [float(s["exact_match"]) for s in samples]
        acc, low, high = accuracy_ci(scores)
        thinking = [r["thinking_tokens"] for r in stats]
        within = [r["budget"] is None or r["thinking_tokens"] <= r["budget"] for r in stats]
        rows.append({
            "setting": setting.name, "task": task, "budget": setting.budget, "ignores": setting.ignores,
            "control": setting.control,
            "n": len(scores), "accuracy": acc, "ci_low": low, "ci_high": high,
            "thinking_tokens_mean": statistics.fmean(thinking) if thinking else None,
            "within_budget_share": sum(within) / len(within) if within else None,
            "forced_share": sum(bool(r["forced"]) for r in stats) / len(stats) if stats else None,
        })
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'setting':<24} {'task':<16} {'n':>4} {'accuracy':>9} {'95% CI':>15} {'thinking':>9} {'within':>7}"]
    for r in rows:
        think = "-" if r["thinking_tokens_mean"] is None else f"{r['thinking_tokens_mean']:.1f}"
        within = "-" if r["within_budget_share"] is None else f"{100 * r['within_budget_share']:.0f}%"
        lines.append(f"{r['setting']:<24} {r['task']:<16} {r['n']:>4} {100 * r['accuracy']:>8.1f}% "
                     f"[{100 * r['ci_low']:5.1f}, {100 * r['ci_high']:5.1f}] {think:>9} {within:>7}")
    return "\n".join(lines)


def write_summary(out: Path, settings: Sequence[Any], plot: bool = True) -> dict[str, Any]:
    """Summarise every finished setting under `out`; return the summary with a printable table."""
    from s1eval.scaling.metrics import sweep_metrics

    rows: list[dict[str, Any]] = []
    for setting in settings:
        folder = out / "settings" / setting.name
        marker = folder / "done.json"
        if marker.exists():
            rows.extend(setting_rows(folder, setting, _read_jsonl(marker)[0]["tasks"]))
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
    return {**summary, "table": _table(rows) + "\n" + json.dumps(metrics, indent=2)}

