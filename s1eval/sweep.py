"""`s1eval sweep`: one model, a grid of budget-forcing settings, resumable.

    s1eval sweep --model s1vllm --model_args pretrained=simplescaling/s1-32B --tasks s1_aime24 \
        --max-tokens-thinking 512,1024,2048,4096,8192 --ignores 0,2,4,6 --output runs/sweep1 \
        --apply_chat_template

The paper's control baselines are one more grid dimension, e.g. token-conditional with and
without budget forcing: `--controls token:1024,token:2048 --max-tokens-thinking none`.

The model is constructed once for the whole grid (a 32B model takes minutes to load) and only if
some setting is still unfinished. Each setting writes lm-eval's own outputs (results, samples)
and our statistics sidecar into `OUTPUT/settings/NAME/`, then a `done.json` marker, atomically;
a rerun skips finished settings and says so. Finished requests of an interrupted setting are kept
in lm-eval's request cache (`OUTPUT/request_cache`), so a crash mid-setting loses nothing either.
The summary (CSV + JSON), the paper's metrics and the scaling plot are rebuilt from the files on
disk after every setting (s1eval.sweep_summary).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from s1eval.sidecar import write_jsonl_atomic

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


def _csv(value: str, cast) -> list:
    try:
        return [cast(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list, e.g. 512,1024,2048") from None


def _budget(v: str) -> int | str | None:
    v = v.strip()
    return None if v == "none" else "auto" if v == "auto" else int(v)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s1eval sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="s1hf, s1vllm or s1api")
    p.add_argument("--model_args", default="", help="as for lm_eval")
    p.add_argument("--tasks", required=True, type=lambda v: _csv(v, str))
    p.add_argument("--max-tokens-thinking", default=[None], type=lambda v: _csv(v, _budget),
                   help="budgets, e.g. 512,1024,auto; none = no cap (default)")
    p.add_argument("--ignores", default=[0], type=lambda v: _csv(v, int), help="thinking_n_ignore values")
    p.add_argument("--ignore-str", default="Wait", help="thinking_n_ignore_str (default Wait)")
    p.add_argument("--controls", default=[None], type=lambda v: _csv(v, _control),
                   help="control baselines, e.g. token:1024,token:2048 or step:16 or class:long,class:short")
    p.add_argument("--gen_kwargs", default="", help="extra generation kwargs for every setting")
    p.add_argument("--output", required=True, type=Path)
    p.add_argument("--apply_chat_template", action="store_true")
    p.add_argument("--fewshot_as_multiturn", action="store_true")
    p.add_argument("--system_instruction")
    p.add_argument("--limit", type=float)
    p.add_argument("--num_fewshot", type=int)
    p.add_argument("--batch_size", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0, help="lm-eval's random/numpy/torch seeds")
    p.add_argument("--metadata", type=json.loads, default=None, help="JSON, as lm_eval --metadata")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    return p


def _control(v: str) -> str:
    from s1eval.budget.control import parse_control

    try:
        parse_control(v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return v.strip()


def settings_of(args: argparse.Namespace) -> list[Setting]:
    grid = itertools.product(args.controls, args.max_tokens_thinking, args.ignores)
    return [Setting(b, n, args.ignore_str, c) for c, b, n in grid]


def _done_marker(out: Path, setting: Setting) -> Path:
    return out / "settings" / setting.name / "done.json"


def run_setting(lm: Any, task_manager: Any, args: argparse.Namespace, setting: Setting) -> None:
    """Evaluate one setting with lm-eval and write its outputs, then the done marker."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.utils import simple_parse_args_string

    folder = args.output / "settings" / setting.name
    shutil.rmtree(folder, ignore_errors=True)  # a half-written setting restarts cleanly
    tracker = EvaluationTracker(output_path=str(folder))
    extra = simple_parse_args_string(args.gen_kwargs)
    options = {kw: getattr(args, name) for name, kw in PASSTHROUGH.items() if getattr(args, name) not in (None, False)}
    if "limit" in options and float(options["limit"]).is_integer():
        options["limit"] = int(options["limit"])
    results = simple_evaluate(
        model=lm, model_args=args.model_args, tasks=args.tasks, gen_kwargs=setting.gen_kwargs(extra),
        log_samples=True, evaluation_tracker=tracker, use_cache=str(args.output / "request_cache"),
        task_manager=task_manager,
        random_seed=args.seed, numpy_random_seed=args.seed, torch_random_seed=args.seed, **options,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    write_jsonl_atomic(_done_marker(args.output, setting), [{"setting": setting.name, "tasks": args.tasks}])


def build_model(args: argparse.Namespace) -> Any:
    from lm_eval.api.registry import get_model

    extra = {"batch_size": args.batch_size, "device": args.device}
    return get_model(args.model).create_from_arg_string(args.model_args, {k: v for k, v in extra.items() if v})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from s1eval import _autoload

    _autoload.install(force=True)  # our models, tasks and the statistics sidecar
    from s1eval.sweep_summary import write_summary

    settings = settings_of(args)
    todo = [s for s in settings if not _done_marker(args.output, s).exists()]
    if len(todo) < len(settings):
        log.warning("Skipping %d finished settings: %s", len(settings) - len(todo),
                    ", ".join(s.name for s in settings if s not in todo))
    lm = build_model(args) if todo else None  # built once, only if there is work left
    task_manager = None
    if todo:  # indexing lm-eval's task folders takes seconds: once per sweep, not per setting
        from lm_eval.tasks import TaskManager

        task_manager = TaskManager(metadata=args.metadata)
    for setting in tqdm(todo, desc="settings", disable=None):
        run_setting(lm, task_manager, args, setting)
        write_summary(args.output, settings, plot=not args.no_plot)
    summary = write_summary(args.output, settings, plot=not args.no_plot)
    print(summary["table"])
    return 0
