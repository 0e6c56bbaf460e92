"""Fallback comparisons run in the worker after Math-Verify says "not equal" (policy in `s1eval.grading`).

- Decimal approximations: a decimal stated with at least 3 significant digits equals an exact value when it is
  right to every digit it states (within one unit in its last place): ``1.732`` for ``\\sqrt3``, ``125.663`` for
  ``40\\pi``, ``2.6667`` for ``8/3``. ``0.33`` for ``1/3`` (2 digits) is not enough. Lists, tuples and intervals
  compare element by element (brackets must match; plain lists are unordered).
- Labelled answers: ``f(x) = 2x + 3`` and ``y = 2x + 3`` state the same value; a one-symbol label (or a function
  of one variable) on both sides is dropped and the values are compared.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

_DECIMAL_RE = re.compile(r"^([+-]?)(\d*)\.(\d+)(?:\s*\\times\s*10\^\{?([+-]?\d+)\}?)?$")
_LABEL_RE = re.compile(r"^\s*([A-Za-z](?:_\{?\w+\}?)?(?:\([A-Za-z]\))?)\s*=\s*([^=<>]+)$")
_MIN_SIG_DIGITS = 3


def split_label(text: str) -> str | None:
    """The value of a labelled answer (`y = 5` -> `5`), or None when the text is not one."""
    m = _LABEL_RE.match(text.strip().strip("$"))
    return m.group(2).strip() if m else None


def _decimal(text: str) -> tuple[float, float] | None:
    """(value, half-width of the last stated digit's unit) for a decimal literal with >= 3 significant digits."""
    m = _DECIMAL_RE.match(text.strip())
    if not m:
        return None
    sign, whole, frac, exp = m.groups()
    digits = (whole + frac).lstrip("0")
    if len(digits) < _MIN_SIG_DIGITS:
        return None
    scale = 10.0 ** int(exp or 0)
    value = float(f"{sign}{whole or '0'}.{frac}") * scale
    return value, (10.0 ** -len(frac)) * scale


def _split_top(text: str) -> tuple[str, list[str], str]:
    """Split `(a, b]` or `a, b` at top-level commas; returns (open bracket, elements, close bracket)."""
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\left|\\right", "", text)
    opening = closing = ""
    if len(text) >= 2 and text[0] in "([{" and text[-1] in ")]}":
        opening, closing, text = text[0], text[-1], text[1:-1]
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch in "({[" 
        depth -= ch in ")}]"
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return opening, [p for p in parts if p], closing


def _pair_close(a: str, b: str, value_of: Callable[[str], float | None]) -> bool:
    """One side a >= 3-digit decimal, the other an exact value within one unit of the decimal's last digit."""
    for dec_side, exact_side in ((a, b), (b, a)):
        dec = _decimal(dec_side)
        if dec is None:
            continue
        exact = value_of(exact_side)
        if exact is not None and math.isfinite(exact) and abs(dec[0] - exact) <= dec[1] * 1.0000001:
            return True
    return False


def approx_equal(gold: str, answer: str, value_of: Callable[[str], float | None],
                 exact_equal: Callable[[str, str], bool]) -> bool:
    """Element-wise comparison allowing stated-precision decimals (see module docstring)."""
    g_open, g_items, g_close = _split_top(gold)
    a_open, a_items, a_close = _split_top(answer)
    if (g_open, g_close) != (a_open, a_close) or len(g_items) != len(a_items) or not g_items:
        return False
    if not any(_decimal(x) for x in g_items + a_items):
        return False

    def same(x: str, y: str) -> bool:
        return _pair_close(x, y, value_of) or exact_equal(x, y)

    if g_open or len(g_items) == 1:  # ordered: tuple, interval, single value
        return all(same(x, y) for x, y in zip(g_items, a_items))
    remaining = list(a_items)  # a plain list is unordered: greedy matching is enough for small lists
    for x in g_items:
        hit = next((y for y in remaining if same(x, y)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True
