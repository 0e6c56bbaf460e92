"""difficulty: can weaker models already solve it? And how long does the teacher think?

Each solver (Qwen2.5-7B-Instruct and Qwen2.5-32B-Instruct in the paper, temperature 0.05) answers the
bare question; its answer is graded against the reference solution and stored as `<solver>_correct`.
The teacher's attempt is graded the same way (`teacher_correct`, the seed-set rule and s1K-1.1's grades
use it). Grading (`grader`):
- ``s1eval``: the final answer of the reference solution (its last ``\\boxed{}``, an ``Answer:`` line, or
  the whole solution when it is short) is compared with s1eval's grader (extraction + Math-Verify in a
  bounded worker pool). A reference without a final answer (proofs) goes to the judge if one is set,
  else the grade is null (`ungraded`; selection does not count it as solved).
- ``judge``: a judge model reads question, attempt and reference and ends with Yes or No (the paper used
  Claude 3.5 Sonnet); an unparseable verdict is null. The prompt and the verdict reader are s1eval's judge
  module's (`s1eval.grading.judge.DIFFICULTY_PROMPT`, `parse_verdict(last_line=True)`); the replies are cached
  with the stage's other model calls (`cache_judge_<purpose>.jsonl` in the stage folder).
`thinking_tokens` counts the teacher's thinking in tokens of `tokenizer` (Qwen2.5's in the paper).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from s1data.pipeline import StageOutput
from s1data.stages._calls import ModelStage, require_client
from s1eval.grading.judge import DIFFICULTY_PROMPT
from s1eval.grading.judge import parse_verdict as _parse_verdict

log = logging.getLogger(__name__)

GRADERS = ("s1eval", "judge")
# The judge's prompt and verdict reader are s1eval's (one judge module, s1eval.grading.judge): it asks for reasoning
# and the verdict on a line of its own, read with parse_verdict(last_line=True).
JUDGE_PROMPT = DIFFICULTY_PROMPT


@dataclass(frozen=True)
class DifficultyOptions:
    """`solvers`: {name: client spec}; `judge`: client spec (required for grader=judge, else the fallback
    for references without a final answer); `tokenizer`: for thinking_tokens (null: skip)."""

    solvers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=lambda: {"temperature": 0.05})
    grader: str = "s1eval"
    judge: dict[str, Any] = field(default_factory=dict)
    grade_teacher: bool = True
    tokenizer: str | None = "Qwen/Qwen2.5-32B-Instruct"
    chunk_size: int = 256

    def __post_init__(self) -> None:
        if self.grader not in GRADERS:
            raise ValueError(f"grader={self.grader!r}; valid: {', '.join(GRADERS)}")
        if self.grader == "judge":
            require_client("grader=judge", self.judge, "judge")


def parse_verdict(text: str | None) -> bool | None:
    """True/False from a judge reply whose last non-empty line is Yes or No; None otherwise."""
    return _parse_verdict(text, last_line=True)


def gold_answer(solution: str | None) -> str | None:
    """The final answer a reference solution states, or None (a proof, an empty reference)."""
    from s1eval.grading.extract import answer_segment, extract_final_answer

    if not solution or not str(solution).strip():
        return None
    found = extract_final_answer(answer_segment(str(solution)))
    if found.answer is not None:
        return found.answer
    text = str(solution).strip()
    return text if len(text) <= 40 and "\n" not in text else None


def _s1eval_grades(responses: list[str | None], golds: list[str | None]) -> list[tuple[bool | None, str]]:
    """Grade in one batch (sympy runs in parallel in s1eval's pool); a batch with an unparseable gold is
    regraded item by item so that only that item is ungraded."""
    from s1eval.grading.equivalence import GoldParseError
    from s1eval.grading.grade import grade_math, grade_math_batch

    out: list[tuple[bool | None, str]] = [(None, "ungraded: reference has no final answer") if g is None
                                          else (False, "no response") for g in golds]
    todo = [i for i, (r, g) in enumerate(zip(responses, golds)) if g is not None and r]
    try:
        grades = grade_math_batch([(responses[i], golds[i]) for i in todo])
    except GoldParseError:
        grades = []
        for i in todo:
            try:
                grades.append(grade_math(responses[i], golds[i]))
            except GoldParseError as exc:
                grades.append(exc)
    for i, g in zip(todo, grades):
        out[i] = (None, f"ungraded: gold does not parse ({g})") if isinstance(g, Exception) else \
            (g.correct, f"s1eval:{g.method}:{g.extracted!s:.60}")
    return out


class Difficulty(ModelStage):
    """Add <solver>_answer/_correct, teacher_correct, thinking_tokens; drops nothing (select filters)."""

    name = "difficulty"
    Options = DifficultyOptions

    def __init__(self, options: Any, workdir: Any = None) -> None:
        super().__init__(options, workdir)
        self._tok: Any = None

    def _judge(self, rows: list[dict[str, Any]], attempts: list[str | None],
               purpose: str) -> list[tuple[bool | None, str]]:
        prompts = {id(r): JUDGE_PROMPT.format(question=r["question"], attempt=a or "",
                                              solution=r.get("solution") or "")
                   for r, a in zip(rows, attempts)}
        replies, _ = self.ask("judge", self.options.judge, f"judge_{purpose}", rows, lambda r: prompts[id(r)],
                              {"temperature": 0.0})
        return [(parse_verdict(rep["text"]), f"judge:{(rep['text'] or rep['error'] or '')[-60:]!s}")
                for rep in replies]

    def grade(self, rows: list[dict[str, Any]], attempts: list[str | None],
              purpose: str) -> list[tuple[bool | None, str]]:
        """(correct, detail) per row: s1eval grader with judge fallback, or the judge alone."""
        if self.options.grader == "judge":
            return self._judge(rows, attempts, purpose)
        grades = _s1eval_grades(attempts, [gold_answer(r.get("solution")) for r in rows])
        todo = [i for i, (c, d) in enumerate(grades) if c is None and d.startswith("ungraded")]
        if todo and self.options.judge:
            for i, g in zip(todo, self._judge([rows[i] for i in todo], [attempts[i] for i in todo], purpose)):
                grades[i] = g
        return grades

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        opts = self.options
        out = [dict(r) for r in rows]
        extra: dict[str, Any] = {}
        for name, spec in opts.solvers.items():
            replies, counts = self.ask(name, spec, f"solve_{name}", rows, lambda r: r["question"], opts.sampling)
            answers = [rep["text"] for rep in replies]
            for r, a, (c, d) in zip(out, answers, self.grade(rows, answers, name)):
                r[f"{name}_answer"], r[f"{name}_correct"], r[f"{name}_grade_detail"] = a, c, d
            extra[f"{name}_called"] = counts["called"]
        if opts.grade_teacher:
            for r, (c, d) in zip(out, self.grade(rows, [r.get("attempt") for r in rows], "teacher")):
                r["teacher_correct"], r["teacher_grade_detail"] = c, d
        if opts.tokenizer:
            if self._tok is None:
                from transformers import AutoTokenizer

                self._tok = AutoTokenizer.from_pretrained(opts.tokenizer)
            for r in out:
                trace = r.get("thinking_trajectory")
                r["thinking_tokens"] = (None if trace is None
                                        else len(self._tok(trace, add_special_tokens=False)["input_ids"]))
        return StageOutput(kept=out, extra=extra)
