"""String normalisation applied to golds and answers alike before comparison (policy in `s1eval.grading`).

Pure string work in linear time (no regex here has two quantifiers competing for the same characters, and none
copies the text per match), safe in the main process on any input:
- `normalize_for_parse`: what Math-Verify sees: unicode math as LaTeX (``½`` -> ``\\frac{1}{2}``, ``−`` -> ``-``,
  ``√3`` -> ``\\sqrt{3}``), ordinals as numbers (``12^{\\mathrm{th}}``, ``3rd`` -> 12, 3), a number named in words
  (``three``), units and count nouns after a number (``10\\text{ cm}``, ``9 boys``), degree marks, ``\\$`` and LaTeX
  spacing dropped.
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
    r"(?<=[\d}.)])(?P<sep>(?:\\[,;:!]|~|\s)*)(?P<unit>" + _UNIT_WORDS + r")(?:\^\{?[23]\}?)?\s*$", re.I
)
_DEGREE_RE = re.compile(r"\^\s*\{?\\circ\}?|°|\\degree")
_DEGREE_NUM_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:\^\s*\{?\\circ\}?|°|\\degree)")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)\b")
_THOUSANDS_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*|,\\,\s*)(?=\d{3})")
_MIXED_NUMBER_RE = re.compile(r"^(\d+)\s+(\d+)\s*/\s*(\d+)$")
_SPACING_RE = re.compile(r"\\[,;:!]|\\ |~|\\quad|\\qquad")
_INT_RE = re.compile(r"^[+-]?\d+$")
_ORDINAL_RE = re.compile(
    r"(?<=\d)(?:\s*\^\s*\{\s*(?:\\(?:text|mathrm|textrm|rm|textup)\s*\{\s*(?:st|nd|rd|th)\s*\}|(?:st|nd|rd|th))\s*\}"
    r"|\s*\^\s*\\(?:text|mathrm|textrm|rm)\s*\{\s*(?:st|nd|rd|th)\s*\}|\^?(?:st|nd|rd|th)\b)"
)
# "9 boys", "2000 calories", "550 gallons of gasoline": words after a number name what is counted. Lists ("3 and
# 4", "1 or 2") and ranges ("1 to 5") keep their words.
_COUNT_NOUN_RE = re.compile(
    r"^([-+]?\d[\d,]*(?:\.\d+)?)[ \t]+(?!(?:and|or|to|plus|minus|times|over)\b)[A-Za-z]+"
    r"(?:[ \t]+(?!(?:and|or|to|plus|minus|times|over)\b)[A-Za-z]+){0,5}\.?$"
)
NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}
_NUMBER_WORD_RE = re.compile(r"^(" + "|".join(NUMBER_WORDS) + r")(?:[- ](" + "|".join(NUMBER_WORDS) + r"))?$", re.I)
_UNICODE = {
    "−": "-", "–": "-", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ", "²": "^2", "³": "^3", "π": "\\pi ",
    "∞": "\\infty ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "½": "\\frac{1}{2}", "⅓": "\\frac{1}{3}",
    "⅔": "\\frac{2}{3}", "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}", "⅕": "\\frac{1}{5}", "⅖": "\\frac{2}{5}",
    "⅗": "\\frac{3}{5}", "⅘": "\\frac{4}{5}", "⅙": "\\frac{1}{6}", "⅚": "\\frac{5}{6}", "⅛": "\\frac{1}{8}",
    "⅜": "\\frac{3}{8}", "⅝": "\\frac{5}{8}", "⅞": "\\frac{7}{8}",
}
_UNICODE_RE = re.compile("|".join(re.escape(k) for k in _UNICODE))
# √ applies to what follows it: a number, a letter, or a bracketed group.
_SQRT_RE = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z]|\{([^{}]*)\}|\(([^()]*)\))")


def number_word_value(text: str) -> int | None:
    """The number a word or hyphenated pair names ("three" -> 3, "twenty-four" -> 24), else None."""
    m = _NUMBER_WORD_RE.match(text.strip())
    if m is None:
        return None
    return NUMBER_WORDS[m.group(1).lower()] + NUMBER_WORDS.get((m.group(2) or "").lower(), 0)


def unicode_to_latex(text: str) -> str:
    """Unicode math signs as LaTeX (``½`` -> ``\\frac{1}{2}``, ``√(x+1)`` -> ``\\sqrt{x+1}``, ``−`` -> ``-``)."""
    if text.isascii():
        return text
    text = _SQRT_RE.sub(lambda m: "\\sqrt{" + (m.group(2) or m.group(3) or m.group(1)) + "}", text)
    return _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], text)


def _drop_text_wrappers(text: str) -> str:
    """`\\text{E}` -> `E`, but `10\\text{ cm}` -> `10` (a unit after a number is dropped)."""

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        if inner in ("and", "or"):
            return ", "  # "6 \\text{ and } 8" is the list 6, 8 (a comma before it is merged below)
        before = _char_before(text, m.start())
        if (before.isdigit() or before in "}.)") and before and re.fullmatch(r"[A-Za-z. ]+(\^\d)?", inner):
            return ""
        return inner + (m.group(2) or "")

    return re.sub(r",\s*,", ",", _TEXT_CMD_RE.sub(repl, text))


def _char_before(text: str, pos: int) -> str:
    """The last non-space character before `pos` ("" at the start); no copy of the text (linear over a run)."""
    i = pos - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return text[i] if i >= 0 else ""


def normalize_for_parse(text: str) -> str:
    """Drop what the policy says never matters: units after a number, degree marks, `\\$`, LaTeX spacing."""
    text = unicode_to_latex(text.strip())
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
    text = _ORDINAL_RE.sub("", text)
    text = _drop_text_wrappers(text)
    text = _TRAILING_UNIT_RE.sub(_drop_unit, text)
    text = _COUNT_NOUN_RE.sub(r"\1", text.strip())
    words = number_word_value(text) if len(text) < 40 else None
    return str(words) if words is not None else text.strip()


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
