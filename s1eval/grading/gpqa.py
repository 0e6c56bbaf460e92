"""Multiple-choice grading (GPQA Diamond): which letter did the response choose?

From the answer segment (text after the last answer delimiter), first rule that fires wins:
- ``boxed``: the last ``\\boxed{}`` names a letter (``\\boxed{C}``, ``\\boxed{(C)}``, ``\\boxed{\\text{C}}``) or
  holds one choice's text;
- ``answer_line``: the first non-empty line after the last ``Answer:`` / ``Final Answer:`` names a letter (``C``,
  ``(C)``, ``C)``, ``C.``, ``"C"``, ``**C**``), is one choice's text, or holds a statement as below;
- ``statement``: in the last paragraph, the last "the answer is (C)", "the correct option is C" or "the answer is
  <a choice's text>";
- ``bare``: the whole segment is one letter;
- ``choice_text``: the segment's last line is one choice's text, or a letter followed by that letter's own text.

How a piece of text (a box, an answer line, the rest of a statement's line) names a letter, in this order:
1. a bare letter ("C", "(C)", "**C**") is that letter, even where some choice's text is also "C": the prompt asks
   for letters;
2. the text of exactly one choice, compared after normalising (whitespace, ``$``, ``\\text{}``, outer markdown and
   quotes, a trailing period, case) is that choice, whatever letter the text starts with: GPQA has choice texts
   such as "A = 1, B = 2", "A > B > C" or "A and B only", and the s1 fork read those as their first letter;
3. a leading letter used as a label ("B) A > B > C", "(C) A and B only", "C, because ...") is that letter. A letter
   followed by an operator, "and"/"or" or another letter ("A = 1", "A > B", "A and B", "A, B") is part of an
   expression, not a label, and names nothing.
Letters must be capitals A-D: a lower-case "a" is usually the article, so "Answer: c" is not read as C (the
lighteval cases agree). "Answer: A good choice is..." is the article, not the letter. A response naming no letter
is wrong and logged as ``unextracted``: never default to "A" (the s1 fork did, so each truncated response had a
one-in-four chance of counting as correct).

A response cut off inside its thinking block (``<think>`` with no ``</think>`` after it) names no letter (rule
``cut_in_thinking``): a letter weighed while thinking is not a choice made. A ``statement`` counts only where the
response ended cleanly and its last paragraph does not hedge between letters ("(B) or (C)", "maybe C", "B?"). Every grade records ``finished`` as the
math grader does: False when the response was cut off inside thinking, or stopped mid-sentence without a
committed letter (a box or an answer line).

Responses can be megabytes of looping text, so every pattern here is linear in its input: no two neighbouring
quantifiers can match the same character (``\\s*:?\\s*`` took hours on "the answer is" + 1 MB of spaces), and
statement tails are cut at the next statement so that no text is scanned twice.
"""  # noqa: E501 - one prose line of the docstring is long; rewrapping it would change the docstring

from __future__ import annotations

import re
from collections.abc import Sequence

from s1eval.grading.extract import ANSWER_TAG_RE, DEFAULT_ANSWER_DELIMITERS, answer_segment, extract_boxed
from s1eval.grading.grade import Grade
from s1eval.grading.segment import cut_inside_thinking, ends_cleanly

LETTERS = "ABCD"
# "B? Let me reconsider", "(B) or (C)", "maybe it is C": no letter is chosen.
_UNDECIDED_RE = re.compile(
    r"\?|\b(?:or|maybe|perhaps|probably|possibly|might|could\s+be|not\s+sure|either)\s+(?:\(?[A-D]\)?(?![A-Za-z])|it)",
)
# A letter given in a box, an answer line or as the whole answer is committed even without a closing period.
_COMMITTED_RULES = frozenset({"boxed", "answer_line", "bare"})
# Patterns that run from a given position are anchored (\A, or a lookbehind that refuses to start inside the run
# they consume), so that even a search over every position stays linear.
# A letter at the start of a text, after markdown, quotes, brackets, math or \text{.
_LETTER_AT_START = re.compile(r"\A[\s*_\"'`(\[{$]*(?:\\(?:text|textbf|mathrm)\{)?\(?([A-D])(?![A-Za-z0-9])")
# After a bare letter only closing marks may follow.
_BARE_REST = re.compile(r"(?<![\s)\]}*_\"'`$.:])[\s)\]}*_\"'`$.:]*\Z")
# After the letter of an expression: an operator, a conjunction or a list of letters ("A = 1", "A and B", "A, B").
_NOT_A_LABEL = re.compile(
    r"(?<![ \t}$*])[ \t}$*]*(?:[=<>≤≥≠≈→⇒+&]"
    r"|\\(?:leq?|geq?|neq?|lt|gt|approx|to|rightarrow|Rightarrow|times|cdot)(?![A-Za-z])"
    r"|(?:and|or)\b|,[ \t]*(?:and[ \t]+)?[A-D](?![A-Za-z0-9]))"
)
# "Answer: A good choice is ..." uses the article, not the letter.
_ARTICLE_RE = re.compile(r"A\s+(?!(?:is|was|seems|would|should|must|and|or)\b)[a-z]")
_STATEMENT_RE = re.compile(r"\b(?:answer|option|choice)\s+(?:is|would\s+be|should\s+be|must\s+be)\b")
# Between "the answer is" and what it names; every part is optional, so the match never backtracks.
_STATEMENT_LEAD = re.compile(r"\s*(?::\s*)?(?:(?:option|choice)\s+)?(?:(?:definitely|clearly)\s+)?")
_BARE_SEGMENT_RE = re.compile(r"\A[\s*(\[]*([A-D])[)\].]?[\s*]*")
_TEXT_WRAP_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_IGNORED_RE = re.compile(r"\s+|\$|\\[,;:! ]|\\(?:left|right)(?![A-Za-z])")
_LABEL_MARKS = " \t)].:*_-–—"


def _norm(text: str) -> str:
    """Choice-text comparison key: no whitespace, math delimiters, \\text{} wrappers, outer markdown, final period."""
    text = _IGNORED_RE.sub("", _TEXT_WRAP_RE.sub(r"\1", text))
    return text.strip("*_\"'`").rstrip(".").lower()


def _choice_keys(choices: Sequence[str] | None) -> list[str]:
    return [_norm(str(c)) for c in choices] if choices else []


def _choice_named(text: str, keys: Sequence[str]) -> str | None:
    """The letter of the one choice whose text `text` is; None for no choice or several equal ones."""
    if not keys:
        return None
    target = _norm(text)
    hits = [letter for letter, key in zip(LETTERS, keys) if target and key == target]
    return hits[0] if len(hits) == 1 else None


def _letter_of(text: str, keys: Sequence[str], article_guard: bool = True) -> str | None:
    """The letter `text` names: a bare letter, else one choice's text, else a leading letter used as a label."""
    text = text.strip()
    m = _LETTER_AT_START.match(text)
    if m and _BARE_REST.match(text, m.end()):
        return m.group(1)
    named = _choice_named(text, keys)
    if named:
        return named
    if m is None or _NOT_A_LABEL.match(text, m.end()):
        return None
    if article_guard and m.group(1) == "A" and _ARTICLE_RE.match(text, m.start(1)):
        return None
    return m.group(1)


def _first_line(text: str, start: int) -> str:
    """The first line at or after `start` with more than markdown on it ("" if none)."""
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end].strip()
        if line.strip("*_"):
            return line
        start = end + 1
    return ""


def _from_answer_line(segment: str, keys: Sequence[str]) -> str | None:
    tag = None
    for tag in ANSWER_TAG_RE.finditer(segment):  # noqa: B007 - keeps the last match
        pass
    if tag is None:
        return None
    line = _first_line(segment, tag.end())
    return (_letter_of(line, keys) or _from_statement(line, keys)) if line else None


def _from_statement(text: str, keys: Sequence[str]) -> str | None:
    """The letter named by the last statement ("the answer is ...") in `text` that names one."""
    found = None
    matches = list(_STATEMENT_RE.finditer(text))
    for i, m in enumerate(matches):
        # A statement's tail ends at its line's end or at the next statement: no text is read twice.
        bound = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        begin = _STATEMENT_LEAD.match(text, m.end(), bound).end()  # type: ignore[union-attr]
        end = text.find("\n", begin, bound)
        # "The answer is A because ..." is the letter: the article guard is for answer lines.
        letter = _letter_of(text[begin : bound if end < 0 else end], keys, article_guard=False)
        found = letter or found
    return found


def _from_last_line(line: str, keys: Sequence[str]) -> str | None:
    """A last line that is one choice's text, or a letter followed by its own choice's text."""
    named = _choice_named(line, keys)
    if named:
        return named
    m = _LETTER_AT_START.match(line)
    index = LETTERS.index(m.group(1)) if m else len(keys)
    if index >= len(keys) or not keys[index]:
        return None
    return m.group(1) if _norm(line[m.end() :].lstrip(_LABEL_MARKS)) == keys[index] else None  # type: ignore[union-attr]


def extract_letter(response: str, choices: Sequence[str] | None = None,
                   delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> tuple[str | None, str]:
    """(letter, rule) for a response; (None, "none") when it names no letter."""
    return letter_from_segment(answer_segment(response or "", delimiters), choices)


def letter_from_segment(segment: str, choices: Sequence[str] | None = None) -> tuple[str | None, str]:
    """(letter, rule) for an answer segment (the rules of this module's docstring, in order)."""
    keys = _choice_keys(choices)
    boxed, _ = extract_boxed(segment)
    if boxed is not None:
        letter = _letter_of(boxed, keys)
        if letter:
            return letter, "boxed"
    letter = _from_answer_line(segment, keys)
    if letter:
        return letter, "answer_line"
    stripped = segment.strip()
    paragraphs = [p for p in re.split(r"\n\s*\n", stripped) if p.strip()]
    last = paragraphs[-1] if paragraphs else ""
    # As for math answers: a statement counts where the response ended cleanly and did not hedge between letters.
    letter = _from_statement(last, keys) if ends_cleanly(segment) and not _UNDECIDED_RE.search(last) else None
    if letter:
        return letter, "statement"
    bare = _BARE_SEGMENT_RE.fullmatch(stripped)
    if bare:
        return bare.group(1), "bare"
    letter = _from_last_line(stripped[stripped.rfind("\n") + 1 :].strip(), keys) if stripped else None
    if letter:
        return letter, "choice_text"
    return None, "none"


def grade_choice(response: str, gold_letter: str, choices: Sequence[str] | None = None,
                 delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> Grade:
    """Grade a multiple-choice response against the gold letter (exact match of letters)."""
    gold = gold_letter.strip().upper()
    if gold not in LETTERS:
        raise ValueError(f"gold letter must be one of {LETTERS}, got {gold_letter!r}")
    response = response or ""
    if cut_inside_thinking(response, delimiters):
        return Grade(None, False, "unextracted", "cut_in_thinking", finished=False)
    segment = answer_segment(response, delimiters)
    letter, rule = letter_from_segment(segment, choices)
    finished = bool(segment.strip()) and (ends_cleanly(segment) or rule in _COMMITTED_RULES)
    if letter is None:
        return Grade(None, False, "unextracted", rule, finished=finished)
    return Grade(letter, letter == gold, "exact", rule, finished=finished)
