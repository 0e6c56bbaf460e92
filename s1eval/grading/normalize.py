"""String normalisation applied to golds and answers alike before comparison (policy in `s1eval.grading`).

Pure string work, safe and fast in the main process:
- `normalize_for_parse`: what Math-Verify sees (units, degrees, dollar signs and LaTeX spacing dropped).
- `normalize_exact`: a canonical string for the cheap "exact" fast path (identical strings need no sympy).
- `as_integer`: the integer an AIME-style answer states (``023``, ``1{,}000``, ``\\text{23}``), or None.
"""

from __future__ import annotations

import re

# Words that are units (or unit-like nouns) when they trail a number; dropped by policy.
_UNIT_WORDS = (
    r"(?:square\s+|cubic\s+)?(?:units?|cm|mm|km|m|meters?|metres?|centimeters?|kilometers?|inches?|inch|feet|foot|ft|"
    r"miles?|yards?|seconds?|minutes?|hours?|days?|weeks?|months?|years?|degrees?|dollars?|cents?|yuan|"
    r"grams?|kg|g|liters?|litres?|mph|points?|people|students?|ways?)"
)
_TEXT_CMD_RE = re.compile(r"\\(?:text|textnormal|textrm|mbox|mathrm|textbf|mathbf)\s*\{([^{}]*)\}")
_TRAILING_UNIT_RE = re.compile(r"(?<=[\d}.)])\s*(?:\\[,;:!]|~|\s)*" + _UNIT_WORDS + r"(?:\^\{?[23]\}?)?\s*$", re.I)
_DEGREE_RE = re.compile(r"\^\s*\{?\\circ\}?|°|\\degree")
_SPACING_RE = re.compile(r"\\[,;:!]|\\ |~|\\quad|\\qquad")
_INT_RE = re.compile(r"^[+-]?\d+$")


def _drop_text_wrappers(text: str) -> str:
    """`\\text{E}` -> `E`, but `10\\text{ cm}` -> `10` (a unit after a number is dropped)."""

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        before = text[: m.start()].rstrip()
        if before and (before[-1].isdigit() or before[-1] in "}.)") and re.fullmatch(r"[A-Za-z. ]+(\^\d)?", inner):
            return ""
        return inner

    return _TEXT_CMD_RE.sub(repl, text)


def normalize_for_parse(text: str) -> str:
    """Drop what the policy says never matters: units after a number, degree marks, `\\$`, LaTeX spacing."""
    text = text.strip()
    text = text.replace("\\$", "").replace("\\!", "")
    text = re.sub(r"(?<=\d)\{,\}(?=\d)", "", text)
    text = _DEGREE_RE.sub("", text)
    text = _drop_text_wrappers(text)
    text = _TRAILING_UNIT_RE.sub("", text)
    return text.strip()


def normalize_exact(text: str) -> str:
    """Canonical string for exact comparison: normalised, spacing, `\\left`/`\\right` and outer `$` removed."""
    text = normalize_for_parse(text)
    text = text.strip("$").strip()
    text = _SPACING_RE.sub("", text)
    text = re.sub(r"\\left|\\right", "", text)
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    text = re.sub(r"\s+", "", text)
    return text.rstrip(".")


def as_integer(text: str) -> int | None:
    """The integer a short answer states (`023` -> 23, `1,000` -> 1000), else None (e.g. `2.5`, `x=3`)."""
    t = normalize_exact(text)
    t = re.sub(r"^\\boxed\{(.*)\}$", r"\1", t)
    t = t.strip("{}")
    t = re.sub(r"(?<=\d),(?=\d{3}(?:\D|$))", "", t)
    if _INT_RE.match(t) and len(t) <= 50:
        return int(t)
    return None
