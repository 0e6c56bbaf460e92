"""The record type: the columns a row carries through the pipeline, and which stage adds each.

Rows are plain dicts (they travel through parquet); this module names the columns, builds the
common ones the way every collect loader must, and says which stage computes each feature, so
that `s1data select --pool` can fail with the list of missing columns and the stages to run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

#: Columns every source is mapped to (the s1K columns that exist before any model call).
COMMON_COLUMNS = ("question", "solution", "cot_type", "source_type", "metadata")

#: Feature column -> (stage that computes it, meaning).
FEATURES: dict[str, tuple[str, str]] = {
    "question_hash": ("collect", "sha256(question)[:16]"),
    "thinking_trajectory": ("traces", "the teacher's thinking text"),
    "attempt": ("traces", "the teacher's answer text"),
    "api_error": ("traces", "error message when the teacher call failed, else null"),
    "teacher_correct": ("difficulty", "the teacher's attempt graded against the solution"),
    "qwen7b_correct": ("difficulty", "Qwen2.5-7B-Instruct's answer graded against the solution"),
    "qwen32b_correct": ("difficulty", "Qwen2.5-32B-Instruct's answer graded against the solution"),
    "thinking_tokens": ("difficulty", "tokens of the teacher's thinking under a named tokenizer"),
    "domain": ("domains", "two-digit MSC 2020 code assigned by a judge model"),
}


def question_hash(question: str) -> str:
    """sha256 of the question text, first 16 hex digits (the s1K notebook's key)."""
    return hashlib.sha256(question.encode("utf-8")).hexdigest()[:16]


def make_record(question: str, solution: Any, cot_type: str, source_type: str, metadata: Any) -> dict[str, Any]:
    """A row with the common columns and its question hash; `metadata` is stored as a string."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r:.80}; fix the loader's question field")
    return {
        "question": question,
        "solution": None if solution is None else str(solution),
        "cot_type": cot_type,
        "source_type": source_type,
        "metadata": metadata if isinstance(metadata, str) else str(metadata),
        "question_hash": question_hash(question),
    }


@dataclass(frozen=True)
class Drop:
    """A filter's verdict to drop a row: a short machine-readable reason and an optional detail."""

    reason: str
    detail: str = ""


#: What a filter returns: None keeps the row, a Drop removes it with its reason.
Verdict = Drop | None


def missing_columns(columns: list[str] | tuple[str, ...], needed: list[str] | tuple[str, ...]) -> list[str]:
    """The needed columns a dataset lacks, in the order given."""
    have = set(columns)
    return [c for c in needed if c not in have]


def stages_for(columns: list[str]) -> list[str]:
    """The stages that compute the given feature columns (unknown columns map to themselves)."""
    out: list[str] = []
    for c in columns:
        stage = FEATURES.get(c, ("difficulty" if c.endswith("_correct") else c, ""))[0]
        if stage not in out:
            out.append(stage)
    return out
