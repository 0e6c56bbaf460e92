"""`s1eval report RUN...`: runs beside the paper's numbers, with 95% CIs and the run records, as markdown + JSON.

    s1eval report RUN [RUN ...] [--output DIR] [--paper PATH] [--task T ...]

Each RUN is an lm-eval output folder (every ``results_*.json`` below it is a run) or a results JSON. Per task:
accuracy (``exact_match``) with a 95% interval, Wilson from the per-question 0/1 scores (the samples file
beside the results, else the reported accuracy and sample count), a bootstrap over questions when a question's
score is a mean of repeats (the accuracy is then the mean correctness over all samples, mean_acc); then the
paper's numbers (results/paper.yaml) for the same task, model and settings (max_tokens_thinking,
thinking_n_ignore, thinking_n_ignore_str, dtype), and whether each lies inside our interval. A reference table
per task lists every paper number with its settings and their basis (stated, inferred or our reading of an
ambiguous one). The run record (versions, dtype, seeds, tokenizer and chat template hashes, task and grader
versions) closes each run. With ``--output DIR``: DIR/report.md and
DIR/report.json; otherwise the markdown goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s1eval.scaling.outputs import OutputError, load_task_run, model_args, run_settings
from s1eval.scaling.statistics import accuracy_ci, wilson_interval

MATCH_KEYS = ("max_tokens_thinking", "thinking_n_ignore", "thinking_n_ignore_str", "dtype")
RECORD_KEYS = ("s1eval_version", "budget_semantics_version", "backend", "versions", "dtype", "tensor_parallel_size",
               "batch_size", "seed", "tokenizer_name", "tokenizer_sha", "chat_template_sha")


def paper_path() -> Path:
    """results/paper.yaml of a checkout, or the copy shipped in the wheel as s1eval/paper.yaml."""
    here = Path(__file__).resolve().parents[1]  # the s1eval package
    for candidate in (here / "paper.yaml", here.parent / "results" / "paper.yaml"):
        if candidate.exists():
            return candidate
    raise OutputError("the paper's numbers (paper.yaml) are not installed; pass --paper results/paper.yaml")


def load_paper(path: Path | None = None) -> dict[str, Any]:
    """paper.yaml with each entry's named settings bundle expanded (an unknown name is an error)."""
    import yaml

    data = yaml.safe_load(Path(path or paper_path()).read_text(encoding="utf-8"))
    bundles = data.get("settings") or {}
    for entry in data["entries"]:
        name = entry.get("settings")
        if isinstance(name, str):
            if name not in bundles:
                raise OutputError(f"paper entry {entry['id']} names settings {name!r}; known: {', '.join(bundles)}")
            entry["settings_name"], entry["settings"] = name, dict(bundles[name])
    return data


def normalize(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a paper match, with defaults filled (no ignores: no ignore string)."""
    ignores = int(settings.get("thinking_n_ignore") or 0)
    return {"max_tokens_thinking": settings.get("max_tokens_thinking"), "thinking_n_ignore": ignores,
            "thinking_n_ignore_str": settings.get("thinking_n_ignore_str") if ignores else None,
            "dtype": settings.get("dtype")}


def same_model(run_model: str | None, paper_model: str | None) -> bool:
    """A local path or hub id names the paper's model when its last component matches (case-insensitive)."""
    if not run_model or not paper_model:
        return False
    return run_model.rstrip("/").split("/")[-1].lower() == paper_model.split("/")[-1].lower()


def paper_matches(paper: dict[str, Any], task: str, model: str | None, settings: dict[str, Any]) -> list[dict]:
    """Paper entries of the same task and model, each with the settings that differ from the run's."""
    ours = normalize(settings)
    out = []
    for e in paper["entries"]:
        if e["task"] != task or not same_model(model, e.get("model")):
            continue
        theirs = normalize(e.get("settings") or {})
        differs = [k for k in MATCH_KEYS if str(ours[k]) != str(theirs[k])]
        out.append({"id": e["id"], "value": e["value"], "source": e.get("source"), "differs": differs,
                    "settings_basis": e.get("settings_basis")})
    return out


def _samples_run(results_path: Path, task: str) -> Any:
    date = results_path.stem.removeprefix("results_")
    samples = results_path.parent / f"samples_{task}_{date}.jsonl"
    return load_task_run(samples, task) if samples.exists() else None


def _interval(results: dict[str, Any], task: str, samples: Any) -> tuple[int, float, float, float, str]:
    """(n, accuracy, low, high, method) from per-question scores when there are samples, else the results JSON."""
    if samples is not None:
        scores = list(samples.per_question.values())
        acc, low, high = accuracy_ci(scores)
        k = samples.samples_per_question
        if k == 1:
            return len(scores), acc, low, high, "wilson"
        # accuracy = mean correctness over each question's samples (mean_acc), not sample 1's exact_match
        return len(scores), acc, low, high, f"bootstrap, mean of {k or 'varying'} samples per question"
    metrics = results["results"][task]
    n = int(((results.get("n-samples") or {}).get(task) or {}).get("effective") or metrics.get("sample_len"))
    acc = float(metrics["exact_match,none"])
    low, high = wilson_interval(round(acc * n), n)
    return n, acc, low, high, "wilson (results JSON)"


def task_row(results: dict[str, Any], results_path: Path, task: str, paper: dict[str, Any]) -> dict[str, Any] | None:
    """One task of one run: accuracy, interval, settings, versions and paper matches (None without exact_match)."""
    if "exact_match,none" not in (results["results"].get(task) or {}):
        return None
    samples = _samples_run(results_path, task)
    n, acc, low, high, method = _interval(results, task, samples)
    settings = run_settings(results, task)
    config = results.get("config") or {}
    model = model_args(results).get("pretrained") or results.get("model_name")
    matches = paper_matches(paper, task, model, settings)
    for m in matches:
        m["inside_ci"] = 100 * low - 1e-9 <= m["value"] <= 100 * high + 1e-9
    stats = (config.get("s1_budget_stats") or {}).get(task) or {}
    return {"task": task, "version": (results.get("versions") or {}).get(task),
            "grader_version": samples.grader_version if samples is not None else None, "n": n,
            "accuracy": 100 * acc, "ci_low": 100 * low, "ci_high": 100 * high, "ci_method": method,
            "thinking_tokens_mean": stats.get("thinking_tokens_mean"), "settings": settings, "model": model,
            "cut_off": samples.cut_off_samples if samples is not None else None,
            "samples": samples.total_samples if samples is not None else None, "paper": matches}


def run_entry(results_path: Path, paper: dict[str, Any], tasks: list[str] | None) -> dict[str, Any]:
    """One results JSON as a run: model, gen_kwargs, versions, run record, budget stats and its task rows."""
    results = json.loads(results_path.read_text(encoding="utf-8"))
    config = results.get("config") or {}
    record = config.get("s1_run_record") or {}
    rows = [task_row(results, results_path, t, paper) for t in sorted(results.get("results") or {})
            if not tasks or t in tasks]
    return {"results_file": str(results_path), "model": config.get("model"),
            "model_args": model_args(results), "gen_kwargs": config.get("gen_kwargs"),
            "lm_eval_version": results.get("lm_eval_version"), "git_hash": results.get("git_hash"),
            "record": {k: record.get(k) for k in RECORD_KEYS if k in record},
            "budget_stats": config.get("s1_budget_stats"), "tasks": [r for r in rows if r]}


def find_results(path: Path) -> list[Path]:
    """The results JSON itself, or every results_*.json under a folder (sorted); OutputError when none."""
    if path.is_file():
        return [path]
    found = sorted(path.rglob("results_*.json")) if path.is_dir() else []
    if not found:
        raise OutputError(f"no results_*.json under {path}; give an lm-eval --output_path folder or results file")
    return found


def _fmt_settings(s: dict[str, Any]) -> str:
    n = normalize(s)
    if n["max_tokens_thinking"] is None and not n["thinking_n_ignore"]:
        think = "no thinking cap"
    else:
        think = f"thinking {n['max_tokens_thinking']}, {n['thinking_n_ignore']} ignored"
        if n["thinking_n_ignore_str"] is not None:
            think += f" + {n['thinking_n_ignore_str']!r}"
    return f"{think}, {n['dtype'] or 'dtype ?'}"


def _paper_cell(matches: list[dict[str, Any]]) -> str:
    exact = [m for m in matches if not m["differs"]]
    if not exact:
        return "no paper number with these settings" if matches else "-"
    return "; ".join(f"{m['value']:.1f} ({m['id']}{'' if m['inside_ci'] else ', outside CI'})" for m in exact)


def render_runs(runs: list[dict[str, Any]]) -> list[str]:
    """The markdown "Runs" section: a table row per task of each run, then what "cut off" counts."""
    lines = ["## Runs", "", "| run | model | task | n | accuracy | 95% CI | thinking (mean) | cut off | settings "
             "| paper, same settings |", "|---|---|---|---:|---:|---|---:|---:|---|---|"]
    for i, run in enumerate(runs, 1):
        for t in run["tasks"]:
            think = "-" if t["thinking_tokens_mean"] is None else f"{t['thinking_tokens_mean']:.0f}"
            versions = f"v{t['version']}, grader {t['grader_version'] if t['grader_version'] is not None else '?'}"
            cut = "?" if t.get("cut_off") is None else f"{t['cut_off']}/{t['samples']}"
            lines.append(f"| {i} | {t['model']} | {t['task']} ({versions}) | {t['n']} | {t['accuracy']:.1f} | "
                         f"[{t['ci_low']:.1f}, {t['ci_high']:.1f}] {t['ci_method']} | {think} | {cut} | "
                         f"{_fmt_settings(t['settings'])} | {_paper_cell(t['paper'])} |")
    lines += ["", "cut off: responses the grader flagged as not finished (cut off inside thinking or mid-sentence; "
              "graded wrong unless their thinking had concluded), of all responses; ? = samples without the flag."]
    return lines


def render_paper(paper: dict[str, Any], tasks: set[str]) -> list[str]:
    """The paper's numbers as markdown: a table per task of `tasks`, then the readings of ambiguous settings."""
    lines = ["## The paper's numbers", ""]
    for task in sorted(tasks):
        entries = [e for e in paper["entries"] if e["task"] == task]
        questions = (paper.get("tasks") or {}).get(task, {}).get("questions")
        if not entries:
            continue
        lines += [f"### {task}", "", "| model | value | 95% CI (Wilson) | settings | basis | source |",
                  "|---|---:|---|---|---|---|"]
        for e in entries:
            ci = "-"
            count = e["value"] * questions / 100 if questions else None
            if count is not None and abs(count - round(count)) < 0.06:  # a whole number of questions
                low, high = wilson_interval(round(count), questions)
                ci = f"[{100 * low:.1f}, {100 * high:.1f}]"
            settings = _fmt_settings(e["settings"]) if e.get("settings") else "reported (not rerunnable here)"
            lines.append(f"| {e.get('model') or e.get('label')} | {e['value']:.1f} | {ci} | {settings} | "
                         f"{e.get('settings_basis', '-')} | {e.get('source', '')} |")
        lines.append("")
    lines += ["Readings of ambiguous settings (results/paper.yaml):", ""]
    lines += [f"- **{name}**: {text}" for name, text in (paper.get("readings") or {}).items()]
    return lines


def render_records(runs: list[dict[str, Any]]) -> list[str]:
    """The markdown "Run records" section: each run's model, gen_kwargs, lm-eval version and run record."""
    lines = ["## Run records", ""]
    for i, run in enumerate(runs, 1):
        lines.append(f"### Run {i}: {run['results_file']}")
        lines.append(f"- model `{run['model']}` {json.dumps(run['model_args'])}; "
                     f"gen_kwargs {json.dumps(run['gen_kwargs'])}")
        lines.append(f"- lm-eval {run['lm_eval_version']}, git {run['git_hash']}")
        lines += [f"- {k}: {json.dumps(v)}" for k, v in run["record"].items()]
        if not run["record"]:
            lines.append("- no s1eval run record (not an s1eval backend): versions, dtype and hashes unknown")
        lines.append("")
    return lines


def render(runs: list[dict[str, Any]], paper: dict[str, Any]) -> str:
    """The whole markdown report: the runs, the paper's numbers for their tasks, and the run records."""
    tasks = {t["task"] for r in runs for t in r["tasks"]}
    lines = ["# s1eval report", "", *render_runs(runs), "", *render_paper(paper, tasks), "", *render_records(runs)]
    return "\n".join(lines).rstrip() + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `s1eval report`."""
    p = argparse.ArgumentParser(prog="s1eval report", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="lm-eval output folder or results JSON")
    p.add_argument("--output", type=Path, metavar="DIR", help="write DIR/report.md and DIR/report.json")
    p.add_argument("--paper", type=Path, help="the paper's numbers (default: results/paper.yaml)")
    p.add_argument("--task", action="append", dest="tasks", metavar="T", help="only this task (repeatable)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `s1eval report`; returns 0, or 2 on unreadable input."""
    args = build_parser().parse_args(argv)
    try:
        paper = load_paper(args.paper)
        runs = [run_entry(f, paper, args.tasks) for path in args.runs for f in find_results(path)]
    except (OutputError, OSError, json.JSONDecodeError) as err:
        print(f"s1eval report: {err}", file=sys.stderr)
        return 2
    markdown = render(runs, paper)
    if args.output is None:
        sys.stdout.write(markdown)
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "report.md").write_text(markdown, encoding="utf-8")
    payload = {"runs": runs, "paper": {t: [e for e in paper["entries"] if e["task"] == t]
                                       for t in sorted({x["task"] for r in runs for x in r["tasks"]})}}
    (args.output / "report.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"s1eval report: wrote {args.output / 'report.md'} and {args.output / 'report.json'}")
    return 0
