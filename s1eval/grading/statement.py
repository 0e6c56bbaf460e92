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
3. The value is read by `s1eval.grading.prose_value` (after "is"/"=", not the last formula).

All work is on a bounded window with linear scans, so it is cheap on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s1eval.grading.mathspans import Span, mask_math, split_sentences
from s1eval.grading.normalize import NUMBER_WORDS
from s1eval.grading.prose_value import MAX_SENTENCE_CHARS, value_in
from s1eval.grading.segment import continues_reasoning

__all__ = ["Statement", "extract_statement", "retracts"]

WINDOW_CHARS = 4_000
MAX_SKIPPED_CHARS = 600
_RETRACTION_WINDOW = 2_000

_NUMBER_WORD_RE = re.compile(r"\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.I)
_VALUE_CHAR_RE = re.compile(r"[\d\x00½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞√π∞]")
# What a sentence may open with before its content: list markers, markdown, a bold label ("5. **Conclusion**:").
_OPENING_RE = re.compile(r"^(?:[-*•>#\s]|\d{1,2}[.)]\s)*(?:\*\*[^*\n]{1,60}\*\*\s*:?\s*)?")
_CONCLUSION_RE = re.compile(
    r"^(?:therefore|thus|hence|so\b|finally|in\s+conclusion|conclusion\b|in\s+summary|to\s+(?:summarize|conclude)|"
    r"consequently|as\s+a\s+result|overall|in\s+any\s+case|in\s+short|all\s+in\s+all|yes\b|indeed|"
    r"this\s+(?:means|gives|shows)|which\s+means|it\s+follows|we\s+(?:find|get|have|obtain|conclude|see)|"
    r"the\s+(?:final\s+)?(?:answer|result|solution)|final(?:ly)?\b)",
    re.I,
)
_COMMIT_RE = re.compile(
    r"\b(?:answer|final|confident|indeed|conclude|correct|confirm(?:s|ed|ing)?)\b|"
    r"\b(?:i|we)\s+(?:think|believe|am\s+sure|'m\s+sure|get|got|found|find|obtain|conclude|see|have)\b|"
    r",\s*(?:so|thus|hence|therefore)\b",
    re.I,
)
_DECLARATIVE_RE = re.compile(r"^(?:the|this|our|its|his|her|their|each|it)\b.*?(?:\bis\b|\bare\b|\bequals?\b|=)", re.I)
# A sentence that ends by stating a value: "... is $15$.", "... are 3 ways.", "... = 480."
_ENDS_WITH_VALUE_RE = re.compile(
    r"(?:\bis|\bare|\bequals?|=)\s+(?:[A-Za-z]+\s+){0,2}?(?:\x00\d+\x00|[-−]?\d[\d,.]*%?)(?:\s+[A-Za-z]+){0,3}[.!]?$",
    re.I,
)
_HEDGE_WORDS_RE = re.compile(
    r"\b(?:maybe|perhaps|might|could\s+be|possibly|probably|likely|not\s+sure|unsure|uncertain|either|not\s+certain|"
    r"i\s+guess|not\s+confident)\b",
    re.I,
)
# "The value of x is not 5.", "The answer cannot be 5.": a value stated under a negation is not committed to.
_NEGATION_RE = re.compile(r"\b(?:not|never|cannot|can't|isn't|aren't|wasn't|doesn't)\b", re.I)
_HEDGED_START_RE = re.compile(r"^(?:maybe|perhaps|possibly|probably|i\s+guess)\b", re.I)
_LAST_COPULA_RE = re.compile(r"\b(?:is|are|be|equals?)\b|=", re.I)
_VALUE_START_RE = re.compile(r"\x00|\d")
# Taking the result back: the answer / this / my calculation is wrong, or an error was made. A contradiction
# reached in some other case ("The other case leads to a contradiction.") takes nothing back.
_RETRACTION_RE = re.compile(
    r"^(?:(?:but|hmm+|wait|actually|oh|oops|no)\b[,.!\s]*)*(?:(?:this|that|it|my\s+\w+|the\s+(?:answer|result|"
    r"calculation|solution))\s+(?:is|was|seems|must\s+be|'s)\s+(?:not\s+(?:correct|right|valid)|incorrect|wrong|"
    r"impossible|invalid)|(?:this|that)\s+(?:can'?t|cannot)\s+be\s+right|i\s+(?:made|have\s+made)\s+(?:a|an)\s+"
    r"(?:mistake|error)|there\s+(?:is|must\s+be)\s+(?:a|an)\s+(?:mistake|error)\s+in\s+my)|"
    r"\bthat'?s?\s+(?:wrong|incorrect|not\s+right)\b",
    re.I,
)
# A remark after the conclusion ("Note: this assumes x > 0.", "This is the final answer, ...") is commentary even
# when it holds a number: it comments on the answer already stated.
_COMMENTARY_RE = re.compile(
    r"^(?:\(|note\b|remember\b|keep\s+in\s+mind|hint\b|this\s+assumes|assuming\b|(?:i\s+)?hope\b|good\s+luck|"
    r"feel\s+free|where\b|(?:this|that)(?:\s+is|'s)\s+(?:the|our|my)\s+(?:final\s+)?answer|"
    r"this\s+(?:solution|result|answer|value)\s+(?:is\s+consistent|holds|satisfies|checks|matches|agrees))",
    re.I,
)
# Formulas and numbers only (one character class: no nested quantifier to backtrack through).
_VALUE_ONLY_RE = re.compile(r"^[\x00\d\s.,;*−-]+$")
_LEAD_IN_RE = re.compile(r"(?::|\b(?:is|are|be|as|equals|get|obtain|find|have|gives?))[\s*]*$", re.I)
_NAMED_BEFORE_HINT_RE = re.compile(r"\b(?:is|are|was)\s+(?:indeed\s+)?(?:the|our|my)\s+(?:[\w-]+\s+){0,3}?"
                                   r"(?:answer|solution|result|sum|total|value)s?\b", re.I)


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


def _content(sentence: str) -> str:
    """A sentence without its list marker, markdown and bold label."""
    return sentence[_OPENING_RE.match(sentence).end() :].strip()  # type: ignore[union-attr]


def extract_statement(segment: str) -> Statement:
    """The answer stated by the closing sentences of `segment` (see the module docstring)."""
    masked, spans = mask_math(final_window(segment))
    skipped = 0
    sentences = split_sentences(masked)
    for index in range(len(sentences) - 1, -1, -1):
        bare = _content(sentences[index][-MAX_SENTENCE_CHARS:])
        if not has_value(bare) or _COMMENTARY_RE.match(bare):
            if continues_reasoning(bare):
                return Statement(None, "continues")
            if _RETRACTION_RE.search(bare):
                return Statement(None, "retracted")
            if _HEDGE_WORDS_RE.search(bare):
                return Statement(None, "undecided")  # "So the answer is 12. I'm not sure."
            skipped += len(bare)
            if skipped > MAX_SKIPPED_CHARS:
                return Statement(None, "none")
            continue
        lead_in = False
        before = _content(sentences[index - 1][-MAX_SENTENCE_CHARS:]) if index > 0 else ""
        if _value_only(bare) and (_LEAD_IN_RE.search(before) or _CONCLUSION_RE.match(before)):
            # "Thus, the equation of the plane is:" and a display formula, or a conclusion and its value on a line
            # of its own ("Therefore, 49 students came.\n\n49"): one statement.
            bare = before + " " + bare if _LEAD_IN_RE.search(before) else bare
            lead_in = True
        return _decide(bare, spans, committed=len(sentences) == 1 or lead_in)
    return Statement(None, "none")


def _value_only(sentence: str) -> bool:
    """A sentence that is only a value: formulas, numbers, or a short line of plain math ("(-∞, 0)", "17/3")."""
    if _VALUE_ONLY_RE.match(sentence) and any(c.isdigit() for c in sentence):
        return True
    plain = re.sub(r"\\[A-Za-z]+", " ", sentence)
    return len(sentence) <= 200 and bool(re.search(r"[\d∞]", plain)) and not re.search(r"[A-Za-z]{2,}", plain)


def _undecided(sentence: str) -> bool:
    """A question, a hedged opening, or a hedge next to the value ("the answer might be 7", "either 3 or 5");
    not a modal elsewhere ("the numbers they could be thinking of is 4")."""
    if sentence.rstrip(" *_").endswith("?") or _HEDGED_START_RE.match(sentence):
        return True
    values = list(_VALUE_START_RE.finditer(sentence))
    end = values[-1].start() if values else len(sentence)
    copulas = [c for c in _LAST_COPULA_RE.finditer(sentence, 0, end)]
    start = max(0, copulas[-1].start() - 16) if copulas else 0
    negated_from = max(0, copulas[-1].start() - 8) if copulas else end  # "cannot be 5", "is not 5"
    return bool(_HEDGE_WORDS_RE.search(sentence, start, end) or _NEGATION_RE.search(sentence, negated_from, end))


def retracts(text: str) -> bool:
    """Whether the text after a committed answer takes it back ("Actually, this is incorrect.", "Wait, I made an
    error."); only its first sentences are read (what follows a box is short, and a long text is not re-scanned)."""
    masked, _ = mask_math(text[:_RETRACTION_WINDOW])
    return any(_RETRACTION_RE.search(_content(sentence)) for sentence in split_sentences(masked)[:6])


def _decide(sentence: str, spans: list[Span], committed: bool = False) -> Statement:
    """The statement one sentence makes; `committed`: it is the whole response, or a lead-in and its formula."""
    if continues_reasoning(sentence):
        return Statement(None, "continues")
    if _undecided(sentence):
        return Statement(None, "undecided")
    committed = bool(committed or _CONCLUSION_RE.match(sentence) or _COMMIT_RE.search(sentence)
                     or _DECLARATIVE_RE.match(sentence) or _NAMED_BEFORE_HINT_RE.search(sentence)
                     or _ENDS_WITH_VALUE_RE.search(sentence))
    value = value_in(sentence, spans) if committed else None
    return Statement(value, "statement") if value else Statement(None, "none")
