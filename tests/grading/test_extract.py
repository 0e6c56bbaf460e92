"""Final-answer extraction rules, as a table of responses (pure string work, no worker needed)."""

from __future__ import annotations

import pytest

from s1eval.grading.extract import answer_segment, extract_boxed, extract_final_answer

CASES = [
    # (response, expected answer or None, rule)
    ("We get \\boxed{42}.", "42", "boxed"),
    ("First \\boxed{1} then more work... so \\fbox{7}", "7", "boxed"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", "boxed"),
    ("\\boxed{1}, \\boxed{2} and \\boxed{3}", "1, 2, 3", "boxed"),
    ("\\boxed{1} no no no no no \\boxed{2}", "2", "boxed"),
    ("Final Answer: $x = 5$", "x = 5", "answer_line"),
    ("Answer:\n\n  17\nbecause of reasons\nmore text 99", "17", "answer_line"),
    ("Final Answer: The final answer is $(0,1)$. I hope it is correct.", "(0,1)", "answer_line"),
    ("We had \\boxed{255} for the first part.\nFinal Answer: The final answer is $10,455$.", "10,455", "answer_line"),
    ("Long reasoning.\n\nSo the answer is 9.", "9", "statement"),
    ("Work.\n\nThe final answer is $x=5$.", "x=5", "statement"),
    ("Therefore $x \\geq 5$ is the solution.", "x \\geq 5", "statement"),
    ("Thus, the probability that Alice wins is 2/3.", "2/3", "statement"),
    ("The identity matrix is $ \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix} $.", "\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}", "statement"),
    ("$\\frac{3}{4}$", "\\frac{3}{4}", "bare"),
    ("(1, 2)", "(1, 2)", "bare"),
    # Unfinished or answerless responses: nothing is fished out of the middle.
    ("Let me compute 3 + 4 = 7 and then we consider the case where n = 12 so", None, "none"),
    ("So the answer is 9. But wait, let me double-check this by redoing the computation with n = 4, which gives a"
     " different count of 16 and then I need to reconsider the whole approach from the start because", None, "none"),
    ("The answer is \\boxed{12", None, "unclosed_box"),
    ("", None, "none"),
    ("   \n\n  ", None, "none"),
]


@pytest.mark.parametrize(("response", "answer", "rule"), CASES)
def test_extraction_table(response, answer, rule):
    got = extract_final_answer(answer_segment(response))
    assert (got.answer, got.rule) == (answer, rule)


def test_segment_after_last_delimiter():
    text = "<|im_start|>think\n\\boxed{1}<|im_start|>answer\nAnswer: 2"
    assert answer_segment(text) == "\nAnswer: 2"
    assert extract_final_answer(answer_segment(text)).answer == "2"
    assert answer_segment("<think>x \\boxed{3}</think>The answer is 4.") == "The answer is 4."
    assert answer_segment("no delimiter \\boxed{5}") == "no delimiter \\boxed{5}"
    assert answer_segment("a END b END c", delimiters=("END",)) == " c"


def test_segment_stops_at_a_new_turn():
    text = "<|im_start|>answer\nFinal Answer: 6<|im_end|>\n<|im_start|>user\nAnswer: 8"
    assert extract_final_answer(answer_segment(text)).answer == "6"


def test_thinking_answer_is_not_used_when_the_answer_phase_is_empty():
    # Budget forcing cut the answer phase: the boxed value inside thinking is not the final answer.
    text = "<|im_start|>think\nso \\boxed{3}\n<|im_start|>answer\nFinal Answer:"
    assert extract_final_answer(answer_segment(text)).answer is None


def test_escaped_braces_do_not_close_a_box():
    assert extract_boxed("\\boxed{\\{1, 2\\}}") == ("\\{1, 2\\}", False)
