"""`s1eval stats`: recompute budget statistics from any samples file, ours or the original s1 fork's.

    s1eval stats SAMPLES.jsonl --tokenizer NAME [--preset s1|think_tags] [--budget N] [--max-length N]
                 [--forced-answer-prefix TEXT] [--output ROWS.jsonl] [--json SUMMARY.json]

Every response of every row (``resps[0]``, all repeats) goes through `s1eval.budget.stats.stats_from_text` with
the given tokenizer (a hub id or a local folder; thinking tokens are counted with the tokenizer of the model
that generated them, Qwen2.5's for s1) and the row's own budget-forcing settings (its generation arguments:
delimiters, forced_answer_prefix, thinking_n_ignore and its string, min_tokens_thinking, rejection_sample;
``--preset`` and ``--forced-answer-prefix`` override them): thinking and answer tokens, whether the answer
was forced, and whether there is an answer delimiter at all.

Whether an answer was forced is decided as the engine decides it (the rule is in s1eval/budget/stats.py): a
forced end writes ``\nFinal Answer:`` after the answer delimiter, but a model may write that itself after a
natural end, so the text alone cannot always tell. The budget settles it: a forced end leaves exactly the
budget (or too little of it for the ignore string), a natural one less. The budget of a row is ``--budget``
(taken as the budget the engine applied), else the row's integer ``max_tokens_thinking``, lowered as the engine
lowers it to fit ``max_gen_toks`` (or lm-eval's aliases ``max_new_tokens``, ``max_tokens``,
``max_completion_tokens``; with none of them the backend's default lowered it, and it is unknown) and the model's
context, with ``--max-length``; ``auto`` and absent budgets are known only with ``--max-length N``, the context
length the run used. A row whose gen_kwargs ask for no budget forcing has no budget. Where the budget is unknown
and the text is ambiguous, forced is None (``null``) and counted as unknown in the summary, as are thinking or answer
tokens that depend on it. A sample is over budget when its thinking tokens exceed its budget: the original
fork did not decrement the budget between rounds, so its runs with ignores can go over. Prints a summary;
``--output`` writes one row per response, ``--json`` the summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s1eval.budget.config import PRESETS, BudgetConfig, BudgetConfigError, parse_gen_kwargs
from s1eval.budget.stats import stats_from_text
from s1eval.s1format import FORCED_ANSWER_PREFIX
from s1eval.scaling.outputs import OutputError, read_jsonl

UNKNOWN_HINT = ("pass --budget N (the budget the run applied) or, for max_tokens_thinking=auto, "
                "--max-length N (the model's context length in that run)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `s1eval stats`."""
    p = argparse.ArgumentParser(prog="s1eval stats", description=__doc__.split("\n\n")[0])
    p.add_argument("samples", type=Path, help="lm-eval samples JSONL (s1eval's or the original fork's)")
    p.add_argument("--tokenizer", required=True, help="tokenizer hub id or folder (Qwen2.5's for s1 models)")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="thinking delimiters (default: the row's gen_kwargs, else s1)")
    p.add_argument("--budget", type=_non_negative, default=None,
                   help="the thinking budget the run applied (default: the row's max_tokens_thinking)")
    p.add_argument("--max-length", type=_positive, default=None, dest="max_length",
                   help="the model's context length in the run: resolves auto budgets and budgets it lowered")
    p.add_argument("--forced-answer-prefix", default=None,
                   help="text written after a forced end (default: the row's gen_kwargs, "
                        f"else {FORCED_ANSWER_PREFIX!r})")
    p.add_argument("--output", type=Path, help="write one JSON row per response here")
    p.add_argument("--json", type=Path, dest="json_out", help="write the summary as JSON here")
    return p


def _non_negative(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0; pass e.g. --budget 512")
    return int(text)


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1; pass e.g. --max-length 32768")
    return int(text)


def row_gen_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    """The generation arguments of a samples row (``arguments.gen_args_0.arg_1``), or {}."""
    args = (row.get("arguments") or {}).get("gen_args_0") or {}
    kwargs = args.get("arg_1") if isinstance(args, dict) else None
    return kwargs if isinstance(kwargs, dict) else {}


def row_budget(row: dict[str, Any]) -> int | None:
    """The integer thinking budget in a samples row's generation arguments, if any."""
    value = row_gen_kwargs(row).get("max_tokens_thinking")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return int(value)
    return None


def row_config(row: dict[str, Any], args: argparse.Namespace, where: str) -> tuple[BudgetConfig, bool]:
    """The row's budget-forcing settings (its gen_kwargs), with --preset / --forced-answer-prefix over them,
    and whether the row asked for budget forcing at all (a plain generation gets the default delimiters to
    read its text with, but no budget)."""
    try:
        cfg, _ = parse_gen_kwargs(row_gen_kwargs(row))
    except BudgetConfigError as err:
        raise OutputError(f"{where}: the row's gen_kwargs cannot be read as s1eval's: {err}") from None
    forcing = cfg is not None
    cfg = cfg or BudgetConfig()
    if args.preset is not None:
        delims = PRESETS[args.preset]
        cfg = dataclasses.replace(cfg, thinking_start=delims["thinking_start"], thinking_end=delims["thinking_end"],
                                  until_thinking=(delims["until_thinking"],), delimiters=args.preset)
    if args.forced_answer_prefix is not None:
        cfg = dataclasses.replace(cfg, forced_answer_prefix=args.forced_answer_prefix)
    return cfg, forcing


# lm-eval's names for the generation allowance, by its priority (lm_eval.models.utils.normalize_gen_kwargs)
MAX_GEN_ALIASES = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")


def row_max_gen(row: dict[str, Any]) -> Any:
    """The row's generation allowance under the first of lm-eval's aliases present (not None), else None."""
    kwargs = row_gen_kwargs(row)
    return next((kwargs[k] for k in MAX_GEN_ALIASES if kwargs.get(k) is not None), None)


def applied_budget(row: dict[str, Any], cfg: BudgetConfig, tokenizer: Any, args: argparse.Namespace,
                   forcing: bool = True) -> int | None:
    """The thinking budget the engine applied to this row's requests, as far as the file (and flags) tell.

    --budget as given; None for a row without budget forcing; else the row's max_tokens_thinking planned as
    s1eval.budget.planning plans it: an integer lowered to fit max_gen_toks (or lm-eval's aliases of it;
    without any, the backend's default lowered it and the budget is unknown) and --max-length, ``auto`` or
    none only with --max-length."""
    if args.budget is not None:
        return args.budget
    if not forcing:
        return None  # a plain generation: no budget was applied
    requested = row_budget(row)
    args0 = (row.get("arguments") or {}).get("gen_args_0") or {}
    context = args0.get("arg_0") if isinstance(args0, dict) else None
    max_gen = row_max_gen(row)
    if max_gen is None:
        return None  # the backend's default max_gen_toks (not in the file) bounded it: unknown
    if isinstance(max_gen, bool) or not str(max_gen).strip().isdigit() or not isinstance(context, str):
        return requested  # no allowance to plan it in
    if requested is None and args.max_length is None:
        return None  # auto or none: the context decides
    from s1eval.budget.codec import Codec
    from s1eval.budget.control import add_instruction, instruction
    from s1eval.budget.planning import ContextError, fit_generation, plan_budget

    if cfg.control is not None:
        context = add_instruction(context, instruction(*cfg.control), tokenizer)
    start_in_prompt = context.rstrip("\n").endswith(cfg.thinking_start)
    start_tokens = 0 if start_in_prompt else len(tokenizer.encode(cfg.thinking_start, add_special_tokens=False))
    prompt_ids = _prompt_ids(tokenizer, context)
    # plan_budget only encodes text with the codec; its EOS ids play no part here
    codec = Codec(tokenizer, [tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0])
    try:
        allowance = fit_generation(len(prompt_ids), int(max_gen), args.max_length)
        plan = plan_budget(dataclasses.replace(cfg, max_tokens_thinking=requested), codec, allowance,
                           start_tokens, prompt_ids)
    except ContextError:
        return None  # the run could not have planned it either
    return plan.budget


def _prompt_ids(tokenizer: Any, context: str) -> list[int]:
    """The prompt's ids as s1eval's backends encode it (no second BOS before a templated prompt)."""
    bos = getattr(tokenizer, "bos_token", None)
    return tokenizer.encode(context, add_special_tokens=not (bos and context.startswith(bos)))


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
        cfg, forcing = row_config(row, args, f"{where}:{i}")
        budget = applied_budget(row, cfg, tokenizer, args, forcing)
        for repeat, text in enumerate(responses(row, f"{where}:{i}")):
            stats = stats_from_text(text, tokenizer, budget=budget, config=cfg)
            thinking = stats["thinking_tokens"]
            over = None if budget is None or thinking is None else thinking > budget
            out.append({"doc_id": row.get("doc_id"), "repeat": repeat, "budget": budget, **stats, "over_budget": over})
    return out


def _mean(values: list[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def summarize_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over recomputed rows; means are over the rows whose value is known (the *_unknown counts)."""
    thinking = [r["thinking_tokens"] for r in rows]
    answer = [r["answer_tokens"] for r in rows]
    known = [r for r in rows if r["over_budget"] is not None]
    return {
        "responses": len(rows),
        "thinking_tokens_mean": _mean(thinking),
        "thinking_tokens_max": max((t for t in thinking if t is not None), default=None),
        "thinking_tokens_unknown": sum(t is None for t in thinking),
        "answer_tokens_mean": _mean(answer),
        "answer_tokens_unknown": sum(a is None for a in answer),
        "forced": sum(r["forced"] is True for r in rows),
        "forced_unknown": sum(r["forced"] is None for r in rows),
        "without_answer_delimiter": sum(not r["has_answer_delimiter"] for r in rows),
        "with_known_budget": len(known),
        "over_budget": sum(r["over_budget"] for r in known),
    }


def render(summary: dict[str, Any]) -> str:
    """The summary as text: thinking and answer tokens, forced answers, and responses over budget."""
    lines = [f"{summary['responses']} responses"]

    def over(key: str) -> str:
        unknown = summary[f"{key}_unknown"]
        return f" (over {summary['responses'] - unknown}; unknown for {unknown})" if unknown else ""

    if summary["thinking_tokens_mean"] is not None:
        lines.append(f"thinking tokens: mean {summary['thinking_tokens_mean']:.1f}, "
                     f"max {summary['thinking_tokens_max']}{over('thinking_tokens')}")
    if summary["answer_tokens_mean"] is not None:
        lines.append(f"answer tokens: mean {summary['answer_tokens_mean']:.1f}{over('answer_tokens')}")
    lines.append(f"forced answers: {summary['forced']}; "
                 f"without an answer delimiter: {summary['without_answer_delimiter']}")
    if summary["forced_unknown"]:
        lines.append(f"forced unknown: {summary['forced_unknown']} (the text alone cannot tell a forced end from a "
                     f"natural one the model followed with the forced answer prefix itself; {UNKNOWN_HINT})")
    if summary["with_known_budget"]:
        lines.append(f"over budget: {summary['over_budget']} of {summary['with_known_budget']} with a known budget")
    else:
        lines.append(f"over budget: unknown (no known budget in the samples; {UNKNOWN_HINT})")
    return "\n".join(lines)


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `s1eval stats`; returns 0, or 2 on unreadable input."""
    args = build_parser().parse_args(argv)
    # planning warns when a budget does not fit the allowance; here that would be one line per row
    logging.getLogger("s1eval.budget.planning").setLevel(logging.ERROR)
    try:
        rows = read_jsonl(args.samples)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        stats = recompute(rows, tokenizer, args, str(args.samples))
    except (OutputError, OSError) as err:
        print(f"s1eval stats: {err}", file=sys.stderr)
        return 2
    summary = summarize_rows(stats)
    if args.output:
        _write_rows(args.output, stats)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(render(summary))  # after the files: a closed stdout (`| head`) must not lose them
    return 0
