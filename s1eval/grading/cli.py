"""`s1eval grade`: re-grade saved responses without regenerating them (same code path as the tasks).

    s1eval grade --task {aime24,aime25,math500,gpqa_diamond} FILE [--output OUT] [--delimiter TEXT ...]
                 [--judge-base-url URL --judge-model NAME [--judge-api-key-env VAR] [--judge-cache DIR]]

FILE is an lm-eval samples JSONL (ours or the original s1 fork's: the response is ``filtered_resps[0]`` or
``resps[0][0]``, the gold is ``target``) or a JSONL of ``{"response", "gold"}`` rows (GPQA rows may add
``"choices"``, the four choice texts in prompt order, so an answer given as a choice's text can be read). Writes
one JSON row per response, in input order, with ``extracted``, ``correct``, ``method``, ``finished`` (False: the
response was cut off inside thinking or mid-sentence; and ``rule``, ``detail``,
``doc_id`` when known; ``sample`` for rows of a sampled ``*_maj`` task, whose every repeat is graded) to OUT or
stdout, and prints the accuracy over responses (and the majority vote for sampled rows) to stderr. `main(argv)` returns the exit status.

The optional LLM judge (`s1eval.grading.judge`; math tasks only) is consulted for the answers Math-Verify calls
wrong, exactly as in the tasks; its replies are cached, so re-grading the same file costs nothing the second time.
The API key is read from the environment variable named by ``--judge-api-key-env`` (default OPENAI_API_KEY; ``""``
for an endpoint without a key), never from the command line.
"""  # noqa: E501 - one prose line of the docstring is long; rewrapping it would change the docstring

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from s1eval.argtypes import bounded
from s1eval.atomic import write_text_atomic
from s1eval.data import read_jsonl
from s1eval.grading import GRADER_VERSION
from s1eval.grading.extract import DEFAULT_ANSWER_DELIMITERS
from s1eval.grading.grade import Grade, grade_math_batch
from s1eval.grading.judge import Judge, JudgeConfig, JudgeError, grader_id
from s1eval.grading.pool import DEFAULT_TIMEOUT_S, WorkerPool

log = logging.getLogger(__name__)

POSITIVE_INT = bounded(int, lambda n: n > 0, "an integer > 0", "e.g. 4")
POSITIVE_SECONDS = bounded(float, lambda s: s > 0, "seconds > 0", "e.g. 5")
COUNT = bounded(int, lambda n: n >= 0, "an integer >= 0", "0 for none")
TASK_KINDS = {"aime24": "aime", "aime25": "aime", "math500": "math", "gpqa_diamond": "gpqa"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `s1eval grade`."""
    p = argparse.ArgumentParser(prog="s1eval grade", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=sorted(TASK_KINDS), help="which benchmark's rules to apply")
    p.add_argument("file", help="lm-eval samples JSONL or a JSONL of {response, gold[, choices]} rows")
    p.add_argument("--output", "-o", help="where to write the graded JSONL (default: stdout)")
    p.add_argument("--delimiter", action="append", dest="delimiters", metavar="TEXT",
                   help=f"answer delimiter (repeatable; default: {', '.join(DEFAULT_ANSWER_DELIMITERS)})")
    p.add_argument("--workers", type=POSITIVE_INT, default=None,
                   help="grading worker processes (default: min(4, CPUs))")
    p.add_argument("--timeout", type=POSITIVE_SECONDS, default=DEFAULT_TIMEOUT_S,
                   help="seconds per comparison (default 5)")
    j = p.add_argument_group("LLM judge (off unless --judge-base-url and --judge-model are given; math tasks only)")
    j.add_argument("--judge-base-url", metavar="URL", help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1")
    j.add_argument("--judge-model", metavar="NAME", help="judge model, e.g. gpt-4o-mini")
    j.add_argument("--judge-api-key-env", metavar="VAR", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY; '' for none)")
    j.add_argument("--judge-cache", metavar="DIR", help="reply cache (default ~/.cache/s1eval/judge)")
    j.add_argument("--judge-timeout", type=POSITIVE_SECONDS, default=60.0, metavar="S",
                   help="seconds per request (default 60)")
    j.add_argument("--judge-retries", type=COUNT, default=4, metavar="N", help="retries per request (default 4)")
    j.add_argument("--judge-concurrency", type=POSITIVE_INT, default=4, metavar="N",
                   help="parallel requests (default 4)")
    return p


def judge_from_args(args: argparse.Namespace) -> Judge | None:
    """The judge the arguments configure, or None; ValueError/JudgeError on an incomplete or unusable setup."""
    if not (args.judge_base_url or args.judge_model):
        return None
    if not (args.judge_base_url and args.judge_model):
        raise ValueError("the judge needs both --judge-base-url and --judge-model")
    if TASK_KINDS[args.task] == "gpqa":
        raise ValueError("the judge is for math answers; GPQA letters compare exactly")
    config = JudgeConfig.from_mapping({
        "base_url": args.judge_base_url, "model": args.judge_model, "api_key_env": args.judge_api_key_env or None,
        "cache": args.judge_cache, "timeout_s": args.judge_timeout, "max_retries": args.judge_retries,
        "concurrency": args.judge_concurrency})
    config.api_key()  # an unset key variable fails before any grading
    return Judge(config)


def _responses_of(row: dict[str, Any]) -> list[str]:
    """Every response of a row: one, or all repeats of a sampled task (``*_maj``: repeats=64)."""
    if "response" in row:
        return [str(row["response"] or "")]
    filtered = row.get("filtered_resps")
    if isinstance(filtered, list) and filtered:
        first = filtered[0]
        if isinstance(first, str):
            return [first]
        if isinstance(first, list) and first and all(isinstance(x, str) for x in first):
            return list(first)  # take_first_k keeps all k repeats
    resps = row.get("resps")
    if isinstance(resps, list) and resps:
        first = resps[0]
        if isinstance(first, list):
            return [str(x or "") for x in first] or [""]
        return [str(first or "")]
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


def grade_rows(rows: Sequence[dict[str, Any]], task: str, delimiters: tuple[str, ...],
               pool: WorkerPool, judge: Judge | None = None) -> list[list[Grade]]:
    """Grade every response of every row with the rules of `task`; one list of grades per row, in repeat order.

    Math rows go out as one batch, so comparisons run in parallel across rows and repeats.
    """
    kind = TASK_KINDS[task]
    responses = [_responses_of(r) for r in rows]
    if kind == "gpqa":
        from s1eval.grading.gpqa import grade_choice

        return [[grade_choice(resp, _gold_letter(_gold_of(r)), _choices_of(r), delimiters) for resp in resps]
                for r, resps in zip(rows, responses)]
    items = [(resp, _gold_of(r)) for r, resps in zip(rows, responses) for resp in resps]
    flat = iter(grade_math_batch(items, kind=kind, delimiters=delimiters, pool=pool, judge=judge))
    return [[next(flat) for _ in resps] for resps in responses]


def _write(rows: Sequence[dict[str, Any]], grades: Sequence[Sequence[Grade]], out: TextIO,
           version: int | str) -> None:
    for i, (row, row_grades) in enumerate(zip(rows, grades)):
        for j, grade in enumerate(row_grades):
            record: dict[str, Any] = {"index": i}
            if len(row_grades) > 1:
                record["sample"] = j
            if "doc_id" in row:
                record["doc_id"] = row["doc_id"]
            record.update(grade.as_log())
            record["grader_version"] = version
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `s1eval grade`; returns 0 on success, 2 on unreadable or empty input or an unusable judge."""
    args = build_parser().parse_args(argv)
    delimiters = tuple(args.delimiters) if args.delimiters else DEFAULT_ANSWER_DELIMITERS
    try:
        judge = judge_from_args(args)
    except (ValueError, JudgeError) as err:
        print(f"s1eval grade: {err}", file=sys.stderr)
        return 2
    if args.output and Path(args.output).resolve() == Path(args.file).resolve():
        print(f"s1eval grade: --output {args.output!r} is the input file; it would be replaced by the grades. "
              "Write them elsewhere, e.g. --output graded.jsonl", file=sys.stderr)
        return 2
    try:
        rows = read_jsonl(args.file)
    except (OSError, ValueError) as err:
        print(f"s1eval grade: cannot read {args.file!r}: {err}", file=sys.stderr)
        return 2
    if not rows:  # an accuracy of 0/0 would read as a graded run
        print(f"s1eval grade: {args.file} holds no rows (empty file); give an lm-eval samples JSONL "
              "(--log_samples) or a JSONL of {response, gold} rows", file=sys.stderr)
        return 2
    with WorkerPool(args.workers, args.timeout) as pool:
        try:
            grades = grade_rows(rows, args.task, delimiters, pool, judge)
        except (KeyError, ValueError, JudgeError) as err:
            print(f"s1eval grade: {err}", file=sys.stderr)
            return 2
    buffer = io.StringIO()
    _write(rows, grades, buffer, grader_id(GRADER_VERSION, judge))
    if args.output:
        write_text_atomic(Path(args.output), buffer.getvalue())  # a rerun never leaves a half-written file
    else:
        sys.stdout.write(buffer.getvalue())
    _print_summary(args.task, grades, judge)
    return 0


def _print_summary(task: str, grades: Sequence[Sequence[Grade]], judge: Judge | None) -> None:
    """Accuracy, unextracted and cut-off counts (and the vote for sampled rows, the judge's tally) to stderr."""
    flat = [g for row_grades in grades for g in row_grades]
    correct = sum(g.correct for g in flat)
    unextracted = sum(g.method == "unextracted" for g in flat)
    cut_off = sum(not g.finished for g in flat)
    acc = correct / len(flat) if flat else 0.0
    print(f"{task}: accuracy {acc:.4f} ({correct}/{len(flat)}), unextracted {unextracted}, "
          f"cut off (not finished) {cut_off}", file=sys.stderr)
    repeats = {len(g) for g in grades}
    if repeats != {1} and grades:  # sampled rows: the vote, as the *_maj tasks report it
        from s1eval.grading.voting import majority_correct

        maj = sum(majority_correct(g, TASK_KINDS[task]) for g in grades)
        print(f"{task}: {len(grades)} rows with {'/'.join(map(str, sorted(repeats)))} samples each; "
              f"majority vote {maj / len(grades):.4f} ({maj}/{len(grades)})", file=sys.stderr)
    if judge is not None:
        asked = [g for g in flat if g.judge is not None]
        print(f"judge {judge.config.model}: consulted on {len(asked)}, said yes {sum(g.correct for g in asked)}, "
              f"unusable replies {sum(g.judge['verdict'] is None for g in asked)}; "  # type: ignore[index]
              f"{judge.requests} request(s), {judge.cache_hits} cache hit(s)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
