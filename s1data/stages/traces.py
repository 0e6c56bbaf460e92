"""traces: a teacher writes thinking + attempt for each question (paper section 2.1; s1.1: DeepSeek-R1).

The teacher is prompted with the bare question. Its thinking comes from the reply's separate reasoning
(`reasoning_content` of R1-style servers, Gemini Thinking's thought parts through an OpenAI-compatible
layer) or a leading ``<think>...</think>`` block; the visible answer is the attempt. A call that fails
after retries keeps the row with `api_error` set: the quality stage drops it with reason `api_error`, as
the paper counts them (59,029 -> 54,116). Rows are processed in chunks (`chunk_size`) and every reply
is cached by question hash, so an interrupted run resumes without paying twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s1data.pipeline import StageOutput
from s1data.stages._calls import ModelStage, require_client
from s1eval.s1format import THINK_TAGS


@dataclass(frozen=True)
class TracesOptions:
    """`client`: {kind: openai|engine|recorded, ...} (see s1data.clients); `sampling`: request fields
    (e.g. temperature, max_tokens); `teacher`: name stored in the `teacher` column."""

    client: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)
    teacher: str = "teacher"
    chunk_size: int = 256

    def __post_init__(self) -> None:
        require_client("traces", self.client)


class Traces(ModelStage):
    """Add thinking_trajectory, attempt, api_error and teacher columns; drops nothing."""

    name = "traces"
    Options = TracesOptions

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        replies, counts = self.ask("teacher", self.options.client, "traces", rows, lambda r: r["question"],
                                   self.options.sampling)
        kept = []
        for row, rep in zip(rows, replies):
            error = rep["error"]
            if error is None and not (rep["reasoning"] or "").strip():
                error = ("no thinking in reply (the teacher returned no reasoning_content and no "
                         f"{THINK_TAGS.thinking_start} block)")
            kept.append({**row, "thinking_trajectory": rep["reasoning"], "attempt": rep["text"],
                         "api_error": error, "teacher": self.options.teacher})
        return StageOutput(kept=kept, extra=counts)
