"""Reading the value a sentence of prose states: "the degree of $f(x)$ is 3" -> 3, not f(x).

Works on a *masked* sentence (formulas replaced by placeholders, `s1eval.grading.mathspans`), in this order:
1. the value named before "is the (correct) answer/sum/..." ("326.5 is the correct sum of 313.9 and 12.6");
2. the value right after the last "the answer is";
3. the value after the last "is", "=", "equals", "to", "becomes", ... that starts with one (so ", which simplifies
   to 3/4" gives 3/4 and "a = 5 for all n" gives 5); a copula inside an explanatory clause (", achieved at x = 1",
   ", with the condition that ...,") does not count;
4. the one value not introduced by a preposition ("it will take Andy 227 minutes to string all 12 racquets");
5. in a conclusion made only of formulas ("Therefore, $m = 100$ and $n = 13$, and $m + n = 113$."), the last one.
A value is a formula or a plain-text expression; filler words before it ("indeed 29") and words after it ("9 boys",
"12th grade", "44 mod 83") are dropped; values joined by "and"/"or"/commas are one listed answer ("$x = 1$ and
$x = -2$"), but a value restated after ", or" ("$\\frac14$, or 25%") is not a second one; "x in the interval I"
is I. Every function is linear in its (bounded) input.
"""

from __future__ import annotations

import re

from s1eval.grading.mathspans import Span, placeholders
from s1eval.grading.normalize import number_word_value

MAX_SENTENCE_CHARS = 1_500
_MAX_COPULAS = 12  # the value follows one of the last few "is"/"=" of a sentence

_PLACEHOLDER = r"\x00\d+\x00"
_PLAIN_NUMBER = r"(?<![\d,.])[-−+]?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?(?:\s*%)?"
_ANSWER_IS_RE = re.compile(
    r"\banswers?\s*(?:is|are|should\s+be|would\s+be|will\s+be|must\s+be|=|:)\s*(?::\s*)?", re.I
)
# "to" only after verbs that state a result ("simplifies to 3/4"), never in "from 1 to 10" or "less than or equal
# to 2024"; "that" as in "we find that $s = 104$" (not "such that").
_COPULA_RE = re.compile(
    r"\b(?:is|are|was|were|equals|be|becomes?|gives?|get|got|obtain|yields?)\b|(?<!than\sor\s)\bequal\s+to\b|"
    r"\b(?:simplif\w*|reduc\w*|amounts?|comes?|rounds?|evaluates?|works?\s+out|equivalent|corresponds?)\s+to\b|"
    r"(?<!such\s)\bthat\b|[=≡≈]|(?<!\d):|:(?!\d)",
    re.I,
)
# ", and thus $m+n = 63$": what follows the last mid-sentence conclusion is what the sentence concludes.
# The "=" of an equation stated as the value ("are x = 2 and x = -3", "is x = 5"): the value is read from the
# copula before it, equation whole.
_LISTED_EQUATION_RE = re.compile(r"(?:\band|\bor|\bare|\bis|[,:])\s+[A-Za-z]\s*$")
_MID_CONCLUSION_RE = re.compile(r",\s*(?:and\s+)?(?:thus|so|hence|therefore|which\s+gives)\b", re.I)
# An explanatory clause: from its opening word to the next comma (or the end of the sentence).
_EXPLANATION_RE = re.compile(
    r",\s*(?:achieved|attained|obtained|reached|occurring|when|where|since|because|as|given|using|for|with|"
    r"so\s+that|which\s+(?:occurs|happens|is\s+(?:achieved|attained|when|where)))\b[^,]*|"
    r"(?<=[\d\x00])\s+(?:when|where|if|at\s+which)\s[^,]*",
    re.I,
)
_NAMED_BEFORE_RE = re.compile(
    rf"(?P<v>{_PLACEHOLDER}|{_PLAIN_NUMBER})\s+(?:is|are|was|would\s+be|should\s+be|must\s+be|seems\s+to\s+be)\s+"
    r"(?:indeed\s+|definitely\s+|clearly\s+|also\s+)?(?:the|our|my)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:answer|solution|result|sum|total|value|number|product|difference|quotient|remainder)s?\b",
    re.I,
)
_FILLER_RE = re.compile(
    r"^(?:\s|,|:|\\?[\"'“”‘’*_]|\b(?:indeed|still|also|exactly|just|simply|definitely|clearly|actually|approximately|about|"
    r"roughly|precisely|now|again|correctly|then|therefore|thus|given\s+by|equal\s+to|the\s+number|a\s+total\s+of|"
    r"only|always|obviously|certainly|truly|really)\b)+",
    re.I,
)
_TOKEN_RE = re.compile(r"\x00\d+\x00|\d+(?:[.,:]\d+)*|\\[A-Za-z]+|[A-Za-z]+|\s+|.", re.S)
_ARTICLES = frozenset({"a", "A", "I"})
_UNICODE_VALUES = frozenset("½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞π∞")
_LIST_JOINT_RE = re.compile(r"(?<![ \t])[ \t]*(?:,[ \t]+(?:(?:and|or)[ \t]+)?|(?:and|or)[ \t]+)")
_STARTS_WITH_VALUE_RE = re.compile(r"\x00\d+\x00|[-−+]?\d|[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞√π]|[A-Za-z][ \t]*=")
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
_OPERATORS = frozenset("+-−*/×÷^·()[]{}|√π∞%°²³½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞!$\\=<>≤≥")

# The words of a conclusion made of formulas only ("Therefore, $m = 16$ and $n = 3$, and the sum $m+n = 19$.").
_GLUE_WORDS = frozenset({"therefore", "thus", "hence", "so", "finally", "consequently", "and", "the", "sum",
                         "total", "product", "value", "result", "we", "have", "get", "in", "conclusion"})
_CONCLUSION_START_RE = re.compile(r"^(?:therefore|thus|hence|so|finally|in\s+conclusion|consequently)\b", re.I)
_IN_SET_RE = re.compile(r"^\s*(?:is\s+)?(?:in|∈|\\in)\s+(?:the\s+(?:interval|set|range)\s+)?", re.I)


def _last(pattern: re.Pattern[str], text: str, pos: int = 0) -> re.Match[str] | None:
    """The last match of `pattern` in `text` (one linear pass)."""
    found = None
    for found in pattern.finditer(text, pos):  # noqa: B007 - keeps the last match
        pass
    return found


def value_in(sentence: str, spans: list[Span]) -> str | None:
    """The value a committed (masked) sentence states (the rules of the module docstring, in order)."""
    sentence = sentence[-MAX_SENTENCE_CHARS:]
    named = _last(_NAMED_BEFORE_RE, sentence)
    if named is not None:
        return leading_value(named.group("v"), spans)
    answer_is = _last(_ANSWER_IS_RE, sentence)
    if answer_is is not None:  # "the answer is ..." names where the value is: no other place is read
        return leading_value(sentence[answer_is.end() :], spans)
    concluded = _last(_MID_CONCLUSION_RE, sentence)
    if concluded is not None and _VALUE_RE.search(sentence, concluded.end()):
        found = value_in(sentence[concluded.end() :], spans)
        if found:
            return found
    # ", achieved at x = 1", ", with the condition that ...,": the clause explains the value, it does not state it.
    clauses = [(m.start(), m.end()) for m in _EXPLANATION_RE.finditer(sentence)]
    copulas = [c for c in _COPULA_RE.finditer(sentence)
               if not _inside(c.start(), clauses) and not _LISTED_EQUATION_RE.search(sentence, 0, c.start())]
    for copula in reversed(copulas[-_MAX_COPULAS:]):
        found = leading_value(sentence[copula.end() :], spans)
        if found:
            return found
    return _only_value(sentence, spans, clauses)


def _inside(pos: int, clauses: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in clauses)


def _only_value(sentence: str, spans: list[Span], clauses: list[tuple[int, int]]) -> str | None:
    """Without a copula: the one value not introduced by a preposition ("it will take Andy 227 minutes to string
    all 12 racquets" -> 227), or the last formula of a conclusion made only of formulas."""
    candidates = [m for m in _VALUE_RE.finditer(sentence) if not _inside(m.start(), clauses)
                  and not _INTRODUCED_RE.search(sentence, max(0, m.start() - 20), m.start())]
    if len(candidates) == 1:
        return leading_value(candidates[0].group(), spans)
    formulas = placeholders(sentence)
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", re.sub(_PLACEHOLDER, " ", sentence))}
    if formulas and _CONCLUSION_START_RE.match(sentence) and words <= _GLUE_WORDS:
        return spans[formulas[-1]].content.strip() or None
    return None


def leading_value(text: str, spans: list[Span]) -> str | None:
    """The value `text` starts with (after filler words), with trailing words dropped; None when it starts with none.

    Values joined by "and", "or" or commas ("$x = 1$ and $x = -2$", "1, 2, and 3") are one answer, listed; a
    value restated after ", or" ("$\\frac14$, or 25%") is not a second one."""
    text = _FILLER_RE.sub("", text, count=1)
    word = re.match(r"[A-Za-z]+(?:-[A-Za-z]+)?\b", text)
    if word and number_word_value(word.group()) is not None:
        return str(number_word_value(word.group()))
    run, end = _math_run(text)
    single = re.fullmatch(r"\x00(\d+)\x00", run)
    letter = spans[int(single.group(1))].content.strip() if single else run
    within = _IN_SET_RE.match(text, end) if re.fullmatch(r"[A-Za-z]", letter) else None
    if within:  # "$x$ in the interval $(-1, 1)$": the interval is the answer
        run, length = _math_run(text[within.end() :])
        end = within.end() + length
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
    end = depth = 0
    for m in _TOKEN_RE.finditer(text):
        tok = m.group()
        depth += (tok in "([{") - (tok in ")]}") if len(tok) == 1 else 0
        if tok.isalpha() and len(tok) <= 2 and text[m.end() : m.end() + 1] in _SQUARED:
            break  # "1,000.99m²", "5 cm³": an area or volume unit in prose
        if tok.startswith("\x00") or tok[0].isdigit() or tok in _UNICODE_VALUES:
            if has_value_token and out and not out[-1].strip() and not _ends_with_operator(out):
                break  # "5 6": two values side by side are not one expression
            out.append(tok)
            has_value_token = True
        elif tok.isspace() or tok.startswith("\\"):  # or a LaTeX command outside math delimiters ("is \\frac{1}{3}")
            out.append(tok)
        elif tok.isalpha():
            if tok.lower() not in _MATH_WORDS and len(tok) > 1:
                break
            if not out and tok in _ARTICLES and re.match(r" [A-Za-z]{2}", text[m.end() : m.end() + 3]):
                break  # "is a perfect square": an article, not a variable
            if len(tok) == 1 and out and not out[-1].strip() and has_value_token and not _ends_with_operator(out):
                break  # "5 a" is a value and an article, not a product
            out.append(tok)
            has_value_token = True
        elif tok in _OPERATORS or (tok == "," and depth > 0):  # "(1, 2)", "[0, 1)": a comma inside brackets
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
            return (tok in _OPERATORS or tok == ",") and tok not in ")]}%!°²³"
    return True


def _balanced(run: str) -> bool:
    """Brackets close, counting ( and [ together: "[0, 1)" is a half-open interval."""
    return (run.count("(") + run.count("[") == run.count(")") + run.count("]")
            and run.count("{") == run.count("}"))


def _trim_unbalanced(run: str) -> str:
    """Drop a trailing unmatched closer ("(5)" stays, "5)" loses its parenthesis)."""
    while run and run[-1] in ")]}" and not _balanced(run):
        run = run[:-1].rstrip()
    return run if _balanced(run) and re.search(r"[\dA-Za-z\x00]", run) else ""
