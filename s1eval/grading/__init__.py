"""Grading: one implementation of answer extraction and equivalence, used by every task and command.

Pipeline (each step its own module): `extract` finds the final answer a response states (the text after the
last answer delimiter, then the last ``\\boxed{}``, an ``Answer:`` line, or a closing statement; otherwise the
response is *unextracted* and wrong); `normalize` applies the string policy below; `grade` decides without
sympy when it can (AIME integers, identical strings) and otherwise sends the pair to `pool`, a set of killable
worker processes that run `equivalence` (Math-Verify) with a hard time limit per item; `gpqa` extracts
multiple-choice letters; `voting` computes maj@k, cov@k and pass@k for the sampling tasks; `judge` is the optional
LLM equivalence judge (off by default); `hooks` adapts all this to lm-eval (grading settings from task metadata);
`cli` is ``s1eval grade``.

Policy (general rules only, none special-cases a labelled row; the rules on glued units, decimals, labelled
answers and degrees in trigonometry were added after reading the labelled pairs, the rest came first; the table
tests list every remaining disagreement with its reason):

- Units are ignored: ``10\\text{ cm}``, ``10 cm^2``, ``10 weeks`` and ``10`` are the same answer, in the gold
  and in the response alike (MATH golds carry units inconsistently, and a model that adds the unit the question
  asked for is not wrong). A currency sign (``\\$``) is a unit. Exception: a one- or two-letter unit glued to
  the number (``10m``, ``10cm``) may be a product with a variable and is left to Math-Verify as such.
- ``\\text{}`` (and ``\\textbf``, ``\\mbox``, ``\\mathrm``) is unwrapped: ``\\text{E}`` equals ``E``;
  text after a number is a unit and dropped; ``\\text{ and }`` between values is a list comma.
- Percentages: ``28\\%``, ``28 percent`` and ``28`` are the same answer (the question fixes the scale);
  Math-Verify also accepts ``0.28`` for ``28\\%``, which we keep.
- Degrees: ``90^\\circ``, ``90°`` and ``90`` are the same answer; inside a trigonometric function a degree
  is pi/180 (``\\sin(90^\\circ - x)`` is ``\\cos x``). Radian answers are not converted to degrees.
- Multiple answers: a plain comma list is unordered and must hold the same elements (``3, 5`` == ``5, 3``);
  tuples, intervals and matrices keep their order. Adjacent boxes (``\\boxed{1}, \\boxed{2}``, or joined by
  "and" within a few words) are one list; a box followed by more reasoning and another box: the last box only.
- Decimals: a decimal with at least 3 significant digits equals an exact value when every digit it states is
  right (``1.732`` for ``\\sqrt3``); ``0.33`` for ``1/3`` is not enough. A comma between digits in a gold is a
  separator, never a decimal comma; a response that is a bare number like ``1000,99`` may be read either way.
- Labelled answers: ``y = 2x + 3`` and ``f(x) = 2x + 3`` state the same value (a one-symbol label is dropped).
- Clock times are not numbers (no ``20:34`` == ``8:34 P.M.`` arithmetic).
- AIME answers are integers: ``023`` equals ``23``; a non-integer response to an AIME question still goes to
  Math-Verify (``\\frac{46}{2}`` is 23).
- Which answer counts: the text after the last answer delimiter (``<|im_start|>answer``, ``</think>``,
  ``<|begin_of_solution|>``), cut at an end-of-turn or end-of-solution marker (a hallucinated next turn is not
  the answer); a ``Final Answer:`` line written after the last box wins over the box.
- Answers in prose count when the response commits to them at its end (v2): "Therefore, Hillary has 7 nickels.",
  "I'm confident that 44 is the correct answer.", "The height is 5 cm." Sign-offs and commentary after the
  conclusion ("I think that's the answer.", end markers) are skipped; the value is the one after "is"/"=" (not
  the last formula: "the degree of $f(x)$ is 3" is 3); filler words ("indeed"), count nouns ("9 boys"), ordinals
  (``12^{\\mathrm{th}}`` grade), number words ("three") and unicode math (``½``, ``√3``, ``−``) are normalised.
- No fishing: a response cut off mid-sentence or mid-formula, or inside its thinking block, states nothing in
  prose; one that ends on a hedge, a question or a negation ("maybe 5 or 6?", "So it is 12. I'm not sure.", "the
  answer is not 5") is *undecided*; one that takes its result back, after a box too ("This is incorrect.", "Wait, I
  made an error.") is *retracted*: all unextracted and wrong. An unclosed ``\\boxed{`` at the end means the answer
  was cut off. Exception: when the answer section was cut off (or left empty) before stating anything, a thinking
  block that had concluded with a committed answer (``**Final Answer** \\boxed{5}``) stands for it; budget
  forcing's bare forced ``Final Answer:`` is not such a section (the thinking was capped, not concluded).
- Announced: a response that ends "Therefore, the value of f(2) is:" and stops is read as the equation just before
  it ("f(2) = 9") when the announcement names that equation's left side (not ``finished``).
- Fallback: a response that ended cleanly but whose committed answer no rule reads is given to Math-Verify's own
  extraction over its final paragraphs (method ``fallback``); never a cut-off, undecided or retracted one.
- Every verdict records ``finished``: whether the response reached its answer and stopped there (False: cut off
  inside thinking or mid-sentence); `s1eval report` and `s1eval compare` count them.
- Every sympy comparison is bounded (5 s per item by default); overrunning it is wrong, logged as ``timeout``.
- A gold answer that Math-Verify cannot parse is an error (`GoldParseError`), not a zero.
- No LLM judge by default (the s1 fork asked gpt-4o-mini about non-integer answers). An optional one (`judge`,
  configured by task metadata or ``s1eval grade --judge-*``) sees only extracted answers that Math-Verify called
  wrong, never unextracted or timed-out ones; its verdicts are logged as method ``judge``.

Bump `GRADER_VERSION` whenever a rule here changes what counts as correct. Version 2: prose statements, the
finished flag, thinking conclusions, the fallback, ordinals/unicode/number words, GPQA choice text before a
leading letter. Measured on real responses (tests/grading/test_real_responses.py): 1,651 labelled responses of six
models agree on 99.82% (version 1: 97.9%; plain Math-Verify 99.27%).
"""

from __future__ import annotations

GRADER_VERSION = 2

__all__ = ["GRADER_VERSION", "grading_items"]


def grading_items(sample: dict) -> list:
    """The ``grading`` dicts of one logged sample: one, or one per repeat for the sampling tasks (``*_maj``)."""
    grading = sample.get("grading")
    return grading if isinstance(grading, list) else [grading]
