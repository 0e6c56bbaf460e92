"""Per-item decisions that run inside the grading workers (`s1eval.grading.pool`), each under the time bound.

- `decide(gold, answer, kind)`: normalisation, the exact fast path (integers for AIME, identical normalised
  strings) and, when that cannot decide, Math-Verify (`equivalence.math_equal`). Returns ``(correct, method,
  error)`` with method ``exact`` or ``symbolic``; a gold that does not parse comes back as an error string
  starting with ``gold_error`` (the caller raises `GoldParseError`).
- `fallback(gold, text)`: Math-Verify's own extraction over the final paragraphs of a response that ended
  cleanly but stated its answer in a way no rule of ours reads; returns ``(extracted or None, correct, error)``.

Everything sympy touches runs here, never in the main process, so a hostile answer costs at most one timeout.
"""

from __future__ import annotations

from s1eval.grading.equivalence import GoldParseError, math_equal, parse_gold, warm_up
from s1eval.grading.normalize import as_integer, normalize_exact

__all__ = ["check_pair", "decide", "fallback", "warm_up"]

# The fallback reads at most this much of the end of a response (its final paragraphs).
FALLBACK_CHARS = 1_500


def exact_verdict(gold: str, answer: str, kind: str) -> bool | None:
    """True/False when strings decide (AIME integers; identical normalised strings are equal), else None."""
    gold_int = as_integer(gold) if kind == "aime" else None
    if gold_int is not None:
        answer_int = as_integer(answer)
        if answer_int is not None:
            return answer_int == gold_int
    gold_norm = normalize_exact(gold)
    if gold_norm and normalize_exact(answer) == gold_norm:
        return True
    return None


def decide(gold: str, answer: str, kind: str) -> tuple[bool, str, str]:
    """(correct, method, error) for an extracted answer (see the module docstring)."""
    quick = exact_verdict(gold, answer, kind)
    if quick is not None:
        return quick, "exact", ""
    equal, error = check_pair(gold, answer)
    return equal, "symbolic", error


def fallback(gold: str, text: str) -> tuple[str | None, bool, str]:
    """(extracted, correct, error): Math-Verify's extraction over `text`'s end, compared with the gold."""
    from math_verify import parse, verify

    try:
        gold_parsed = parse_gold(gold)
    except GoldParseError as err:
        return None, False, f"gold_error: {err}"
    parsed = parse(text[-FALLBACK_CHARS:], parsing_timeout=None)  # type: ignore[arg-type]
    extracted = str(parsed[-1]).strip().rstrip(" .,;:") if len(parsed) >= 2 else ""
    if not extracted:
        return None, False, ""
    # Our policy (units, percentages, stated-precision decimals) first, Math-Verify's own verdict second.
    correct, _method, error = decide(gold, extracted, "math")
    return extracted, correct or bool(verify(gold_parsed, parsed, timeout_seconds=None)), error


def check_pair(gold: str, answer: str) -> tuple[bool, str]:
    """Math-Verify equivalence only, no exact shortcut: (equal, error); a gold that does not parse gives
    (False, "gold_error: ...")."""
    try:
        return math_equal(gold, answer), ""
    except GoldParseError as err:
        return False, f"gold_error: {err}"
