"""Math spans (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) and sentences of prose, found in linear time.

A lazy regex such as ``\\\\\\[(.+?)\\\\\\]`` rescans the rest of the text from every unclosed opener, which is
quadratic (a last sentence with 100 KB of unclosed ``\\[`` took 13 s). `math_spans` scans once: each opener looks for
its closer with `str.find`, and a closer known to be absent from a range is never searched for in it again.
Inline math (``$``, ``\\(``) may not cross a line break, display math may (as in Math-Verify).

`mask_math` replaces every span by a placeholder, so that prose rules (sentence ends, "is", "=") never look
inside formulas; `placeholders` says which spans a piece of masked text refers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An escaped dollar (`\$`, a currency sign in LaTeX) neither opens nor closes a formula.
_OPENER_RE = re.compile(r"(?<!\\)\$\$|(?<!\\)\$|\\\(|\\\[")
_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_INLINE = frozenset({"$", "\\("})
# Two plain words in a row (not a command, not inside \text{...}) do not occur in a formula.
_PROSE_RE = re.compile(r"(?<![A-Za-z\\{])[A-Za-z]{2,}[ \t]+[A-Za-z]{2,}(?![A-Za-z]*\})")
# Placeholders are NUL-delimited; `mask_math` removes any NUL of the input first, so a response cannot forge one.
_MARK = "\x00"
_PLACEHOLDER_RE = re.compile(_MARK + r"(\d+)" + _MARK)
# Sentence ends: . ! ? followed by space and a capital/math/markup start, any line break, or a formula followed by
# a capitalised word ("... $y = 6$ So, the pair is ..." in text whose line breaks were lost).
# Titles and Latin abbreviations ("Mr. Brennan", "e.g. Bob") do not end a sentence.
_SENTENCE_SPLIT_RE = re.compile(
    r"(?<=[.!?])(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bvs\.)(?<!Mrs\.)(?<!e\.g\.)(?<!i\.e\.)"
    r"[ \t]+(?=[A-Z\x00$(*_\"'\\])|(?<=\x00)[ \t]+(?=[A-Z][a-z])|\n+"
)


@dataclass(frozen=True)
class Span:
    """One math span: where it starts and ends in the text (delimiters included) and its content."""

    start: int
    end: int
    content: str
    opener: str = "$"

    @property
    def raw(self) -> str:
        """The span as written, delimiters included."""
        return self.opener + self.content + _CLOSER[self.opener]


def math_spans(text: str) -> list[Span]:
    """Every math span, left to right, in one pass (see the module docstring)."""
    spans: list[Span] = []
    absent: dict[str, tuple[int, int]] = {}  # closer -> a range [lo, hi) known not to contain it
    pos, n = 0, len(text)
    while True:
        m = _OPENER_RE.search(text, pos)
        if m is None:
            return spans
        opener = m.group()
        closer, start = _CLOSER[opener], m.end()
        stop = n
        if opener in _INLINE:
            newline = text.find("\n", start)
            stop = n if newline < 0 else newline
        close = _find(text, closer, start, stop, absent)
        if close <= start or (opener == "$" and _is_prose(text, start, close)):
            pos = m.start() + 1  # unclosed, empty, or two currency signs around prose: the opener is plain text
            continue
        spans.append(Span(m.start(), close + len(closer), text[start:close], opener))
        pos = close + len(closer)


def _is_prose(text: str, start: int, close: int) -> bool:
    """Whether a would-be `$...$` is prose between dollar signs ("$19.50 with a discount ... = $26"): its closer
    starts an amount, or it holds two plain words in a row."""
    return text[close + 1 : close + 2].isdigit() or bool(_PROSE_RE.search(text, start, close))


def _find(text: str, closer: str, start: int, stop: int, absent: dict[str, tuple[int, int]]) -> int:
    """The first unescaped `closer` in text[start:stop], or -1 (remembering the range where there is none)."""
    lo, hi = absent.get(closer, (0, -1))
    if lo <= start and stop <= hi:
        return -1
    found = text.find(closer, start, stop)
    while found > 0 and closer[0] == "$" and text[found - 1] == "\\":
        found = text.find(closer, found + 1, stop)  # `\$` is a dollar sign, not a closer
    if found < 0:
        absent[closer] = (start, stop)
    return found


def mask_math(text: str) -> tuple[str, list[Span]]:
    """The text with every math span replaced by a placeholder, and the spans in placeholder order."""
    text = text.replace(_MARK, "")
    spans = math_spans(text)
    if not spans:
        return text, spans
    parts, last = [], 0
    for i, span in enumerate(spans):
        parts.append(text[last : span.start])
        parts.append(f"{_MARK}{i}{_MARK}")
        last = span.end
    parts.append(text[last:])
    return "".join(parts), spans


def placeholders(masked: str) -> list[int]:
    """Indices of the spans a masked text refers to, in order."""
    return [int(m.group(1)) for m in _PLACEHOLDER_RE.finditer(masked)]


def split_sentences(masked: str) -> list[str]:
    """Sentences of a masked text (line breaks end sentences too); empty ones dropped."""
    return [s.strip() for s in _SENTENCE_SPLIT_RE.split(masked) if s.strip()]
