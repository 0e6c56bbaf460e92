"""Where a response's answer is, and whether the response finished: pure string work in linear time.

- `answer_segment`: the text after the last answer delimiter (s1eval.s1format.ANSWER_DELIMITERS: where s1,
  R1-style and Sky-T1/Bespoke-style models end their thinking; configurable), cut at the first
  end-of-turn or end-of-solution marker after it (a hallucinated next turn is not the answer); the whole response
  when no delimiter occurs. Responses longer than `MAX_SEGMENT_CHARS` are read from their last `MAX_SEGMENT_CHARS`
  characters only (cut from the front, never parsed whole), so every later step works on bounded text.
- `cut_inside_thinking`: the response opened a thinking block and never reached an answer delimiter.
- `ends_cleanly`: the text ends at the end of a sentence (``.``, ``!``, ``?``, closing math or box, a code fence),
  not mid-word or mid-formula, and its last sentence does not announce more reasoning ("Let me check.").

Every function here is a constant number of `str.find`/`rfind` scans or a regex applied to a bounded slice, so a
1 MB response costs a few milliseconds.
"""

from __future__ import annotations

import re

from s1eval.s1format import ANSWER_DELIMITERS, END_OF_SOLUTION, S1, THINKING_CLOSERS, THINKING_OPENERS

DEFAULT_ANSWER_DELIMITERS: tuple[str, ...] = ANSWER_DELIMITERS
# THINKING_OPENERS: a response with one and no answer delimiter after it was cut off while thinking (never graded
# as if its thinking were the answer).
# The model ended its turn or its solution: text after these is not part of the answer.
END_MARKERS: tuple[str, ...] = (
    "<|im_end|>", S1.until_thinking, "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", END_OF_SOLUTION,
    "<｜end▁of▁sentence｜>", "<end_of_turn>", "</s>",
)
# Documented bound: the answer is read from the last 64,000 characters of the answer segment (about 16K tokens,
# far beyond any final answer section; a 1 MB response is not parsed whole).
MAX_SEGMENT_CHARS = 64_000
# How much of the end of a text decides whether it ends cleanly.
_TAIL_CHARS = 400

_END_MARKER_RE = re.compile("|".join(re.escape(m) for m in END_MARKERS))
# A last sentence that announces more work means the response stopped before its conclusion.
_CONTINUATION_RE = re.compile(
    r"^(?:(?:let\s+me|let's|let\s+us)(?!\s+(?:know|hope)\b)|wait|hmm+|but\b|alternatively|first\b|maybe|perhaps|"
    r"i\s+(?:need|should|will|must|have\s+to)|we\s+(?:need|should|will|must|have\s+to)|suppose|consider|"
    r"to\s+(?:find|solve|compute|do)|so\s+let|reach(?:ed)?\s+(?:the\s+)?max\w*\s+\w+(?:\s+\w+)?\s+limit)",
    re.I,
)
_CLEAN_END_RE = re.compile(r"(?:[.!?。]|\$|\\\]|\\\)|```|\\end\{[A-Za-z*]+\})$")
_CURRENCY_RE = re.compile(r"(?<![\w$\\])\$(?=\d[\d,]*(?:\.\d+)?(?:[\s.,;!?)]|$))|(?<=\d)[ \t]?\$(?![\w\\{])")
SHORT_TEXT_CHARS = 600
# A last line that computes a result ("a + b = 201 + 1004 = 1205") is complete without a period.
_RESULT_LINE_END_RE = re.compile(r"(?:=|≈|\\approx)[ \t]*[-−]?\d[\d,]*(?:\.\d+)?(?:/\d+)?[ \t]*%?$")
# A last line of plain math only ("(-∞, 0)", "17/3"): an answer written on its own line.
_MATH_LINE_RE = re.compile(r"^[-−+*/^()\[\]{},.=<>≤≥∞√π\d\s\\|]+$")
_WORD_END_RE = re.compile(r"[\d%€£°²³)\]]$")
_INTRO_RE = re.compile(r"\b(?:therefore|thus|hence|so|finally|answer|result|total|sum|conclusion)\b", re.I)
_LIST_MARKER_RE = re.compile(r"^(?:\d{1,3}[.)]|[-*•])$")
_TRAILING_DECORATION = " \t\r\n*_\"'”’)"


def answer_segment(response: str, delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> str:
    """The text after the last delimiter (or the whole response), cut at an end marker, at most MAX_SEGMENT_CHARS."""
    best_end = -1
    for delim in delimiters:
        if delim:
            pos = response.rfind(delim)
            if pos >= 0:
                best_end = max(best_end, pos + len(delim))
    segment = response if best_end < 0 else response[best_end:]
    end = _END_MARKER_RE.search(segment)
    if end is not None:
        segment = segment[: end.start()]
    if "\x00" in segment:
        segment = segment.replace("\x00", "")  # the formula masks use NUL; it carries nothing in a response
    if len(segment) > MAX_SEGMENT_CHARS:
        segment = segment[-MAX_SEGMENT_CHARS:]
    return segment


# Markers that close a thinking block (THINKING_CLOSERS), and a special token cut off part-way ("<|end_of_th").
_PARTIAL_TOKEN_RE = re.compile(r"<[|｜/]?[\w▁|｜]{0,30}$")


def without_code(text: str) -> str:
    """`text` without its fenced code blocks (```...```): code and tool output state no answer."""
    parts = text.split("```")
    return "".join(parts[0::2])


def last_thinking_open(response: str) -> int:
    """Where the last thinking opener starts (-1: none)."""
    return max(response.rfind(opener) for opener in THINKING_OPENERS)


def strip_closing_markers(text: str) -> str:
    """`text` without trailing thinking-closing markers or a special token cut off part-way."""
    tail_start = max(0, len(text) - 200)
    tail = _PARTIAL_TOKEN_RE.sub("", text[tail_start:].rstrip()).rstrip()
    stripped = True
    while stripped:
        stripped = False
        for marker in THINKING_CLOSERS:
            if tail.endswith(marker):
                tail, stripped = tail[: -len(marker)].rstrip(), True
    return text[:tail_start] + tail


def cut_inside_thinking(response: str, delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> bool:
    """Whether the response opened a thinking block after its last answer delimiter (or had none at all)."""
    last_open = last_thinking_open(response)
    if last_open < 0:
        return False
    last_delim = max((response.rfind(d) for d in delimiters if d), default=-1)
    return last_delim < last_open


def continues_reasoning(sentence: str) -> bool:
    """Whether a sentence announces more reasoning ("Let me check.", "Wait, ...", "Alternatively, ...") or says a
    harness stopped it ("Reach max function call limit.")."""
    return bool(_CONTINUATION_RE.match(sentence))


def _last_sentence(text: str) -> str:
    """The last sentence of a (short) tail: after the last sentence end or line break before the final character."""
    body = text[:-1]
    cut = max(body.rfind(". "), body.rfind("! "), body.rfind("? "), body.rfind("\n"))
    return text[cut + 1 :].strip()


def ends_cleanly(text: str) -> bool:
    """Whether `text` stops at the end of a sentence or formula, with a last sentence that does not announce more.

    A short text (under SHORT_TEXT_CHARS) may also end with a number ("so the number is 10"): a length limit cuts
    off long responses, not a two-line answer."""
    tail = text[-_TAIL_CHARS:].rstrip(_TRAILING_DECORATION)
    if not tail:
        return False
    short = len(text.strip()) < SHORT_TEXT_CHARS
    if not (_CLEAN_END_RE.search(tail) or (short and _WORD_END_RE.search(tail)) or _result_line(tail)):
        return False
    if tail.endswith(":") or tail.endswith("=") or _unclosed_math(text, tail):
        return False
    last_line = tail[tail.rfind("\n") + 1 :].strip()
    if _LIST_MARKER_RE.match(last_line):
        return False  # "1." opening a list item that never came
    return not continues_reasoning(_last_sentence(tail).lstrip("*_#> -"))


def _result_line(tail: str) -> bool:
    """A last line of plain math that gives a result ("= 1205", "(-∞, 0)", "17/3") right after a line that
    introduces it ("Adding these together:", "**Final answer**"): complete without a period. A line of math after
    anything else may have been cut off ("12 + 35 + 7 +", "18 + 9 = 2" from 27)."""
    lines = [line.strip() for line in tail.split("\n") if line.strip()]
    if len(lines) < 2 or lines[-1][-1] in "+-−*/×÷^=(,[{\\":
        return False
    last, before = lines[-1], lines[-2].rstrip("*_ ")
    is_math = bool(_MATH_LINE_RE.match(last[:200])) and any(c.isdigit() or c == "∞" for c in last)
    if not (is_math or _RESULT_LINE_END_RE.search(last)):
        return False
    return before.endswith(":") or lines[-2].startswith(("**", "#")) or bool(_INTRO_RE.search(before))


def _unclosed_math(text: str, tail: str) -> bool:
    """Whether the tail ends inside math: an opened `\\(`/`\\[` after the last closer, or an odd `$` count on its
    last line (a response cut off mid-formula may still end with a period: "3.31(1.")."""
    if tail.rfind("\\(") > tail.rfind("\\)") or tail.rfind("\\[") > tail.rfind("\\]"):
        return True
    return odd_dollars(text[text.rfind("\n") + 1 :])


def odd_dollars(line: str) -> bool:
    """Whether a line leaves a `$` formula open; currency signs ("$26", "2,74 $") and `\\$` do not count."""
    dollars = line.replace("\\$", "")
    if dollars.count("$") % 2 == 0:
        return False
    return _CURRENCY_RE.sub("", dollars).count("$") % 2 == 1
