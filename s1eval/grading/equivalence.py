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


def _configs() -> list[Any]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


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
    elif _DELIMITED_RE.search(text):
        return normalize_for_parse(text)
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
    if not answer_parsed:
        return False
    _silence_timeout_warnings()
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


def check_pair(gold: str, answer: str) -> tuple[bool, str]:
    """Worker entry point: (equal, "") or (False, error text) for a gold that does not parse."""
    try:
        return math_equal(gold, answer), ""
    except GoldParseError as err:
        return False, f"gold_error: {err}"
