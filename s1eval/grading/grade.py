"""Grade responses against gold answers: extraction here, sympy in the bounded worker pool.

One code path for the lm-eval tasks, `s1eval grade` and the benchmarks. Per response:
answer segment -> final answer (`extract`) -> decision, recorded as `method`:
- ``unextracted``: no final answer stated (wrong);
- ``exact``: decided without sympy (integer comparison for AIME, identical normalised strings otherwise);
- ``symbolic``: decided by Math-Verify in a worker;
- ``timeout``: the worker overran its time limit (wrong; the worker is replaced);
- ``judge``: an optional LLM judge (`s1eval.grading.judge`, off unless one is passed) decided a ``symbolic``
  wrong verdict on an extracted answer (never an unextracted, timed-out or integer-vs-integer one); when its
  reply is not a plain Yes/No the verdict stays ``symbolic`` (wrong) and the ``judge`` record says why.
A gold that does not parse raises `GoldParseError` (a data bug, never a wrong answer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from s1eval.grading.equivalence import GoldParseError
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS, answer_segment, extract_final_answer
from s1eval.grading.judge import Judge
from s1eval.grading.normalize import as_integer, normalize_exact
from s1eval.grading.pool import WorkerPool, default_pool

log = logging.getLogger(__name__)

KINDS = ("math", "aime")


@dataclass(frozen=True)
class Grade:
    """The verdict on one response, as logged per sample."""

    extracted: str | None
    correct: bool
    method: str  # exact | symbolic | judge | timeout | unextracted
    rule: str = ""  # which extraction rule fired (boxed, answer_line, statement, bare, ...)
    detail: str = ""
    # Set when the LLM judge was consulted: {model, prompt_version, verdict ("yes" | "no" | None)[, error]}.
    judge: dict[str, Any] | None = field(default=None, hash=False)

    def as_log(self) -> dict[str, object]:
        """A JSON-serialisable dict for lm-eval sample logs and `s1eval grade` output rows (``judge`` only if set)."""
        out = asdict(self)
        if out["judge"] is None:
            del out["judge"]
        return out


def _decide_without_sympy(extracted: str, gold: str, kind: str) -> Grade | None:
    """Integer comparison for AIME, identical normalised strings for all; None when sympy must decide."""
    gold_int = as_integer(gold) if kind == "aime" else None
    if gold_int is not None:
        answer_int = as_integer(extracted)
        if answer_int is not None:
            return Grade(extracted, answer_int == gold_int, "exact")
    if normalize_exact(extracted) == normalize_exact(gold) and normalize_exact(gold):
        return Grade(extracted, True, "exact")
    return None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown answer kind {kind!r}; allowed: {', '.join(KINDS)}")


def grade_math_batch(
    items: Sequence[tuple[str, str]],
    kind: str = "math",
    delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS,
    pool: WorkerPool | None = None,
    judge: Judge | None = None,
) -> list[Grade]:
    """Grade (response, gold) pairs; sympy comparisons run in parallel in the pool, each bounded in time.

    With a `judge`, the symbolic wrong verdicts on extracted answers are put to it (see `apply_judge`)."""
    _check_kind(kind)
    grades: list[Grade | None] = [None] * len(items)
    todo: list[int] = []
    rules: list[str] = [""] * len(items)
    extracted: list[str | None] = [None] * len(items)
    for i, (response, gold) in enumerate(items):
        found = extract_final_answer(answer_segment(response or "", delimiters))
        rules[i], extracted[i] = found.rule, found.answer
        if found.answer is None:
            grades[i] = Grade(None, False, "unextracted", found.rule)
            continue
        quick = _decide_without_sympy(found.answer, str(gold), kind)
        if quick is not None and quick.correct:
            grades[i] = Grade(quick.extracted, True, "exact", found.rule)
        elif quick is not None and kind == "aime":
            grades[i] = Grade(quick.extracted, False, "exact", found.rule)
        else:
            todo.append(i)
    if todo:
        outcomes = (pool or default_pool()).map("check_pair", [(str(items[i][1]), extracted[i]) for i in todo])
        for i, out in zip(todo, outcomes):
            grades[i] = _from_outcome(out, extracted[i], rules[i], str(items[i][1]))
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


def _from_outcome(out: object, extracted: str | None, rule: str, gold: str) -> Grade:
    status, value, detail = out.status, out.value, out.detail  # type: ignore[attr-defined]
    if status == "timeout":
        log.warning("grading timed out for extracted answer %.80r (gold %.80r)", extracted, gold)
        return Grade(extracted, False, "timeout", rule, detail)
    if status == "error":
        log.warning("grading error for extracted answer %.80r: %s", extracted, detail)
        return Grade(extracted, False, "symbolic", rule, detail)
    equal, err = value
    if err.startswith("gold_error"):
        raise GoldParseError(err)
    return Grade(extracted, bool(equal), "symbolic", rule)


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
