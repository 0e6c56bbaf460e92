"""The reference solver: teacher traces, s1K-schema rows, the pretraining pool, and a trace checker.

One line per step, ``{n}:{x}->{sigma(x)}+{r}={x'}`` where n counts the steps left down from k to 1 (two-digit
numbers, 15 tokens with `s1eval.mini.tokenizer`). The count makes ending the thinking a local decision (after the
line numbered 01); without it the model had to compare r with the question's b, which 3,000 pretraining steps
did not teach (the model card's v2 run: 6% of last lines followed by the end of thinking).
A *slip* writes a step wrong (a wrong sigma(x) carried into the sum, or a wrong sum) and follows it with
``Wait, `` and the step done again correctly; a *re-check* follows a correct step with ``Wait, `` and the same
step again. Both kinds exist so that "Wait" means "do the last step again", never "change the answer"
(a prototype whose Waits only followed mistakes learned the latter: forced Waits destroyed correct answers).
``final_recheck_rate`` re-checks the last step on its own, because that is exactly where budget forcing
appends "Wait" (after the natural end of thinking), and re-checks it again after each re-check with the same
probability: a teacher that never re-checked twice made a model that a second forced Wait derailed (it started
a new trajectory; the model card's v3 run). An *error* (``error_rate``, default 0) is a slip left
uncorrected: the trace carries the wrong value on and its attempt is wrong, like the teacher traces s1K keeps.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from s1eval.mini.problems import K_MAX, K_MIN, P, Problem, num, sample_problems
from s1eval.s1format import FORCED_ANSWER_PREFIX

WAIT = "Wait, "
ANSWER_PREFIX = FORCED_ANSWER_PREFIX + " "  # what budget forcing appends when the budget runs out: both ends agree
_LINE_RE = re.compile(r"^(Wait, )?(\d{2}):(\d{2})->(\d{2})\+(\d{2})=(\d{2})$")
_SLIP_DELTAS = (-10, -1, 1, 10)


def line(n: int, x: int, s: int, r: int, y: int) -> str:
    """Step line: n steps left (this one included), x, sigma(x), r and the new x."""
    return f"{num(n)}:{num(x)}->{num(s)}+{num(r)}={num(y)}"


@dataclass(frozen=True)
class TraceConfig:
    """Per-step probabilities of a corrected slip and of a re-check; per-trace probabilities of a re-check of
    the last step and of one uncorrected error."""

    slip_rate: float = 0.03
    recheck_rate: float = 0.03
    final_recheck_rate: float = 0.3  # 0.15 (one trace in 44 re-checking twice) left forced Waits fragile
    error_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("slip_rate", "recheck_rate", "final_recheck_rate", "error_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.final_recheck_rate >= 0.5:
            raise ValueError("final_recheck_rate >= 0.5 would make 'Wait' the greedy continuation after the "
                             "last step (the model would never end thinking on its own)")


PLAIN = TraceConfig(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Trace:
    text: str  # the thinking (no leading/trailing newline)
    value: int  # the final value the trace arrives at (= the attempt's answer)
    correct: bool
    slips: int = 0
    rechecks: int = 0
    lines: int = 0

    @property
    def attempt(self) -> str:
        return ANSWER_PREFIX + num(self.value)


def _slip(rng: random.Random, n: int, x: int, s: int, r: int, y: int) -> str:
    d = _SLIP_DELTAS[rng.randrange(len(_SLIP_DELTAS))]
    if rng.random() < 0.5:  # a wrong sigma(x), added up correctly
        s2 = (s + d) % P
        return line(n, x, s2, r, (s2 + r) % P)
    return line(n, x, s, r, (y + d) % P)  # a wrong sum


def write_trace(problem: Problem, rng: random.Random, cfg: TraceConfig = TraceConfig()) -> Trace:
    """The teacher's thinking for `problem` (deterministic given `rng`'s state)."""
    k = problem.k
    error_step = rng.randrange(k) if rng.random() < cfg.error_rate else -1
    out: list[str] = []
    slips = rechecks = 0
    x = problem.x0
    for i, r in enumerate(range(problem.a, problem.b - 1, -1)):
        s = problem.fam.sigma(x)
        y = (s + r) % P
        n = k - i
        if i == error_step:
            wrong = _slip(rng, n, x, s, r, y)
            out.append(wrong)
            x = int(wrong[-2:])
            continue
        if rng.random() < cfg.slip_rate:
            out.append(_slip(rng, n, x, s, r, y))
            out.append(WAIT + line(n, x, s, r, y))
            slips += 1
        else:
            out.append(line(n, x, s, r, y))
            if i < k - 1:
                if rng.random() < cfg.recheck_rate:
                    out.append(WAIT + line(n, x, s, r, y))
                    rechecks += 1
            else:  # the last step: each re-check may be followed by another, where budget forcing's 2nd Wait goes
                while rng.random() < cfg.final_recheck_rate:
                    out.append(WAIT + line(n, x, s, r, y))
                    rechecks += 1
        x = y
    return Trace("\n".join(out), x, x == problem.answer, slips, rechecks, len(out))


def s1k_row(problem: Problem, trace: Trace | None, source_type: str) -> dict[str, Any]:
    """A row in the s1K schema (solution, question, cot_type, source_type, metadata, cot, thinking_trajectories,
    attempt); `trace` None gives an empty thinking (answer-only rows of the pretraining pool)."""
    meta = {**problem.meta(), "domain": problem.family}
    if trace is None:
        thinking, attempt = "", ANSWER_PREFIX + num(problem.answer)
        meta.update(teacher_correct=True, slips=0, rechecks=0, lines=0)
    else:
        thinking, attempt = trace.text, trace.attempt
        meta.update(teacher_correct=trace.correct, slips=trace.slips, rechecks=trace.rechecks, lines=trace.lines)
    return {
        "solution": str(problem.answer),
        "question": problem.question,
        "cot_type": "math",
        "source_type": source_type,
        "metadata": json.dumps(meta, sort_keys=True),
        "cot": None,
        "thinking_trajectories": [thinking],
        "attempt": attempt,
    }


def teacher_rows(n: int, seed: int, cfg: TraceConfig = TraceConfig(), split: str = "train",
                 k_range: tuple[int, int] = (K_MIN, K_MAX), unique: bool = True) -> list[dict[str, Any]]:
    """`n` candidate rows for the s1 step (the mini 59K pool): distinct train problems with teacher traces."""
    rng = random.Random(f"teacher:{seed}")
    return [s1k_row(p, write_trace(p, rng, cfg), "s1eval.mini/teacher")
            for p in sample_problems(n, seed, split, k_range, unique=unique)]


def pool_rows(n: int, seed: int, answer_only_share: float = 0.05, k_range: tuple[int, int] = (K_MIN, K_MAX),
              cfg: TraceConfig = PLAIN, split: str = "train") -> list[dict[str, Any]]:
    """The pretraining pool (the stand-in for a pretrained base): train problems with plain traces (no Wait by
    default) and a share with the answer only (empty thinking). Problems may repeat (they are drawn
    independently); use a seed different from `teacher_rows`' if the two should differ."""
    if not 0.0 <= answer_only_share <= 1.0:
        raise ValueError(f"answer_only_share must be in [0, 1], not {answer_only_share}")
    rng = random.Random(f"pool:{seed}")
    rows = []
    for p in sample_problems(n, 10_000_019 + seed, split, k_range):
        trace = None if rng.random() < answer_only_share else write_trace(p, rng, cfg)
        rows.append(s1k_row(p, trace, "s1eval.mini/pool"))
    return rows


def prompt_hash(prompt: str) -> str:
    """sha256(prompt)[:16]: the key of s1data's `recorded` client (s1data.clients.prompt_hash)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def recorded_replies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """s1K rows as replies for s1data's `recorded` client (`traces` stage: the solver is the teacher; the
    prompt is the bare question)."""
    return [{"prompt_hash": prompt_hash(r["question"]), "text": r["attempt"],
             "reasoning": r["thinking_trajectories"][0]} for r in rows]


@dataclass
class TraceCheck:
    """What a (model's) thinking text got right, step by step."""

    steps_needed: int
    lines: int = 0  # step lines parsed (Wait lines included)
    waits: int = 0
    bad_lookup: int = 0  # lines whose sigma(x) is wrong
    bad_sum: int = 0  # lines whose sum mod P is wrong
    unparsed: int = 0  # non-empty lines that are not step lines
    correct_steps: int = 0  # leading steps of the true trajectory reached in order
    final: int | None = None  # the last value written
    errors: list[int] = field(default_factory=list)  # indices of wrong lines
    # the first step line read the question: its count is k, its x is x0 and its r is a (a model that has the
    # table but misreads the question writes a well-formed, wrong trajectory of the wrong length)
    started_right: bool = False

    @property
    def complete(self) -> bool:
        return self.correct_steps == self.steps_needed


def check_trace(problem: Problem, text: str) -> TraceCheck:
    """Parse a thinking text: per-line lookup/sum errors and how far along the true trajectory it got (a Wait
    line replaces the step before it)."""
    truth = [y for _, _, _, y in problem.steps()]
    chk = TraceCheck(steps_needed=len(truth))
    values: list[int] = []
    for raw in text.split("\n"):
        raw = raw.strip()
        if not raw:
            continue
        m = _LINE_RE.match(raw)
        if not m:
            chk.unparsed += 1
            continue
        count, x, s, r, y = (int(g) for g in m.groups()[1:])
        if not chk.lines:
            chk.started_right = (count, x, r) == (problem.k, problem.x0, problem.a)
        chk.lines += 1
        ok = True
        if s != problem.fam.sigma(x):
            chk.bad_lookup += 1
            ok = False
        if y != (s + r) % P:
            chk.bad_sum += 1
            ok = False
        if not ok:
            chk.errors.append(chk.lines - 1)
        if m.group(1):
            chk.waits += 1
            if values:
                values[-1] = y
                continue
        values.append(y)
        chk.final = y
    if values:
        chk.final = values[-1]
    n = 0
    while n < min(len(values), len(truth)) and values[n] == truth[n]:
        n += 1
    chk.correct_steps = n
    return chk
