"""Math equivalence of an extracted answer and a gold answer, through Math-Verify.

This module does the sympy work and may take unbounded time on hostile input, so production code calls it
only inside the worker processes of `s1eval.grading.pool` (which kill a worker after the per-item timeout).
Math-Verify's own signal-based timeouts are switched off here for that reason: they cannot interrupt C-level
work (``10**10**10``) and do not work outside the main thread anyway.

Gold answers are parsed as LaTeX: a gold without math delimiters is wrapped in ``$...$`` (bare `parse`
misreads about 1 in 10 MATH500 golds); a gold containing ``\\boxed{}`` is reduced to its boxed content first.
A gold that still parses to nothing raises `GoldParseError`: that is a data bug, never a wrong answer.
Predictions go through the same wrapping; one that parses to nothing is simply not equal.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from s1eval.grading.extract import extract_boxed
from s1eval.grading.normalize import normalize_for_parse


class GoldParseError(ValueError):
    """A gold answer that Math-Verify cannot parse: fix the data, do not score it."""


_DELIMITED_RE = re.compile(r"\$|\\\(|\\\[")
_PROSE_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}\s+[A-Za-z]{2,}(?![A-Za-z]*\})")
_APPROX_RE = re.compile(r"\\approx|≈")
_PLAIN_NUMBER_RE = re.compile(r"^[+-]?\d[\d.,]*$")


def _configs() -> list[Any]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, LatexNormalizationConfig

    # Units are handled by our own policy (`normalize`): Math-Verify's unit stripping would also turn the
    # product `10m` into 10.
    norm = LatexNormalizationConfig(
        basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all", equations=False
    )
    return [LatexExtractionConfig(boxed_match_priority=0, normalization_config=norm), ExprExtractionConfig()]


def _silence_timeout_warnings() -> None:
    # We pass timeout=None on purpose (the worker pool bounds time); the library warns about it once per
    # process, which would be noise in every worker.
    import math_verify.grader as grader
    import math_verify.parser as parser

    grader.TIMEOUT_WARNING_SHOWN = True
    parser.TIMEOUT_WARNING_SHOWN = True


def as_latex(text: str) -> str:
    """Wrap text in `$...$` unless it already carries math delimiters; reduce `\\boxed{}` to its content."""
    boxed, _ = extract_boxed(text)
    if boxed is not None:
        text = boxed
    elif _DELIMITED_RE.search(text) or _PROSE_RE.search(text):
        return normalize_for_parse(text)  # prose or delimited math: let Math-Verify find the expression
    return "$" + normalize_for_parse(text) + "$"


def _parse(text: str) -> list[Any]:
    from math_verify import parse

    _silence_timeout_warnings()
    return parse(text, extraction_config=_configs(), parsing_timeout=None)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4096)
def parse_gold(gold: str) -> list[Any]:
    """Parse a gold answer as LaTeX; raise GoldParseError if nothing comes out."""
    parsed = _parse(as_latex(gold))
    if not parsed:
        parsed = _parse(gold)
    if not parsed:
        raise GoldParseError(f"gold answer {gold!r} does not parse with Math-Verify; fix the dataset row")
    return parsed


def parse_answer(answer: str) -> list[Any]:
    """Parse an extracted answer the way golds are parsed; empty list when it does not parse."""
    parsed = _parse(as_latex(answer))
    return parsed or _parse(answer)


def math_equal(gold: str, answer: str) -> bool:
    """Whether `answer` equals `gold` under Math-Verify (gold first: the comparison is not symmetric)."""
    from math_verify import verify

    gold_parsed = parse_gold(gold)
    answer_parsed = parse_answer(answer)
    _silence_timeout_warnings()
    if answer_parsed and verify(gold_parsed, answer_parsed, timeout_seconds=None):
        return True
    if _PLAIN_NUMBER_RE.match(answer.strip()):
        # A bare number like `1000,99` has a plain-text reading (decimal comma) besides the LaTeX one.
        plain = _parse(answer.strip())
        if plain and verify(gold_parsed, plain, timeout_seconds=None):
            return True
    return _fallbacks(gold, answer)


def _bare(text: str) -> str:
    """The answer text as Math-Verify would see it, without outer math delimiters."""
    return as_latex(text).strip().strip("$").strip()


def _value_of(text: str) -> float | None:
    """The numeric value of a constant expression (no free symbols), else None."""
    parsed = _parse("$" + text + "$")
    expr = parsed[0] if parsed else None
    try:
        if expr is None or getattr(expr, "free_symbols", {1}):
            return None
        return float(expr.evalf())
    except (TypeError, ValueError, AttributeError):
        return None


def _exact_equal(gold: str, answer: str) -> bool:
    from math_verify import verify

    g, a = _parse("$" + gold + "$"), _parse("$" + answer + "$")
    return bool(g) and bool(a) and bool(verify(g, a, timeout_seconds=None))


def _fallbacks(gold: str, answer: str) -> bool:
    """Labelled answers and stated-precision decimals (`s1eval.grading.numeric`)."""
    from s1eval.grading.numeric import approx_equal, split_label

    g, a = _bare(gold), _bare(answer)
    approx = _APPROX_RE.split(a)
    if len(approx) > 1 and not _APPROX_RE.search(g):
        # "\\theta = \\cos^{-1}(-39/61) \\approx 132.9^\\circ": the value stated last, at its stated precision.
        tail = _bare(approx[-1].strip().rstrip("."))
        if _exact_equal(g, tail) or approx_equal(g, tail, _value_of, _exact_equal):
            return True
    g_value, a_value = split_label(g), split_label(a)
    if g_value is not None and a_value is not None:
        return _exact_equal(g_value, a_value) or approx_equal(g_value, a_value, _value_of, _exact_equal)
    return approx_equal(g, a, _value_of, _exact_equal)


def warm_up() -> None:
    """Import and exercise Math-Verify once (called by each worker before it reports ready)."""
    math_equal("1", "1")
