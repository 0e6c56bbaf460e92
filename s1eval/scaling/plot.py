"""Accuracy against mean thinking tokens on a log2 axis (the paper's Figures 1 and 4), as a PNG.

`plot_scaling(rows, path)` takes sweep summary rows (``task``, ``setting``, ``accuracy``, ``ci_low``,
``ci_high`` as fractions, ``thinking_tokens_mean``, optionally ``ignores``): one panel per task, one line per
number of ignored ends (sorted by thinking tokens), 95% CIs as error bars. Settings without thinking tokens
(none recorded, or zero) cannot sit on a log axis; they are left out and logged, and a setting with zero
thinking tokens (budget 0: the no-thinking baseline) is drawn as a dashed horizontal line instead. Uses matplotlib's Agg canvas
directly (no global backend switch, no display needed); matplotlib comes with every engine extra (and the ``plot``
extra); `require_matplotlib()` checks for it before a sweep loads its model.
"""  # noqa: E501 - one prose line of the docstring is long; rewrapping it would change the docstring

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PLOT_INSTALL = 'pip install matplotlib (it comes with the engine extras, e.g. "s1-harness[hf]")'


class MissingPlotDependency(RuntimeError):
    """matplotlib is not importable; the message says what to install, or to pass --no-plot."""


def require_matplotlib() -> None:
    """Fail fast, before any model loads, when the plot cannot be drawn.

    Raises `MissingPlotDependency` with one line naming the install and the `--no-plot` way out; a sweep or the
    demo calls it at start-up unless it was told not to plot.
    """
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as err:
        raise MissingPlotDependency(
            f"the scaling plot needs matplotlib, which is not importable ({err}); {PLOT_INSTALL}, "
            "or pass --no-plot") from None


def _series(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """task -> series label -> rows on a log axis, sorted by thinking tokens."""
    out: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in rows:
        tokens = r.get("thinking_tokens_mean")
        if tokens is None or not tokens > 0:
            # zero is the no-thinking baseline, drawn as a line (`_baselines`): worth a warning only when the
            # count is missing; the plot is redrawn after every setting of a sweep, so this is said again each time
            (log.debug if tokens == 0 else log.warning)(
                "plot: setting %s of %s has no thinking tokens (%s); left out of the log2 axis",
                r.get("setting"), r.get("task"), tokens)
            continue
        label = f"{r['ignores']} ignored" if r.get("ignores") is not None else "all settings"
        out.setdefault(str(r.get("task")), {}).setdefault(label, []).append(r)
    for task in out.values():
        for label in task:
            task[label].sort(key=lambda r: r["thinking_tokens_mean"])
    return out


def _baselines(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """task -> the first setting with exactly zero thinking tokens (no thinking at all)."""
    out: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        if r.get("thinking_tokens_mean") == 0 and r.get("accuracy") is not None:
            out.setdefault(str(r.get("task")), r)
    return out


def _draw(ax: Any, task: str, series: dict[str, list[Mapping[str, Any]]],
          baseline: Mapping[str, Any] | None = None) -> None:
    if baseline is not None:
        ax.axhline(100 * baseline["accuracy"], linestyle="--", color="gray", label="no thinking")
    for label, rows in sorted(series.items()):
        x = [r["thinking_tokens_mean"] for r in rows]
        y = [100 * r["accuracy"] for r in rows]
        err = None
        if all(r.get("ci_low") is not None and r.get("ci_high") is not None for r in rows):
            # clamped: a Wilson bound of 0/n can sit a rounding error above 0, and matplotlib refuses negatives
            err = [[max(0.0, 100 * (r["accuracy"] - r["ci_low"])) for r in rows],
                   [max(0.0, 100 * (r["ci_high"] - r["accuracy"])) for r in rows]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label)
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 512, 2048 as in the paper, not 2^9
    ax.set_xlabel("Average thinking time (tokens)")
    ax.set_ylabel("Accuracy (%)")
    ax.set_title(task)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")


def build_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The matplotlib Figure of `plot_scaling` (one panel per task)."""
    from matplotlib.figure import Figure

    tasks = _series(rows)
    if not tasks:
        raise ValueError("nothing to plot: no setting has a positive mean thinking-token count "
                         "(are the s1stats sidecars missing?)")
    fig = Figure(figsize=(4.5 * len(tasks), 3.6), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    baselines = _baselines(rows)
    for ax, (task, series) in zip(axes, sorted(tasks.items())):
        _draw(ax, task, series, baselines.get(task))
    return fig


def plot_scaling(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write the accuracy-vs-thinking plot of sweep rows to `path` (PNG) and return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = build_figure(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    FigureCanvasAgg(fig).print_png(str(tmp))
    tmp.replace(path)
    return path
