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
_TEXT_CMD_RE = re.compile(r"\\(?:text|textnormal|textrm|mbox|mathrm|textbf|mathbf)\s*\{([^{}]*)\}(\^\{?[23]\}?)?")
_TRAILING_UNIT_RE = re.compile(
    r"(?<=[\d}.)])(?P<sep>\s*(?:\\[,;:!]|~|\s)*)(?P<unit>" + _UNIT_WORDS + r")(?:\^\{?[23]\}?)?\s*$", re.I
)
_DEGREE_RE = re.compile(r"\^\s*\{?\\circ\}?|°|\\degree")
_DEGREE_NUM_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{?\\circ\}?|°|\\degree)")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)\b")
_THOUSANDS_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*|,\\,\s*)(?=\d{3})")
_MIXED_NUMBER_RE = re.compile(r"^(\d+)\s+(\d+)\s*/\s*(\d+)$")
_SPACING_RE = re.compile(r"\\[,;:!]|\\ |~|\\quad|\\qquad")
_INT_RE = re.compile(r"^[+-]?\d+$")


def _drop_text_wrappers(text: str) -> str:
    """`\\text{E}` -> `E`, but `10\\text{ cm}` -> `10` (a unit after a number is dropped)."""

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if inner in ("and", "or"):
            return ", "  # "6 \\text{ and } 8" is the list 6, 8 (a comma before it is merged below)
        before = text[: m.start()].rstrip()
        if before and (before[-1].isdigit() or before[-1] in "}.)") and re.fullmatch(r"[A-Za-z. ]+(\^\d)?", inner):
            return ""
        return inner + (m.group(2) or "")

    return re.sub(r",\s*,", ",", _TEXT_CMD_RE.sub(repl, text))


def normalize_for_parse(text: str) -> str:
    """Drop what the policy says never matters: units after a number, degree marks, `\\$`, LaTeX spacing."""
    text = text.strip()
    # A doubly escaped command (`\\\\frac`, from JSON-escaped output) means the single command.
    if re.search(r"(?<!\\)\\\\(?=[A-Za-z]{2})", text):
        text = text.replace("\\\\\\\\", "\\\\")  # the doubled row separator of the same escaping
        text = re.sub(r"(?<!\\)\\\\(?=[A-Za-z]{2})", r"\\", text)
    text = _THOUSANDS_RE.sub("", text)
    text = text.replace("\\$", "").replace("\\!", "")
    text = _MIXED_NUMBER_RE.sub(r"\1\\frac{\2}{\3}", text)
    if _TRIG_RE.search(text):  # inside trigonometry a degree is pi/180, elsewhere the mark is dropped
        text = _DEGREE_NUM_RE.sub(r"\\frac{\1\\pi}{180}", text)
    text = _DEGREE_RE.sub("", text)
    text = _drop_text_wrappers(text)
    text = _TRAILING_UNIT_RE.sub(_drop_unit, text)
    return text.strip()


def _drop_unit(m: re.Match[str]) -> str:
    """Drop a trailing unit, except a one- or two-letter one glued to the number (`10m` may be 10*m)."""
    if not m.group("sep") and len(m.group("unit")) <= 2:
        return m.group(0)
    return ""


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
