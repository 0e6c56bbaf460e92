"""export: the selected rows as a Hugging Face dataset with the s1K / s1K-1.1 columns and a `text` column.

`text` is the training format of the paper (S1_FACTS.md, "Models, data and formats"): the tokenizer's chat
template (Qwen2.5's adds its default system prompt when none is given) over a user turn with the bare
question and an assistant turn in the s1 format (`s1eval.s1format.assistant_turn`: thinking delimiters around
the trace, then "Answer: {attempt}"), the template closing it with ``<|im_end|>``.

`format: s1k` writes solution, question, cot_type, source_type, metadata, cot, thinking_trajectories
(list[str]), attempt. `format: s1k_1.1` adds gemini_/deepseek_ thinking_trajectory, attempt, grade and
grade_reason; our teacher's columns go under `teacher_prefix` and the other teacher's are copied from the
input when present (null otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1data.pipeline import Stage, StageOutput
from s1eval.s1format import S1, Delimiters, assistant_turn

log = logging.getLogger(__name__)

S1K_COLUMNS = ("solution", "question", "cot_type", "source_type", "metadata", "cot", "thinking_trajectories",
               "attempt")
S1K_11_EXTRA = tuple(f"{t}_{c}" for t in ("gemini", "deepseek")
                     for c in ("thinking_trajectory", "attempt", "grade", "grade_reason"))
FORMATS = ("s1k", "s1k_1.1")


def training_text(tokenizer: Any, question: str, trace: str, attempt: str, delimiters: Delimiters = S1) -> str:
    """The full training text through the tokenizer's chat template (the assistant turn:
    `s1eval.s1format.assistant_turn`)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"tokenizer {getattr(tokenizer, 'name_or_path', tokenizer)!r} has no chat template; "
                         "use the base model's tokenizer (Qwen/Qwen2.5-32B-Instruct)")
    messages = [{"role": "user", "content": question},
                {"role": "assistant", "content": assistant_turn(trace, attempt, delimiters)}]
    return tokenizer.apply_chat_template(messages, tokenize=False)


@dataclass(frozen=True)
class ExportOptions:
    """`tokenizer`: whose chat template builds `text` (null: no text column); `save_to`: dataset folder
    (default: the stage folder's `hf_dataset`); `push_to_hub`: a repo id to push to (needs a login)."""

    format: str = "s1k"
    tokenizer: str | None = "Qwen/Qwen2.5-32B-Instruct"
    teacher_prefix: str = "gemini"
    save_to: str | None = None
    push_to_hub: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format={self.format!r}; valid: {', '.join(FORMATS)}")
        if self.teacher_prefix not in ("gemini", "deepseek"):
            raise ValueError(f"teacher_prefix={self.teacher_prefix!r}; valid: gemini, deepseek")


def trace_and_attempt(row: dict[str, Any], prefix: str | None = None) -> tuple[str | None, str | None]:
    """The row's thinking and attempt: our traces columns, else s1K / s1K-1.1 columns."""
    trace, attempt = row.get("thinking_trajectory"), row.get("attempt")
    if trace is None and row.get("thinking_trajectories"):
        trace = "\n".join(row["thinking_trajectories"])
    if trace is None and prefix and row.get(f"{prefix}_thinking_trajectory") is not None:
        trace, attempt = row[f"{prefix}_thinking_trajectory"], row.get(f"{prefix}_attempt")
    return trace, attempt


def export_row(row: dict[str, Any], opts: ExportOptions) -> dict[str, Any]:
    """One output row in the chosen format (without `text`)."""
    trace, attempt = trace_and_attempt(row, opts.teacher_prefix)
    out = {c: row.get(c) for c in S1K_COLUMNS[:5]}
    out.update(cot=row.get("cot"), thinking_trajectories=None if trace is None else [trace], attempt=attempt)
    if opts.format == "s1k_1.1":
        for c in S1K_11_EXTRA:
            out[c] = row.get(c)
        p = opts.teacher_prefix
        grade = row.get("teacher_correct")
        out.update({f"{p}_thinking_trajectory": trace, f"{p}_attempt": attempt,
                    f"{p}_grade": None if grade is None else ("Yes" if grade else "No"),
                    f"{p}_grade_reason": row.get("teacher_grade_detail")})
    out["question_hash"] = row.get("question_hash")
    return out


class Export(Stage):
    """Write the final dataset; keeps every row."""

    name = "export"
    Options = ExportOptions

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        opts = self.options
        out_rows = [export_row(r, opts) for r in rows]
        if opts.tokenizer:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(opts.tokenizer)
            for r in out_rows:
                trace = r["thinking_trajectories"][0] if r["thinking_trajectories"] else None
                if trace is None or r["attempt"] is None:
                    raise ValueError(f"row {r['question_hash']} has no trace or attempt; run quality with "
                                     "required=[thinking_trajectory, attempt] before export")
                r["text"] = training_text(tok, r["question"], trace, r["attempt"])
        import datasets

        target = Path(opts.save_to) if opts.save_to else (self.workdir or Path(".")) / "hf_dataset"
        ds = datasets.Dataset.from_list(out_rows)
        ds.save_to_disk(str(target))
        log.info("export: %d rows saved to %s", len(ds), target)
        if opts.push_to_hub:
            ds.push_to_hub(opts.push_to_hub)
        return StageOutput(kept=out_rows, extra={"saved_to": str(target), "columns": ds.column_names})
