"""`s1eval compare BASE NEW`: paired per-question comparison of two runs, and a regression gate for CI.

    s1eval compare BASE NEW [--task T ...] [--fail-on-regression] [--tolerance POINTS] [--alpha A] [--max-worse N]
                            [--json OUT] [--resamples 10000] [--seed 0] [--allow-unknown-versions]

BASE and NEW are lm-eval output folders (``--output_path``, possibly holding a model-name folder) or single
``samples_<task>_<date>.jsonl`` files. Per task, questions are paired by ``doc_id``; each question's score is
its mean correctness over its samples (repeated samples are compared per question, never per sample). Reported:
the accuracy delta in points with a paired-bootstrap 95% CI (questions resampled, seeded), the exact McNemar
p-value (a sign test on the questions whose score changed; McNemar itself for one sample per question), and
the questions that got worse and better, and how many responses each run had cut off (the grader's ``finished``
flag: cut off inside thinking or mid-sentence), naming the worse questions whose NEW responses were cut off (a
regression from truncation, not from wrong answers).

Refused, with the difference named (exit status 2), never compared on the overlap:
different question sets (doc_ids, or doc_hash of the same doc_id), different samples per question, tasks
present in one run only, different task versions (results JSON ``versions``) or grader versions (the samples'
``grading`` dicts, else ``config.s1_run_record.grader_version``). An unknown version (a bare samples file
without its results JSON, or the original fork's samples without ``grading``) is refused too unless
``--allow-unknown-versions``. A different budget-semantics version or different generation settings are
printed as notes (comparing settings is often the point).

Gate: with ``--fail-on-regression`` the exit status is 1 when any task's accuracy dropped by more than
``--tolerance`` points (default 0: any drop), and, with ``--alpha A``, the drop is also significant
(McNemar p < A); with ``--max-worse N``, also when more than N questions got worse, whatever the net change (a
gate on the baseline's own model, which must reproduce every question, uses ``--max-worse 0``: at tolerance 0
five questions lost and five gained would pass). Otherwise 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s1eval.argtypes import bounded
from s1eval.scaling.outputs import OutputError, TaskRun, load_run, run_settings, run_tasks
from s1eval.scaling.statistics import DEFAULT_RESAMPLES, paired_bootstrap_ci, sign_test

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR = 0, 1, 2
_SHOWN = 5  # doc_ids listed in an error message


class IncomparableError(ValueError):
    """Two runs that must not be compared; the message names the difference and the fix."""


@dataclass
class TaskComparison:
    task: str
    questions: int
    samples_per_question: int | None
    base_accuracy: float  # points
    new_accuracy: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    worse: list[int]
    better: list[int]
    task_version: Any = None
    grader_version: Any = None
    base_cut_off: int | None = None  # samples not finished (None: the samples do not say)
    new_cut_off: int | None = None
    samples: int = 0
    worse_cut_off: list[int] = field(default_factory=list)  # worse questions with a cut-off NEW response
    notes: list[str] = field(default_factory=list)
    regressed: bool = False


def _ids(ids: set[int]) -> str:
    shown = sorted(ids)[:_SHOWN]
    return ", ".join(map(str, shown)) + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


def _check_questions(task: str, base: TaskRun, new: TaskRun) -> None:
    b, n = set(base.scores), set(new.scores)
    if b != n:
        raise IncomparableError(
            f"{task}: different question sets: BASE has {len(b)} questions, NEW {len(n)}; only in BASE: "
            f"{_ids(b - n) or 'none'}; only in NEW: {_ids(n - b) or 'none'}. Rerun both on the same questions "
            "(same --limit / data).")
    changed = {d for d in b if d in base.doc_hashes and d in new.doc_hashes
               and base.doc_hashes[d] != new.doc_hashes[d]}
    if changed:
        raise IncomparableError(f"{task}: same doc_ids but different questions (doc_hash differs) for doc "
                                f"{_ids(changed)}; the runs used different data files")
    counts = {d for d in b if len(base.scores[d]) != len(new.scores[d])}
    if counts:
        d = min(counts)
        raise IncomparableError(f"{task}: different samples per question (doc {d}: BASE {len(base.scores[d])}, "
                                f"NEW {len(new.scores[d])}); compare runs of the same task variant and repeats")


def _check_version(task: str, what: str, base: Any, new: Any, allow_unknown: bool) -> None:
    unknown = [side for side, v in (("BASE", base), ("NEW", new)) if v is None]
    if unknown and not allow_unknown:
        raise IncomparableError(
            f"{task}: {what} unknown for {' and '.join(unknown)} (a samples file without its results JSON, or "
            "samples without s1eval's grading dict); compare run folders, or pass --allow-unknown-versions")
    if not unknown and base != new:
        raise IncomparableError(f"{task}: {what} differs: BASE {base!r}, NEW {new!r}; a score under another "
                                f"{what} is not comparable. Regrade or rerun one side with the same version")


def check_comparable(task: str, base: TaskRun, new: TaskRun, allow_unknown: bool = False) -> list[str]:
    """Raise IncomparableError on anything that makes a paired comparison meaningless; return notes."""
    _check_questions(task, base, new)
    for side, run in (("BASE", base), ("NEW", new)):
        if len(run.grader_versions) > 1:
            raise IncomparableError(f"{task}: {side} mixes grader versions {sorted(map(str, run.grader_versions))} "
                                    f"in {run.samples_path}; regrade it with one grader")
    _check_version(task, "task version", base.task_version, new.task_version, allow_unknown)
    _check_version(task, "grader version", base.grader_version, new.grader_version, allow_unknown)
    return _notes(task, base, new)


def _notes(task: str, base: TaskRun, new: TaskRun) -> list[str]:
    notes = []
    records = [((r.results or {}).get("config") or {}).get("s1_run_record") or {} for r in (base, new)]
    semantics = [r.get("budget_semantics_version") for r in records]
    if semantics[0] != semantics[1]:
        notes.append(f"budget-semantics version differs: BASE {semantics[0]}, NEW {semantics[1]} "
                     "(token counts and budgets mean different things)")
    settings = [run_settings(r.results, task) for r in (base, new)]
    for key in sorted(set(settings[0]) | set(settings[1])):
        if settings[0].get(key) != settings[1].get(key):
            notes.append(f"setting {key}: BASE {settings[0].get(key)!r}, NEW {settings[1].get(key)!r}")
    return notes


def compare_task(task: str, base: TaskRun, new: TaskRun, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                 allow_unknown: bool = False) -> TaskComparison:
    """The paired comparison of one task (raises IncomparableError first if it is not meaningful)."""
    notes = check_comparable(task, base, new, allow_unknown)
    docs = sorted(base.scores)
    b = [base.per_question[d] for d in docs]
    n = [new.per_question[d] for d in docs]
    low, high = paired_bootstrap_ci(b, n, resamples=resamples, seed=seed)
    _, _, p = sign_test(b, n)
    return TaskComparison(
        task=task, questions=len(docs), samples_per_question=base.samples_per_question,
        base_accuracy=100 * sum(b) / len(b), new_accuracy=100 * sum(n) / len(n),
        delta=100 * (sum(n) - sum(b)) / len(b), ci_low=100 * low, ci_high=100 * high, p_value=p,
        worse=[d for d, x, y in zip(docs, b, n) if y < x], better=[d for d, x, y in zip(docs, b, n) if y > x],
        task_version=base.task_version, grader_version=base.grader_version, notes=notes,
        base_cut_off=base.cut_off_samples, new_cut_off=new.cut_off_samples, samples=new.total_samples,
        worse_cut_off=[d for d, x, y in zip(docs, b, n) if y < x and new.cut_off.get(d, 0) > 0])


def compare_runs(base: dict[str, TaskRun], new: dict[str, TaskRun], **kwargs: Any) -> list[TaskComparison]:
    """Compare every task of two runs; a task present in one run only is an error."""
    if set(base) != set(new):
        raise IncomparableError(
            f"the runs hold different tasks: only in BASE {sorted(set(base) - set(new)) or 'none'}, only in NEW "
            f"{sorted(set(new) - set(base)) or 'none'}; pass --task for the tasks to compare")
    return [compare_task(t, base[t], new[t], **kwargs) for t in sorted(base)]


def apply_gate(results: list[TaskComparison], tolerance: float, alpha: float | None,
               max_worse: int | None = None) -> bool:
    """Mark regressed tasks; True when none regressed."""
    for r in results:
        dropped = r.delta < -tolerance - 1e-9 and (alpha is None or r.p_value < alpha)
        r.regressed = dropped or (max_worse is not None and len(r.worse) > max_worse)
    return not any(r.regressed for r in results)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `s1eval compare`."""
    p = argparse.ArgumentParser(prog="s1eval compare", description=__doc__.split("\n\n")[0])
    p.add_argument("base", type=Path, help="baseline: lm-eval output folder or samples file")
    p.add_argument("new", type=Path, help="candidate: lm-eval output folder or samples file")
    p.add_argument("--task", action="append", dest="tasks", metavar="T",
                   help="compare only this task (repeatable; comma-separated lists work too)")
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a task regressed")
    p.add_argument("--tolerance", default=0.0, metavar="POINTS",
                   type=bounded(float, lambda x: 0 <= x <= 100, "from 0 to 100 points (the accuracy "
                                "drop the gate forgives)", "e.g. --tolerance 3.4 forgives one AIME question, "
                                "--tolerance 0 fails any drop"),
                   help="accuracy drop in points tolerated by the gate (default 0)")
    p.add_argument("--alpha", default=None,
                   type=bounded(float, lambda x: 0 < x <= 1, "a p-value threshold above 0 and at most 1",
                                "e.g. --alpha 0.05, or leave it out to fail any drop beyond --tolerance"),
                   help="also require McNemar p < ALPHA for a regression (default: any drop beyond tolerance)")
    p.add_argument("--max-worse", default=None, metavar="N",
                   type=bounded(int, lambda x: x >= 0, "a whole number >= 0 (questions allowed to get worse)",
                                "e.g. --max-worse 0 when the candidate must reproduce the baseline"),
                   help="also fail when more than N questions got worse, whatever the net change (default: no limit)")
    p.add_argument("--json", type=Path, dest="json_out", metavar="OUT", help="write the full comparison as JSON")
    p.add_argument("--resamples", default=DEFAULT_RESAMPLES, help="bootstrap resamples (default 10000)",
                   type=bounded(int, lambda x: x >= 1, "a whole number >= 1", "e.g. --resamples 10000"))
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--allow-unknown-versions", action="store_true",
                   help="compare even when a task or grader version cannot be read (e.g. the fork's samples)")
    return p


def _tasks(args: argparse.Namespace) -> list[str] | None:
    if not args.tasks:
        return None
    return [t.strip() for item in args.tasks for t in item.split(",") if t.strip()]


def _count(part: int | None, total: int) -> str:
    return "unknown (grader without the finished flag)" if part is None else f"{part}/{total}"


def render(results: list[TaskComparison], tolerance: float, gated: bool, max_worse: int | None = None) -> str:
    """Human-readable report of a comparison."""
    lines = []
    for r in results:
        per = f"{r.samples_per_question} sample{'s' if r.samples_per_question != 1 else ''} each"
        lines.append(f"{r.task}: {r.questions} questions, {per} "
                     f"(task version {r.task_version}, grader version {r.grader_version})")
        lines.append(f"  base {r.base_accuracy:.1f}%  new {r.new_accuracy:.1f}%  delta {r.delta:+.1f} points "
                     f"[95% CI {r.ci_low:+.1f}, {r.ci_high:+.1f}]  McNemar p = {r.p_value:.3g}")
        lines.append(f"  cut off (not finished): base {_count(r.base_cut_off, r.samples)}, "
                     f"new {_count(r.new_cut_off, r.samples)}")
        cut = f" (cut off in new: {_ids(set(r.worse_cut_off))})" if r.worse_cut_off else ""
        lines.append(f"  worse on {len(r.worse)}: {_ids(set(r.worse)) or '-'}{cut}")
        lines.append(f"  better on {len(r.better)}: {_ids(set(r.better)) or '-'}")
        lines.extend(f"  note: {n}" for n in r.notes)
        if gated:
            verdict = "REGRESSION" if r.regressed else "ok"
            limit = "" if max_worse is None else f", at most {max_worse} questions worse"
            lines.append(f"  gate: {verdict} (tolerance {tolerance:g} points{limit})")
    return "\n".join(lines)


def _check_selected(tasks: list[str], runs: dict[str, tuple[Path, dict[str, TaskRun]]]) -> None:
    """Each --task must be in both runs; the error lists the tasks each run does have, and a close name."""
    import difflib

    problems = []
    for side, (path, loaded) in runs.items():
        missing = [t for t in tasks if t not in loaded]
        if not missing:
            continue
        have = run_tasks(path)
        hints = [f"did you mean {close[0]!r} for {t!r}?" for t in missing
                 if (close := difflib.get_close_matches(t, have, n=1))]
        problems.append(f"{side} ({path}) has no {', '.join(map(repr, missing))}; its tasks: "
                        f"{', '.join(have) or 'none'}" + (f" ({' '.join(hints)})" if hints else ""))
    if problems:
        raise OutputError("--task not found: " + "; ".join(problems))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `s1eval compare`; returns the exit status (0 ok, 1 regression, 2 error)."""
    args = build_parser().parse_args(argv)
    tasks = _tasks(args)
    try:
        base, new = load_run(args.base, tasks), load_run(args.new, tasks)
        _check_selected(tasks or [], {"BASE": (args.base, base), "NEW": (args.new, new)})
        results = compare_runs(base, new, resamples=args.resamples, seed=args.seed,
                               allow_unknown=args.allow_unknown_versions)
    except (OutputError, IncomparableError) as err:
        print(f"s1eval compare: {err}", file=sys.stderr)
        return EXIT_ERROR
    passed = apply_gate(results, args.tolerance, args.alpha, args.max_worse)
    print(render(results, args.tolerance, args.fail_on_regression, args.max_worse))
    if args.json_out:
        payload = {"base": str(args.base), "new": str(args.new), "tolerance": args.tolerance, "alpha": args.alpha,
                   "max_worse": args.max_worse, "resamples": args.resamples, "seed": args.seed, "passed": passed,
                   "tasks": [asdict(r) for r in results]}
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.fail_on_regression and not passed:
        print("s1eval compare: regression beyond the gate's limits in "
              f"{', '.join(r.task for r in results if r.regressed)}", file=sys.stderr)
        return EXIT_REGRESSION
    return EXIT_OK
