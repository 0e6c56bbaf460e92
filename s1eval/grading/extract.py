"""Find the final answer a response states, without guessing.

`extract` (per response) = `segment.answer_segment` (the text after the last answer delimiter, bounded in size) ->
`extract_final_answer` on it, first rule that fires wins:
- ``boxed``: the last brace-matched ``\\boxed{...}`` / ``\\fbox{...}``; boxes that sit next to it, separated only by
  commas, "and", "or", spacing or math delimiters (``\\boxed{1}, \\boxed{2}``), are joined with ", " (one answer
  given in several boxes). An unclosed last box means the response was cut off inside its answer: nothing is
  extracted (``unclosed_box``).
- ``answer_line``: the first non-empty line after the last ``Final Answer:`` / ``Answer:`` tag, a line that is only
  a ``**Final Answer**`` / ``# Answer`` header, or a GSM8K-style ``#### 42`` line. A line that is itself a
  sentence ("The final answer is $5$. I hope it is correct.") is reduced to the value it states (a sentence that
  states none, like "First we compute", is no answer); a heading that ends in ":" is answered by the next line;
  a closing statement written after the tagged line (the heading opened a plan) wins over it.
- ``statement``: a closing statement in the final sentences (`s1eval.grading.statement`: sign-offs skipped, the
  value after "is"/"=" rather than the last formula), read only when the response ends cleanly
  (`segment.ends_cleanly`); a hedged or questioning last statement is ``undecided`` and nothing is extracted.
- ``bare``: a response that is only an answer (one short line that is mostly math, like ``$\\frac12$``).
- ``announced``: a response that ends "Therefore, the value of f(2) is:" and stops gets the value of the equation
  just before ("f(2) = 9") when the announcement names its left side; not ``finished``.
Anything else is unextracted (answer None, rule ``none``): a response cut off mid-reasoning is wrong, and no number
is fished out of it. A response cut off inside its thinking block (``<think>`` with no ``</think>`` after it), or
one whose answer section was cut off before stating an answer, is graded by what its thinking concluded only if the
thinking ends with a committed answer (``**Final Answer** \\boxed{5}``, "I think the answer is 5."; rules
``boxed_in_thinking``, ...); otherwise it is unextracted (rule ``cut_in_thinking`` or ``none``).

`Extraction.finished` says whether the response got to an answer and stopped there: it ends cleanly, or its last
text is the committed answer (``Final Answer: 42``, ``\\boxed{42}``), and it was not cut off inside thinking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from s1eval.grading.mathspans import mask_math, split_sentences
from s1eval.grading.prose_value import value_in
from s1eval.grading.segment import (
    DEFAULT_ANSWER_DELIMITERS,
    MAX_SEGMENT_CHARS,
    answer_segment,
    cut_inside_thinking,
    ends_cleanly,
    last_thinking_open,
    odd_dollars,
    strip_closing_markers,
)
from s1eval.grading.statement import extract_statement, retracts

__all__ = ["ANSWER_TAG_RE", "DEFAULT_ANSWER_DELIMITERS", "Extraction", "answer_segment", "extract", "extract_boxed",
           "extract_final_answer", "match_brace"]

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_SEP_RE = re.compile(r"^(?:\\quad|\\qquad|\\,|\\;|\\ |\\\)|\\\(|\\\[|\\\]|"
                         r"\\text\{\s*(?:and|or)\s*\}|and|or|[\s,;$.])*$")
# "\boxed{a} for part (a) and \boxed{b}": a joining word with a few words around it still joins the boxes.
_BOX_SEP_AND_RE = re.compile(r"^[^{}]{0,40}$")
ANSWER_TAG_RE = re.compile(
    r"(?:\*\*|__)?\b(?:final\s+answer|answer)\b\s*(?:(?:\*\*|__)\s*)?[:：]\s*(?:\*\*|__)?", re.I
)
# A line that is only a header: "**Final Answer**", "### Final Answer", "# Answer" (PRM800K), "Final Answer".
_ANSWER_HEADER_RE = re.compile(
    r"^[ \t]*(?:[-*][ \t]+)?(?:#{1,4}[ \t]*)?(?:(?:\*\*|__)[ \t]*)?(?:\d{1,2}[.)][ \t]*)?"
    r"(?:step[ \t]+\d{1,2}[ \t]*:[ \t]*)?"
    r"(?:the[ \t]+)?(?:final[ \t]+answer|answer)[ \t]*"
    r"(?:(?:\*\*|__)[ \t]*)?(?:[:：][ \t]*(?:(?:\*\*|__)[ \t]*)?)?$",
    re.I | re.M,
)
# GSM8K's convention: the answer on a line of its own after "####".
_HASH_ANSWER_RE = re.compile(r"^[ \t]*####[ \t]*(?=[-$\\\d(])", re.M)
# Words between two boxes that make the earlier one an intermediate result ("$a = \\boxed{2}$ and the final
# answer is $\\boxed{5}$"); count nouns and part labels ("\\boxed{1} papers and \\boxed{2} bins") still join.
_BOX_SPLIT_WORDS = frozenset({"answer", "final", "is", "are", "was", "equals", "therefore", "thus", "hence", "so",
                              "gives", "get", "becomes", "simplest", "simplified", "form", "which", "that", "then"})
_MAX_BARE_LEN = 160
_MAX_LINE_CHARS = 1_500
_ANNOUNCE_TAIL = 600
_ANNOUNCE_RE = re.compile(r"\b(?:is|are|equals|answer|result)[ \t]*:$", re.I)
_LAST_EQUATION_RE = re.compile(r"^([^=]{1,60})=([^=]{1,60})$")
_LIST_PREFIX_RE = re.compile(r"^\s*\d{1,2}[.)]\s+(?=\S)")
# What may follow a committed answer at the very end of a response (punctuation, closing markup).
_DECORATION = " \t\r\n.,;:!*_$\\])}\"'`"


@dataclass(frozen=True)
class Extraction:
    """The answer a response states, which rule found it, and whether the response finished."""

    answer: str | None
    # boxed | answer_line | statement | bare | announced (an answer); none | unclosed_box | cut_in_thinking |
    # undecided | retracted | continues (no answer; see `statement.Statement` for the last three)
    rule: str
    finished: bool = False
    # Where the text the answer came from ends in the segment: a box's end, a value-only answer line's end, the
    # segment's end for a closing statement; -1 when unknown or when that end says nothing about the response's
    # (a prose answer line).
    end: int = -1


def extract(response: str, delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> Extraction:
    """The final answer of a whole response, with its `finished` flag (see the module docstring)."""
    if cut_inside_thinking(response, delimiters):
        found = _thinking_conclusion(response[last_thinking_open(response) :])
        return found if found.answer is not None else Extraction(None, "cut_in_thinking")
    segment = answer_segment(response, delimiters)
    clean = ends_cleanly(segment)
    found = extract_final_answer(segment, clean)
    finished = bool(segment.strip()) and found.rule != "unclosed_box" and (clean or _at_end(segment, found))
    if found.answer is None and found.rule == "none":
        announced = _announced_value(segment)
        if announced is not None:
            return Extraction(announced, "announced", False, -1)
    if found.answer is None and not finished and (_answer_started(segment) or not segment.strip()):
        # The answer section was cut off before it stated an answer: a thinking block that concluded with a
        # committed answer stands for it (the response is still not `finished`).
        delimiter = max((response.rfind(d) for d in delimiters if d), default=-1)
        if delimiter > 0:
            thinking = _thinking_conclusion(response[max(0, last_thinking_open(response)) : delimiter])
            if thinking.answer is not None:
                return thinking
    return Extraction(found.answer, found.rule, finished, found.end)


def _announced_value(segment: str) -> str | None:
    """The value of a response that ends by announcing it ("Therefore, the value of f⁻¹(1/5) is:") without writing
    it after: the value of the equation just before, when the announcement names that equation's left side
    ("f⁻¹(1/5) = 9"). Nothing else is read; a response that announces and never computed states nothing."""
    lines = [line.strip(" \t*_#>-") for line in segment[-_ANNOUNCE_TAIL:].split("\n")]
    lines = [line for line in lines if line]
    if len(lines) < 2 or not _ANNOUNCE_RE.search(lines[-1]):
        return None
    equation = _LAST_EQUATION_RE.match(lines[-2])
    if equation is None:
        return None
    name, value = equation.group(1).strip(" *_$"), equation.group(2).strip(" *_$.")
    squeeze = lambda text: re.sub(r"[\s*_$]", "", text)  # noqa: E731 - compare names without markup
    if len(name) < 2 or squeeze(name) not in squeeze(lines[-1]) or not re.search(r"\d", value):
        return None
    return _clean(value)


def _at_end(text: str, found: Extraction) -> bool:
    """Whether the committed answer is the last thing in `text` (only punctuation or closing markup after it)."""
    return found.answer is not None and found.end >= 0 and not text[found.end :].strip(_DECORATION)


def _answer_started(segment: str) -> bool:
    """Whether the answer section holds more than an answer tag (budget forcing's bare "Final Answer:")."""
    return bool(ANSWER_TAG_RE.sub("", segment[:200], count=1).strip())


def _thinking_conclusion(thinking: str) -> Extraction:
    """The committed answer a thinking block ends with (boxed, answer line or closing statement), else none."""
    text = strip_closing_markers(thinking)[-MAX_SEGMENT_CHARS:]
    clean = ends_cleanly(text)
    found = extract_final_answer(text, clean)
    if found.answer is None or not (clean or _at_end(text, found)):
        return Extraction(None, "none")
    return Extraction(found.answer, found.rule + "_in_thinking", False, -1)


def match_brace(text: str, open_pos: int) -> int:
    """Index of the `}` closing the `{` at `open_pos` (escaped braces `\\{` do not count), or -1."""
    depth = 0
    i = open_pos
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """All closed boxes as (start, end, content), and whether the last box opened is unclosed."""
    found: list[tuple[int, int, str]] = []
    unclosed_last = False
    for m in _BOX_RE.finditer(text):
        if found and m.start() < found[-1][1]:
            continue  # a box nested inside the previous one
        close = match_brace(text, m.end() - 1)
        if close < 0:
            unclosed_last = True
            break
        unclosed_last = False
        if text[m.end() : close].strip():  # an empty box is a template echo ("put it in \\boxed{}"), not an answer
            found.append((m.start(), close + 1, text[m.end() : close].strip()))
    return found, unclosed_last


class BoxGroup(NamedTuple):
    """The last group of boxes in a text (see `_boxed_group`)."""

    content: str | None  # joined contents; None when there is no closed box, or the group is undecided
    unclosed: bool  # an unclosed box ended the text
    end: int  # end of the last box (-1: none)
    undecided: bool = False  # "Either \\boxed{3} or \\boxed{5}"


def _boxed_group(text: str) -> BoxGroup:
    """The last box group: boxes join only across separators ("\\boxed{1}, \\boxed{2}", "\\boxed{a} for part (a)
    and \\boxed{b}"); words such as "the final answer is" between two boxes mean the earlier box was an
    intermediate result. The same content boxed twice counts once."""
    boxes, unclosed = _boxes(text)
    if unclosed or not boxes:
        return BoxGroup(None, unclosed, -1)
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        between = text[box[1] : group[0][0]]
        if len(between) > 40 or not _joins_boxes(between):
            break
        group.insert(0, box)
    if len(group) > 1 and re.search(r"\beither\b", text[max(0, group[0][0] - 40) : group[0][0]], re.I):
        return BoxGroup(None, False, boxes[-1][1], undecided=True)
    return BoxGroup(", ".join(dict.fromkeys(b[2] for b in group)), False, boxes[-1][1])


def _joins_boxes(between: str) -> bool:
    """Whether the text between two boxes only separates them (punctuation, and/or, part labels, count nouns)."""
    if _BOX_SEP_RE.match(between):
        return True
    plain = re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", between)
    if "boxed" in plain or not re.search(r"\b(?:and|or)\b", plain) or not _BOX_SEP_AND_RE.match(plain):
        return False
    return not any(w.lower() in _BOX_SPLIT_WORDS for w in re.findall(r"[A-Za-z]+", plain))


def extract_boxed(text: str) -> tuple[str | None, bool]:
    """The last box's content (joined with adjacent boxes), and whether an unclosed box ended the text."""
    group = _boxed_group(text)
    return group.content, group.unclosed


def _clean(ans: str) -> str | None:
    """Strip wrapping markdown, math delimiters and trailing punctuation; None when nothing is left."""
    ans = ans.strip()
    for _ in range(3):
        before = ans
        ans = ans.strip().strip("*_").strip()
        ans = ans.rstrip(".,;:! \t").strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if ans.startswith(left) and ans.endswith(right) and len(ans) >= len(left) + len(right):
                inner = ans[len(left) : len(ans) - len(right)]
                if left != "$" or "$" not in inner:
                    ans = inner.strip()
        if ans == before:
            break
    return ans or None


_DISPLAY_OPEN = {"\\[": "\\]", "$$": "$$"}


def _display_block(rest: str) -> tuple[str | None, int]:
    """An answer given as display math over several lines (`Answer:\\n\\\\[\\n x \\n\\\\]`): (content, end in `rest`)."""  # noqa: E501 - rewrapping would change the docstring
    stripped = rest.lstrip()
    skipped = len(rest) - len(stripped)
    for opening, closing in _DISPLAY_OPEN.items():
        if stripped.startswith(opening):
            end = stripped.find(closing, len(opening))
            first_line = stripped.split("\n", 1)[0]
            if end > 0 and closing not in first_line[len(opening) :]:
                return _clean(stripped[len(opening) : end]), skipped + end + len(closing)
    return None, -1


def _last_answer_tag(text: str) -> int:
    """Where the text after the last answer tag, header line or `####` marker starts (-1: none)."""
    ends = [m.end() for m in ANSWER_TAG_RE.finditer(text)]
    ends += [m.end() for m in _ANSWER_HEADER_RE.finditer(text)]
    ends += [m.end() for m in _HASH_ANSWER_RE.finditer(text)]
    return max(ends, default=-1)


def _reduce_line(line: str, complete: bool) -> tuple[str | None, bool]:
    """(answer, whether the line is prose) for the line after an answer tag.

    A line without prose is the answer. A sentence ("The final answer is $5$. I hope it is correct.") is reduced
    to the value it states; one that states none ("First we compute", "The") gives no answer, unless it is a short
    complete line ("Navin.", "Tuesday" followed by a line break): a word answer. `complete`: the line ends with
    a period or a line break follows it (a line cut off at the end of the response is not)."""
    line = _LIST_PREFIX_RE.sub("", line[:_MAX_LINE_CHARS])  # "1. First we compute": a list, not the answer 1
    masked, spans = mask_math(line)
    if not re.search(r"(?<![\\A-Za-z])[A-Za-z]{3,}", masked):
        return _clean(line), False
    first = split_sentences(masked)
    value = value_in(first[0], spans) if first else None
    if value:
        return _clean(value), True
    if complete and len(re.findall(r"[A-Za-z]+", masked)) <= 3:
        return _clean(line), False  # a word answer, whole
    return None, True


class AnswerLine(NamedTuple):
    """What follows the last answer tag (see `extract_answer_line`)."""

    answer: str | None
    end: int  # where the answer's line ends (-1: no answer line)
    prose: bool  # the line is a sentence, reduced to its value
    tag: int = -1  # where the text after the tag starts (-1: no tag)


def extract_answer_line(text: str) -> AnswerLine:
    """The answer on the first non-empty line after the last answer tag (or the formula block after it)."""
    start = _last_answer_tag(text)
    if start < 0:
        return AnswerLine(None, -1, False)
    rest = text[start:]
    display, end = _display_block(rest)
    if display:
        return AnswerLine(display, start + end, False, start)
    offset = start
    for line in rest.split("\n"):
        if line.strip():
            break
        offset += len(line) + 1
    else:
        return AnswerLine(None, -1, False, start)
    if line.strip().rstrip("*_ ").endswith(":"):
        # "**Final answer**: ... we find the value of $x$:" then the answer on its own lines.
        after = text[offset + len(line) :]
        display, end = _display_block(after)
        if display:
            return AnswerLine(display, offset + len(line) + end, False, start)
        following = after.lstrip()
        if not following:
            return AnswerLine(None, -1, False, start)
        offset += len(line) + len(after) - len(following)
        line = following.split("\n", 1)[0]
    end = offset + len(line)
    answer, prose = _reduce_line(line.strip(), complete=end < len(text) or line.rstrip().endswith("."))
    return AnswerLine(answer, end, prose, start)


def _looks_bare(text: str) -> bool:
    """One short line that is mostly math (few plain words, some digit or math sign), e.g. `$\\frac12$`, `(1, 2)`."""
    text = text.strip()
    if not text or "\n" in text or len(text) > _MAX_BARE_LEN or ANSWER_TAG_RE.search(text):
        return False
    if len(text) > 2 and not re.search(r"[\d\\$=+\-*/^()\[\]{}<>|]", text):
        return False  # plain words ("lol", "Final Answer") are not a math answer
    if text.count("\\(") != text.count("\\)") or text.count("\\[") != text.count("\\]") or odd_dollars(text):
        return False  # a formula left open: cut off, not an answer
    words = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+(\{[^{}]*\})?", " ", text))
    return len(words) <= 1


def extract_final_answer(segment: str, ends_clean: bool | None = None) -> Extraction:
    """Apply the rules of the module docstring to an answer segment.

    `ends_clean` (default: computed) gates the closing-statement rule: a response cut off mid-sentence states
    nothing in prose."""
    boxes = _boxed_group(segment)
    tagged = extract_answer_line(segment)
    line = tagged.answer
    # A prose answer line is committed where the response ends cleanly, not because the line ends it.
    line_mark = -1 if tagged.prose else tagged.end
    if ends_clean is None:
        ends_clean = ends_cleanly(segment)
    last_box = max(segment.rfind("\\boxed"), segment.rfind("\\fbox"))
    if line and tagged.tag > last_box:  # an answer tag after the last box: the tagged line is the answer
        after = segment[tagged.end :]
        later = extract_statement(after) if ends_clean and after.strip() else None
        if later is not None and later.answer:
            # An "Answer:" heading that opened a plan, and the conclusion written after it: the conclusion.
            return Extraction(_clean(later.answer), "statement", end=len(segment))
        if retracts(after):
            return Extraction(None, "retracted")
        return Extraction(line, "answer_line", end=line_mark)
    if boxes.undecided:
        return Extraction(None, "undecided")
    if boxes.content is not None:
        if retracts(segment[boxes.end :]):
            return Extraction(None, "retracted")
        return Extraction(boxes.content, "boxed", end=boxes.end)
    if boxes.unclosed:
        return Extraction(None, "unclosed_box")
    if line:
        return Extraction(line, "answer_line", end=line_mark)
    if _looks_bare(segment) and not re.search(r"[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", " ", segment)):
        return Extraction(_clean(segment), "bare", end=len(segment))  # only math: the whole text is the answer
    if ends_clean:
        stated = extract_statement(segment)
        if stated.answer:
            return Extraction(_clean(stated.answer), "statement", end=len(segment))
        if stated.reason != "none":
            return Extraction(None, stated.reason)
    if _looks_bare(segment):
        cleaned = _clean(segment)
        if cleaned:
            return Extraction(cleaned, "bare", end=len(segment))
    return Extraction(None, "none")
