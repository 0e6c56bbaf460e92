"""Grade responses against gold answers: extraction here (linear time), every decision in the bounded pool.

One code path for the lm-eval tasks, `s1eval grade` and the benchmarks. Per response: `extract.extract` (answer
segment -> final answer, and whether the response finished) in this process, then `verdict.decide` (normalisation,
the exact fast path, Math-Verify) in a worker under the per-item time limit. The verdict is recorded as `method`:
- ``unextracted``: no final answer stated (wrong);
- ``exact``: decided without sympy (integer comparison for AIME, identical normalised strings otherwise);
- ``symbolic``: decided by Math-Verify;
- ``fallback``: the response ended cleanly but no rule of ours read its answer, so Math-Verify's own extraction
  over its final paragraphs found it (``verdict.fallback``); never used for a response cut off mid-sentence or
  inside thinking, nor for one that ends undecided or takes its result back;
- ``timeout``: the worker overran its time limit (wrong; the worker is replaced);
- ``judge``: an optional LLM judge (`s1eval.grading.judge`, off unless one is passed) decided a ``symbolic``
  wrong verdict on an extracted answer (never an unextracted, timed-out or integer-vs-integer one); when its
  reply is not a plain Yes/No the verdict stays ``symbolic`` (wrong) and the ``judge`` record says why.
`finished` (did the response reach an answer and stop there, or was it cut off) is recorded with every verdict.
A gold that does not parse raises `GoldParseError` (a data bug, never a wrong answer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from s1eval.grading.equivalence import GoldParseError
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS, Extraction, answer_segment, extract
from s1eval.grading.judge import Judge
from s1eval.grading.pool import WorkerPool, default_pool
from s1eval.grading.segment import without_code

log = logging.getLogger(__name__)

KINDS = ("math", "aime")


@dataclass(frozen=True)
class Grade:
    """The verdict on one response, as logged per sample."""

    extracted: str | None
    correct: bool
    method: str  # exact | symbolic | fallback | judge | timeout | unextracted
    rule: str = ""  # which extraction rule fired (boxed, answer_line, statement, bare, ...)
    detail: str = ""
    # Set when the LLM judge was consulted: {model, prompt_version, verdict ("yes" | "no" | None)[, error]}.
    judge: dict[str, Any] | None = field(default=None, hash=False)
    # Whether the response reached an answer and stopped there (False: cut off inside thinking or mid-sentence).
    # No default claims a response finished: every grader sets it.
    finished: bool = False

    def as_log(self) -> dict[str, object]:
        """A JSON-serialisable dict for lm-eval sample logs and `s1eval grade` output rows (``judge`` only if set)."""
        out = asdict(self)
        if out["judge"] is None:
            del out["judge"]
        return out


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown answer kind {kind!r}; allowed: {', '.join(KINDS)}")


def _job(found: Extraction, response: str, gold: str, kind: str,
         delimiters: tuple[str, ...]) -> tuple[str, tuple[Any, ...]] | None:
    """The worker call that decides one response, or None when it is unextracted."""
    if found.answer is not None:
        return "decide", (gold, found.answer, kind)
    if found.finished and found.rule == "none":  # not undecided, retracted, ...: nothing read, nothing refused
        text = without_code(answer_segment(response, delimiters))
        return ("fallback", (gold, text)) if text.strip() else None
    return None


def grade_math_batch(
    items: Sequence[tuple[str, str]],
    kind: str = "math",
    delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS,
    pool: WorkerPool | None = None,
    judge: Judge | None = None,
) -> list[Grade]:
    """Grade (response, gold) pairs; decisions run in parallel in the pool, each bounded in time.

    With a `judge`, the symbolic wrong verdicts on extracted answers are put to it (see `apply_judge`)."""
    _check_kind(kind)
    found = [extract(response or "", delimiters) for response, _ in items]
    grades: list[Grade | None] = [None] * len(items)
    jobs: dict[str, list[int]] = {"decide": [], "fallback": []}
    args: dict[int, tuple[Any, ...]] = {}
    for i, ((response, gold), ex) in enumerate(zip(items, found)):
        job = _job(ex, response or "", str(gold), kind, delimiters)
        if job is None:
            grades[i] = Grade(None, False, "unextracted", ex.rule, finished=ex.finished)
        else:
            jobs[job[0]].append(i)
            args[i] = job[1]
    for fn_name, todo in jobs.items():
        if todo:
            outcomes = (pool or default_pool()).map(fn_name, [args[i] for i in todo])
            for i, out in zip(todo, outcomes):
                grades[i] = _from_outcome(fn_name, out, found[i], str(items[i][1]))
    done = [g for g in grades if g is not None]
    return apply_judge(done, [str(gold) for _, gold in items], judge) if judge is not None else done


def judge_eligible(grade: Grade) -> bool:
    """Whether the judge may see this verdict: Math-Verify said wrong about an answer that was extracted."""
    return grade.method == "symbolic" and not grade.correct and grade.extracted is not None


def apply_judge(grades: Sequence[Grade], golds: Sequence[str], judge: Judge) -> list[Grade]:
    """Ask `judge` about every `judge_eligible` grade (each distinct gold/answer pair once); others are kept.

    Yes -> correct, method ``judge``; No -> wrong, method ``judge``; any other reply -> the symbolic verdict stands
    and the failure is logged and recorded. A judge that cannot be reached raises `JudgeError`."""
    todo = [i for i, g in enumerate(grades) if judge_eligible(g)]
    if not todo:
        return list(grades)
    verdicts = judge.judge_many([(golds[i], str(grades[i].extracted)) for i in todo])
    out = list(grades)
    for i, verdict in zip(todo, verdicts):
        record: dict[str, Any] = dict(judge.config.record())
        if verdict.equivalent is None:
            record["verdict"] = None
            record["error"] = f"reply is not Yes or No: {verdict.reply[:200]!r}"
            log.warning("judge %s gave an unusable reply %.80r for answer %.80r (gold %.80r); keeping the "
                        "symbolic verdict", judge.config.model, verdict.reply, grades[i].extracted, golds[i])
            out[i] = replace(grades[i], judge=record)
        else:
            record["verdict"] = "yes" if verdict.equivalent else "no"
            out[i] = replace(grades[i], correct=verdict.equivalent, method="judge", judge=record)
    return out


def _from_outcome(fn_name: str, out: Any, found: Extraction, gold: str) -> Grade:
    extracted, rule, finished = found.answer, found.rule, found.finished
    if out.status == "timeout":
        log.warning("grading timed out for answer %.80r (gold %.80r)", extracted, gold)
        return Grade(extracted, False, "timeout", rule, out.detail, finished=finished)
    if out.status == "error":
        log.warning("grading error for answer %.80r: %s", extracted, out.detail)
        return Grade(extracted, False, "symbolic", rule, out.detail, finished=finished)
    if fn_name == "fallback":
        extracted, correct, err = out.value
        method = "fallback" if extracted is not None else "unextracted"
        rule = "fallback" if extracted is not None else rule
    else:
        correct, method, err = out.value
    if err.startswith("gold_error"):
        raise GoldParseError(err)
    return Grade(extracted, bool(correct), method, rule, finished=finished)


def grade_math(
    response: str,
    gold: str,
    kind: str = "math",
    delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS,
    pool: WorkerPool | None = None,
    judge: Judge | None = None,
) -> Grade:
    """Grade one response (see `grade_math_batch`)."""
    return grade_math_batch([(response, gold)], kind, delimiters, pool, judge)[0]
