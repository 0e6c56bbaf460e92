"""The s1 text format has one owner (s1eval.s1format): its strings are spelled nowhere else, and one record
reads the same through s1data's export, s1train's formatting, budget forcing and the grader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from s1eval import s1format

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("s1eval", "s1data", "s1train")
# the format's own strings; "<|im_start|>" alone is the chat template's turn marker, spelled by templates too
SPELLINGS = (s1format.S1.thinking_start, s1format.S1.thinking_end, s1format.THINK_TAGS.thinking_start,
             s1format.THINK_TAGS.thinking_end, s1format.BEGIN_OF_THOUGHT, s1format.END_OF_THOUGHT,
             s1format.BEGIN_OF_SOLUTION, s1format.END_OF_SOLUTION, s1format.FORCED_ANSWER_PREFIX)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes (prose may name the format; code may not spell it)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def spelled_outside_the_format_module() -> list[str]:
    hits = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "s1eval" / "s1format.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                    for spelling in SPELLINGS:
                        if spelling in node.value:
                            hits.append(f"{path.relative_to(ROOT)}:{node.lineno} spells {spelling!r}")
    for path in sorted((ROOT / "tasks").rglob("*.yaml")):
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = text.split("#", 1)[0]
            hits += [f"{path.relative_to(ROOT)}:{number} spells {s!r}" for s in SPELLINGS if s in code]
    return hits


@pytest.mark.parametrize("preset", list(s1format.DELIMITERS))
def test_one_record_reads_the_same_through_export_training_budget_forcing_and_grading(tiny_ends, preset):
    from transformers import AutoTokenizer

    from s1data.stages.export import training_text
    from s1eval.budget import parse_gen_kwargs
    from s1eval.grading.grade import grade_math
    from s1eval.grading.segment import answer_segment
    from s1train.data import prompt_completion

    tok = AutoTokenizer.from_pretrained(tiny_ends)
    question, trace, attempt = ("What is 6 times 7?", "6 * 7 = 42, so the product is 42.",
                                "The product is $\\boxed{42}$.")
    pair = prompt_completion(tok, question, trace, attempt, preset)  # s1train's formatting of s1data's text
    exported = training_text(tok, question, trace, attempt)
    if preset == "s1":
        assert pair["prompt"] + pair["completion"] == exported.rstrip("\n")
    assert exported.startswith(pair["prompt"])
    # budget forcing opens and ends thinking with the delimiters the model was trained on
    cfg, _ = parse_gen_kwargs({"max_tokens_thinking": 100, "delimiters": preset})
    assert pair["prompt"] == tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                                     add_generation_prompt=True)
    completion = pair["completion"]
    assert completion.startswith(cfg.thinking_start + "\n")
    thinking, _, answer = completion[len(cfg.thinking_start) + 1:].partition("\n" + cfg.thinking_end + "\n")
    assert thinking == trace and answer.startswith(f"{s1format.TRAINING_ANSWER_TAG} {attempt}")
    # the grader reads the attempt as the answer, and grades it
    assert answer_segment(completion).strip() == f"{s1format.TRAINING_ANSWER_TAG} {attempt}"
    assert grade_math(completion, "42").correct
