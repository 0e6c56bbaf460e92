"""`s1eval sweep`: one model, a grid of budget-forcing settings, resumable.

    s1eval sweep --model s1vllm --model_args pretrained=simplescaling/s1-32B --tasks s1_aime24 \
        --max-tokens-thinking 512,1024,2048,4096,8192 --ignores 0,2,4,6 --output runs/sweep1 \
        --apply_chat_template

The paper's control baselines are one more grid dimension, e.g. token-conditional with and
without budget forcing: `--controls token:1024,token:2048 --max-tokens-thinking none`.

Everything that can be checked is checked before the model loads (s1eval.analysis.sweep_checks): a bad
argument is one line and exit status 2, and leaves nothing behind. The model is then constructed
once for the whole grid (a 32B model takes minutes to load) and only if some setting is still
unfinished. Each setting writes lm-eval's own outputs (results, samples) and our statistics sidecar
into `OUTPUT/settings/NAME/`, then a `done.json` marker, atomically, and prints one line (accuracy,
thinking tokens, share forced, time). A rerun skips finished settings and says so; finished requests
of an interrupted setting are kept in lm-eval's request cache (`OUTPUT/request_cache/`) with their
statistics, so a crash mid-setting loses nothing either. Both are reused only for the same run:
`OUTPUT/sweep.json` records the sweep's identity (model fingerprint, model_args, gen_kwargs, seed,
task configurations, ...; s1eval.analysis.sweep_manifest) and a rerun that differs is refused, naming the
differences. The summary (CSV + JSON), the paper's metrics and the scaling plot are rebuilt from the
files on disk after every setting (s1eval.analysis.sweep_summary).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1eval.atomic import write_jsonl_atomic

log = logging.getLogger(__name__)

# lm-eval options a sweep passes through unchanged (name -> simple_evaluate keyword).
PASSTHROUGH = {"apply_chat_template": "apply_chat_template", "limit": "limit", "num_fewshot": "num_fewshot",
               "system_instruction": "system_instruction", "batch_size": "batch_size", "device": "device",
               "metadata": "metadata", "fewshot_as_multiturn": "fewshot_as_multiturn"}


@dataclass(frozen=True)
class Setting:
    budget: int | str | None  # None: no thinking cap beyond the context
    ignores: int
    ignore_str: str
    control: str | None = None  # e.g. token:1024 (s1eval.budget.control)

    @property
    def name(self) -> str:
        base = f"budget{self.budget if self.budget is not None else 'none'}_ignore{self.ignores}"
        return base if self.control is None else f"{base}_{self.control.replace(':', '')}"

    def gen_kwargs(self, extra: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(extra)
        if self.budget is not None:
            kwargs["max_tokens_thinking"] = self.budget
        if self.ignores:
            kwargs.update(thinking_n_ignore=self.ignores, thinking_n_ignore_str=self.ignore_str)
        if self.control is not None:
            kwargs["control"] = self.control
        return kwargs


def _csv(value: str, cast, what: str = "values") -> list:
    try:
        values = [cast(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a comma-separated list of {what}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"{value!r} is empty; give at least one value")
    return values


def _budget(v: str) -> int | str | None:
    v = v.strip()
    if v in ("none", "auto"):
        return None if v == "none" else v
    value = int(v)
    if value < 0:
        raise ValueError(v)
    return value


def _count(v: str) -> int:
    value = int(v)
    if value < 0:
        raise ValueError(v)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `s1eval sweep`."""
    p = argparse.ArgumentParser(prog="s1eval sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="s1hf, s1vllm or s1api")
    p.add_argument("--model_args", default="", help="as for lm_eval")
    p.add_argument("--tasks", required=True, type=lambda v: _csv(v, str))
    p.add_argument("--max-tokens-thinking", default=[None],
                   type=lambda v: _csv(v, _budget, "budgets >= 0, auto or none (e.g. 512,1024,auto)"),
                   help="budgets >= 0, e.g. 512,1024,auto; none = no cap (default)")
    p.add_argument("--ignores", default=[0], type=lambda v: _csv(v, _count, "counts >= 0 (e.g. 0,1,2)"),
                   help="thinking_n_ignore values >= 0, e.g. 0,1,2")
    p.add_argument("--ignore-str", default="Wait", help="thinking_n_ignore_str (default Wait)")
    p.add_argument("--controls", default=[None],
                   type=lambda v: _csv(v, _control, "controls (e.g. token:1024,step:16)"),
                   help="control baselines, e.g. token:1024,token:2048 or step:16 or class:long,class:short")
    p.add_argument("--gen_kwargs", default="", help="extra generation kwargs for every setting")
    p.add_argument("--output", required=True, type=Path)
    p.add_argument("--apply_chat_template", action="store_true")
    p.add_argument("--fewshot_as_multiturn", action="store_true")
    p.add_argument("--system_instruction")
    p.add_argument("--limit", type=_limit, help="problems per task (an integer), or a fraction < 1")
    p.add_argument("--num_fewshot", type=_count)
    p.add_argument("--batch_size", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0, help="lm-eval's random/numpy/torch seeds")
    p.add_argument("--metadata", type=_json_object, default=None, help="JSON, as lm_eval --metadata")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    return p


def _limit(v: str) -> float:
    try:
        value = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not a number; e.g. --limit 40 or --limit 0.1") from None
    if not value > 0 or (value >= 1 and not value.is_integer()):
        raise argparse.ArgumentTypeError(f"{v!r}: give a whole number of problems (>= 1) or a fraction in (0, 1)")
    return value


def _json_object(v: str) -> dict:
    try:
        value = json.loads(v)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{v!r} is not JSON ({err}); e.g. '{{\"gpqa_data\": \"x.csv\"}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{v!r} is not a JSON object; e.g. '{{\"gpqa_data\": \"x.csv\"}}'")
    return value


def _control(v: str) -> str:
    from s1eval.budget.control import parse_control

    try:
        parse_control(v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return v.strip()


def settings_of(args: argparse.Namespace) -> list[Setting]:
    """The sweep's settings: every (control, budget, ignores) combination, controls varying slowest."""
    grid = itertools.product(args.controls, args.max_tokens_thinking, args.ignores)
    return [Setting(b, n, args.ignore_str, c) for c, b, n in grid]


def _setting_folder(out: Path, setting: Setting) -> Path:
    return out / "settings" / setting.name


def is_done(record: dict[str, Any] | None, args: argparse.Namespace, key: str) -> bool:
    """Whether a setting's done record (`sweep_summary.done_record`) is this sweep's: same identity, limit
    and task list."""
    return (record is not None and record.get("identity") == key and record.get("tasks") == args.tasks
            and record.get("limit") == args.limit)


def run_setting(lm: Any, task_manager: Any, args: argparse.Namespace, setting: Setting, key: str) -> None:
    """Evaluate one setting with lm-eval and write its outputs, then the done marker."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.utils import simple_parse_args_string

    folder = _setting_folder(args.output, setting)
    shutil.rmtree(folder, ignore_errors=True)  # ours (sweep.json is there): a half-written setting restarts cleanly
    if hasattr(lm, "s1_stats"):  # the results' totals are this setting's (the previous sidecar is written already)
        lm.s1_stats.clear()
    tracker = EvaluationTracker(output_path=str(folder))
    extra = simple_parse_args_string(args.gen_kwargs)
    options = {kw: getattr(args, name) for name, kw in PASSTHROUGH.items() if getattr(args, name) not in (None, False)}
    if "limit" in options and float(options["limit"]).is_integer():
        options["limit"] = int(options["limit"])
    results = simple_evaluate(
        model=lm, model_args=args.model_args, tasks=args.tasks, gen_kwargs=setting.gen_kwargs(extra),
        log_samples=True, evaluation_tracker=tracker, use_cache=str(args.output / "request_cache" / key),
        task_manager=task_manager,
        random_seed=args.seed, numpy_random_seed=args.seed, torch_random_seed=args.seed, **options,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    # leaf_tasks: what lm-eval wrote samples for (a group's member tasks), read by the summary
    write_jsonl_atomic(folder / "done.json",
                       [{"setting": setting.name, "tasks": args.tasks, "leaf_tasks": sorted(results["configs"]),
                         "limit": args.limit, "identity": key}])


def build_model(args: argparse.Namespace) -> Any:
    """The lm-eval model named by --model, built from --model_args (with --batch_size and --device when given)."""
    from lm_eval.api.registry import get_model

    extra = {"batch_size": args.batch_size, "device": args.device}
    return get_model(args.model).create_from_arg_string(args.model_args, {k: v for k, v in extra.items() if v})


def main(argv: list[str] | None = None) -> int:
    """Entry point of `s1eval sweep`: runs the unfinished settings, then the summary; returns 0, or 2 on bad input."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from s1eval import _autoload

    _autoload.install(force=True)  # our models, tasks and the statistics sidecar
    from s1eval.analysis.sweep_checks import SweepArgumentError, check_arguments
    from s1eval.analysis.sweep_manifest import SweepFolderError, cache_key, write_manifest
    from s1eval.analysis.sweep_summary import done_record, progress_line, write_summary

    settings = settings_of(args)
    try:
        checked = check_arguments(args, settings)
    except (SweepArgumentError, SweepFolderError) as err:
        print(f"s1eval sweep: {err}", file=sys.stderr)
        return 2
    key = cache_key(checked.identity)
    todo = [s for s in settings if not is_done(done_record(_setting_folder(args.output, s)), args, key)]
    if len(todo) < len(settings):
        log.warning("Skipping %d finished settings: %s", len(settings) - len(todo),
                    ", ".join(s.name for s in settings if s not in todo))
    try:
        lm = build_model(args) if todo else None  # built once, only if there is work left
    except ValueError as err:  # the backend's own argument checks (dtype, batch size, ...): nothing written yet
        print(f"s1eval sweep: {err}", file=sys.stderr)
        return 2
    write_manifest(args.output, checked.identity, ["s1eval", "sweep", *argv])
    plot = not args.no_plot
    finished = lambda record: is_done(record, args, key)  # noqa: E731 - the summary's filter
    bar = _progress_bar(len(todo))
    for i, setting in enumerate(todo, 1):
        start = time.monotonic()
        run_setting(lm, checked.task_manager, args, setting, key)
        summary = write_summary(args.output, settings, plot=plot, finished=finished)
        bar.clear()
        print(progress_line(i, len(todo), setting.name, summary["rows"], time.monotonic() - start), flush=True)
        bar.update()
    bar.close()
    summary = write_summary(args.output, settings, plot=plot, finished=finished)
    print(summary["table"])
    return 0


def _progress_bar(total: int) -> Any:
    """An overall bar on a terminal (lm-eval's own bars may be off: the demo sets TQDM_DISABLE)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="settings", unit="setting", disable=not sys.stderr.isatty() or total == 0,
                leave=False)
