"""`s1eval stats`: recompute budget statistics from any samples file, ours or the original s1 fork's.

    s1eval stats SAMPLES.jsonl --tokenizer NAME [--preset s1|think_tags] [--budget N]
                 [--forced-answer-prefix TEXT] [--output ROWS.jsonl] [--json SUMMARY.json]

Every response of every row (``resps[0]``, all repeats) goes through `s1eval.budget.stats.stats_from_text` with
the given tokenizer (a hub id or a local folder; thinking tokens are counted with the tokenizer of the model
that generated them, Qwen2.5's for s1): thinking and answer tokens, whether the answer was forced
(``Final Answer:`` after the answer delimiter), and whether there is an answer delimiter at all. The budget of a
row is ``--budget``, else an integer ``max_tokens_thinking`` in the row's generation arguments (``auto`` and
absent budgets are unknown). A sample is over budget when its thinking tokens exceed its budget: the original
fork did not decrement the budget between rounds, so its runs with ignores can go over. Prints a summary;
``--output`` writes one row per response, ``--json`` the summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s1eval.budget.config import PRESETS
from s1eval.budget.stats import stats_from_text
from s1eval.scaling.outputs import OutputError, read_jsonl


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s1eval stats", description=__doc__.split("\n\n")[0])
    p.add_argument("samples", type=Path, help="lm-eval samples JSONL (s1eval's or the original fork's)")
    p.add_argument("--tokenizer", required=True, help="tokenizer hub id or folder (Qwen2.5's for s1 models)")
    p.add_argument("--preset", default="s1", choices=sorted(PRESETS), help="thinking delimiters (default s1)")
    p.add_argument("--budget", type=int, default=None, help="thinking budget (default: the row's max_tokens_thinking)")
    p.add_argument("--forced-answer-prefix", default="Final Answer:", help="text written after a forced end")
    p.add_argument("--output", type=Path, help="write one JSON row per response here")
    p.add_argument("--json", type=Path, dest="json_out", help="write the summary as JSON here")
    return p


def row_budget(row: dict[str, Any]) -> int | None:
    """The integer thinking budget in a samples row's generation arguments, if any."""
    args = (row.get("arguments") or {}).get("gen_args_0") or {}
    kwargs = args.get("arg_1") if isinstance(args, dict) else None
    value = (kwargs or {}).get("max_tokens_thinking") if isinstance(kwargs, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return int(value)
    return None


def responses(row: dict[str, Any], where: str) -> list[str]:
    """All responses of a row: ``resps[0]`` (every repeat), else ``filtered_resps``."""
    resps = row.get("resps")
    if isinstance(resps, list) and resps and isinstance(resps[0], list):
        return [str(r) for r in resps[0]]
    filtered = row.get("filtered_resps")
    if isinstance(filtered, list) and filtered:
        first = filtered[0]
        return [str(r) for r in first] if isinstance(first, list) else [str(first)]
    raise OutputError(f"{where} has no 'resps' or 'filtered_resps'; is this an lm-eval samples file?")


def recompute(rows: list[dict[str, Any]], tokenizer: Any, args: argparse.Namespace, where: str) -> list[dict]:
    """One statistics row per response (doc_id, repeat, budget, over_budget and stats_from_text's fields)."""
    out = []
    for i, row in enumerate(rows, 1):
        budget = args.budget if args.budget is not None else row_budget(row)
        for repeat, text in enumerate(responses(row, f"{where}:{i}")):
            stats = stats_from_text(text, tokenizer, args.preset, args.forced_answer_prefix)
            over = None if budget is None else stats["thinking_tokens"] > budget
            out.append({"doc_id": row.get("doc_id"), "repeat": repeat, "budget": budget, **stats, "over_budget": over})
    return out


def summarize_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    thinking = [r["thinking_tokens"] for r in rows]
    known = [r for r in rows if r["over_budget"] is not None]
    return {
        "responses": len(rows),
        "thinking_tokens_mean": statistics.fmean(thinking) if rows else None,
        "thinking_tokens_max": max(thinking, default=None),
        "answer_tokens_mean": statistics.fmean(r["answer_tokens"] for r in rows) if rows else None,
        "forced": sum(r["forced"] for r in rows),
        "without_answer_delimiter": sum(not r["has_answer_delimiter"] for r in rows),
        "with_known_budget": len(known),
        "over_budget": sum(r["over_budget"] for r in known),
    }


def render(summary: dict[str, Any]) -> str:
    lines = [f"{summary['responses']} responses"]
    if summary["responses"]:
        lines.append(f"thinking tokens: mean {summary['thinking_tokens_mean']:.1f}, "
                     f"max {summary['thinking_tokens_max']}")
        lines.append(f"answer tokens: mean {summary['answer_tokens_mean']:.1f}")
    lines.append(f"forced answers: {summary['forced']}; "
                 f"without an answer delimiter: {summary['without_answer_delimiter']}")
    if summary["with_known_budget"]:
        lines.append(f"over budget: {summary['over_budget']} of {summary['with_known_budget']} with a known budget")
    else:
        lines.append("over budget: unknown (no integer max_tokens_thinking in the samples; pass --budget N)")
    return "\n".join(lines)


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `s1eval stats`; returns 0, or 2 on unreadable input."""
    args = build_parser().parse_args(argv)
    try:
        rows = read_jsonl(args.samples)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        stats = recompute(rows, tokenizer, args, str(args.samples))
    except (OutputError, OSError) as err:
        print(f"s1eval stats: {err}", file=sys.stderr)
        return 2
    summary = summarize_rows(stats)
    print(render(summary))
    if args.output:
        _write_rows(args.output, stats)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0
