"""GPQA: letter extraction (lighteval cases + our own), no default letter, per-question choice permutation."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from s1eval.data.gpqa import build_doc, gpqa_diamond, permutation
from s1eval.grading.extract import answer_segment
from s1eval.grading.gpqa import extract_letter, grade_choice, letter_from_segment

CSV = Path(__file__).parent / "data" / "gpqa_synthetic.csv"
CHOICES = ["London", "Paris", "Berlin", "Madrid"]


def test_lighteval_cases_all_agree(gpqa_cases):
    disagreements = []
    for case in gpqa_cases:
        gold = "ABCD"[case["doc"]["gold_index"]]
        grade = grade_choice(case["model_response"]["text"][0], gold)
        if int(grade.correct) != case["expected_output"]["extractive_match"]:
            disagreements.append((case["name"], grade))
    assert len(gpqa_cases) == 21
    assert not disagreements


@pytest.mark.parametrize(
    ("response", "letter", "rule"),
    [
        ("so \\boxed{C}", "C", "boxed"),
        ("\\boxed{\\text{(B)}}", "B", "boxed"),
        ("\\boxed{Madrid}", "D", "boxed"),
        ("Answer: (C)", "C", "answer_line"),
        ("Answer: Paris", "B", "answer_line"),
        ("Final answer: the correct option is D.", "D", "answer_line"),
        ("Long text.\n\nTherefore, the answer is (B).", "B", "statement"),
        ("(C)", "C", "bare"),
        ("Reasoning...\nBerlin", "C", "choice_text"),
        ("<|im_start|>think\nAnswer: A\n<|im_start|>answer\nAnswer: B", "B", "answer_line"),
        # No letter named: unextracted, never a default letter.
        ("", None, "none"),
        ("Let me think about the options. First, A is about", None, "none"),
        ("Answer: A good approach is to compare the energies", None, "none"),
        ("Answer: c", None, "none"),
    ],
)
def test_extraction(response, letter, rule):
    assert extract_letter(response, CHOICES) == (letter, rule)


def test_unextracted_is_wrong_even_when_gold_is_a():
    grade = grade_choice("I am not sure, it could be several things", "A", CHOICES)
    assert (grade.correct, grade.method, grade.extracted) == (False, "unextracted", None)


def test_gold_letter_is_validated():
    with pytest.raises(ValueError, match="gold letter"):
        grade_choice("Answer: A", "E")


def test_permutation_is_per_question_and_seeded():
    assert permutation("q1", 0) == permutation("q1", 0)
    assert sorted(permutation("q1", 0)) == [0, 1, 2, 3]
    questions = [f"question {i}" for i in range(400)]
    orders = {tuple(permutation(q, 0)) for q in questions}
    assert len(orders) > 12  # many of the 24 orders occur
    gold_positions = collections.Counter(permutation(q, 0).index(0) for q in questions)
    assert all(60 < n < 140 for n in gold_positions.values()), gold_positions  # correct answer not stuck in one slot
    assert sum(permutation(q, 0) != permutation(q, 1) for q in questions) > 300  # the seed matters


def test_build_doc_prompt_and_gold():
    row = {"Question": "Q?", "Correct Answer": "right", "Incorrect Answer 1": "w1",
           "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"}
    doc = build_doc(row, seed=0)
    assert doc["choices"][doc["answer_index"]] == "right"
    assert doc["answer"] == "ABCD"[doc["answer_index"]]
    assert sorted(doc["choices"]) == ["right", "w1", "w2", "w3"]
    assert doc["prompt"] == "Q?\n\n" + "\n".join(f"{L}) {c}" for L, c in zip("ABCD", doc["choices"]))
    with pytest.raises(KeyError, match="Correct Answer"):
        build_doc({"Question": "Q?"})


def test_local_csv_with_official_columns_and_subset_stability():
    full = gpqa_diamond(gpqa_data=str(CSV), version=1.0, pretrained="ignored")["test"]
    assert len(full) == 6
    for doc in full:
        assert doc["choices"][doc["answer_index"]].startswith("Xq")  # the synthetic correct answers
    again = gpqa_diamond(gpqa_data=str(CSV))["test"]
    assert [d["choices"] for d in full] == [d["choices"] for d in again]
    reseeded = gpqa_diamond(gpqa_data=str(CSV), gpqa_seed=7)["test"]
    assert [d["choices"] for d in full] != [d["choices"] for d in reseeded]


def test_docs_ask_for_hashed_samples_unless_log_plaintext():
    hidden = gpqa_diamond(gpqa_data=str(CSV))["test"]
    assert all(doc["log_redact"] == ["question", "choices", "prompt"] for doc in hidden)
    for flag in (True, "true"):
        assert all(doc["log_redact"] == [] for doc in gpqa_diamond(gpqa_data=str(CSV), log_plaintext=flag)["test"])
    with pytest.raises(ValueError, match="log_plaintext must be true or false, got 'yes'.*--metadata"):
        gpqa_diamond(gpqa_data=str(CSV), log_plaintext="yes")


def test_missing_access_explains_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="huggingface-cli login"):
        gpqa_diamond()


# ------------------------------------------------------------------------ choice texts that look like letters
# Three choice sets of the kinds GPQA has; every text starts with a capital letter that is NOT its own letter, so a
# grader that reads the first letter of a restated choice gets every case wrong.
LOOKALIKE_SETS = {
    "assignment": ["B = 2-methylbutanal, C = acetone", "A = cyclohexanone, B = 2-methylbutanal",
                   "D = ethanol, A = acetone", "C = acetone, D = cyclohexanone"],
    "ordering": ["C > B > D > A", "D > A > C > B", "A > B > C > D", "B > D > A > C"],
    "combination": ["B and C only", "C and D only", "D and A only", "A and B only"],
}
# What models write around a restated choice, with a thinking part that names other letters (it must be ignored).
THINKING = ("<|im_start|>think\nLet me weigh the options. Option A reads \"{a}\" and option B reads \"{b}\". "
            "At first the answer is B, but wait, that misses a case.\n")
RESTATED_FORMATS = {
    "boxed": "<|im_start|>answer\nAfter checking every constraint:\n\n$\\boxed{{{boxed}}}$",
    "answer_line": "<|im_start|>answer\nFinal Answer: {text}",
    "statement": "<|im_start|>answer\nOnly one option satisfies all the constraints, so the correct answer is {text}.",
    "choice_text": "<|im_start|>answer\nThe other three options each violate one constraint.\n\n**{text}**",
}


def _respond(fmt: str, choices: list[str], text: str, label: str = "") -> str:
    boxed = label + (f"\\text{{{text}}}" if " only" in text else text)  # word answers go in \text{}, as models do
    return THINKING.format(a=choices[0], b=choices[1]) + RESTATED_FORMATS[fmt].format(text=label + text, boxed=boxed)


def _restated_cases():
    """(set, format, choices, response, meant letter, gold letter): 3 sets x 4 choices x 4 formats x 4 golds."""
    for name, choices in LOOKALIKE_SETS.items():
        for meant, text in zip("ABCD", choices):
            for fmt in RESTATED_FORMATS:
                response = _respond(fmt, choices, text)
                for gold in "ABCD":
                    yield name, fmt, choices, response, meant, gold


def test_lookalike_sets_start_with_another_letter():
    for choices in LOOKALIKE_SETS.values():
        firsts = [text[0] for text in choices]
        assert sorted(firsts) == list("ABCD") and all(f != own for f, own in zip(firsts, "ABCD")), choices


def test_restated_choice_text_wins_over_its_first_letter_192_cases():
    cases = list(_restated_cases())
    assert len(cases) == 192 and sum(meant == gold for *_, meant, gold in cases) == 48
    false_positives, false_negatives, wrong_rules = [], [], []
    for name, fmt, choices, response, meant, gold in cases:
        grade = grade_choice(response, gold, choices)
        if grade.correct and gold != meant:
            false_positives.append((name, fmt, meant, gold, grade.extracted))
        if not grade.correct and gold == meant:
            false_negatives.append((name, fmt, meant, grade.extracted, grade.rule))
        if grade.rule != fmt:
            wrong_rules.append((name, fmt, meant, grade.rule))
    assert false_positives == []
    assert false_negatives == []
    assert wrong_rules == []


LABEL_STYLES = ["{L}) ", "({L}) ", "**{L}.** ", "{L}: "]


@pytest.mark.parametrize("fmt", list(RESTATED_FORMATS))
def test_a_leading_letter_followed_by_its_own_text_is_that_letter(fmt):
    got, want = [], []
    for choices in LOOKALIKE_SETS.values():
        for i, (letter, text) in enumerate(zip("ABCD", choices)):
            got.append(extract_letter(_respond(fmt, choices, text, LABEL_STYLES[i].format(L=letter)), choices))
            want.append((letter, fmt))
    assert got == want


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        # With no choice texts to compare (a re-graded redacted sample), an expression names no letter...
        ("\\boxed{A > B > C > D}", None),
        ("Answer: A = cyclohexanone, B = 2-methylbutanal", None),
        ("Answer: A and B only", None),
        ("The answer is A, B and D.", None),
        ("Answer: $A \\leq B$", None),
        # ...while a label, or a letter in a sentence, still does.
        ("Answer: B) A > B > C", "B"),
        ("Answer: A, because the energy is lower", "A"),
        ("The answer is A because the others fail.", "A"),
        ("Answer: **C** - the only one left", "C"),
    ],
)
def test_expressions_are_not_letters_without_choices(response, letter):
    assert extract_letter(response, None)[0] == letter


def test_a_bare_letter_beats_a_choice_whose_text_is_a_letter():
    choices = ["B", "A", "D", "C"]  # "which compound is X?" with compounds named by letters
    assert extract_letter("Answer: B", choices) == ("B", "answer_line")
    assert extract_letter("Answer: (D)", choices) == ("D", "answer_line")


def test_two_identical_choice_texts_name_neither():
    choices = ["A > B", "C > D", "A > B", "D > C"]
    assert extract_letter("Answer: A > B", choices) == (None, "none")
    assert extract_letter("Answer: D > C", choices) == ("D", "answer_line")


# ---------------------------------------------------------------------------------- hostile 1 MB responses
# One input per pattern shape in s1eval/grading/gpqa.py; each must return, with the right letter. A pattern with two
# neighbouring quantifiers over the same characters takes hours on these (e.g. "the answer is" + 1 MB of spaces).
MB = 1_000_000


def _mb(unit: str) -> str:
    return unit * (MB // len(unit))  # whole units: a unit cut at the end would change the expected letter


HOSTILE = {
    "spaces after 'answer'": (lambda: "Answer" + " " * MB + "x", (None, "none")),
    "spaces inside 'final answer'": (lambda: "Final" + " " * MB + "answer: C", ("C", "answer_line")),
    "repeated answer tags": (lambda: _mb("Answer: "), (None, "none")),
    "repeated tags, then a letter": (lambda: _mb("**Answer**: ") + "\n(B)", ("B", "answer_line")),
    "spaces after 'the answer is'": (lambda: "the answer is" + " " * MB + "x", (None, "none")),
    "spaces then brackets after 'the answer is'":
        (lambda: "the answer is" + " " * (MB // 2) + "(" * (MB // 2) + "x", (None, "none")),
    "colons after 'the answer is'": (lambda: "the answer is" + ":" * MB, (None, "none")),
    "spaces after 'answer'/'option'": (lambda: _mb("the option answer "), (None, "none")),
    "repeated statements": (lambda: _mb("the answer is x "), (None, "none")),
    "repeated statements, then a letter": (lambda: _mb("the answer is x ") + " the answer is C.", ("C", "statement")),
    "letters": (lambda: _mb("A "), (None, "none")),
    "labels": (lambda: _mb("(A) "), (None, "none")),
    "choice fragments": (lambda: _mb("A = cyclohexanone, B = "), (None, "none")),
    "fragments, then a restated choice": (lambda: _mb("A = 1, B = ") + "\n\nAnswer: D = ethanol, A = acetone",
                                          ("C", "answer_line")),
    "brackets before a letter": (lambda: "Answer: " + "(" * MB + "C", ("C", "answer_line")),
    "brackets and no letter": (lambda: "Answer: " + "(" * MB + "x", (None, "none")),
    "closing marks after a letter": (lambda: "Answer: C" + ")" * MB + "x", ("C", "answer_line")),
    "spaces after a letter": (lambda: "Answer: C" + " " * MB + "x", ("C", "answer_line")),
    "spaces after 'A' (article check)": (lambda: "Answer: A" + " " * MB + "good", (None, "none")),
    "braces then an operator after a letter": (lambda: "Answer: A" + "}" * MB + "=", (None, "none")),
    "spaces then a comma list after a letter": (lambda: "Answer: A," + " " * MB + "B", (None, "none")),
    "unclosed \\text{ runs": (lambda: "Answer: " + _mb("\\text{a"), (None, "none")),
    "one unclosed \\text{": (lambda: "Answer: \\text{" + "a" * MB, (None, "none")),
    "LaTeX spacing": (lambda: "Answer: " + _mb("\\, \\left"), (None, "none")),
    "a box of brackets": (lambda: "\\boxed{" + "(" * MB + "}", (None, "none")),
    "blank-ish paragraph breaks": (lambda: _mb("\n  ") + "x", (None, "none")),
    "newline then spaces": (lambda: "\n" + " " * MB + "x", (None, "none")),
    "brackets then junk (bare)": (lambda: "(" * MB + "x", (None, "none")),
    "a letter then spaces then junk (bare)": (lambda: "C" + " " * MB + "x", (None, "none")),
    "a letter then spaces (bare)": (lambda: "(C)" + " " * MB, ("C", "bare")),
    "one long last line of a restated choice": (lambda: _mb("C > B > D > A "), (None, "none")),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_one_megabyte_hostile_segment_returns_the_right_letter(name):
    make, expected = HOSTILE[name]
    text = make()
    assert len(text) >= MB - 30
    assert letter_from_segment(text, LOOKALIKE_SETS["assignment"]) == expected


@pytest.mark.parametrize("name", list(HOSTILE))
def test_one_megabyte_hostile_response_returns(name):
    # The whole pipeline, whose answer segment may be a bounded window of the response (s1eval.grading.extract).
    text, choices = HOSTILE[name][0](), LOOKALIKE_SETS["assignment"]
    assert extract_letter(text, choices) == letter_from_segment(answer_segment(text), choices)


def test_cut_off_responses_name_no_letter_and_are_flagged():
    from s1eval.grading.gpqa import grade_choice

    thinking = grade_choice("<think>\nHmm, the answer is B. But wait", "B")
    assert (thinking.correct, thinking.rule, thinking.finished) == (False, "cut_in_thinking", False)
    mid_sentence = grade_choice("<think>ok</think>The answer is B because the", "B")
    assert (mid_sentence.extracted, mid_sentence.finished) == (None, False)  # cut off: no statement is read
    for hedged in ("The answer is B? Let me reconsider.", "The answer is (B) or (C).", "It is B, or maybe it is C."):
        assert grade_choice(hedged, "B").extracted is None, hedged
    committed = grade_choice("<think>ok</think>\n\nFinal Answer: B", "B")
    assert committed.correct and committed.finished
