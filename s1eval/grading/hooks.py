"""lm-eval hooks: `process_results` functions, aggregations, and the grading settings of the `s1_*` task YAMLs.

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

How they reach the grader: lm-eval hands a task's metadata to one place only, the task's ``custom_dataset`` loader
(``ConfigurableTask.download`` calls ``custom_dataset(**metadata, **dataset_kwargs)``), and calls
``process_results(doc, results)`` with nothing but the document and the responses. So every s1 loader
(`s1eval.data`) resolves the settings with `grading_settings` (which validates them: a bad ``answer_delimiters``
or ``judge`` block, or for the math tasks an unset API key variable, fails when lm-eval builds the task, before
any generation) and hands them to `attach_settings`, which writes them into every document under the key
``s1_grading`` (`GRADING_KEY`): ``{"answer_delimiters": [...], "judge": {...} or null}``, but only when they
differ from the defaults. `process_results` reads them from the document (`doc_settings`); a document without the
key is graded with the defaults. A run with the default settings therefore has exactly the documents (and
lm-eval's ``doc_hash``) it had before the key existed; a run with other settings logs them with every sample, and
its ``doc_hash`` differs from a default run's (``s1eval compare`` will not pair the two). A loader of your own for
a task that grades with these hooks does the same: ``attach_settings(dataset, grading_settings(metadata,
name="my_task"))``. ``s1_grading`` is a reserved column name.

Checks that need the whole task config (`check_tasks`, `check_task`): lm-eval passes no hook the task, so
s1eval's TaskManager patch (`s1eval._autoload`, installed by the ``.pth`` autoload hook and by ``s1eval lm-eval``)
runs them on every task that ``TaskManager.load`` / ``load_task_or_group`` builds (``lm_eval``, ``get_task_dict``)
and that grades with these hooks, before any generation: the grading settings of the task's metadata must be the
ones its documents carry (a variant whose own loader does not attach them would otherwise be graded with the
defaults), and a sampling task's ``take_first_k`` filter must keep exactly ``repeats`` responses and its
``metric_list`` list maj/cov/pass@k for exactly the k of `voting.ks_for(repeats)`; such a task's
``process_results`` then also refuses a document with another number of responses. Without the patch (plain
``lm_eval`` under ``S1EVAL_NO_AUTOLOAD=1``, or a task object built by hand) these checks do not run; the loaders'
checks do.

`check_docs` is every task's ``process_docs``: it returns the documents unchanged, after checking that the
grading settings they carry, if any, parse.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from s1eval.grading import GRADER_VERSION
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS
from s1eval.grading.grade import Grade, grade_math, grade_math_batch
from s1eval.grading.judge import Judge, JudgeConfig, grader_id, judge_for

log = logging.getLogger(__name__)

GRADING_KEY = "s1_grading"  # the document key that carries non-default grading settings
_GRADERS = ("process_aime", "process_math", "process_gpqa", "process_aime_samples", "process_math_samples")
_SAMPLE_HOOKS = ("process_aime_samples", "process_math_samples")
_COUNTED = "__s1eval_counted__"  # marks a sampling task's process_results that checks the number of responses
_logged: set[str] = set()


# ---------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class GradingSettings:
    """What a task's metadata says about grading."""

    delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS
    judge: JudgeConfig | None = None

    def judge_client(self) -> Judge | None:
        return judge_for(self.judge) if self.judge is not None else None

    def as_doc_value(self) -> dict[str, Any]:
        """The ``s1_grading`` value of a document: `settings_from_metadata` reads it back to these settings."""
        return {"answer_delimiters": list(self.delimiters),
                "judge": None if self.judge is None else asdict(self.judge)}


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


def _once(message: str, *args: Any) -> None:
    key = message % args
    if key not in _logged:
        _logged.add(key)
        log.info(message, *args)


def grading_settings(metadata: Mapping[str, Any] | None, *, name: str, judged: bool = True) -> GradingSettings:
    """The grading settings of a loader's metadata, validated: what a ``custom_dataset`` loader calls first.

    A bad setting is a ValueError naming `name`; with a judge and `judged` (math answers, where the judge is
    consulted), an unset API key variable fails now, before any generation. GPQA passes ``judged=False``."""
    try:
        settings = settings_from_metadata(metadata)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    if settings.judge is not None:
        if judged:
            settings.judge.api_key()
            _once("%s: LLM judge %s at %s for answers Math-Verify calls wrong", name, settings.judge.model,
                  settings.judge.url)
        else:
            _once("%s: the judge is not used for multiple-choice letters", name)
    return settings


def attach_settings(dataset: Any, settings: GradingSettings) -> Any:
    """`dataset` with `settings` in every document under ``s1_grading``; unchanged when they are the defaults.

    `dataset` is what a ``custom_dataset`` loader returns: a `datasets.DatasetDict` (or any mapping of splits),
    a `datasets.Dataset`, or a list of dicts."""
    if settings == DEFAULT_SETTINGS:
        return dataset
    return _with_settings(dataset, settings.as_doc_value())


def _with_settings(dataset: Any, value: dict[str, Any]) -> Any:
    if isinstance(dataset, Mapping):
        return type(dataset)({split: _with_settings(docs, value) for split, docs in dataset.items()})
    if isinstance(dataset, list):
        if any(GRADING_KEY in doc for doc in dataset):
            raise ValueError(f"the data has a {GRADING_KEY!r} field, a name s1eval reserves for grading settings")
        return [{**doc, GRADING_KEY: value} for doc in dataset]
    if GRADING_KEY in dataset.column_names:
        raise ValueError(f"the data has a {GRADING_KEY!r} column, a name s1eval reserves for grading settings")
    return dataset.add_column(GRADING_KEY, [value] * len(dataset))


def doc_settings(doc: Mapping[str, Any]) -> GradingSettings:
    """The grading settings a document carries (`attach_settings`); the defaults when it carries none."""
    value = doc.get(GRADING_KEY) if isinstance(doc, Mapping) else None
    if value is None:
        return DEFAULT_SETTINGS
    try:
        return settings_from_metadata(value)
    except ValueError as err:
        raise ValueError(f"the document's {GRADING_KEY} is not valid: {err}") from None


# ---------------------------------------------------------------------------------------------- task checks
def _metric_names(config: Any) -> list[str]:
    return [m["metric"] for m in (config.metric_list or [])
            if isinstance(m, Mapping) and isinstance(m.get("metric"), str)]


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
    expected = {"exact_match", "mean_acc", "grading"}
    expected |= {f"{m}@{k}" for m in ("maj", "cov", "pass") for k in ks_for(repeats)}
    listed = set(_metric_names(config))
    missing, extra = sorted(expected - listed), sorted(listed - expected)
    if missing or extra:
        raise ValueError(f"{name}: metric_list does not match repeats={repeats} (k = {ks_for(repeats)}): "
                         f"missing {missing}, not produced {extra}")


def _grader(config: Any) -> str | None:
    """The name of this module's `process_results` hook that `config` names, or None."""
    hook = getattr(config, "process_results", None)
    name = getattr(hook, "__name__", None)
    return name if getattr(hook, "__module__", None) == __name__ and name in _GRADERS else None


def _count_responses(process: Any, name: str, repeats: int) -> Any:
    @functools.wraps(process)
    def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
        got = len(_responses(results))
        if got != repeats:
            raise ValueError(f"{name}: got {got} responses for a document but repeats is {repeats}; the "
                             "take_first_k filter's k must equal repeats")
        return process(doc, results)

    setattr(process_results, _COUNTED, True)
    return process_results


def check_task(task: Any) -> None:
    """The build-time checks of one lm-eval task that grades with these hooks (others pass untouched).

    Raises ValueError when the task's metadata asks for grading settings its documents do not carry, and for a
    sampling task whose filter or metric_list does not match ``repeats`` (`check_sampling_config`); a sampling
    task that passes gets a ``process_results`` that also refuses a document with other than ``repeats``
    responses."""
    config = getattr(task, "config", None)
    hook = _grader(config)
    if hook is None:
        return
    name = config.task
    try:
        wanted = settings_from_metadata(getattr(config, "metadata", None))
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    docs = getattr(task, "task_docs", None)
    if docs is not None and len(docs) > 0:
        carried = doc_settings(docs[0])
        if carried != wanted:
            raise ValueError(
                f"{name}: the task's metadata asks for grading settings {wanted.as_doc_value()} but its documents "
                f"carry {carried.as_doc_value()}; lm-eval hands the metadata only to the task's custom_dataset "
                "loader: use an s1eval.data loader, or have yours return attach_settings(dataset, "
                "grading_settings(metadata, name=...)) (s1eval.grading.hooks)")
    if hook in _SAMPLE_HOOKS:
        check_sampling_config(config)
        if not getattr(task.process_results, _COUNTED, False):
            task.process_results = _count_responses(task.process_results, name, int(config.repeats or 1))


def check_tasks(loaded: Any) -> None:
    """`check_task` on every lm-eval task in what ``TaskManager.load`` / ``load_task_or_group`` returned."""
    from lm_eval.api.task import Task

    seen: set[int] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, Task):
            if id(obj) not in seen:
                seen.add(id(obj))
                check_task(obj)
        elif isinstance(obj, Mapping):
            for value in obj.values():
                walk(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                walk(value)

    walk(loaded)


# ---------------------------------------------------------------------------------------------- process_docs
def check_docs(dataset: Any) -> Any:
    """`process_docs` of every s1 task: the documents unchanged, after checking the grading settings they carry."""
    first = next(iter(dataset), None) if dataset is not None else None
    if isinstance(first, Mapping):
        doc_settings(first)
    return dataset


# ---------------------------------------------------------------------------------------------- process_results
def _metrics(grade: Grade, judge: Judge | None) -> dict[str, Any]:
    log_ = grade.as_log()
    log_["grader_version"] = grader_id(GRADER_VERSION, judge)
    return {"exact_match": int(grade.correct), "grading": log_}


def _first(results: Sequence[str]) -> str:
    return results[0] if results else ""


def _grade_one(doc: dict[str, Any], results: Sequence[str], kind: str) -> dict[str, Any]:
    settings = doc_settings(doc)
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

    settings = doc_settings(doc)
    grade = grade_choice(_first(results), str(doc["answer"]), doc.get("choices"), settings.delimiters)
    return _metrics(grade, None)


def _responses(results: Sequence[Any]) -> list[Any]:
    # With repeats and a take_first_k filter, lm-eval passes [[r_1, ..., r_k]]; without one, [r_1, ...].
    return list(results[0]) if results and isinstance(results[0], (list, tuple)) else list(results)


def _process_samples(doc: dict[str, Any], results: Sequence[str], kind: str) -> dict[str, Any]:
    from s1eval.grading.voting import sample_metrics

    settings = doc_settings(doc)
    judge = settings.judge_client()
    grades = grade_math_batch([(str(r), str(doc["answer"])) for r in _responses(results)], kind=kind,
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
