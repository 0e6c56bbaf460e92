"""1 MB hostile responses through the whole `s1eval grade` process: each finishes well inside 15 s, graded right.

Each shape targets a step that once grew quadratically or could: unclosed display math in the last sentence
(13 s at 100 KB in grader v1), a box left open before a megabyte of spaces (killed after 130 s in v1), an answer
tag before a megabyte of spaces (80 s in v2's first draft), one megabyte line without sentence ends, pairs of
dollar signs, unclosed boxes, thousands of answer tags, digits and commas, unicode math, a thinking block that
never closes, and a real answer after a megabyte of reasoning. The bound is the issue's acceptance bound for a
2-core machine, for the process as a user runs it (interpreter and worker start-up included); a linear grader
needs 2-4 s of it, most of which is start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MB = 1_000_000
BOUND_S = 15.0


def _fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


REASONING = _fill("We consider the next case and compute 12 + 30 = 42, so $x_{3} = 7$ here. ")

# name -> (response, gold, expected correct, expected method)
SHAPES = {
    "unclosed_display_math": ("So the answer is " + _fill("\\[ x = 1 "), "5", False, "unextracted"),
    "open_box_then_spaces": ("\\boxed{1" + " " * MB + "z}", "5", False, None),
    "answer_tag_then_spaces": ("Answer" + " " * MB + ": 5", "5", None, None),
    "one_line_no_sentence_end": (_fill("x is = ") + " Therefore the value is 9.", "9", True, None),
    "dollar_pairs": (_fill("$1$ ") + "\n\nTherefore, the answer is $7$.", "7", True, "exact"),
    "unclosed_boxes": (_fill("\\boxed{"), "5", False, "unextracted"),
    "answer_tags": (_fill("Final Answer: ") + "\nFinal Answer: 12", "12", True, "exact"),
    "digits_and_commas": (_fill("1,") + "\n\nThe answer is 5.", "5", True, "exact"),
    "unicode_math": (_fill("½√π− "), "5", False, None),
    "thinking_never_closed": ("<think>" + REASONING, "42", False, "unextracted"),
    "answer_after_reasoning": (REASONING + "\n\nSo the answer is \\boxed{204}.", "204", True, "exact"),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_one_megabyte_response_through_s1eval_grade(tmp_path, name):
    response, gold, correct, method = SHAPES[name]
    assert len(response) >= MB
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"response": response, "gold": gold}) + "\n", encoding="utf-8")
    out = tmp_path / "graded.jsonl"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "s1eval.cli", "grade", "--task", "math500", str(rows),
                           "--output", str(out), "--workers", "1"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert elapsed < BOUND_S, f"{name}: {elapsed:.1f} s"
    graded = json.loads(out.read_text(encoding="utf-8"))
    assert graded["method"] != "timeout"  # bounded by design, not by the per-item time limit
    if correct is not None:
        assert graded["correct"] is correct
    if method is not None:
        assert graded["method"] == method
