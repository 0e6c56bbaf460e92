"""Multiple-choice grading (GPQA Diamond): which letter did the response choose?

From the answer segment (text after the last answer delimiter), first rule that fires wins:
- ``boxed``: the last ``\\boxed{}`` holding a letter (``\\boxed{C}``, ``\\boxed{(C)}``, ``\\boxed{\\text{C}}``) or the exact
  text of one choice;
- ``answer_line``: the first non-empty line after the last ``Answer:`` / ``Final Answer:``, starting with a letter
  (``C``, ``(C)``, ``C)``, ``C.``, ``"C"``, ``**C**``) or equal to one choice's text;
- ``statement``: in the last paragraph, "the answer is (C)", "the correct option is C", "answer: C";
- ``bare``: the whole segment is one letter;
- ``choice_text``: the segment's last line is exactly one choice's text.
Letters must be capitals A-D: a lower-case "a" is usually the article, so "Answer: c" is not read as C (the
lighteval cases agree). "Answer: A good choice is..." is the article, not the letter. A response naming no letter is wrong and logged
as ``unextracted``: never default to "A" (the s1 fork did, so each truncated response had a one-in-four chance of
counting as correct).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS, answer_segment, extract_boxed
from s1eval.grading.grade import Grade

LETTERS = "ABCD"
_LETTER_AT_START = re.compile(r"^[\s*_\"'`(\[{$]*(?:\\text\{|\\textbf\{|\\mathrm\{)?\(?([A-D])\)?(?![A-Za-z0-9])")
_ANSWER_TAG_RE = re.compile(r"(?:\*\*)?\b(?:final\s+answer|answer)\b\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?", re.I)
_STATEMENT_RE = re.compile(
    r"\b(?:answer|option|choice)\s+(?:is|would\s+be|should\s+be|must\s+be)\s*:?\s*(?:(?:option|choice)\s+)?"
    r"(?:definitely\s+|clearly\s+)?[\"'*(\[]*\(?([A-D])\)?(?![A-Za-z0-9])"
)


# "Answer: A good choice is ..." uses the article, not the letter.
_ARTICLE_RE = re.compile(r"^A\s+(?!(?:is|was|seems|would|should|must|and|or)\b)[a-z]")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip("$*_\"'`").rstrip(".")).strip().lower()


def _letter_of(text: str, choices: Sequence[str] | None) -> str | None:
    """A letter at the start of `text`, or the letter of the choice whose text `text` is."""
    m = _LETTER_AT_START.match(text)
    if m and not (m.group(1) == "A" and _ARTICLE_RE.match(text[m.start(1) :])):
        return m.group(1)
    if choices:
        target = _norm(text)
        hits = [LETTERS[i] for i, c in enumerate(choices) if target and _norm(str(c)) == target]
        if len(hits) == 1:
            return hits[0]
    return None


def _from_answer_line(segment: str, choices: Sequence[str] | None) -> str | None:
    tags = list(_ANSWER_TAG_RE.finditer(segment))
    if not tags:
        return None
    for line in segment[tags[-1].end() :].split("\n"):
        if line.strip():
            return _letter_of(line.strip(), choices) or _from_statement(line)
    return None


def _from_statement(text: str) -> str | None:
    found = None
    for found in _STATEMENT_RE.finditer(text):
        pass
    return found.group(1) if found else None


def extract_letter(response: str, choices: Sequence[str] | None = None,
                   delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> tuple[str | None, str]:
    """(letter, rule) for a response; (None, "none") when it names no letter."""
    segment = answer_segment(response or "", delimiters)
    boxed, _ = extract_boxed(segment)
    if boxed is not None:
        letter = _letter_of(boxed, choices)
        if letter:
            return letter, "boxed"
    letter = _from_answer_line(segment, choices)
    if letter:
        return letter, "answer_line"
    paragraphs = [p for p in re.split(r"\n\s*\n", segment.strip()) if p.strip()]
    last = paragraphs[-1] if paragraphs else ""
    letter = _from_statement(last)
    if letter:
        return letter, "statement"
    stripped = segment.strip()
    if re.fullmatch(r"[\s*(\[]*([A-D])[)\].]?[\s*]*", stripped):
        return re.search(r"[A-D]", stripped).group(0), "bare"  # type: ignore[union-attr]
    last_line = stripped.split("\n")[-1] if stripped else ""
    if choices and last_line:
        hits = [LETTERS[i] for i, c in enumerate(choices) if _norm(last_line) == _norm(str(c))]
        if len(hits) == 1:
            return hits[0], "choice_text"
    return None, "none"


def grade_choice(response: str, gold_letter: str, choices: Sequence[str] | None = None,
                 delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> Grade:
    """Grade a multiple-choice response against the gold letter (exact match of letters)."""
    gold = gold_letter.strip().upper()
    if gold not in LETTERS:
        raise ValueError(f"gold letter must be one of {LETTERS}, got {gold_letter!r}")
    letter, rule = extract_letter(response, choices, delimiters)
    if letter is None:
        return Grade(None, False, "unextracted", rule)
    return Grade(letter, letter == gold, "exact", rule)
