"""What a sweep calls: accuracy intervals, the paper's metrics over summary rows, and the log2 plot."""

from __future__ import annotations

import math

import pytest

from s1eval.scaling.metrics import accuracy_ci, sweep_metrics
from s1eval.scaling.statistics import bootstrap_mean_ci, wilson_interval


def row(setting, budget, accuracy, tokens, ignores=0, task="s1_aime24"):
    return {"setting": setting, "task": task, "budget": budget, "ignores": ignores, "n": 30,
            "accuracy": accuracy, "ci_low": max(0, accuracy - 0.1), "ci_high": min(1, accuracy + 0.1),
            "thinking_tokens_mean": tokens, "within_budget_share": 1.0}


def test_accuracy_ci_wilson_for_binary_bootstrap_for_means():
    assert accuracy_ci([1] * 17 + [0] * 13) == (pytest.approx(17 / 30), *wilson_interval(17, 30))
    means = [0.25, 0.5, 0.75, 1.0] * 5
    assert accuracy_ci(means) == (pytest.approx(0.625), *bootstrap_mean_ci(means))


def test_sweep_metrics_per_task():
    # token-conditional + BF data of S1_FACTS.md as a sweep: budgets are the bounds
    budgets = [1024, 2048, 4096, 8192, 16384]
    tokens = [1024, 2048, 4031, 5664, 6330]
    correct = [1, 9, 10, 10, 12]
    rows = [row(f"b{b}", b, c / 30, t) for b, t, c in zip(budgets, tokens, correct)]
    rows.append(row("other", 512, 0.5, 400, task="s1_math500"))
    metrics = sweep_metrics(rows)
    aime = metrics["s1_aime24"]
    assert aime["control"] == 100 and aime["scaling"] == pytest.approx(13, abs=0.5)
    assert aime["performance"] == pytest.approx(40) and aime["settings"] == 5 and aime["notes"] == []
    assert metrics["s1_math500"]["scaling"] is None and metrics["s1_math500"]["performance"] == 50


def test_sweep_metrics_names_what_it_leaves_out():
    rows = [row("auto", "auto", 0.5, 3000), row("b0", 0, 0.2, 0), row("b8", 8, 0.3, 8), row("b16", 16, 0.4, 16),
            {**row("nostats", 32, 0.4, None)}]
    m = sweep_metrics(rows)["s1_aime24"]
    assert m["control"] is None and m["settings"] == 4
    slopes = [10 / 1, 20 / math.log2(3000 / 8), 10 / math.log2(3000 / 16)]  # b0 left out of the log axis
    assert m["scaling"] == pytest.approx(sum(slopes) / 3)
    assert any("auto" in n for n in m["notes"]) and any("b0" in n for n in m["notes"])
    assert any("nostats" in n and "s1stats" in n for n in m["notes"])


def test_plot_is_a_png_on_a_log2_axis(tmp_path):
    pytest.importorskip("matplotlib")
    from s1eval.scaling.plot import build_figure, plot_scaling

    rows = [row(f"b{b}_i{i}", b, 0.3 + 0.01 * b ** 0.5 + 0.02 * i, b * 0.9, ignores=i)
            for b in (512, 1024, 2048) for i in (0, 2)]
    rows.append(row("zero", 0, 0.1, 0))  # cannot sit on a log axis: a dashed no-thinking line instead
    rows.append(row("m", 512, 0.9, 400, task="s1_math500"))
    rows.append({**row("m0", 1024, 0.0, 800, task="s1_math500"), "ci_low": 1e-17})  # Wilson's 0/n, rounded
    fig = build_figure(rows)
    aime, math500 = fig.axes
    assert aime.get_xscale() == "log" and aime.xaxis.get_transform().base == 2
    assert aime.xaxis.get_major_formatter()(2048, 0) == "2048"  # tokens, as in the paper's figures
    assert aime.get_title() == "s1_aime24" and math500.get_title() == "s1_math500"
    assert [t.get_text() for t in aime.get_legend().get_texts()] == ["no thinking", "0 ignored", "2 ignored"]
    assert [list(ln.get_ydata()) for ln in aime.lines if ln.get_label() == "no thinking"] == [[10.0, 10.0]]
    assert "no thinking" not in [t.get_text() for t in math500.get_legend().get_texts()]
    series = [c.lines[0] for c in aime.containers]
    assert [list(line.get_xdata()) for line in series] == [[460.8, 921.6, 1843.2]] * 2
    path = plot_scaling(rows, tmp_path / "plots" / "scaling.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="nothing to plot"):
        build_figure([row("zero", 0, 0.1, 0)])


def test_plot_warns_only_about_settings_missing_their_thinking_count(caplog):
    # budget 0 is the baseline line, not a problem; a setting without a recorded count is (a sweep redraws the
    # plot after every setting, so a warning about budget 0 would repeat all through it)
    pytest.importorskip("matplotlib")
    import logging

    from s1eval.scaling.plot import build_figure

    rows = [row("b512", 512, 0.3, 400), row("zero", 0, 0.1, 0), {**row("nostats", 256, 0.2, 0),
                                                                  "thinking_tokens_mean": None}]
    with caplog.at_level(logging.DEBUG, logger="s1eval.scaling.plot"):
        build_figure(rows)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "nostats" in warned[0], warned
    assert any("zero" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
