"""Fixtures for s1train: s1K-format rows (and s1K-1.1 columns) small enough for the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "s1_32b.yaml"


def s1k_rows(n: int = 6, long_every: int = 0) -> list[dict]:
    """Rows with the s1K columns (and s1K-1.1's deepseek_ columns); every `long_every`-th trace is long."""
    rows = []
    for i in range(n):
        trace = f"Let me check the sum. {i} plus {42 - i} is 42. Wait, check each step of the sum."
        if long_every and i % long_every == 0:
            trace = " ".join([trace] * 12)
        rows.append({
            "solution": "42", "question": f"What is {i} + {42 - i}?", "cot_type": "math", "source_type": "fixture",
            "metadata": "{}", "cot": None, "thinking_trajectories": [trace],
            "attempt": "The sum is $\\boxed{42}$." if i % 2 else "Answer: 42",
            "deepseek_thinking_trajectory": "R1: " + trace, "deepseek_attempt": "Final: 42",
        })
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def rows_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "s1k.jsonl", s1k_rows())
