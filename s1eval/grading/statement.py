"""Closing statements: the answer a response states in prose at its end ("Therefore, Hillary has 7 nickels.").

Read from the last `WINDOW_CHARS` of the answer segment (math spans masked, so prose rules never look inside
formulas), sentence by sentence from the end:

1. Sentences without a value (no digit, formula or number word) are sign-offs or commentary ("I think that's the
   answer.", "Unless there's some additional information, ...") and are skipped, up to `MAX_SKIPPED_CHARS`. A
   skipped sentence that announces more reasoning ("Let me check.") or takes the result back ("This is
   incorrect.") ends the search with nothing: the response did not conclude.
2. The last sentence with a value decides. It states the answer when it says so ("the answer is 9", "I'm
   confident that 44 is the correct answer", "Therefore, ...", "Thus, m+n = 127.") or declares a quantity ("The
   height is 5 cm."). One that opens more reasoning ("Wait, ...", "Let me ...") states nothing; a question or a
   hedge ("maybe", "could be", "not sure", "either") is *undecided*: nothing is extracted and no fallback guesses.
3. The value: the one named before "is the (correct) answer/sum/..."; else the one right after the last
   "answer is"; else the one after the last "is", "=", "equals", "to", "by", ... that starts with a value
   (so ", which simplifies to 3/4" gives 3/4 and "a = 5 for all n" gives 5); else the sentence's only value.
   Hedge words before it ("indeed 29") and words after it ("9 boys", "12th grade", "44 mod 83") are dropped.

All work is on a bounded window with linear scans, so it is cheap on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s1eval.grading.mathspans import Span, mask_math, placeholders, split_sentences
from s1eval.grading.normalize import NUMBER_WORDS, number_word_value
from s1eval.grading.segment import continues_reasoning

WINDOW_CHARS = 4_000
MAX_SKIPPED_CHARS = 600
MAX_SENTENCE_CHARS = 1_500
_MAX_COPULAS = 12  # the value follows one of the last few "is"/"=" of a sentence

_NUMBER_WORD_RE = re.compile(r"\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.I)
_VALUE_CHAR_RE = re.compile(r"[\d\x00½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞√π∞]")
_CONCLUSION_RE = re.compile(
    r"^(?:therefore|thus|hence|so\b|finally|in\s+conclusion|in\s+summary|to\s+(?:summarize|conclude)|"
    r"consequently|as\s+a\s+result|overall|in\s+any\s+case|in\s+short|all\s+in\s+all|yes\b|indeed|"
    r"this\s+(?:means|gives|shows)|which\s+means|it\s+follows|we\s+(?:find|get|have|obtain|conclude|see)|"
    r"the\s+(?:final\s+)?(?:answer|result|solution)|final(?:ly)?\b)",
    re.I,
)
_COMMIT_RE = re.compile(
    r"\b(?:answer|final|confident|indeed|conclude|correct|right\s+answer)\b|"
    r"\bi\s+(?:think|believe|am\s+sure|'m\s+sure|get|got|found|obtain)\b",
    re.I,
)
_DECLARATIVE_RE = re.compile(r"^(?:the|this|our|its|his|her|their|each|it)\b.*?(?:\bis\b|\bare\b|\bequals?\b|=)", re.I)
_UNDECIDED_RE = re.compile(
    r"\b(?:maybe|perhaps|might|could\s+be|possibly|not\s+sure|unsure|uncertain|either|not\s+certain)\b|\?\s*$", re.I
)
_RETRACTION_RE = re.compile(
    r"\b(?:incorrect|wrong|mistake|error|impossible|contradiction|invalid|not\s+(?:correct|right|possible|valid)|"
    r"doesn'?t\s+(?:make\s+sense|match|work|seem\s+right)|does\s+not\s+(?:make\s+sense|match|work))\b",
    re.I,
)
_ANSWER_IS_RE = re.compile(
    r"\banswers?\s*(?:is|are|should\s+be|would\s+be|will\s+be|must\s+be|=|:)\s*(?::\s*)?", re.I
)
_COPULA_RE = re.compile(
    r"\b(?:is|are|was|were|equals?|equal\s+to|be|becomes?|gives?|get|got|obtain|yields?|to|at|by|of)\b|[=≡≈:]",
    re.I,
)
_PLACEHOLDER = r"\x00\d+\x00"
_PLAIN_NUMBER = r"(?<![\d,.])[-−+]?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?(?:\s*%)?"
_EXPLANATION_RE = re.compile(
    r",\s*(?:achieved|attained|obtained|reached|occurring|when|where|since|because|as|given|using|for|with|"
    r"so\s+that|which\s+(?:occurs|happens|is\s+(?:achieved|attained|when|where)))\b",
    re.I,
)
# A remark after the conclusion ("Note: this assumes x > 0.") is commentary even when it holds a number.
_COMMENTARY_RE = re.compile(r"^(?:\(|note\b|remember\b|keep\s+in\s+mind|hint\b|this\s+assumes|assuming\b|"
                            r"(?:i\s+)?hope\b|good\s+luck|feel\s+free)", re.I)
_FORMULA_ONLY_RE = re.compile(r"^(?:\x00\d+\x00[\s.,;]*)+$")
_LEAD_IN_RE = re.compile(r"(?::|\b(?:is|are|be|as|equals|get|obtain|find|have|gives?))[\s*]*$", re.I)
_NAMED_BEFORE_RE = re.compile(
    rf"(?P<v>{_PLACEHOLDER}|{_PLAIN_NUMBER})\s+(?:is|are|was|would\s+be|should\s+be|must\s+be|seems\s+to\s+be)\s+"
    r"(?:indeed\s+|definitely\s+|clearly\s+|also\s+)?(?:the|our|my)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:answer|solution|result|sum|total|value|number|product|difference|quotient|remainder)s?\b",
    re.I,
)
_HEDGE_RE = re.compile(
    r"^(?:\s|,|:|\b(?:indeed|still|also|exactly|just|simply|definitely|clearly|actually|approximately|about|"
    r"roughly|precisely|now|again|correctly|then|therefore|thus|given\s+by|equal\s+to|the\s+number|a\s+total\s+of|"
    r"only|always|obviously|certainly|truly|really)\b)+",
    re.I,
)
_TOKEN_RE = re.compile(r"\x00\d+\x00|\d+(?:[.,]\d+)*|[A-Za-z]+|\s+|.", re.S)
_UNICODE_VALUES = frozenset("½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞π∞")
_LIST_JOINT_RE = re.compile(r"(?<![ \t])[ \t]*(?:,[ \t]+(?:(?:and|or)[ \t]+)?|(?:and|or)[ \t]+)")
_STARTS_WITH_VALUE_RE = re.compile(r"\x00\d+\x00|[-−+]?\d|[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞√π]")
_MAX_LISTED = 12
_VALUE_RE = re.compile(rf"{_PLACEHOLDER}|{_PLAIN_NUMBER}")
# A value right after one of these words qualifies something else ("all 12 racquets", "after 5 days").
_INTRODUCED_RE = re.compile(
    r"\b(?:after|before|in|of|for|with|to|from|all|each|every|per|by|than|within|over|under|at|on|between|"
    r"among|into|first|last|next|the)\s*\$?$",
    re.I,
)
_SQUARED = frozenset({"²", "³"})
_MATH_WORDS = frozenset({"sqrt", "pi", "i", "e"})
_OPERATORS = frozenset("+-−*/×÷^·()[]{}|√π∞%°²³½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞!$\\")


@dataclass(frozen=True)
class Statement:
    """What the end of a response states: an answer (reason ``statement``), or why there is none.

    Reasons without an answer: ``undecided`` (a hedge or a question), ``retracted`` (the result is taken back),
    ``continues`` (the last sentences announce more reasoning), ``none`` (nothing reads as a committed answer;
    the only case in which a fallback may look further)."""

    answer: str | None
    reason: str


def final_window(segment: str) -> str:
    """The last WINDOW_CHARS characters, starting at a paragraph or line break so math spans stay paired."""
    if len(segment) <= WINDOW_CHARS:
        return segment
    window = segment[-WINDOW_CHARS:]
    for sep in ("\n\n", "\n"):
        cut = window.find(sep)
        if 0 <= cut < WINDOW_CHARS // 2:
            return window[cut + len(sep) :]
    return window


def has_value(masked: str) -> bool:
    """Whether a (masked) sentence carries a value: a digit, a formula, a number word or a unicode math sign."""
    return bool(_VALUE_CHAR_RE.search(masked) or _NUMBER_WORD_RE.search(masked))


def extract_statement(segment: str) -> Statement:
    """The answer stated by the closing sentences of `segment` (see the module docstring)."""
    masked, spans = mask_math(final_window(segment))
    skipped = 0
    sentences = split_sentences(masked)
    for index in range(len(sentences) - 1, -1, -1):
        bare = sentences[index][-MAX_SENTENCE_CHARS:].lstrip("*_#>- ").strip()
        if not has_value(bare) or _COMMENTARY_RE.match(bare):
            if continues_reasoning(bare):
                return Statement(None, "continues")
            if _RETRACTION_RE.search(bare):
                return Statement(None, "retracted")
            skipped += len(bare)
            if skipped > MAX_SKIPPED_CHARS:
                return Statement(None, "none")
            continue
        if index > 0 and _FORMULA_ONLY_RE.match(bare) and _LEAD_IN_RE.search(sentences[index - 1]):
            # "Thus, the equation of the plane is:" followed by a display formula: one statement.
            bare = sentences[index - 1][-MAX_SENTENCE_CHARS:].lstrip("*_#>- ").strip() + " " + bare
        return _decide(bare, spans, alone=len(sentences) == 1)
    return Statement(None, "none")


def _decide(sentence: str, spans: list[Span], alone: bool = False) -> Statement:
    """The statement one sentence makes; `alone`: it is the whole response (a one-sentence answer commits)."""
    if continues_reasoning(sentence):
        return Statement(None, "continues")
    if _UNDECIDED_RE.search(sentence):
        return Statement(None, "undecided")
    committed = (alone or _CONCLUSION_RE.match(sentence) or _COMMIT_RE.search(sentence)
                 or _DECLARATIVE_RE.match(sentence) or _NAMED_BEFORE_RE.search(sentence))
    value = value_in(sentence, spans) if committed else None
    return Statement(value, "statement") if value else Statement(None, "none")


def value_in(sentence: str, spans: list[Span]) -> str | None:
    """The value a committed (masked) sentence states (rule 3 of the module docstring)."""
    # ", achieved at x = 1", ", where n = 3": a trailing clause explains the value, it does not restate it.
    sentence = sentence[-MAX_SENTENCE_CHARS:]
    explained = _EXPLANATION_RE.search(sentence)
    if explained and has_value(sentence[: explained.start()]):
        sentence = sentence[: explained.start()]
    named = None
    for named in _NAMED_BEFORE_RE.finditer(sentence):
        pass
    if named is not None:
        return leading_value(named.group("v"), spans)
    answer_is = None
    for answer_is in _ANSWER_IS_RE.finditer(sentence):
        pass
    if answer_is is not None:
        found = leading_value(sentence[answer_is.end() :], spans)
        if found:
            return found
    for copula in reversed(list(_COPULA_RE.finditer(sentence))[-_MAX_COPULAS:]):
        found = leading_value(sentence[copula.end() :], spans)
        if found:
            return found
    # No "is"/"=" leads to a value: the one value not introduced by a preposition ("it will take Andy 227
    # minutes to string all 12 racquets" -> 227; "after 5 days she has 20" -> 20).
    candidates = [m for m in _VALUE_RE.finditer(sentence) if not _INTRODUCED_RE.search(sentence, 0, m.start())]
    return leading_value(candidates[0].group(), spans) if len(candidates) == 1 else None


def leading_value(text: str, spans: list[Span]) -> str | None:
    """The value `text` starts with (after hedge words), with trailing words dropped; None when it starts with none.

    Values joined by "and", "or" or commas ("$x = 1$ and $x = -2$", "1, 2, and 3") are one answer, listed; a
    value restated after ", or" ("$\\frac14$, or 25%") is not a second one."""
    text = _HEDGE_RE.sub("", text, count=1)
    word = re.match(r"[A-Za-z]+(?:-[A-Za-z]+)?\b", text)
    if word and number_word_value(word.group()) is not None:
        return str(number_word_value(word.group()))
    run, end = _math_run(text)
    values = [run] if run else []
    while values and len(values) < _MAX_LISTED:
        joint = _LIST_JOINT_RE.match(text, end)
        if joint is None or re.search(r",\s*or\b", joint.group()):
            break
        following, length = _math_run(text[joint.end() :])
        if not following or not _STARTS_WITH_VALUE_RE.match(text, joint.end()):
            break
        values.append(following)
        end = joint.end() + length
    if not values:
        return None
    out = ", ".join(re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))].content, v).strip() for v in values)
    return out or None


def _math_run(text: str) -> tuple[str, int]:
    """The longest prefix of `text` made of numbers, formulas, operators and one-letter variables, and its end."""
    out: list[str] = []
    has_value_token = False
    end = 0
    for m in _TOKEN_RE.finditer(text):
        tok = m.group()
        if tok.isalpha() and len(tok) <= 2 and text[m.end() : m.end() + 1] in _SQUARED:
            break  # "1,000.99m²", "5 cm³": an area or volume unit in prose
        if tok.startswith("\x00") or tok[0].isdigit() or tok in _UNICODE_VALUES:
            if has_value_token and out and not out[-1].strip() and not _ends_with_operator(out):
                break  # "5 6": two values side by side are not one expression
            out.append(tok)
            has_value_token = True
        elif tok.isspace():
            out.append(tok)
        elif tok.isalpha():
            if tok.lower() not in _MATH_WORDS and len(tok) > 1:
                break
            if len(tok) == 1 and out and not out[-1].strip() and has_value_token and not _ends_with_operator(out):
                break  # "5 a" is a value and an article, not a product
            out.append(tok)
            has_value_token = True
        elif tok in _OPERATORS:
            out.append(tok)
        else:
            break
        if tok.strip():
            end = m.end()
    run = "".join(out).strip()
    stripped = run.rstrip("+-−*/×÷^·=(|\\ ").strip()
    end -= len(run) - len(stripped)
    if has_value_token and _balanced(stripped):
        return stripped, end
    trimmed = _trim_unbalanced(stripped)
    return trimmed, end - (len(stripped) - len(trimmed))


def _ends_with_operator(out: list[str]) -> bool:
    for tok in reversed(out):
        if tok.strip():
            return tok in _OPERATORS and tok not in ")]}%!°²³"
    return True


def _balanced(run: str) -> bool:
    return run.count("(") == run.count(")") and run.count("[") == run.count("]") and run.count("{") == run.count("}")


def _trim_unbalanced(run: str) -> str:
    """Drop a trailing unmatched closer ("(5)" stays, "5)" loses its parenthesis)."""
    while run and run[-1] in ")]}" and not _balanced(run):
        run = run[:-1].rstrip()
    return run if _balanced(run) and re.search(r"[\dA-Za-z\x00]", run) else ""
