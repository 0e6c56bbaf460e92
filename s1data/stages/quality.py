"""quality: the paper's string rules, API errors and missing fields, each its own drop reason.

Rules (paper section 2 and Appendix C; our regexes for its words, checked on the question text):
- ``asy``: Asymptote code (``[asy]``) unless the source is AIME (AIME figures are kept, as the paper does);
- ``image_reference``: a reference to an image that is not there (``![Image]``, ``![](``);
- ``numbered_parts``: numbered sub-problems like ``p1.`` / ``p2.`` (inconsistent question numbering);
- ``bold_digits``: a bold span containing a digit (``**...3...**``), markdown residue of scraped problem sets.
Before them: ``api_error`` (the teacher call failed) and ``missing:<column>`` (an empty required field).
The first rule that fires is the reason; the order is fixed so counts are reproducible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from s1data.pipeline import FilterStage
from s1data.record import Drop, Verdict

_RULES = {
    "asy": re.compile(r"\[asy\]", re.I),
    "image_reference": re.compile(r"!\[Image\]|!\[\]\(", re.I),
    "numbered_parts": re.compile(r"(?<![A-Za-z0-9])p\d+\.(?!\d)"),
    "bold_digits": re.compile(r"\*\*[^*\n]*\d[^*\n]*\*\*"),
}
RULE_NAMES = tuple(_RULES)


@dataclass(frozen=True)
class QualityOptions:
    """`required`: columns that must be non-empty (e.g. thinking_trajectory and attempt after traces);
    `rules`: which string rules apply; `asy_allowed_sources`: substrings of source_type exempt from `asy`."""

    required: tuple[str, ...] = ("question",)
    rules: tuple[str, ...] = RULE_NAMES
    asy_allowed_sources: tuple[str, ...] = ("aime",)
    check_api_error: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "required", tuple(self.required))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "asy_allowed_sources", tuple(self.asy_allowed_sources))
        bad = [r for r in self.rules if r not in _RULES]
        if bad:
            raise ValueError(f"unknown quality rules {bad}; valid: {', '.join(RULE_NAMES)}")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return not value or all(_empty(v) for v in value)
    return False


def check_row(row: dict[str, Any], opts: QualityOptions) -> Verdict:
    """None to keep, else the first rule that fires."""
    if opts.check_api_error and not _empty(row.get("api_error")):
        return Drop("api_error", str(row["api_error"])[:200])
    for col in opts.required:
        if _empty(row.get(col)):
            return Drop(f"missing:{col}")
    question = row.get("question") or ""
    for name in opts.rules:
        m = _RULES[name].search(question)
        if m is None:
            continue
        if name == "asy" and any(s in str(row.get("source_type", "")).lower() for s in opts.asy_allowed_sources):
            continue
        return Drop(name, m.group(0)[:80])
    return None


class Quality(FilterStage):
    """Drop rows failing the paper's quality rules."""

    name = "quality"
    Options = QualityOptions

    def check(self, row: dict[str, Any]) -> Verdict:
        return check_row(row, self.options)
