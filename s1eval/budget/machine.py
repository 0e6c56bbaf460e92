"""The per-request budget-forcing state machine: think -> (suppress end, append) -> ... -> answer.

A `RequestMachine` turns a prompt and a `BudgetConfig` into `Continuation`s for an engine and
folds each returned `Step` back into its state. It knows nothing about torch or vLLM.

Token accounting (each row has a fake-engine test in tests/budget/test_accounting.py)
--------------------------------------------------------------------------------------
| case                                         | what happens                                   | counted as thinking          |
|----------------------------------------------|------------------------------------------------|------------------------------|
| round ends at a thinking stop (`<|im_start|>`)| the stop token is dropped from the sequence    | no (the dropped stop)        |
| round ends at a text stop (`.`; Gemma writes | matched in the decoded text; the token holding | no (the dropped tokens)      |
|   `$.` as one token): any stop that is not   | the stop's first character is dropped with the |                              |
|   one added token                            | rest of the stop                               |                              |
| EOS during thinking                          | treated as an end of thinking (suppressible)   | no (dropped like a stop)     |
| end suppressed (ignores left)                | ignore string appended, next round starts      | yes, its tokens count        |
| remaining budget < ignore string tokens      | no truncated string: thinking is force-ended   | -                            |
| budget exhausted (round hits its max_new)    | `\n` (only if the decoded thinking does not    | no: newline, delimiter and   |
|                                              | already end in one) + end + `\nFinal Answer:`  | prefix are not thinking      |
| natural end, no ignores left                 | `thinking_end` appended, answer phase          | no                           |
| budget hit exactly at a natural end          | a round may produce `left` tokens plus its     | the `left` tokens; the end   |
|                                              | stop; thinking that uses the whole budget and  | would be token left+1, which |
|                                              | would stop at the next token is force-ended    | is never generated           |
| zero budget (max_tokens_thinking=0)          | no thinking round: the forced end follows the  | 0                            |
|                                              | start delimiter directly                       |                              |
| min_tokens_thinking, method `append` (s1)    | an end before the minimum is dropped and the   | yes (ignore string); does    |
|                                              | ignore string appended; no ignore is used up   | not use up thinking_n_ignore |
| min_tokens_thinking, method `mask`           | the engine masks stop ids until the minimum    | -                            |
| thinking_n_ignore given (fork parity)        | every thinking round generates >= 1 token      | -                            |
| rejection_sample                             | a try that exceeds the budget is discarded and | only the accepted try        |
|                                              | resampled with a new seed, up to the try cap   |                              |

Invariant: thinking tokens (all rounds, appended ignore strings included) never exceed the
effective budget. The original fork did not decrement the budget between rounds and truncated
afterwards; we do not copy that.

The answer phase gets what remains of the request's generation allowance and stops at the task's
`until` strings and EOS; `until` strings never stop a thinking round.
"""  # noqa: E501 - the accounting table is wider than 119 columns; rewrapping it would change the docstring

from __future__ import annotations

import enum
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from s1eval.budget.codec import Codec
from s1eval.budget.config import BudgetConfig
from s1eval.budget.engine import Continuation, Step, stop_occurrence
from s1eval.budget.planning import plan_budget
from s1eval.budget.sampling import GREEDY, Sampling
from s1eval.budget.seeds import derive_seed
from s1eval.budget.stats import RequestStats

log = logging.getLogger(__name__)


class Phase(enum.Enum):
    THINK = "think"
    ANSWER = "answer"
    DONE = "done"


@dataclass(frozen=True)
class RequestSpec:
    """One generation request as the state machine needs it."""

    prompt_ids: tuple[int, ...]
    prompt_text: str
    config: BudgetConfig | None  # None: plain generation, no thinking phase
    max_gen: int  # generation allowance after fitting to the context (see planning.py)
    until: tuple[str, ...] = ()
    sampling: Sampling = GREEDY  # the answer phase's (and plain generation's); see s1eval.budget.sampling
    seed: int | None = None
    task: str | None = None
    doc_id: int | None = None
    repeat: int = 0


@dataclass
class RequestResult:
    text: str  # what lm-eval receives (full response by default)
    answer_text: str
    stats: RequestStats


class RequestMachine:
    """State of one request. `start()` gives the first continuation, `advance(step)` the next."""

    def __init__(self, key: Hashable, spec: RequestSpec, codec: Codec) -> None:
        self.key, self.spec, self.codec, self.cfg = key, spec, codec, spec.config
        self.seq: list[int] = list(spec.prompt_ids)
        self.thinking_ids: list[int] = []
        self.answer_ids: list[int] = []
        self.end_text = ""
        self.stats = RequestStats(task=spec.task, doc_id=spec.doc_id, repeat=spec.repeat,
                                  prompt_tokens=len(spec.prompt_ids))
        self.phase = Phase.ANSWER
        self._after_suppression = False
        self._try_start = 0
        if self.cfg is not None:
            self._init_thinking(self.cfg)

    # ------------------------------------------------------------------ setup
    def _init_thinking(self, cfg: BudgetConfig) -> None:
        start_text = cfg.thinking_start
        tail = self.spec.prompt_text.rstrip("\n")
        # R1-distill / Qwen3 templates already end in `<think>\n`: never double the delimiter.
        self.start_in_prompt = tail.endswith(start_text)
        start_ids = () if self.start_in_prompt else self.codec.encode(start_text)
        self.seq.extend(start_ids)
        self._start_tail = self.spec.prompt_text if self.start_in_prompt else start_text
        self.plan = plan_budget(cfg, self.codec, self.spec.max_gen, len(start_ids), self.spec.prompt_ids)
        self.stats.budget = self.plan.budget
        self.left = self.plan.budget
        self.ignore_ids = self.codec.encode(cfg.thinking_n_ignore_str) if cfg.thinking_n_ignore_str else ()
        stop_ids, stop_strings = set(self.codec.eos_ids), []
        for stop in cfg.until_thinking:  # by id only where no token can hold it merged with other text
            atomic = self.codec.atomic_id(stop)
            (stop_ids.add(atomic) if atomic is not None else stop_strings.append(stop))
        self.think_stop_ids, self.think_stop_strings = frozenset(stop_ids), tuple(stop_strings)
        # the `<key>_thinking` overrides, greedy resolved again (temperature_thinking alone samples)
        self.think_sampling = self.spec.sampling.override(cfg.thinking_sampling)
        self.phase = Phase.THINK

    # ------------------------------------------------------------------ driving
    def start(self) -> Continuation | None:
        return self._next()

    def advance(self, step: Step) -> Continuation | None:
        self.stats.cached_tokens += step.cached_tokens
        self.stats.untexted_tokens += sum(t >= self.codec.vocab_size for t in step.new_ids)
        self.stats.finish_reasons.append(_reason(step))
        if self.phase is Phase.THINK:
            self._think_step(step)
        else:
            self._answer_step(step)
        return self._next()

    def _next(self) -> Continuation | None:
        if self.phase is Phase.THINK and self.left <= 0:
            self._end_thinking(forced=True, reason="budget")
        if self.phase is Phase.THINK:
            return self._think_continuation()
        if self.phase is Phase.ANSWER:
            room = self.spec.max_gen - (len(self.seq) - len(self.spec.prompt_ids))
            if room > 0:
                return Continuation(
                    key=self.key, token_ids=tuple(self.seq), max_new=room,
                    stop_token_ids=self.codec.eos_ids, stop_strings=self.spec.until,
                    sampling=self.spec.sampling, seed=self._seed("answer"),
                )
            self.stats.finish_reasons.append("length")
            self.phase = Phase.DONE
        return None

    def _think_continuation(self) -> Continuation:
        cfg = self.cfg
        assert cfg is not None
        max_new = self.left
        if cfg.rejection_sample:
            max_new = self.left + 1  # one more token tells "fits" from "does not fit"
        min_new = 0
        if cfg.min_tokens_method == "mask":
            min_new = max(0, cfg.min_tokens_thinking - len(self.thinking_ids))
        if cfg.ignore_given or self._after_suppression:
            min_new = max(min_new, 1)  # guarantees progress after a dropped end
        return Continuation(
            key=self.key, token_ids=tuple(self.seq), max_new=max_new,
            stop_token_ids=self.think_stop_ids, stop_strings=self.think_stop_strings,
            min_new=min(min_new, max_new), sampling=self.think_sampling,
            seed=self._seed("think", self.stats.rounds, self.stats.rejection_tries),
        )

    # ------------------------------------------------------------------ thinking
    def _think_step(self, step: Step) -> None:
        cfg = self.cfg
        assert cfg is not None
        self.stats.rounds += 1
        ended = step.finish == "stop"
        new = self._strip_stop(step) if ended else list(step.new_ids)
        if cfg.rejection_sample:
            self._rejection_step(new, ended)
            return
        self._append_thinking(new)
        self._after_suppression = False
        if not ended:
            self._end_thinking(forced=True, reason="budget")
        elif len(self.thinking_ids) < cfg.min_tokens_thinking and cfg.min_tokens_method == "append":
            self._extend_or_force(counts_as_ignore=False)
        elif self.stats.ignores_used < cfg.thinking_n_ignore:
            self._extend_or_force(counts_as_ignore=True)
        else:
            self._end_thinking(forced=False, reason=None)

    def _rejection_step(self, new: list[int], ended: bool) -> None:
        cfg = self.cfg
        assert cfg is not None
        self.stats.rejection_tries += 1
        if ended and len(new) <= self.left:
            self._append_thinking(new)
            self._end_thinking(forced=False, reason=None)
        elif self.stats.rejection_tries >= cfg.rejection_max_tries:
            self._append_thinking(new[: self.left])
            self._end_thinking(forced=True, reason="rejection_exhausted")
        # else: discard the try; the next continuation resamples from the same prefix

    def _append_thinking(self, ids: list[int]) -> None:
        self.thinking_ids.extend(ids)
        self.seq.extend(ids)
        self.left -= len(ids)
        self.stats.thinking_tokens = len(self.thinking_ids)

    def _extend_or_force(self, counts_as_ignore: bool) -> None:
        if len(self.ignore_ids) > self.left:
            self._end_thinking(forced=True, reason="no_room_for_ignore")
            return
        self._append_thinking(list(self.ignore_ids))
        self.stats.ignore_tokens += len(self.ignore_ids)
        if counts_as_ignore:
            self.stats.ignores_used += 1
        else:  # an end dropped for min_tokens_thinking: counted only when it was dropped, not forced instead
            self.stats.min_suppressed += 1
        self._after_suppression = True

    def _strip_stop(self, step: Step) -> list[int]:
        """Drop the stop that ended a round (a stop id, or the tokens forming a stop string)."""
        new = list(step.new_ids)
        if isinstance(step.matched_stop, str):
            # The occurrence that ended the round is completed by its last token (an earlier one,
            # inside the first min_new tokens, did not count and stays). Drop every token that
            # contributes text at or after its start (`<|im_start|>0` spans several tokens).
            decode = self.codec.decode_with_specials
            hit = stop_occurrence(decode(new), (step.matched_stop,), after=len(decode(new[:-1])))
            while new and hit is not None and len(decode(new)) > hit[1]:
                new.pop()
            return new
        if new and new[-1] in self.think_stop_ids:
            new.pop()
        return new

    def _end_thinking(self, forced: bool, reason: str | None) -> None:
        cfg = self.cfg
        assert cfg is not None
        if forced:
            newline = "" if self._thinking_text_ends_with_newline() else "\n"
            self.end_text = newline + cfg.forced_end
            end_ids = (self.codec.encode(newline) if newline else ()) + self.codec.encode(cfg.forced_end)
        else:
            self.end_text = cfg.thinking_end
            end_ids = self.codec.encode(cfg.thinking_end)
        self.seq.extend(end_ids)
        self.stats.forced, self.stats.forced_reason = forced, reason
        self.phase = Phase.ANSWER

    def _thinking_text_ends_with_newline(self) -> bool:
        if self.thinking_ids:
            return self.codec.decode(self.thinking_ids[-4:]).endswith("\n")
        return self._start_tail.endswith("\n")

    # ------------------------------------------------------------------ answer
    def _answer_step(self, step: Step) -> None:
        new = list(step.new_ids)
        if step.finish == "stop" and new and new[-1] in self.codec.eos_ids:
            new.pop()
        self.answer_ids.extend(new)
        self.seq.extend(new)
        self.stats.answer_tokens = len(self.answer_ids)
        self.phase = Phase.DONE

    def _seed(self, *parts: Any) -> int | None:
        return None if self.spec.seed is None else derive_seed(self.spec.seed, *parts)

    # ------------------------------------------------------------------ result
    def result(self) -> RequestResult:
        if self.phase is not Phase.DONE:
            raise RuntimeError(f"request {self.key} is not finished (phase {self.phase.value})")
        answer = _cut_at_stops(self.codec.decode(self.answer_ids), self.spec.until)
        if self.cfg is None:
            return RequestResult(text=answer, answer_text=answer, stats=self.stats)
        # Special tokens stay in the trace: formats such as the step countdown
        # (`<|im_start|>3 steps left`) are written with them.
        thinking = self.codec.decode_with_specials(self.thinking_ids)
        text = self.cfg.thinking_start + thinking + self.end_text + answer
        return RequestResult(text=text, answer_text=answer, stats=self.stats)


def _reason(step: Step) -> str:
    if step.finish == "length":
        return "length"
    return "stop_string" if isinstance(step.matched_stop, str) else "stop_token"


def _cut_at_stops(text: str, stops: tuple[str, ...]) -> str:
    # lm-eval's convention (postprocess_generated_text): cut at each stop string in turn.
    for stop in stops:
        if stop:
            text = text.split(stop)[0]
    return text
