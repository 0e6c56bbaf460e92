"""Fit a request into the model's context and turn `max_tokens_thinking` into a concrete budget.

lm-eval 0.4.13 left-truncates the prompt when prompt + max_gen_toks exceeds the context. We never
cut a prompt: the generation allowance shrinks instead,

    allowance = min(max_gen_toks, context - prompt_tokens)

and a prompt that does not fit at all is an error naming the numbers. Within the allowance:

    auto budget = allowance - len(start) - len(forced end) - answer_reserve

where len(start) is 0 when the chat template already ends with the start delimiter, and the
forced end counts its optional leading newline. `auto` is computed per request, not per batch
(the fork used the batch's longest prompt). An explicit budget that would leave less than
`answer_reserve` tokens for the answer is lowered to the same cap, with a warning; in an allowance
too small for the reserve itself, it is kept as long as one answer token remains.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from s1eval.budget.codec import Codec
from s1eval.budget.config import BudgetConfig

log = logging.getLogger(__name__)


class ContextError(ValueError):
    """A prompt does not fit the model's context, or leaves no room for thinking."""


def fit_generation(prompt_tokens: int, max_gen_toks: int, context_len: int | None) -> int:
    """The generation allowance of one request; never truncates the prompt."""
    if max_gen_toks < 1:
        raise ContextError(f"max_gen_toks={max_gen_toks} must be >= 1")
    if context_len is None:
        return max_gen_toks
    room = context_len - prompt_tokens
    if room < 1:
        raise ContextError(
            f"prompt of {prompt_tokens} tokens does not fit the context of {context_len} tokens "
            "with room to generate; raise max_length / max_model_len or shorten the prompt "
            "(s1eval never truncates prompts)."
        )
    return min(max_gen_toks, room)


@dataclass(frozen=True)
class BudgetPlan:
    budget: int  # thinking tokens allowed, over all rounds
    cap: int  # the most the allowance permits
    source: str  # "explicit", "auto" or "context" (no max_tokens_thinking given)


def plan_budget(
    cfg: BudgetConfig, codec: Codec, allowance: int, start_tokens: int, prompt_ids: Sequence[int]
) -> BudgetPlan:
    """Resolve the thinking budget of one request."""
    forced_end = len(codec.encode("\n")) + len(codec.encode(cfg.forced_end))
    cap = allowance - start_tokens - forced_end - cfg.answer_reserve
    requested = cfg.max_tokens_thinking
    if requested in ("auto", None):
        if cap <= 0:
            raise ContextError(
                f"max_tokens_thinking=auto leaves {cap} thinking tokens for a prompt of "
                f"{len(prompt_ids)} tokens: allowance {allowance} - start {start_tokens} - forced "
                f"end {forced_end} - answer_reserve {cfg.answer_reserve}. Raise max_gen_toks or the "
                "context length, or lower answer_reserve."
            )
        return BudgetPlan(cap, cap, "auto" if requested == "auto" else "context")
    assert isinstance(requested, int)
    room = allowance - start_tokens - forced_end  # thinking + answer
    if room < 1:
        raise ContextError(
            f"no room to think and answer: allowance {allowance} - start {start_tokens} - forced end "
            f"{forced_end} = {room}; raise max_gen_toks or the context length."
        )
    # Keep answer_reserve for the answer when the allowance has it; in a smaller allowance keep at
    # least one answer token.
    limit = cap if cap > 0 else room - 1
    if requested > limit:
        log.warning(
            "max_tokens_thinking=%d does not fit the generation allowance of %d tokens; using %d "
            "so that %d tokens remain for the answer.", requested, allowance, limit, room - limit,
        )
        return BudgetPlan(limit, limit, "explicit")
    return BudgetPlan(requested, limit, "explicit")
