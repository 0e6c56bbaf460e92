"""GPQA: letter extraction (lighteval cases + our own), no default letter, per-question choice permutation."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from s1eval.data.gpqa import build_doc, gpqa_diamond, permutation
from s1eval.grading.gpqa import extract_letter, grade_choice

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


def test_missing_access_explains_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="huggingface-cli login"):
        gpqa_diamond()
