"""The paper's control baselines (section 3.2, Table 3): conditional-length prompting.

Chosen with the generation kwarg `control` (an argument, never an environment variable, unlike
the original fork), each optionally combined with budget forcing through the usual kwargs:

    control=token:1024   append "Think for up to 1024 tokens." to the question
    control=step:16      append "Think for up to 16 steps." and use the step format: thinking opens
                         with `<|im_start|>16 steps left`, the model counts down with
                         `<|im_start|>N steps left` lines, and thinking stops at `<|im_start|>0`
                         (a multi-token stop string, so `<|im_start|>` alone no longer stops it)
    control=class:long   append the paper's "long" instruction (or class:short)

The instruction goes after two newlines at the end of the user's question, inside the chat
template's user turn when a template was applied (so `--apply_chat_template` still works).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

CLASS_PROMPTS = {
    "long": "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra "
            "time trying to double-check your work until you are absolutely sure that you have the correct answer.",
    "short": "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.",
}
KINDS = ("token", "step", "class")


def parse_control(value: Any) -> tuple[str, int | str]:
    """`token:1024` -> ("token", 1024); errors name the value and the allowed forms."""
    text = str(value)
    kind, _, arg = text.partition(":")
    allowed = "token:N, step:N, class:long or class:short"
    if kind in ("token", "step") and arg.isdigit() and int(arg) > 0:
        return kind, int(arg)
    if kind == "class" and arg in CLASS_PROMPTS:
        return kind, arg
    raise ValueError(f"gen_kwargs control={text!r} is invalid: expected {allowed}.")


def instruction(kind: str, arg: int | str) -> str:
    """The paper's exact instruction for a control."""
    if kind == "token":
        return f"Think for up to {arg} tokens."
    if kind == "step":
        return f"Think for up to {arg} steps."
    return CLASS_PROMPTS[str(arg)]


def step_delimiters(steps: int) -> tuple[str, str]:
    """(thinking_start, until_thinking) of the step-conditional format."""
    return f"<|im_start|>{steps} steps left", "<|im_start|>0"


@lru_cache(maxsize=32)
def _user_turn_tail(template_owner: Any) -> str:
    """What a chat template writes after the user's text (e.g. `<|im_end|>\\n<|im_start|>assistant\\n`)."""
    sentinel = "\x00s1eval-control\x00"
    try:
        text = template_owner.apply_chat_template([{"role": "user", "content": sentinel}], tokenize=False,
                                                  add_generation_prompt=True)
    except Exception:  # no template: prompts are bare questions
        return ""
    return text.split(sentinel, 1)[1] if sentinel in text else ""


def add_instruction(context: str, text: str, tokenizer: Any) -> str:
    """Append `text` after two newlines to the question, inside the user turn if templated."""
    tail = _user_turn_tail(tokenizer) if getattr(tokenizer, "chat_template", None) else ""
    if tail and context.endswith(tail):
        return f"{context[: -len(tail)]}\n\n{text}{tail}"
    return f"{context}\n\n{text}"
