"""Final-answer extraction rules, as a table of responses (pure string work, no worker needed)."""

from __future__ import annotations

import pytest

from s1eval.grading.extract import answer_segment, extract, extract_boxed, extract_final_answer

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
    ("The identity matrix is $ \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix} $.",
     "\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}", "statement"),
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


# Written for this table in the styles the issue names (the real-response corpora are in test_real_responses.py):
# (response, expected answer or None, rule, finished)
STYLE_CASES = [
    # Closing statements in prose, sign-offs and commentary after them.
    ("Some work.\n\nTherefore, Hillary has 7 nickels.", "7", "statement", True),
    ("Work.\n\nThe height is 5 cm.", "5", "statement", True),
    ("Checks out.\n\nI'm confident that 44 is the correct answer.", "44", "statement", True),
    ("I'm confident with this answer. 326.5 is the correct sum of 313.9 and 12.6.", "326.5", "statement", True),
    ("So the answer is 12.\n\nI think that's the answer.", "12", "statement", True),
    ("So the answer is 12.\n\nUnless there's some additional information, I'll go with this.", "12", "statement",
     True),
    ("So the answer is 12.\n\n<|end_of_solution|>", "12", "statement", True),
    ("Therefore, the answer is 5.\n\nNote: this assumes x > 0.", "5", "statement", True),
    # The value after "is"/"=", not the last formula; hedges, count nouns, number words, unicode.
    ("Hence the degree of \\(f(x)\\) is 3.", "3", "statement", True),
    ("So there are 9 boys in the class.", "9", "statement", True),
    ("He needs 2000 calories.", "2000", "statement", True),
    ("So the change is indeed 29 cents.", "29", "statement", True),
    ("Therefore, there are three solutions.", "3", "statement", True),
    ("The answer is ½.", "½", "statement", True),
    ("So the side is 2√3.", "2√3", "statement", True),
    ("The answer is 12, which is 3 times 4.", "12", "statement", True),
    ("So, yes, the ratio is indeed 150/200, which simplifies to 3/4.", "3/4", "statement", True),
    ("Given that, I think the maximum value is 1, achieved at \\( x = \\frac{1}{2} \\).", "1", "statement", True),
    ("So it will take Andy 227 minutes to string all 12 racquets.", "227", "statement", True),
    ("The probability is $\\frac{1}{4}$, or 25%.", "\\frac{1}{4}", "statement", True),
    ("Therefore, the solutions are $x = 1$ and $x = -2$.", "x = 1, x = -2", "statement", True),
    ("Thus, the equation of the plane is:\n\\[\n5x - 7y + 11z + 4 = 0\n\\]", "5x - 7y + 11z + 4 = 0",
     "statement", True),
    ("I think $1250 is the right answer.", "$1250", "statement", True),
    # s1's forced answer, R1-style </think>, markdown, headers, GSM8K and PRM800K conventions.
    ("<|im_start|>think\n2+2=4.\n<|im_start|>answer\nFinal Answer: The final answer is $4$", "4", "answer_line", True),
    ("<think>\nOkay so 2+2=4.\n</think>\n\nThe sum is **4**.", "4", "statement", True),
    ("<think>\n2+2=4.\n</think>\n\n**Final Answer**\n\\[\n\\boxed{4}\n\\]", "4", "boxed", True),
    ("Work here.\n\n**Answer: 4**", "4", "answer_line", True),
    ("Work here.\n\nThe final answer is $\\boxed{4}$. I hope it is correct.", "4", "boxed", True),
    ("Steps.\n#### 42", "42", "answer_line", True),
    ("Solution steps.\n\n# Answer\n\n42", "42", "answer_line", True),
    # No fishing: truncated loops, hedges, questions, retractions, reasoning announced and never done.
    ("Wait, let me recompute. 2+2=4. Wait, let me recompute. 2+2=4. Wait, let me recompute. 2+2=", None, "none",
     False),
    ("So the answer is either 3 or 5.", None, "undecided", True),
    ("So the answer might be 7?", None, "undecided", True),
    ("Therefore x = 5. Hmm, that can't be right. This is incorrect.", None, "retracted", True),
    ("So x = 5.\n\nLet me double-check this.", None, "none", False),
    ("We compute \\( (1.036)^3 - 3.31(1.", None, "none", False),
    ("<think>\nSo far 12 + 30 = 42 and then", None, "cut_in_thinking", False),
    # Found in review: cut-off answer lines, hedges, negations, boxes that are not one answer, retractions.
    ("<|im_start|>answer\nFinal Answer: 1. First we compute", None, "none", False),
    ("Final Answer: The answer is 7 because the", "7", "answer_line", False),
    ("I got 5, but the answer is probably 6.", None, "undecided", True),
    ("So the answer is 12. I'm not sure.", None, "undecided", True),
    ("The value of $x$ is not 5.", None, "undecided", True),
    ("The answer cannot be 5.", None, "undecided", True),
    ("A long setup line.\n" * 40 + "So the sum is\n12 + 35 + 7 +", None, "none", False),
    ("So $a = \\boxed{2}$ and the final answer is $\\boxed{5}$.", "5", "boxed", True),
    ("x=\\boxed{3}, or in simplest form $\\boxed{3}$", "3", "boxed", True),
    ("So $y_1 = \\boxed{2}$ and $y_2 = \\boxed{3}$.", "2, 3", "boxed", True),
    ("Either \\boxed{3} or \\boxed{5}", None, "undecided", False),
    ("The maximum is 10 when x = 2.", "10", "statement", True),
    ("So the remainder when 2^100 is divided by 7 is 2.", "2", "statement", True),
    ("The ratio is 3:4.", "3:4", "statement", True),
    ("The solutions are x = 2 and x = -3.", "x = 2, x = -3", "statement", True),
    ("Thus the answer is m+n = 127.", "m+n = 127", "statement", True),
    ("So the answer is 12.\n\nThe other case leads to a contradiction.", "12", "statement", True),
    ("The answer is \\boxed{5}. Actually this is incorrect.", None, "retracted", True),
    ("The answer is \x005\x00.", "5", "statement", True),
    ("The answer is (1, 2).", "(1, 2)", "statement", True),
    ("The interval is [0, 1).", "[0, 1)", "statement", True),
    ("\\boxed{5", None, "unclosed_box", False),
    ("Final Answer: Navin\n", "Navin", "answer_line", True),
    ("Final Answer: The", None, "none", False),
    # An announced answer never written after: the equation just before, when the announcement names it.
    ("Work.\n\n   *f(2)* = 9\n\n**Therefore, the value of f(2) is:**", "9", "announced", False),
    ("Work.\n\n   x = 9\n\n**Therefore, the value of y is:**", None, "none", False),
    # A thinking block that concluded stands for an answer section cut off before its answer, or left empty.
    ("<think>\nSo the answer is 7.\n</think>", "7", "statement_in_thinking", False),
    ("<|begin_of_thought|>\nSo n = 3.\n\n**Final Answer**\n\n\\[ \\boxed{3} \\]\n<|end_of_thought|>\n\n"
     "<|begin_of_solution|>\n\nTo solve the equation \\[f(x", "3", "boxed_in_thinking", False),
    ("<|begin_of_thought|>\nSo n = 3.\n\n**Final Answer**\n\n\\[ \\boxed{3} \\]\n<|end_of_th", "3",
     "boxed_in_thinking", False),
]


@pytest.mark.parametrize(("response", "answer", "rule", "finished"), STYLE_CASES)
def test_styles_table(response, answer, rule, finished):
    got = extract(response)
    assert (got.answer, got.rule, got.finished) == (answer, rule, finished)


def test_a_capped_thinking_does_not_answer_for_an_empty_answer_section():
    # Budget forcing hit the cap (forced "Final Answer:" and nothing after): the thinking did not conclude.
    got = extract("<|im_start|>think\nso \\boxed{3}\n<|im_start|>answer\nFinal Answer:")
    assert (got.answer, got.finished) == (None, False)
