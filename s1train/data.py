"""Training data: s1K / s1K-1.1 rows as prompt/completion pairs in the paper's exact format.

The text is the one s1data's export writes (`s1data.stages.export.training_text`: Qwen's chat template with
its default system prompt, the bare question as the user turn, and the assistant turn of `s1eval.s1format`),
split where the assistant turn's content begins: the prompt ends with ``<|im_start|>assistant\\n`` and the
completion runs from the start of thinking through the ``<|im_end|>`` that closes the turn (the template's
newline after it is not trained on and is left out). trl's SFTTrainer then puts the loss on the completion only.
Qwen2.5's template has no generation tags, so trl's assistant-only mask cannot be used; a prompt/completion
split can.

The `think_tags` preset writes the same turn with `<think>` delimiters (`s1eval.s1format.THINK_TAGS`, the
preset budget forcing uses for R1-style models), put in place of the s1 turn the template rendered, so the two
presets cannot drift apart in anything else and a model is trained on what budget forcing expects.

Samples longer than the block size are counted before training (the paper's Table 7: a 4,096 block cuts 74%
of s1K and costs 20 points on AIME24) and then truncated or dropped, as the user chooses.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from s1data.stages.export import trace_and_attempt, training_text
from s1eval.s1format import DELIMITERS, assistant_turn
from s1train.config import ConfigError

log = logging.getLogger(__name__)

ASSISTANT_HEADER = "<|im_start|>assistant\n"


def load_rows(name: str, config: str | None = None, split: str = "train"):
    """A `datasets.Dataset` from the hub, a saved dataset folder, or a parquet / json(l) file or folder."""
    import datasets

    path = Path(name)
    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(path))
        return ds[split] if isinstance(ds, datasets.DatasetDict) else ds
    if path.exists():
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        kinds = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}
        found = [f for f in files if f.suffix in kinds]
        if not found or len({kinds[f.suffix] for f in found}) > 1:
            raise ConfigError(f"dataset {name!r}: expected a saved dataset, or parquet or json(l) files of one kind; "
                              f"found {[f.name for f in files][:10]}")
        return datasets.load_dataset(kinds[found[0].suffix], data_files=[str(f) for f in found], split="train")
    return datasets.load_dataset(name, config, split=split)


def _trace_attempt(row: dict[str, Any], traces: str, index: int) -> tuple[str, str]:
    if traces in ("gemini", "deepseek"):
        trace, attempt = row.get(f"{traces}_thinking_trajectory"), row.get(f"{traces}_attempt")
    else:
        trace, attempt = trace_and_attempt(row)
    if trace is None or attempt is None:
        cols = ", ".join(sorted(row))
        raise ConfigError(f"row {index}: no trace/attempt for traces={traces!r} (columns: {cols}); s1K uses "
                         "thinking_trajectories, s1K-1.1 gemini or deepseek, s1K_tokenized text")
    return trace, attempt


def prompt_completion(tokenizer: Any, question: str, trace: str, attempt: str, preset: str = "s1") -> dict[str, str]:
    """The training text of one row, split into the prompt and the completion the loss covers."""
    if preset not in DELIMITERS:
        raise ConfigError(f"delimiters={preset!r}; allowed: {', '.join(DELIMITERS)}")
    full = training_text(tokenizer, question, trace, attempt)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                           add_generation_prompt=True)
    turn = assistant_turn(trace, attempt)
    if not full.startswith(prompt) or not full[len(prompt):].startswith(turn):
        raise ConfigError(f"the chat template of {getattr(tokenizer, 'name_or_path', '?')!r} does not render the "
                         "user turn with add_generation_prompt as a prefix of the whole conversation; "
                         "use Qwen2.5's template")
    # another preset's turn in place of the s1 turn the template rendered verbatim (not by search and replace:
    # a trace may mention the delimiters)
    completion = assistant_turn(trace, attempt, DELIMITERS[preset]) + full[len(prompt) + len(turn):]
    return {"prompt": prompt, "completion": completion.rstrip("\n")}


def split_text(text: str, index: int) -> dict[str, str]:
    """A formatted `text` column (s1K_tokenized, s1data export) split after the last assistant header."""
    at = text.rfind(ASSISTANT_HEADER)
    if at < 0:
        raise ConfigError(f"row {index}: `text` has no {ASSISTANT_HEADER!r}; use traces: thinking_trajectories")
    cut = at + len(ASSISTANT_HEADER)
    return {"prompt": text[:cut], "completion": text[cut:].rstrip("\n")}


def format_dataset(ds, tokenizer: Any, traces: str = "thinking_trajectories", preset: str = "s1"):
    """Rows -> a Dataset of {prompt, completion}."""
    import datasets

    out = []
    for i, row in enumerate(ds):
        if traces == "text":
            if preset != "s1":
                raise ConfigError("traces: text keeps the delimiters already in the text; use delimiters: s1")
            out.append(split_text(row["text"], i))
        else:
            trace, attempt = _trace_attempt(row, traces, i)
            out.append(prompt_completion(tokenizer, row["question"], trace, attempt, preset))
    return datasets.Dataset.from_list(out)


def count_overlong(ds, tokenizer: Any, block_size: int) -> dict[str, Any]:
    """Token lengths of prompt + completion as trl will tokenize them, and how many exceed the block."""
    lengths = [len(ids) for ids in tokenizer([p + c for p, c in zip(ds["prompt"], ds["completion"])],
                                             add_special_tokens=False)["input_ids"]]
    over = [i for i, n in enumerate(lengths) if n > block_size]
    return {"rows": len(lengths), "block_size": block_size, "overlong": len(over),
            "overlong_share": len(over) / max(len(lengths), 1), "longest": max(lengths, default=0),
            "mean_tokens": sum(lengths) / max(len(lengths), 1), "overlong_rows": over}


def build_dataset(script: Any, tokenizer: Any):
    """Load, format, count and apply the over-long policy; returns (dataset, stats)."""
    rows = load_rows(script.dataset_name, script.dataset_config, script.dataset_split)
    if script.max_samples is not None:
        rows = rows.select(range(min(script.max_samples, len(rows))))
    ds = format_dataset(rows, tokenizer, script.traces, script.delimiters)
    stats = count_overlong(ds, tokenizer, script.block_size)
    msg = (f"{stats['overlong']} of {stats['rows']} samples ({100 * stats['overlong_share']:.1f}%) are longer than "
           f"block_size {script.block_size} (longest {stats['longest']} tokens)")
    if stats["overlong"] and script.overlong == "drop":
        keep = set(range(len(ds))) - set(stats["overlong_rows"])
        ds = ds.select(sorted(keep))
        log.warning("%s: dropped (overlong: drop)", msg)
    elif stats["overlong"]:
        log.warning("%s: truncated to the block, losing their answers and <|im_end|> (overlong: truncate)", msg)
    else:
        log.info(msg)
    stats["policy"] = script.overlong
    stats["trained_rows"] = len(ds)
    return ds, stats
