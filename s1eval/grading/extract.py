"""Find the final answer a response states, without guessing.

Three steps, each pure string work (no sympy, so it is safe in the main process and fast on 1 MB inputs):

1. `answer_segment`: the text after the last answer delimiter (`<|im_start|>answer` for s1 models,
   `</think>` for R1-style models; configurable); the whole response when there is none.
2. `extract_final_answer` on that segment, first rule that fires wins:
   - ``boxed``: the last brace-matched ``\\boxed{...}`` / ``\\fbox{...}``; boxes that sit next to it,
     separated only by commas, "and", "or", spacing or math delimiters (``\\boxed{1}, \\boxed{2}``), are joined
     with ", " (one answer given in several boxes). An unclosed last box means the response was cut off inside
     its answer: nothing is extracted.
   - ``answer_line``: the first non-empty line after the last ``Final Answer:`` / ``Answer:`` (never the
     rest of the text). A line that is itself a sentence ("The final answer is $5$. I hope it is correct.")
     is reduced by the closing-statement rule below.
   - ``statement``: a closing statement in the last paragraph, e.g. "so the answer is 9", "the final
     answer is $x=5$", "Therefore $x \\geq 5$ is the solution", "Thus, m+n = 127." It must sit near the end
     of the paragraph (at most one short sentence after it), so a number stated in the middle of reasoning
     that then goes on is never picked up.
   - ``bare``: a response that is only an answer (one short line that is mostly math, like ``$\\frac12$``).
   Anything else is unextracted (returned as None): a response cut off mid-reasoning is wrong, and no number
   is fished out of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_ANSWER_DELIMITERS: tuple[str, ...] = ("<|im_start|>answer", "</think>")

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOX_SEP_RE = re.compile(r"^(?:\\quad|\\qquad|\\,|\\;|\\ |\\\)|\\\(|\\\[|\\\]|\\text\{\s*(?:and|or)\s*\}|and|or|[\s,;$.])*$")
# "\boxed{a} for part (a) and \boxed{b}": a joining word with a few words around it still joins the boxes.
_BOX_SEP_AND_RE = re.compile(r"^[^{}]{0,40}$")
_END_OF_TURN_RE = re.compile(r"<\|im_end\|>|<\|im_start\|>|<\|endoftext\|>|<\|eot_id\|>|<\|end_of_text\|>")
_ANSWER_TAG_RE = re.compile(r"(?:\*\*|__)?\b(?:final\s+answer|answer)\b\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?", re.I)
_STATEMENT_RES = (
    # "... the (final) answer is X", "answer should be X", "answer: X" inside prose.
    re.compile(r"\banswers?\s*(?:is|are|should\s+be|would\s+be|will\s+be|=|:)\s*(?::\s*)?(?P<ans>.+)$", re.I | re.S),
    # "X is the answer / is our answer / is the solution".
    re.compile(r"^(?P<ans>.+?)\s+(?:is|are)\s+(?:the|our)\s+(?:final\s+)?(?:answer|solution|result)s?\b", re.I | re.S),
)
_CONCLUSION_RE = re.compile(
    r"^\s*(?:therefore|thus|hence|so|finally|in\s+conclusion|in\s+summary|consequently|"
    r"we\s+(?:find|get|have|obtain|conclude)|this\s+gives|the\s+(?:result|value|number|total|sum)\b)",
    re.I,
)
# Display math may span lines; inline math ($...$, \(...\)) may not (as in Math-Verify).
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$|\\\(([^\n]+?)\\\)|\\\[(.+?)\\\]", re.S)
_SENTENCE_END_RE = re.compile(r"(?:(?<=[.!?])\s+(?=[A-Z\\$(])|(?<=\$\$)\s+(?=[A-Z]))")
_TRAILING_NUMBER_RE = re.compile(r"(-?\d[\d,]*(?:\.\d+)?\s*(?:%|\\%)?)\s*[.!]?\s*$")
_MAX_TAIL_AFTER_STATEMENT = 160
_MAX_BARE_LEN = 160


@dataclass(frozen=True)
class Extraction:
    """The answer a response states, and which rule found it (None when nothing was stated)."""

    answer: str | None
    rule: str  # boxed | answer_line | statement | bare | none | unclosed_box


def answer_segment(response: str, delimiters: tuple[str, ...] = DEFAULT_ANSWER_DELIMITERS) -> str:
    """Return the text after the last occurrence of any delimiter, or the whole response if none occurs."""
    best_end = -1
    for delim in delimiters:
        if not delim:
            continue
        pos = response.rfind(delim)
        if pos >= 0:
            best_end = max(best_end, pos + len(delim))
    segment = response if best_end < 0 else response[best_end:]
    # Text after an end-of-turn marker (a hallucinated next turn) is not part of the answer.
    end = _END_OF_TURN_RE.search(segment)
    return segment if end is None else segment[: end.start()]


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
        found.append((m.start(), close + 1, text[m.end() : close].strip()))
    return found, unclosed_last


def extract_boxed(text: str) -> tuple[str | None, bool]:
    """The last box's content (joined with adjacent boxes), and whether an unclosed box ended the text."""
    boxes, unclosed = _boxes(text)
    if unclosed or not boxes:
        return None, unclosed
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        between = text[box[1] : group[0][0]]
        plain = re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", between)
        joined = _BOX_SEP_RE.match(between) or (
            re.search(r"\b(?:and|or)\b", plain) and _BOX_SEP_AND_RE.match(plain) and "boxed" not in plain
        )
        if len(between) > 40 or not joined:
            break
        group.insert(0, box)
    return ", ".join(b[2] for b in group), False


def _clean(ans: str) -> str | None:
    """Strip wrapping markdown, math delimiters and trailing punctuation; None when nothing is left."""
    ans = ans.strip()
    for _ in range(3):
        before = ans
        ans = ans.strip().strip("*_").strip()
        ans = re.sub(r"[.,;:!]+$", "", ans).strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if ans.startswith(left) and ans.endswith(right) and len(ans) >= len(left) + len(right):
                inner = ans[len(left) : len(ans) - len(right)]
                if left != "$" or "$" not in inner:
                    ans = inner.strip()
        if ans == before:
            break
    return ans or None


def _last_paragraph(text: str) -> str:
    parts = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return parts[-1] if parts else ""


def _sentences(paragraph: str) -> list[str]:
    # Lines are kept (inline math may not cross them); display math may break a sentence over lines.
    return [s.strip() for s in _SENTENCE_END_RE.split(paragraph.strip()) if s.strip()]


def _statement_in_sentence(sentence: str) -> str | None:
    """The answer a single sentence states, if it is a closing statement."""
    for rx in _STATEMENT_RES:
        found = None
        for found in rx.finditer(sentence):
            pass
        if found and found.group("ans").strip():
            ans = found.group("ans")
            if rx is _STATEMENT_RES[1]:
                spans = _MATH_SPAN_RE.findall(ans)
                if spans:
                    return next(s for s in spans[-1] if s)
                ans = re.split(r"\b(?:is|are|=)\b", ans)[-1] if "=" not in ans else ans.rsplit("=", 1)[-1]
            return _clean(ans.split(". ")[0]) if ans else None
    if _CONCLUSION_RE.match(sentence):
        spans = _MATH_SPAN_RE.findall(sentence)
        if spans:
            return _clean(next(s for s in spans[-1] if s))
        tail = re.split(r"\s(?:is|are|equals|=)\s", sentence)
        if len(tail) > 1:
            return _clean(tail[-1])
        number = _TRAILING_NUMBER_RE.search(sentence)
        if number:
            return _clean(number.group(1))
    return None


def _final_math_statement(sentence: str) -> str | None:
    """A last sentence that ends by stating a value: "The identity matrix is $M$.", "Here it is: $x$"."""
    spans = list(_MATH_SPAN_RE.finditer(sentence))
    if not spans or sentence[spans[-1].end() :].strip(" .!") != "":
        return None
    if not re.search(r"\b(?:is|are|equals|gives|get|be|answer)\b|[:=]\s*$", sentence[: spans[-1].start()], re.I):
        return None
    return _clean(next((g for g in spans[-1].groups() if g and g.strip()), ""))


def extract_statement(text: str) -> str | None:
    """A closing statement in the last paragraph, when it ends the paragraph (at most a short tail after)."""
    sentences = _sentences(_last_paragraph(text))
    if sentences:
        final = _final_math_statement(sentences[-1])
        if final:
            return final
    tail = 0
    for sentence in reversed(sentences):
        found = _statement_in_sentence(sentence)
        if found:
            return found
        tail += len(sentence)
        if tail > _MAX_TAIL_AFTER_STATEMENT:
            return None
    return None


_DISPLAY_OPEN = {"\\[": "\\]", "$$": "$$"}


def _display_block(rest: str) -> str | None:
    """An answer given as display math over several lines (`Answer:\n\\[\n x \n\\]`): its content."""
    stripped = rest.lstrip()
    for opening, closing in _DISPLAY_OPEN.items():
        if stripped.startswith(opening):
            end = stripped.find(closing, len(opening))
            first_line = stripped.split("\n", 1)[0]
            if end > 0 and closing not in first_line[len(opening) :]:
                return _clean(stripped[len(opening) : end])
    return None


def extract_answer_line(text: str) -> str | None:
    """The first non-empty line after the last `Final Answer:` / `Answer:` tag, reduced if it is prose."""
    tags = list(_ANSWER_TAG_RE.finditer(text))
    if not tags:
        return None
    rest = text[tags[-1].end() :]
    display = _display_block(rest)
    if display:
        return display
    for line in rest.split("\n"):
        line = line.strip()
        if not line:
            continue
        statement = _statement_in_sentence(line) if re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{2,}", line) else None
        return statement or _clean(_sentences(line)[0] if _sentences(line) else line)
    return None


def _answer_tag_after_last_box(text: str) -> bool:
    """Whether a `Final Answer:`/`Answer:` tag follows the last box (then the tagged line is the answer)."""
    tags = list(_ANSWER_TAG_RE.finditer(text))
    boxes = list(_BOX_RE.finditer(text))
    return bool(tags) and (not boxes or tags[-1].start() > boxes[-1].start())


def _looks_bare(text: str) -> bool:
    """One short line that is mostly math (few plain words, some digit or math sign), e.g. `$\\frac12$`, `(1, 2)`."""
    text = text.strip()
    if not text or "\n" in text or len(text) > _MAX_BARE_LEN or _ANSWER_TAG_RE.search(text):
        return False
    if len(text) > 2 and not re.search(r"[\d\\$=+\-*/^()\[\]{}<>|]", text):
        return False  # plain words ("lol", "Final Answer") are not a math answer
    words = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+(\{[^{}]*\})?", " ", text))
    return len(words) <= 2


def extract_final_answer(segment: str) -> Extraction:
    """Apply the rules of the module docstring to an answer segment."""
    boxed, unclosed = extract_boxed(segment)
    line = extract_answer_line(segment)
    if line and _answer_tag_after_last_box(segment):
        return Extraction(line, "answer_line")
    if boxed is not None:
        return Extraction(boxed, "boxed")
    if unclosed:
        return Extraction(None, "unclosed_box")
    if line:
        return Extraction(line, "answer_line")
    statement = extract_statement(segment)
    if statement:
        return Extraction(statement, "statement")
    if _looks_bare(segment):
        cleaned = _clean(segment)
        if cleaned:
            return Extraction(cleaned, "bare")
    return Extraction(None, "none")
