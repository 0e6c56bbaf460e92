"""The s1 text format, spelled in one place: every module that writes or reads it takes it from here.

A reasoning response in the s1 format (S1_FACTS.md, "Models, data and formats") is

    <|im_start|>think\\n{thinking}\\n<|im_start|>answer\\n{answer}<|im_end|>

- Budget forcing (s1eval.budget) opens thinking with `thinking_start`, stops a round at `until_thinking`
  (s1: any next turn marker, which is how an s1 model closes its thinking), ends thinking with
  `thinking_end`, and after a forced end writes `FORCED_ANSWER_PREFIX`.
- Training text (s1data's export, s1train) is `assistant_turn`: the same delimiters around the trace, and the
  attempt behind `TRAINING_ANSWER_TAG` unless the attempt already has one.
- Grading (s1eval.grading) reads the answer after the last of `ANSWER_DELIMITERS`: this format's end of
  thinking, and the other formats a user may evaluate (R1's `</think>`, Sky-T1's `<|begin_of_solution|>`).

`think_tags` is the R1 / Qwen3 family's format (`<think>...</think>`). A preset is chosen by the user, never
inferred from a model name. This module imports nothing from the project, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delimiters:
    """One format's thinking delimiters."""

    name: str
    thinking_start: str
    thinking_end: str
    until_thinking: str  # where the model itself ends a thinking round

    def as_dict(self) -> dict[str, str]:
        return {"thinking_start": self.thinking_start, "thinking_end": self.thinking_end,
                "until_thinking": self.until_thinking}


S1 = Delimiters("s1", thinking_start="<|im_start|>think", thinking_end="<|im_start|>answer",
                until_thinking="<|im_start|>")
THINK_TAGS = Delimiters("think_tags", thinking_start="<think>", thinking_end="</think>", until_thinking="</think>")
DELIMITERS: dict[str, Delimiters] = {d.name: d for d in (S1, THINK_TAGS)}
# The presets as budget forcing's gen_kwargs name them (delimiters=s1 | think_tags).
PRESETS: dict[str, dict[str, str]] = {name: d.as_dict() for name, d in DELIMITERS.items()}

# Written after a forced end of thinking (the paper's "Final Answer:").
FORCED_ANSWER_PREFIX = "Final Answer:"
# What s1K's training text puts before the attempt.
TRAINING_ANSWER_TAG = "Answer:"

# Sky-T1 / Bespoke-Stratos write their thinking and solution between these.
BEGIN_OF_THOUGHT, END_OF_THOUGHT = "<|begin_of_thought|>", "<|end_of_thought|>"
BEGIN_OF_SOLUTION, END_OF_SOLUTION = "<|begin_of_solution|>", "<|end_of_solution|>"

# Grading: the answer starts after the last of these (s1, R1-style, Sky-T1-style models).
ANSWER_DELIMITERS: tuple[str, ...] = (S1.thinking_end, THINK_TAGS.thinking_end, BEGIN_OF_SOLUTION)
# A response holding one of these and no answer delimiter after it was cut off while thinking.
THINKING_OPENERS: tuple[str, ...] = (S1.thinking_start, THINK_TAGS.thinking_start, BEGIN_OF_THOUGHT)
# Markers that close a thinking block (a response may end right after one).
THINKING_CLOSERS: tuple[str, ...] = (END_OF_THOUGHT, THINK_TAGS.thinking_end, S1.until_thinking)


def assistant_turn(trace: str, attempt: str, delimiters: Delimiters = S1) -> str:
    """The assistant message of the training text: thinking delimiters around the trace, then the attempt
    behind "Answer: " ("Answer: " omitted when the attempt already contains it). Both are stripped of
    surrounding whitespace, as in the released tokenisation script."""
    attempt = attempt.strip()
    answer = attempt if TRAINING_ANSWER_TAG in attempt else f"{TRAINING_ANSWER_TAG} {attempt}"
    return f"{delimiters.thinking_start}\n{trace.strip()}\n{delimiters.thinking_end}\n{answer}"
