"""`s1eval grade`: re-grade saved responses without regenerating them (same code path as the tasks).

    s1eval grade --task {aime24,aime25,math500,gpqa_diamond} FILE [--output OUT]

FILE is an lm-eval samples JSONL (ours or the original s1 fork's: the response is ``filtered_resps[0]`` or
``resps[0][0]``, the gold is ``target``) or a JSONL of ``{"response", "gold"}`` rows (GPQA rows may add
``"choices"``, the four choice texts in prompt order, so an answer given as a choice's text can be read). Writes
one JSON row per input row, in input order, with ``extracted``, ``correct``, ``method`` (and ``rule``, ``detail``,
``doc_id`` when known) to OUT or stdout, and prints the accuracy to stderr. `main(argv)` returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from s1eval.grading import GRADER_VERSION
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS
from s1eval.grading.grade import Grade, grade_math_batch
from s1eval.grading.pool import DEFAULT_TIMEOUT_S, WorkerPool

log = logging.getLogger(__name__)

TASK_KINDS = {"aime24": "aime", "aime25": "aime", "math500": "math", "gpqa_diamond": "gpqa"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s1eval grade", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=sorted(TASK_KINDS), help="which benchmark's rules to apply")
    p.add_argument("file", help="lm-eval samples JSONL or a JSONL of {response, gold[, choices]} rows")
    p.add_argument("--output", "-o", help="where to write the graded JSONL (default: stdout)")
    p.add_argument("--delimiter", action="append", dest="delimiters", metavar="TEXT",
                   help="answer delimiter (repeatable; default: <|im_start|>answer and </think>)")
    p.add_argument("--workers", type=int, default=None, help="grading worker processes (default: min(4, CPUs))")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per comparison (default 5)")
    return p


def _response_of(row: dict[str, Any]) -> str:
    if "response" in row:
        return str(row["response"] or "")
    filtered = row.get("filtered_resps")
    if isinstance(filtered, list) and filtered and isinstance(filtered[0], str):
        return filtered[0]
    resps = row.get("resps")
    if isinstance(resps, list) and resps:
        first = resps[0]
        return str(first[0] if isinstance(first, list) and first else first or "")
    raise KeyError(f"row has neither 'response' nor lm-eval 'resps'/'filtered_resps' (keys: {sorted(row)})")


def _gold_of(row: dict[str, Any]) -> str:
    for key in ("gold", "target", "answer"):
        if key in row and row[key] is not None:
            return str(row[key])
    doc = row.get("doc") or {}
    if "answer" in doc:
        return str(doc["answer"])
    raise KeyError(f"row has no 'gold', 'target' or doc answer (keys: {sorted(row)})")


def _choices_of(row: dict[str, Any]) -> list[str] | None:
    if isinstance(row.get("choices"), list):
        return [str(c) for c in row["choices"]]
    doc = row.get("doc") or {}
    if isinstance(doc.get("choices"), list):
        return [str(c) for c in doc["choices"]]
    keyed = [doc.get(f"choice{i}") for i in range(1, 5)]
    return [str(c) for c in keyed] if all(c is not None for c in keyed) else None


def _gold_letter(gold: str) -> str:
    m = re.search(r"\b([A-D])\b", gold.upper())
    if not m:
        raise ValueError(f"GPQA gold {gold!r} names no letter A-D")
    return m.group(1)


def read_rows(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def grade_rows(rows: Sequence[dict[str, Any]], task: str, delimiters: tuple[str, ...],
               pool: WorkerPool) -> list[Grade]:
    """Grade parsed rows with the rules of `task` (one batch for math, so comparisons run in parallel)."""
    kind = TASK_KINDS[task]
    if kind == "gpqa":
        from s1eval.grading.gpqa import grade_choice

        return [grade_choice(_response_of(r), _gold_letter(_gold_of(r)), _choices_of(r), delimiters) for r in rows]
    items = [(_response_of(r), _gold_of(r)) for r in rows]
    return grade_math_batch(items, kind=kind, delimiters=delimiters, pool=pool)


def _write(rows: Sequence[dict[str, Any]], grades: Sequence[Grade], out: TextIO) -> None:
    for i, (row, grade) in enumerate(zip(rows, grades)):
        record: dict[str, Any] = {"index": i}
        if "doc_id" in row:
            record["doc_id"] = row["doc_id"]
        record.update(grade.as_log())
        record["grader_version"] = GRADER_VERSION
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `s1eval grade`; returns 0 on success, 2 on unreadable input."""
    args = build_parser().parse_args(argv)
    delimiters = tuple(args.delimiters) if args.delimiters else DEFAULT_ANSWER_DELIMITERS
    try:
        rows = read_rows(args.file)
    except (OSError, json.JSONDecodeError) as err:
        print(f"s1eval grade: cannot read {args.file!r}: {err}", file=sys.stderr)
        return 2
    with WorkerPool(args.workers, args.timeout) as pool:
        try:
            grades = grade_rows(rows, args.task, delimiters, pool)
        except (KeyError, ValueError) as err:
            print(f"s1eval grade: {err}", file=sys.stderr)
            return 2
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            _write(rows, grades, out)
    else:
        _write(rows, grades, sys.stdout)
    correct = sum(g.correct for g in grades)
    unextracted = sum(g.method == "unextracted" for g in grades)
    acc = correct / len(grades) if grades else 0.0
    print(f"{args.task}: accuracy {acc:.4f} ({correct}/{len(grades)}), unextracted {unextracted}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
