"""Grading: one implementation of answer extraction and equivalence, used by every task and command.

Pipeline (each step its own module): `extract` finds the final answer a response states (the text after the
last answer delimiter, then the last ``\\boxed{}``, an ``Answer:`` line, or a closing statement; otherwise the
response is *unextracted* and wrong); `normalize` applies the string policy below; `grade` decides without
sympy when it can (AIME integers, identical strings) and otherwise sends the pair to `pool`, a set of killable
worker processes that run `equivalence` (Math-Verify) with a hard time limit per item; `gpqa` extracts
multiple-choice letters; `hooks` adapts all this to lm-eval; `cli` is ``s1eval grade``.

Policy (decided before tuning; the table tests list every disagreement with labelled data against it):

- Units are ignored: ``10\\text{ cm}``, ``10 cm^2``, ``10 weeks`` and ``10`` are the same answer, in the gold
  and in the response alike. MATH golds carry units inconsistently, and a model that adds the unit the
  question asked for is not wrong. (MARIO_EVAL labels ``10cm`` vs ``10`` as different; we accept that
  disagreement.) A currency sign (``\\$``) is a unit.
- ``\\text{}`` (and ``\\textbf``, ``\\mbox``, ``\\mathrm``) is unwrapped: ``\\text{E}`` equals ``E``,
  ``\\text{Evelyn}`` equals ``Evelyn``; text after a number is treated as a unit and dropped.
- Percentages: ``28\\%``, ``28 percent`` and ``28`` are the same answer (the question fixes the scale); Math-Verify
  also accepts ``0.28`` for ``28\\%``, which we keep.
- Degrees: ``90^\\circ``, ``90°`` and ``90`` are the same answer; radians are not converted to degrees.
- Multiple answers: a list or set answer must contain the same elements; order matters only for tuples,
  intervals and other ordered objects, as in Math-Verify. Answers spread over adjacent boxes
  (``\\boxed{1}, \\boxed{2}``) are joined into one list; a box followed by more reasoning and another box
  takes the last box only.
- AIME answers are integers: ``023`` equals ``23``; a non-integer response to an AIME question still goes to
  Math-Verify (``\\frac{46}{2}`` is 23).
- Unfinished responses are wrong and logged as ``unextracted``; numbers are never taken from the middle of
  reasoning. An unclosed ``\\boxed{`` at the end means the answer was cut off: unextracted.
- Every sympy comparison is bounded (5 s per item by default); overrunning it is wrong, logged as ``timeout``.
- A gold answer that Math-Verify cannot parse is an error (`GoldParseError`), not a zero.

Bump `GRADER_VERSION` whenever a rule here changes what counts as correct.
"""

from __future__ import annotations

GRADER_VERSION = 1

__all__ = ["GRADER_VERSION"]
