"""lm-eval hooks: `process_results` functions, aggregations and the `process_docs` check of the `s1_*` task YAMLs.

Each `process_results` returns two metrics:
- ``exact_match``: 1 or 0 (aggregated by mean, the number reported);
- ``grading``: a dict ``{extracted, correct, method, rule, detail, grader_version[, judge]}`` that lands in the
  sample log (``--log_samples``) so every verdict can be audited; its aggregate is the share of responses from
  which a final answer was extracted (a low value means truncated or unformatted outputs, not a wrong model).

Grading settings come from the task's metadata: the YAML ``metadata:`` block, overridden key by key by lm-eval's
``--metadata`` JSON (see `settings_from_metadata`):
- ``answer_delimiters``: the answer segment starts after the last of these (default ``<|im_start|>answer``,
  ``</think>`` and ``<|begin_of_solution|>``); a list of strings, ``[]`` for none (the whole response is the answer
  segment);
- ``judge``: an optional LLM judge for math answers Math-Verify calls wrong (`s1eval.grading.judge`; off by
  default, ignored by GPQA, whose letters compare exactly).

lm-eval calls `process_results(doc, results)` without the task, so the hooks take the task from the calling frame
(`ConfigurableTask.process_results` / `test_docs`, whose ``self`` is the task; tests/test_tasks.py checks this
against the installed lm-eval). Called outside lm-eval (no task), they grade with the defaults.

`check_docs` is every task's ``process_docs``: it returns the documents unchanged, and when lm-eval builds the task
(before any generation) it validates those settings (a bad ``judge`` block or an unset API key variable fails then,
not after hours of generation) and, for the sampling tasks, that the ``take_first_k`` filter keeps exactly
``repeats`` responses and that ``metric_list`` lists maj/cov/pass@k for exactly the k of `voting.ks_for(repeats)`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from s1eval.grading import GRADER_VERSION
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS
from s1eval.grading.grade import Grade, grade_math, grade_math_batch
from s1eval.grading.judge import Judge, JudgeConfig, grader_id, judge_for

log = logging.getLogger(__name__)

_SAMPLE_HOOKS = ("process_aime_samples", "process_math_samples")
_logged: set[str] = set()


# ---------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class GradingSettings:
    """What a task's metadata says about grading."""

    delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS
    judge: JudgeConfig | None = None

    def judge_client(self) -> Judge | None:
        return judge_for(self.judge) if self.judge is not None else None


DEFAULT_SETTINGS = GradingSettings()


def _parse_delimiters(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"answer_delimiters must be a list of non-empty strings (or [] for none), got {value!r}")
    return tuple(value)


def settings_from_metadata(metadata: Mapping[str, Any] | None) -> GradingSettings:
    """Parse ``answer_delimiters`` and ``judge`` from task metadata (other keys are the data loaders' business).

    ``judge`` may be a mapping, a JSON string of one (a ``--metadata`` value written as a string), or null/false
    (off)."""
    metadata = metadata or {}
    delimiters = DEFAULT_ANSWER_DELIMITERS
    if metadata.get("answer_delimiters") is not None:
        delimiters = _parse_delimiters(metadata["answer_delimiters"])
    spec = metadata.get("judge")
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError as err:
            raise ValueError(f"judge metadata is neither a mapping nor JSON: {spec!r} ({err})") from None
    judge = JudgeConfig.from_mapping(spec) if spec else None
    return GradingSettings(delimiters, judge)


def _calling_task() -> Any:
    """The lm-eval task whose method called this hook, or None (a direct call, outside lm-eval)."""
    task_module = sys.modules.get("lm_eval.api.task")
    if task_module is None:
        return None
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return None
        obj = frame.f_locals.get("self")
        if isinstance(obj, task_module.Task):
            return obj
        frame = frame.f_back
    return None


def _settings(task: Any) -> GradingSettings:
    if task is None:
        return DEFAULT_SETTINGS
    try:
        return settings_from_metadata(getattr(task.config, "metadata", None))
    except ValueError as err:
        raise ValueError(f"{task.config.task}: {err}") from None


def _once(message: str, *args: Any) -> None:
    key = message % args
    if key not in _logged:
        _logged.add(key)
        log.info(message, *args)


# ---------------------------------------------------------------------------------------------- process_docs
def _metric_names(config: Any) -> list[str]:
    return [m["metric"] for m in (config.metric_list or []) if isinstance(m, Mapping) and isinstance(m.get("metric"), str)]


def check_sampling_config(config: Any) -> None:
    """Raise ValueError unless a sampling task keeps all `repeats` responses and lists the metrics for them."""
    from s1eval.grading.voting import ks_for

    name, repeats = config.task, int(config.repeats or 1)
    ks = [f.get("k") for spec in (config.filter_list or []) for f in (spec.get("filter") or [])
          if f.get("function") == "take_first_k"]
    if len(ks) != 1:
        raise ValueError(f"{name}: a sampling task needs exactly one take_first_k filter with k = repeats "
                         f"({repeats}) so that every sample reaches the grader; found {len(ks)}")
    if ks[0] != repeats:
        raise ValueError(f"{name}: take_first_k keeps k={ks[0]} responses but repeats is {repeats}; set the "
                         f"filter's k to {repeats} (and list maj/cov/pass@k for k in {ks_for(repeats)})")
    expected = {"exact_match", "mean_acc", "grading"} | {f"{m}@{k}" for m in ("maj", "cov", "pass") for k in ks_for(repeats)}
    listed = set(_metric_names(config))
    missing, extra = sorted(expected - listed), sorted(listed - expected)
    if missing or extra:
        raise ValueError(f"{name}: metric_list does not match repeats={repeats} (k = {ks_for(repeats)}): "
                         f"missing {missing}, not produced {extra}")


def check_docs(dataset: Any) -> Any:
    """`process_docs` of every s1 task: the documents unchanged, after validating the task's grading settings."""
    task = _calling_task()
    if task is not None:
        settings = _settings(task)
        hook = getattr(task.config.process_results, "__name__", "")
        if settings.judge is not None:
            if hook == "process_gpqa":
                _once("%s: the judge is not used for multiple-choice letters", task.config.task)
            else:
                settings.judge.api_key()  # an unset key variable fails now, before generation
                _once("%s: LLM judge %s at %s for answers Math-Verify calls wrong", task.config.task,
                      settings.judge.model, settings.judge.url)
        if hook in _SAMPLE_HOOKS:
            check_sampling_config(task.config)
    return dataset


# ---------------------------------------------------------------------------------------------- process_results
def _metrics(grade: Grade, judge: Judge | None) -> dict[str, Any]:
    log_ = grade.as_log()
    log_["grader_version"] = grader_id(GRADER_VERSION, judge)
    return {"exact_match": int(grade.correct), "grading": log_}


def _first(results: Sequence[str]) -> str:
    return results[0] if results else ""


def _grade_one(doc: dict[str, Any], results: Sequence[str], kind: str) -> dict[str, Any]:
    settings = _settings(_calling_task())
    judge = settings.judge_client()
    grade = grade_math(_first(results), str(doc["answer"]), kind=kind, delimiters=settings.delimiters, judge=judge)
    return _metrics(grade, judge)


def process_aime(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """AIME: integer answers (023 == 23); a non-integer answer still goes through Math-Verify."""
    return _grade_one(doc, results, "aime")


def process_math(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """MATH500 and other free-form math answers, through Math-Verify."""
    return _grade_one(doc, results, "math")


def extracted_share(items: Sequence[dict[str, Any]]) -> float:
    """Aggregation for the ``grading`` metric: share of samples whose final answer was extracted."""
    if not items:
        return 0.0
    return sum(1 for it in items if it.get("method") != "unextracted") / len(items)


def process_gpqa(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """GPQA: the chosen letter against the gold letter; no letter named means wrong and unextracted."""
    from s1eval.grading.gpqa import grade_choice

    settings = _settings(_calling_task())
    grade = grade_choice(_first(results), str(doc["answer"]), doc.get("choices"), settings.delimiters)
    return _metrics(grade, None)


def _process_samples(doc: dict[str, Any], results: Sequence[str], kind: str) -> dict[str, Any]:
    from s1eval.grading.voting import sample_metrics

    task = _calling_task()
    settings = _settings(task)
    judge = settings.judge_client()
    # With repeats and a take_first_k filter, lm-eval passes [[r_1, ..., r_k]]; without one, [r_1, ...].
    responses = list(results[0]) if results and isinstance(results[0], (list, tuple)) else list(results)
    if task is not None and len(responses) != int(task.config.repeats or 1):
        raise ValueError(f"{task.config.task}: got {len(responses)} responses for a document but repeats is "
                         f"{task.config.repeats}; the take_first_k filter's k must equal repeats")
    grades = grade_math_batch([(str(r), str(doc["answer"])) for r in responses], kind=kind,
                              delimiters=settings.delimiters, judge=judge)
    metrics: dict[str, Any] = dict(sample_metrics(grades, kind))
    version = grader_id(GRADER_VERSION, judge)
    metrics["grading"] = [dict(g.as_log(), grader_version=version) for g in grades]
    return metrics


def process_aime_samples(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """`*_maj` AIME tasks: maj@k, cov@k, pass@k over the k repeats (see `s1eval.grading.voting`)."""
    return _process_samples(doc, results, "aime")


def process_math_samples(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """`*_maj` MATH tasks: maj@k, cov@k, pass@k over the k repeats (see `s1eval.grading.voting`)."""
    return _process_samples(doc, results, "math")


def extracted_share_samples(items: Sequence[Sequence[dict[str, Any]]]) -> float:
    """Aggregation for the ``grading`` metric of `*_maj` tasks: share of all samples with an extracted answer."""
    flat = [it for group in items for it in group]
    return extracted_share(flat)
