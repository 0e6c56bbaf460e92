"""Everything `s1eval sweep` can check before the model loads (minutes for a 32B model).

The backend name, model_args (unknown keys, local paths that do not exist, hub ids that cannot be reached
offline; for s1api, a server that does not answer or does not serve the model), every setting's gen_kwargs
as the backend will parse them, task names, the output folder (a file, or a folder holding another run:
s1eval.analysis.sweep_manifest) and the plotting dependency. Each failure is
one `SweepArgumentError` line naming the value, what is allowed and the fix; nothing is written before all
checks pass. Returns what the sweep needs next: the task manager (indexed once) and the sweep's identity.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from s1eval.fingerprint import check_model_location, looks_like_path, model_identity


class SweepArgumentError(ValueError):
    """An argument that would fail the sweep after the model loaded."""


@dataclass(frozen=True)
class Checked:
    task_manager: Any
    identity: dict[str, Any]


def check_arguments(args: argparse.Namespace, settings: Sequence[Any]) -> Checked:
    """Validate the sweep's arguments (raises SweepArgumentError / SweepFolderError); build its identity."""
    from lm_eval.utils import simple_parse_args_string

    from s1eval.analysis.sweep_manifest import check_folder

    if not args.no_plot:
        _check_plotting()
    model_args = _parse("--model_args", args.model_args, simple_parse_args_string)
    model_cls = check_model(args.model, model_args)
    extra = _parse("--gen_kwargs", args.gen_kwargs, simple_parse_args_string)
    for setting in settings:
        check_gen_kwargs(model_cls, setting.gen_kwargs(extra), f"setting {setting.name}")
    task_manager = _task_manager(args)
    identity = sweep_identity(args, model_args, extra, task_manager)
    if args.model == "s1api":
        identity["served_model"] = _served_model(model_args)
    check_folder(args.output, identity)
    return Checked(task_manager, identity)


def sweep_identity(args: argparse.Namespace, model_args: dict[str, Any], extra: dict[str, Any],
                   task_manager: Any) -> dict[str, Any]:
    """Everything that decides the sweep's responses and scores (s1eval.analysis.sweep_manifest says why each)."""
    import s1eval
    from s1eval.analysis.sweep_manifest import task_identity
    from s1eval.grading import GRADER_VERSION

    revision = model_args.get("revision")
    identity = {
        "backend": args.model,
        "model_args": {k: str(v) for k, v in sorted(model_args.items()) if _decides_output(k, v)},
        "model": model_identity(str(model_args["pretrained"]), revision) if model_args.get("pretrained") else None,
        "tokenizer": (model_identity(str(model_args["tokenizer"]), revision)
                      if model_args.get("tokenizer") and model_args.get("tokenizer") != model_args.get("pretrained")
                      else None),
        "gen_kwargs": extra,
        "ignore_str": args.ignore_str,
        "seed": args.seed,
        "apply_chat_template": bool(args.apply_chat_template),
        "fewshot_as_multiturn": bool(args.fewshot_as_multiturn),
        "system_instruction": args.system_instruction,
        "num_fewshot": args.num_fewshot,
        "metadata": args.metadata,
        "budget_semantics_version": s1eval.BUDGET_SEMANTICS_VERSION,
        "grader_version": GRADER_VERSION,
        "tasks": {task: task_identity(task_manager, task) for task in args.tasks},
    }
    return identity


# model_args that never change a response: resources, scheduling, where the server is, its key (never recorded)
RESOURCE_MODEL_ARGS = frozenset({
    "batch_size", "max_batch_size", "device", "gpu_memory_utilization", "kv_cache_memory_bytes", "max_num_seqs",
    "enforce_eager", "base_url", "api_key", "num_concurrent", "timeout", "max_retries", "retry_backoff",
})


def _decides_output(key: str, value: Any) -> bool:
    """Whether a model arg belongs in the identity (local paths are identified by their fingerprints)."""
    if key in RESOURCE_MODEL_ARGS:
        return False
    return not (key in ("pretrained", "tokenizer") and looks_like_path(str(value)))


def _parse(option: str, value: str, parse: Any) -> dict[str, Any]:
    try:
        return parse(value) if value else {}
    except (ValueError, TypeError, IndexError) as err:
        raise SweepArgumentError(f"{option} {value!r} is not key=value pairs separated by commas ({err}); "
                                 "e.g. max_gen_toks=768,temperature=0") from None


def _served_model(model_args: dict[str, Any]) -> dict[str, Any]:
    """s1api's model is what the server serves under the model name: its `/v1/models` entry (the weights'
    location on the server), asked before anything is written."""
    import os

    from s1eval.models.api_engine import served_model

    missing = [k for k in ("base_url", "model") if not model_args.get(k)]
    if missing:
        raise SweepArgumentError(f"--model_args: s1api needs {' and '.join(missing)}, e.g. "
                                 "base_url=http://127.0.0.1:8000/v1,model=NAME,tokenizer=PATH")
    key = model_args.get("api_key") or os.environ.get("OPENAI_API_KEY")
    try:
        return served_model(str(model_args["base_url"]), str(model_args["model"]), key)
    except ValueError as err:
        raise SweepArgumentError(str(err)) from None


def _check_plotting() -> None:
    from s1eval.scaling.plot import MissingPlotDependency, require_matplotlib

    try:
        require_matplotlib()
    except MissingPlotDependency as err:
        raise SweepArgumentError(str(err)) from None


def _model_class(name: str) -> Any:
    from lm_eval.api.registry import get_model

    try:
        return get_model(name)
    except (ValueError, KeyError):
        known = ("s1hf", "s1vllm", "s1api")
        hint = difflib.get_close_matches(name, known, n=1)
        raise SweepArgumentError(f"--model {name!r} is not a registered lm-eval model"
                                 f"{f'; did you mean {hint[0]}?' if hint else ''} The s1 backends: "
                                 f"{', '.join(known)}.") from None


def _check_model_args(name: str, model_cls: Any, model_args: dict[str, Any]) -> None:
    """Unknown model_args of an s1 backend (its module's MODEL_ARGS), with did-you-mean."""
    import importlib

    from s1eval.models.base import check_model_args

    allowed = getattr(importlib.import_module(model_cls.__module__), "MODEL_ARGS", None)
    if allowed is not None:
        try:
            check_model_args(name, model_args, allowed)
        except ValueError as err:
            raise SweepArgumentError(f"--model_args: {err}") from None


def check_model(name: str, model_args: dict[str, Any]) -> Any:
    """The registered model class of `name`, after checking its model_args' keys and local paths."""
    model_cls = _model_class(name)
    _check_model_args(name, model_cls, model_args)
    for key in ("pretrained", "tokenizer"):
        if model_args.get(key):
            try:
                check_model_location(key, str(model_args[key]))
            except ValueError as err:
                raise SweepArgumentError(str(err)) from None
    return model_cls


def check_gen_kwargs(model_cls: Any, gen_kwargs: dict[str, Any], where: str) -> None:
    """Parse gen_kwargs as the backend will (budget keys, then the backend's own keys); `where` names them
    in the error ("setting budget512_ignore0", "--gen_kwargs")."""
    from lm_eval.models.utils import normalize_gen_kwargs

    from s1eval.budget import parse_gen_kwargs
    from s1eval.budget.config import BudgetConfigError

    try:
        cfg, rest = parse_gen_kwargs(gen_kwargs)
        if hasattr(model_cls, "_s1_engine_kwargs"):  # the s1 backends: the same key check generate_until makes
            model_cls._s1_engine_kwargs(normalize_gen_kwargs(rest, 256))
            if cfg is not None:
                model_cls._s1_check_thinking_sampling(cfg.thinking_sampling)
    except BudgetConfigError as err:
        raise SweepArgumentError(f"{where}: {err}") from None
    except (ValueError, TypeError) as err:  # lm-eval's own parsing: max_gen_toks=abc
        shown = ", ".join(f"{k}={v!r}" for k, v in gen_kwargs.items())
        raise SweepArgumentError(f"{where}: gen_kwargs {shown} cannot be used ({err}); check their "
                                 "values (max_gen_toks is a whole number)") from None


def _task_manager(args: argparse.Namespace) -> Any:
    from lm_eval.tasks import TaskManager

    task_manager = TaskManager(metadata=args.metadata)
    known = set(task_manager.all_tasks)
    for task in args.tasks:
        if task not in known:
            hint = difflib.get_close_matches(task, sorted(known), n=1)
            raise SweepArgumentError(f"--tasks: {task!r} is not a task lm-eval knows"
                                     f"{f'; did you mean {hint[0]}?' if hint else ''} (the s1 tasks: "
                                     f"{', '.join(sorted(t for t in known if t.startswith('s1_')))})")
    return task_manager
