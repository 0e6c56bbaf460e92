"""A vLLM engine for the budget-forcing core, driven request by request.

The original fork sent each thinking round as one `LLM.generate` call, so every request waited
for the slowest trace of its batch before its next round. Here each continuation is added to
vLLM's engine on its own (`LLMEngine.add_request`) and `poll` steps the engine until some finish;
the scheduler submits a finished request's next round at once, and vLLM's continuous batching
runs it beside the others. Re-sent prefixes hit the prefix cache (reported as cached tokens).

`RoundBarrierEngine` keeps the fork's behaviour (one `generate` call per round over every
request still thinking) for comparison and exact fork reproduction.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Hashable, Sequence

from s1eval.budget.engine import BatchedEngine, Continuation, Engine, Step, is_greedy

log = logging.getLogger(__name__)

_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                  "presence_penalty", "frequency_penalty")


def sampling_params(c: Continuation, allowed_ids: list[int] | None) -> Any:
    """vLLM SamplingParams for one continuation (only what the request asks for)."""
    from vllm import SamplingParams

    kwargs: dict[str, Any] = {"temperature": 0.0}
    if not is_greedy(c.sampling):
        kwargs = {k: c.sampling[k] for k in _SAMPLING_KEYS if c.sampling.get(k) is not None}
    return SamplingParams(
        **kwargs, seed=c.seed, max_tokens=c.max_new, min_tokens=c.min_new,
        stop_token_ids=sorted(c.stop_token_ids), stop=list(c.stop_strings) or None,
        # The model's EOS is already in stop_token_ids; vLLM must not add generation_config stops
        # the state machine does not know about.
        ignore_eos=False, detokenize=bool(c.stop_strings), allowed_token_ids=allowed_ids,
        # stop strings may contain special tokens (`<|im_start|>0`): match them in the raw text
        skip_special_tokens=False, spaces_between_special_tokens=False,
        # Each continuation gets fresh params, so vLLM need not deep-copy them; with Qwen2.5's
        # 151,665 allowed ids that copy cost ~56 ms per round (benchmarks/README.md).
        skip_clone=True,
    )


def to_step(c: Continuation, output: Any) -> Step:
    """Translate a finished vLLM RequestOutput into a Step (stop id last when stopped by an id)."""
    completion = output.outputs[0]
    new = tuple(completion.token_ids)
    cached = int(getattr(output, "num_cached_tokens", 0) or 0)
    if completion.finish_reason == "length":
        return Step(new, "length", None, cached)
    if completion.finish_reason != "stop":
        raise RuntimeError(f"vLLM request finished with {completion.finish_reason!r}: {completion}")
    reason = completion.stop_reason
    if isinstance(reason, str):
        return Step(new, "stop", reason, cached)
    if new and new[-1] in c.stop_token_ids:  # stop ids (and EOS, stop_reason None) end the ids
        return Step(new, "stop", new[-1], cached)
    raise RuntimeError(f"vLLM stopped on {reason!r} but the last id {new[-1:]} is not a stop id")


class VLLMEngine(Engine):
    """Barrier-free: each continuation is its own vLLM request."""

    def __init__(self, llm: Any, allowed_ids: list[int] | None) -> None:
        self.engine = llm.llm_engine
        self.allowed_ids = allowed_ids
        self._inflight: dict[str, Continuation] = {}
        self._ids = itertools.count()
        self.steps = 0  # engine steps, for benchmarks

    def submit(self, cont: Continuation) -> None:
        request_id = f"s1-{cont.key}-{next(self._ids)}"
        self._inflight[request_id] = cont
        self.engine.add_request(request_id, {"prompt_token_ids": list(cont.token_ids)},
                                sampling_params(cont, self.allowed_ids))

    def pending(self) -> int:
        return len(self._inflight)

    def poll(self) -> list[tuple[Hashable, Step]]:
        if not self._inflight:
            raise RuntimeError("poll() called with nothing submitted")
        done: list[tuple[Hashable, Step]] = []
        while not done:
            self.steps += 1
            for output in self.engine.step():
                if output.finished and output.request_id in self._inflight:
                    cont = self._inflight.pop(output.request_id)
                    done.append((cont.key, to_step(cont, output)))
        return done


class RoundBarrierEngine(BatchedEngine):
    """The fork's scheduling: one `LLM.generate` over every request's current round."""

    def __init__(self, llm: Any, allowed_ids: list[int] | None) -> None:
        super().__init__(batch_size=1 << 30)
        self.llm, self.allowed_ids = llm, allowed_ids

    def continue_batch(self, conts: Sequence[Continuation]) -> list[Step]:
        prompts = [{"prompt_token_ids": list(c.token_ids)} for c in conts]
        params = [sampling_params(c, self.allowed_ids) for c in conts]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [to_step(c, o) for c, o in zip(conts, outputs)]
