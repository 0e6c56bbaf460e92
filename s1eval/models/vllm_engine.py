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

import dataclasses
import inspect
import itertools
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from s1eval.budget.engine import BatchedEngine, Continuation, Engine, Step, stop_string_cut
from s1eval.budget.sampling import to_vllm

# A resident round with a stop string that is not one token (`</think>` is 3 in Gemma) stops at every
# id whose text holds the string's last character and is continued if the string is not complete;
# a string whose candidates are more than this goes out as fresh requests instead.
MAX_WATCHED_IDS = 4096

log = logging.getLogger(__name__)


def untexted_mask(ids: range) -> dict[int, float] | None:
    """A `logit_bias` that bans `ids` (the ids without text, `base.untexted_ids`), or None if empty.

    A bias of -inf is an exact mask (the id's probability is 0), like `allowed_token_ids` with every
    texted id, but its size is the number of untexted ids (399 for Qwen2.5-7B), not of texted ones
    (151,665): that list cost ~60 ms per request in vLLM's V1 model runner on CPU, the bias under
    1 ms at 64 requests (benchmarks/untexted_mask.py), and vLLM's V2 model runner (its GPU default)
    refuses more than 1,024 allowed or biased ids per request.
    """
    return dict.fromkeys(ids, float("-inf")) or None


def sampling_params(c: Continuation, mask: dict[int, float] | None, streamed: bool = False,
                    watched: frozenset[int] = frozenset()) -> Any:
    """vLLM SamplingParams for one continuation (only what the request asks for).

    `mask`: the `untexted_mask` logit bias, shared by every request (vLLM only reads it).

    `streamed`: the continuation is one chunk of a resident request (`VLLMEngine` sessions), which
    vLLM only serves with incremental outputs; a huge stream interval keeps those to one per chunk
    (plus the first token), as cheap as the final-only outputs of a one-shot request.
    """
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    kwargs = to_vllm(c.sampling)
    # One output per request when it finishes (LLMEngine.add_request's default would return the
    # cumulative output at every step, which costs an object per request per step).
    kwargs["output_kind"] = RequestOutputKind.FINAL_ONLY
    if streamed:
        kwargs.update(output_kind=RequestOutputKind.DELTA, stream_interval=_NEVER)
    return SamplingParams(
        **kwargs, seed=c.seed, max_tokens=c.max_new, min_tokens=c.min_new,
        # A resident request's stop strings are all texts of its stop ids (`VLLMEngine._resumable`):
        # vLLM's streaming input takes none, the ids stop it, and `poll` checks the text.
        stop_token_ids=sorted(c.stop_token_ids | watched), stop=None if streamed else list(c.stop_strings) or None,
        # The model's EOS is already in stop_token_ids; vLLM must not add generation_config stops
        # the state machine does not know about.
        ignore_eos=False, detokenize=bool(c.stop_strings) and not streamed, logit_bias=mask,
        # stop strings may contain special tokens (`<|im_start|>0`): match them in the raw text
        skip_special_tokens=False, spaces_between_special_tokens=False,
        # Each continuation gets fresh params, so vLLM need not deep-copy them.
        skip_clone=True,
    )


_NEVER = 1 << 30


def to_step(c: Continuation, new: Sequence[int], finish: str | None, reason: Any, cached: int) -> Step:
    """Translate how a vLLM request (or chunk) finished into a Step (stop id last when stopped by an id)."""
    new = tuple(new)
    if finish == "length":
        return Step(new, "length", None, cached)
    if finish != "stop":
        raise RuntimeError(f"vLLM request finished with {finish!r} after {len(new)} tokens")
    if isinstance(reason, str):
        return Step(new, "stop", reason, cached)
    if new and new[-1] in c.stop_token_ids:  # stop ids (and EOS, stop_reason None) end the ids
        return Step(new, "stop", new[-1], cached)
    raise RuntimeError(f"vLLM stopped on {reason!r} but the last id {new[-1:]} is not a stop id")


def output_step(c: Continuation, output: Any) -> Step:
    """The Step of a finished one-shot vLLM RequestOutput."""
    completion = output.outputs[0]
    cached = int(getattr(output, "num_cached_tokens", 0) or 0)
    return to_step(c, completion.token_ids, completion.finish_reason, completion.stop_reason, cached)


def shutdown(llm: Any) -> None:
    """Stop a vLLM `LLM`'s engine processes now rather than at interpreter exit."""
    core = getattr(llm.llm_engine, "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()


def supports_sessions(llm: Any) -> bool:
    """Whether this vLLM keeps a request resident between input chunks (streaming-input requests)."""
    processor = getattr(llm.llm_engine, "input_processor", None)
    try:
        return "resumable" in inspect.signature(processor.process_inputs).parameters
    except (AttributeError, TypeError, ValueError):
        return False


@dataclass
class _Chunk:
    """A continuation in flight and what it has produced so far."""

    cont: Continuation
    session: _Session | None
    new_ids: list[int] = field(default_factory=list)
    cached: int = 0
    watched: frozenset[int] = frozenset()  # ids that may complete one of its stop strings (see MAX_WATCHED_IDS)


@dataclass
class _Session:
    """A request kept resident in vLLM between rounds; `context` is what its KV cache holds."""

    request_id: str  # vLLM's internal id
    external_id: str
    context: tuple[int, ...] = ()


class VLLMEngine(Engine):
    """Barrier-free: each request advances on its own through vLLM's continuous batching.

    With `resume=True` (where vLLM supports streaming-input requests) a request stays resident in
    vLLM between its rounds: when a round stops, vLLM drops the last sampled token (the stop id, which
    budget forcing discards anyway) and keeps the KV cache of the rest; the next round sends only the
    appended tokens (`Wait`, the answer delimiter). Without it every round is a new request whose
    prefix hits the prefix cache, but the partly filled last block is recomputed and the request pays
    vLLM's admission path again; that per-round cost is what benchmarks/bf_overhead.py measures.
    A round the session cannot continue (see `_resumable`; or one that does not extend the resident
    tokens) is sent as a fresh request.
    """

    def __init__(self, llm: Any, mask: dict[int, float] | None, resume: bool = True) -> None:
        self.engine = llm.llm_engine
        self.tokenizer = llm.get_tokenizer()
        self._id_texts: dict[int, str] = {}
        self._watched: dict[tuple[str, ...], frozenset[int] | None] = {}
        self._vocab: list[str] | None = None
        self.pieces = 0  # resident rounds continued after a watched id that did not complete a stop string
        self.mask = mask
        self.resume = resume and supports_sessions(llm)
        self._inflight: dict[str, _Chunk] = {}  # by external request id
        self._inflight_ids: dict[Hashable, str] = {}  # request key -> external id of its chunk in flight
        self._sessions: dict[Hashable, _Session] = {}
        self._ids = itertools.count()
        self.steps = 0  # engine steps, for benchmarks
        self.resumed = 0  # rounds that continued a resident request, for tests and benchmarks

    def submit(self, cont: Continuation) -> None:
        session = self._sessions.get(cont.key)
        if session is not None:
            if cont.key in self._inflight_ids:
                raise RuntimeError(f"request {cont.key!r} already has a continuation in flight")
            tail = cont.token_ids[len(session.context):]
            if self._resumable(cont) and tail and cont.token_ids[:len(session.context)] == session.context:
                self._continue_session(session, cont, tail)
                return
            self.release(cont.key)
        external_id = f"s1-{cont.key}-{next(self._ids)}"
        if not (self.resume and self._resumable(cont)):
            self._inflight[external_id] = _Chunk(cont, None)
            self._inflight_ids[cont.key] = external_id
            self.engine.add_request(external_id, {"prompt_token_ids": list(cont.token_ids)},
                                    sampling_params(cont, self.mask))
            return
        watched = self._watched_ids(cont) or frozenset()
        request = self._process(external_id, cont.token_ids, *self._first_piece(cont, watched))
        self.engine.input_processor.assign_request_id(request)
        session = _Session(request.request_id, external_id)
        self._sessions[cont.key] = session
        self._add(request, _Chunk(cont, session, watched=watched))

    def _resumable(self, c: Continuation) -> bool:
        """Whether a session can run this continuation exactly as a fresh request would.

        vLLM's streaming input takes no stop strings; lm-eval's answer-phase `until` holds the EOS
        text, which the EOS id stops anyway, so stop strings that are texts of the continuation's
        stop ids are allowed (`poll` cuts the rare output that spells one out of ordinary tokens).
        A resumed session keeps the random generator of its first chunk (vLLM ignores the new
        chunk's seed), so seeded sampled rounds, which must be the samples their seeds name, are
        sent as fresh requests.
        """
        if self._text_stops(c) and self._watched_ids(c) is None:
            return False
        return c.sampling.greedy or c.seed is None

    def _text_stops(self, c: Continuation) -> tuple[str, ...]:
        """The stop strings that are not the text of one of the continuation's stop ids."""
        texts = {self._id_text(i) for i in c.stop_token_ids}
        return tuple(sorted(s for s in c.stop_strings if s not in texts))

    def _watched_ids(self, c: Continuation) -> frozenset[int] | None:
        """Ids after which a resident round checks its text stop strings (None: too many, or unknowable).

        The token that completes a stop string holds the string's last character in its text. A last
        character that is whitespace or not ASCII may sit in a token whose text alone does not show it
        (a leading space dropped, a byte piece): such strings are not watched.
        """
        stops = self._text_stops(c)
        if not stops:
            return frozenset()
        if stops not in self._watched:
            lasts = {s[-1] for s in stops}
            ids: frozenset[int] | None = None
            if all(ch.isascii() and not ch.isspace() for ch in lasts):
                if self._vocab is None:
                    self._vocab = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))],
                                                              skip_special_tokens=False)
                found = [i for i, text in enumerate(self._vocab) if any(ch in text for ch in lasts)]
                ids = frozenset(found) if len(found) <= MAX_WATCHED_IDS else None
            self._watched[stops] = ids
        return self._watched[stops]

    def _id_text(self, token_id: int) -> str:
        if token_id not in self._id_texts:
            self._id_texts[token_id] = self.tokenizer.decode([token_id], skip_special_tokens=False)
        return self._id_texts[token_id]

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def _first_piece(self, cont: Continuation, watched: frozenset[int]) -> tuple[Continuation, frozenset[int]]:
        """What a round with watched ids sends first: vLLM masks every stop id until min_tokens, so the
        first min_new tokens go without watched ids (and are checked when they end)."""
        if watched and cont.min_new > 0:
            return dataclasses.replace(cont, max_new=min(cont.min_new, cont.max_new)), frozenset()
        return cont, watched

    def _continue_session(self, session: _Session, cont: Continuation, tail: Sequence[int]) -> None:
        watched = self._watched_ids(cont) or frozenset()
        request = self._process(session.request_id, tail, *self._first_piece(cont, watched))
        request.external_req_id = session.external_id
        self.resumed += 1
        self._add(request, _Chunk(cont, session, cached=len(session.context), watched=watched))

    def _process(self, request_id: str, token_ids: Sequence[int], cont: Continuation,
                 watched: frozenset[int] = frozenset()) -> Any:
        return self.engine.input_processor.process_inputs(
            request_id, {"prompt_token_ids": list(token_ids)},
            sampling_params(cont, self.mask, streamed=True, watched=watched), resumable=True,
            supported_tasks=self.engine.get_supported_tasks())

    def _watch_hit(self, chunk: _Chunk, finish: str | None) -> bool:
        """After a chunk stopped at a watched id: True if that id completed a stop string; otherwise the
        round goes on in the same session from that id (sent back: vLLM drops a chunk's last sampled token)."""
        new = chunk.new_ids
        if finish not in ("stop", "length") or not new:
            return True
        if finish == "stop" and (new[-1] not in chunk.watched or new[-1] in chunk.cont.stop_token_ids):
            return True  # a stop id of the round
        if stop_string_cut(new, chunk.cont.stop_strings, self._decode, chunk.cont.min_new) is not None:
            return True
        left = chunk.cont.max_new - len(new)
        if left <= 0:
            return True
        session = chunk.session
        assert session is not None
        session.context = chunk.cont.token_ids + tuple(new[:-1])
        piece = dataclasses.replace(chunk.cont, max_new=left, min_new=0)
        request = self._process(session.request_id, new[-1:], piece, chunk.watched)
        request.external_req_id = session.external_id
        self.pieces += 1
        self._add(request, chunk)
        return False

    def _add(self, request: Any, chunk: _Chunk) -> None:
        # What LLMEngine.add_request does after processing the inputs, minus assigning a fresh
        # internal id: a session's chunks must reach vLLM under the id of its first request.
        self._inflight[request.external_req_id] = chunk
        self._inflight_ids[chunk.cont.key] = request.external_req_id
        self.engine.output_processor.add_request(request, None, None, 0)
        self.engine.engine_core.add_request(request)

    def release(self, key: Hashable) -> None:
        external_id = self._inflight_ids.pop(key, None)
        if external_id is not None:  # only after an error: a finished request has nothing in flight
            self._inflight.pop(external_id, None)
            self.engine.abort_request([external_id])
        session = self._sessions.pop(key, None)
        if session is not None:  # frees its KV blocks (kept in the prefix cache) and its sequence slot
            self.engine.abort_request([session.request_id], internal=True)

    def pending(self) -> int:
        return len(self._inflight)

    def poll(self) -> list[tuple[Hashable, Step]]:
        if not self._inflight:
            raise RuntimeError("poll() called with nothing submitted")
        done: list[tuple[Hashable, Step]] = []
        while not done:
            self.steps += 1
            for output in self.engine.step():
                chunk = self._inflight.get(output.request_id)
                if chunk is None:
                    continue
                completion = output.outputs[0]
                chunk.new_ids.extend(completion.token_ids)
                chunk.cached = max(chunk.cached, int(getattr(output, "num_cached_tokens", 0) or 0))
                if completion.finish_reason is None:
                    continue
                del self._inflight[output.request_id]
                del self._inflight_ids[chunk.cont.key]
                cont = chunk.cont
                if chunk.watched and not self._watch_hit(chunk, completion.finish_reason):
                    continue  # the round goes on
                last = chunk.new_ids[-1] if chunk.new_ids else None
                if completion.finish_reason == "stop" and last in chunk.watched and last not in cont.stop_token_ids:
                    # stopped at a watched id: a completed stop string (named by the check below) or max_new
                    step = Step(tuple(chunk.new_ids), "length", None, chunk.cached)
                else:
                    step = to_step(cont, chunk.new_ids, completion.finish_reason, completion.stop_reason, chunk.cached)
                if chunk.session is not None:
                    # vLLM keeps every token but the last sampled one, which it never ran through the model
                    chunk.session.context = cont.token_ids + step.new_ids[:-1]
                    cut = stop_string_cut(step.new_ids, cont.stop_strings, self._decode, cont.min_new)
                    by_id = step.finish == "stop" and isinstance(step.matched_stop, int)
                    if cut is not None and not (by_id and cut[0] == len(step.new_ids)):
                        # a stop string spelled out of ordinary tokens: end there, as a fresh request would
                        step = Step(step.new_ids[: cut[0]], "stop", cut[1], step.cached_tokens)
                done.append((cont.key, step))
        return done


class RoundBarrierEngine(BatchedEngine):
    """The fork's scheduling: one `LLM.generate` over every request's current round."""

    def __init__(self, llm: Any, mask: dict[int, float] | None) -> None:
        super().__init__(batch_size=1 << 30)
        self.llm, self.mask = llm, mask

    def continue_batch(self, conts: Sequence[Continuation]) -> list[Step]:
        prompts = [{"prompt_token_ids": list(c.token_ids)} for c in conts]
        params = [sampling_params(c, self.mask) for c in conts]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [output_step(c, o) for c, o in zip(conts, outputs)]
