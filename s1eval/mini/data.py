"""The shipped held-out set of `s1_mini` and its lm-eval loader.

``s1eval/data/mini/test.jsonl``: 500 distinct problems of the "test" split (trajectory starts in hash bucket 0,
which the training generators never draw), made by ``python -m s1eval.mini make-test`` (defaults: n 500,
seed 0); tests/mini/test_task.py regenerates it and compares byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s1eval.data import DATA_DIR, load_source
from s1eval.mini.problems import sample_problems

TEST_FILE = DATA_DIR / "mini" / "test.jsonl"
TEST_SIZE, TEST_SEED = 500, 0


def make_test_rows(n: int = TEST_SIZE, seed: int = TEST_SEED) -> list[dict[str, Any]]:
    """`n` distinct test-split problems, k uniform in K_MIN..K_MAX."""
    rows = []
    for i, p in enumerate(sample_problems(n, seed, "test", unique=True)):
        rows.append({"id": i, "problem": p.question, "answer": str(p.answer), "family": p.family, "x0": p.x0,
                     "a": p.a, "b": p.b, "k": p.k})
    return rows


def dumps(rows: list[dict[str, Any]]) -> str:
    """Rows as JSONL text (one JSON object a line, non-ASCII kept)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_test_file(path: str | Path = TEST_FILE, n: int = TEST_SIZE, seed: int = TEST_SEED) -> Path:
    """Write `n` test rows drawn with `seed` to `path` (the shipped file by default); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(make_test_rows(n, seed)), encoding="utf-8")
    return path


def task_rows(**kwargs: Any) -> list[dict[str, Any]]:
    """The shipped rows, or those of the file / hub dataset named by the ``mini_data`` metadata key."""
    source = kwargs.get("mini_data")
    rows = load_source(str(source), kwargs.get("mini_config"), kwargs.get("mini_split", "train")) if source \
        else [json.loads(line) for line in TEST_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, r in enumerate(rows):
        if "problem" not in r or "answer" not in r:
            raise KeyError(f"s1_mini row {i} needs 'problem' and 'answer' (columns: {sorted(r)})")
    return [{**r, "answer": str(r["answer"]).strip()} for r in rows]


def s1_mini(**kwargs: Any) -> Any:
    """`custom_dataset` of tasks/s1_mini/s1_mini.yaml."""
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(task_rows(**kwargs))})
