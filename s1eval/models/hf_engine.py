"""A transformers `generate` engine for the budget-forcing core.

Two paths:
- cached (default, batch size 1): each request keeps the KV cache `generate` returned; the next
  round continues from it (cropped to the longest common prefix, since the state machine drops a
  stop token and appends text), so a prefix is never re-encoded. Measured on CPU: 1.00x plain
  generation, against 1.45-1.66x for re-encoding (DESIGN.md).
- reference (`reuse_cache=False`, or batch size > 1): every round re-encodes the whole sequence;
  greedy rounds of a batch run as one left-padded `generate`. Contract tests check that both paths
  give identical greedy tokens.

Sampling parameters in the model's generation_config.json (Qwen2.5 ships temperature 0.7,
top_p 0.8, repetition_penalty 1.05) are NOT applied: only what the request asks for is, as in the
paper's vLLM runs. Sampled continuations run one at a time with their own seed, so results do not
depend on batch composition.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from typing import Any

import torch

from s1eval.budget.engine import BatchedEngine, Continuation, Step, find_stop_string, stop_string_cut
from s1eval.budget.sampling import to_transformers
from s1eval.models.base import untexted_ids

log = logging.getLogger(__name__)


class HFEngine(BatchedEngine):
    def __init__(self, model: Any, tokenizer: Any, device: Any, batch_size: int = 1,
                 reuse_cache: bool = True, allow_untexted_ids: bool = False) -> None:
        super().__init__(batch_size)
        # Ids the model can emit but the tokenizer cannot decode (Qwen2.5: 151665-152063) make
        # text, ids and counts drift; they are masked unless explicitly allowed.
        rows = model.get_output_embeddings().weight.shape[0]
        ids = range(0) if allow_untexted_ids else untexted_ids("s1hf", len(tokenizer), rows, None)
        # Built once per model; transformers' `suppress_tokens` ran torch.isin over the whole
        # vocabulary at every generated token (benchmarks/hf_untexted_mask.py).
        self.untexted_mask = UntextedMask(ids.start) if ids else None
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.reuse_cache = reuse_cache and batch_size == 1
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._caches: dict[Hashable, tuple[list[int], Any]] = {}
        self.prefill_tokens = 0  # tokens actually run through the model as prompt, for benchmarks

    def release(self, key: Hashable) -> None:
        self._caches.pop(key, None)

    # ---------------------------------------------------------------- dispatch
    def continue_batch(self, conts: Sequence[Continuation]) -> list[Step]:
        if self.reuse_cache:
            return [self._cached(c) for c in conts]
        greedy = [c for c in conts if c.sampling.greedy]
        steps = dict(zip((c.key for c in greedy), self._batched(greedy))) if greedy else {}
        for c in conts:
            if c.key not in steps:
                steps[c.key] = self._batched([c])[0]
        return [steps[c.key] for c in conts]

    # ---------------------------------------------------------------- cached path
    def _cached(self, c: Continuation) -> Step:
        from transformers import DynamicCache

        cache, reused = DynamicCache(), 0
        if c.key in self._caches:
            known, cache = self._caches[c.key]
            reused = min(_common_prefix(known, c.token_ids), len(c.token_ids) - 1, cache.get_seq_length())
            if reused < cache.get_seq_length():
                cache.crop(reused - cache.get_seq_length())  # negative: drop that many positions
        self.prefill_tokens += len(c.token_ids) - reused
        out = self._generate(torch.tensor([c.token_ids], device=self.device), None, c, c.max_new, cache)
        seq = out.sequences[0].tolist()
        cache = out.past_key_values
        self._caches[c.key] = (seq[: cache.get_seq_length()], cache)
        return _finish(c, _trim_row(c, seq[len(c.token_ids):], self.tokenizer), self.tokenizer, reused)

    # ---------------------------------------------------------------- reference path
    def _batched(self, conts: Sequence[Continuation]) -> list[Step]:
        # rows of one generate call must share min_new, stops and sampling
        groups: dict[tuple, list[Continuation]] = {}
        for c in conts:
            groups.setdefault((c.min_new, c.stop_token_ids, c.stop_strings, c.sampling), []).append(c)
        by_key: dict[Hashable, Step] = {}
        for group in groups.values():
            width = max(len(c.token_ids) for c in group)
            ids = torch.full((len(group), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, c in enumerate(group):  # left padding, as lm-eval's HFLM
                ids[row, width - len(c.token_ids):] = torch.tensor(c.token_ids)
                mask[row, width - len(c.token_ids):] = 1
            self.prefill_tokens += sum(len(c.token_ids) for c in group)
            out = self._generate(ids.to(self.device), mask.to(self.device), group[0],
                                 max(c.max_new for c in group), None)
            for row, c in enumerate(group):
                new = out.sequences[row, width:].tolist()
                by_key[c.key] = _finish(c, _trim_row(c, new, self.tokenizer), self.tokenizer, 0)
        return [by_key[c.key] for c in conts]

    # ---------------------------------------------------------------- generate
    def _generate(self, ids: torch.Tensor, mask: torch.Tensor | None, c: Continuation,
                  max_new: int, cache: Any) -> Any:
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        gen = GenerationConfig(
            max_new_tokens=max_new,
            eos_token_id=sorted(c.stop_token_ids), pad_token_id=self.pad_id, do_sample=False,
            return_dict_in_generate=True, use_cache=True,
        )
        for key, value in to_transformers(c.sampling).items():  # do_sample, and the penalty greedy too
            setattr(gen, key, value)
        if not c.sampling.greedy:
            torch.manual_seed(c.seed if c.seed is not None else 0)
        processors = LogitsProcessorList([self.untexted_mask] if self.untexted_mask is not None else [])
        if c.min_new:
            processors.append(MinNewStopMask(ids.shape[1], c.min_new, c.stop_token_ids))
        criteria = (StoppingCriteriaList([StopStrings(self.tokenizer, c.stop_strings, ids.shape[1], c.min_new)])
                    if c.stop_strings else None)
        with torch.no_grad():
            return self.model.generate(
                input_ids=ids, attention_mask=mask if mask is not None else torch.ones_like(ids),
                generation_config=gen, stopping_criteria=criteria, past_key_values=cache,
                logits_processor=processors,
            )


class UntextedMask:
    """A transformers logits processor: the ids from `texted` up (those without tokenizer entries,
    `base.untexted_ids`, one contiguous range) get -inf, in place on the scores of the step.

    The same tokens as `GenerationConfig(suppress_tokens=those ids)`, which builds
    `torch.isin(arange(vocab), ids)` at every generated token: with Qwen2.5's 152,064 rows that
    dominated a small model's decoding. Custom processors run after transformers' own (repetition
    penalty, min_new_tokens) and before temperature / top-k / top-p, where suppress_tokens ran, and
    a -inf is unchanged by those.
    """

    def __init__(self, texted: int) -> None:
        self.texted = int(texted)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores[:, self.texted:] = float("-inf")
        return scores


class MinNewStopMask:
    """transformers' `min_new_tokens`, without its whole-vocabulary work: the stop ids get -inf, in
    place, until `min_new` tokens follow the `prompt_len` prompt positions. Ids outside the logits (at or
    above `scores.shape[-1]`, or negative) are ignored, as transformers' `isin` over `arange(vocab)` ignores them.

    `MinNewTokensLengthLogitsProcessor` builds `arange(vocab)`, an `isin` against the stop ids, a clone
    and a `where` over the vocabulary at every token of the round, also after the minimum is reached;
    on a busy CPU each such op costs milliseconds (benchmarks/hf_untexted_mask.py, the `min_new > 0` row).
    """

    def __init__(self, prompt_len: int, min_new: int, stop_ids: Any) -> None:
        self.until_len = int(prompt_len) + int(min_new)
        self.stop_ids = sorted(int(i) for i in stop_ids)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] < self.until_len and self.stop_ids:
            width = scores.shape[-1]
            ids = [i for i in self.stop_ids if 0 <= i < width]  # a few ids: cheap
            if ids:
                scores[:, ids] = float("-inf")
        return scores


class StopStrings:
    """A transformers stopping criterion: generation ends once every row's new text holds a stop
    string that counts after `min_new` new tokens (`Continuation`'s contract); `_trim_row` then cuts
    each row exactly. lm-eval's `stop_sequences_criteria` also stopped at an occurrence inside the
    first `min_new` tokens, where vLLM goes on.

    Each step decodes only a row's last tokens, enough to hold the longest stop even at one byte
    per token, so a round costs O(tokens) as lm-eval's does.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_len: int, min_new: int) -> None:
        self.tokenizer, self.stops = tokenizer, tuple(stops)
        self.prompt_len, self.min_new = int(prompt_len), int(min_new)
        self.window = 4 * max(len(s) for s in self.stops) + 2
        self.done: set[int] = set()

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        new = input_ids[:, self.prompt_len:]
        n = new.shape[1]
        if n > self.min_new:
            start = max(0, n - self.window)
            for row in range(new.shape[0]):
                if row not in self.done and self._holds_stop(new[row, start:].tolist(), start):
                    self.done.add(row)
        # all rows or none, as lm-eval's: a finished row keeps generating rather than being padded
        return torch.full((input_ids.shape[0],), len(self.done) == input_ids.shape[0], device=input_ids.device)

    def _holds_stop(self, tail: list[int], start: int) -> bool:
        decode = self.tokenizer.decode
        after = len(decode(tail[: self.min_new - start])) if start < self.min_new else 0
        return find_stop_string(decode(tail), self.stops, after) is not None


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _trim_row(c: Continuation, new: list[int], tokenizer: Any) -> list[int]:
    """Cut one row of a batched generate where that row alone would have stopped."""
    new = new[: c.max_new]
    for i, tok in enumerate(new):
        if tok in c.stop_token_ids and i >= c.min_new:
            new = new[: i + 1]
            break
    cut = stop_string_cut(new, c.stop_strings, tokenizer.decode, c.min_new)
    return new if cut is None else new[: cut[0]]


def _finish(c: Continuation, new: list[int], tokenizer: Any, cached: int) -> Step:
    if new and new[-1] in c.stop_token_ids and len(new) > c.min_new:
        return Step(tuple(new), "stop", new[-1], cached)
    if c.stop_strings:
        hit = find_stop_string(tokenizer.decode(new), c.stop_strings, len(tokenizer.decode(new[: c.min_new])))
        if hit is not None:
            return Step(tuple(new), "stop", hit, cached)
    if len(new) < c.max_new:  # generate ended early without a stop we know: say so, do not guess
        log.warning("generate returned %d < max_new=%d tokens without a stop", len(new), c.max_new)
    return Step(tuple(new), "length", None, cached)
