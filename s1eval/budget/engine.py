"""The seam between budget forcing and an inference engine.

A backend implements one narrow operation: continue a token sequence until a stop token, a stop
string or `max_new` tokens. Everything else (delimiters, budgets, ignore strings, answer phase,
statistics) lives in `s1eval.budget.machine`, written once for every backend.

Engines are driven through `submit` / `poll`, so a request's next round can be submitted as soon
as its previous round ends (no round barrier). `BatchedEngine` adapts a synchronous
"continue this batch" call to that interface; engines with real continuous batching (vLLM's
request API, an async HTTP pool) implement `submit` / `poll` directly.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from s1eval.budget.sampling import GREEDY, Sampling

Finish = Literal["stop", "length"]


@dataclass(frozen=True)
class Continuation:
    """Continue `token_ids` (the whole sequence so far) by at most `max_new` tokens.

    Generation stops at any id in `stop_token_ids` (the id is returned as the last new token) or
    when the decoded new text contains one of `stop_strings` (the tokens through the one that
    completes it are returned). `sampling` is engine-neutral (s1eval.budget.sampling, which also
    translates it for each engine); the default is greedy.

    `min_new` is vLLM's `min_tokens`, which every backend follows: stop ids are masked until
    `min_new` new tokens exist, and a stop string counts only where an occurrence ends after the
    text of the first `min_new` new tokens; of those, the one ending first stops the continuation
    (ties: the earlier in `stop_strings`). See `stop_occurrence`.
    """

    key: Hashable
    token_ids: tuple[int, ...]
    max_new: int
    stop_token_ids: frozenset[int]
    stop_strings: tuple[str, ...] = ()
    min_new: int = 0
    sampling: Sampling = GREEDY
    seed: int | None = None


@dataclass(frozen=True)
class Step:
    """What one continuation produced. `matched_stop` is the stop id or string that ended it."""

    new_ids: tuple[int, ...]
    finish: Finish
    matched_stop: int | str | None = None
    cached_tokens: int = 0  # prompt tokens the engine did not recompute (prefix / KV cache)


def stop_occurrence(text: str, stops: Sequence[str], after: int = 0) -> tuple[str, int, int] | None:
    """(stop, start, end) of the occurrence that stops a continuation writing `text`, or None.

    Only occurrences ending after character `after` count (the text of the first `min_new` tokens);
    of those the one ending first wins, ties going to the earlier stop (vLLM's `check_stop_strings`,
    which checks each token's new text as it arrives).
    """
    best: tuple[str, int, int] | None = None
    for stop in stops:
        if not stop:
            continue
        start = text.find(stop, max(0, after - len(stop) + 1))  # its first occurrence ending past `after`
        if start >= 0 and (best is None or start + len(stop) < best[2]):
            best = (stop, start, start + len(stop))
    return best


def find_stop_string(text: str, stops: Sequence[str], after: int = 0) -> str | None:
    """The stop string that stops a continuation writing `text` (see `stop_occurrence`), or None."""
    hit = stop_occurrence(text, stops, after)
    return None if hit is None else hit[0]


def stop_string_cut(new: Sequence[int], stops: Sequence[str], decode: Any,
                    min_new: int = 0) -> tuple[int, str] | None:
    """(n, stop): the shortest prefix `new[:n]` holding a stop string that counts after `min_new`
    tokens (see `Continuation`), or None.

    Engines that generate past a stop string (a batch row, a resident vLLM request, a server not
    given every string) cut there, so they return exactly what a request that watched the string
    would have.
    """
    if not stops or len(new) <= min_new:
        return None
    after = len(decode(new[:min_new])) if min_new > 0 else 0
    if find_stop_string(decode(new), stops, after) is None:
        return None
    lo, hi = min_new + 1, len(new)  # holding a counted stop is monotone in the prefix length
    while lo < hi:
        mid = (lo + hi) // 2
        if find_stop_string(decode(new[:mid]), stops, after) is not None:
            hi = mid
        else:
            lo = mid + 1
    return lo, find_stop_string(decode(new[:lo]), stops, after)  # type: ignore[return-value]


class Engine(abc.ABC):
    """Continues token sequences. Keys identify requests; per-key state may be kept until `release`."""

    @abc.abstractmethod
    def submit(self, cont: Continuation) -> None:
        """Queue a continuation; at most one per key is in flight."""

    @abc.abstractmethod
    def poll(self) -> list[tuple[Hashable, Step]]:
        """Block until at least one submitted continuation finishes; return all finished ones."""

    @abc.abstractmethod
    def pending(self) -> int:
        """Number of submitted continuations not yet returned by `poll`."""

    def release(self, key: Hashable) -> None:  # noqa: B027 - an optional hook: the default keeps no state
        """The request `key` is finished: drop any state kept for it (e.g. its KV cache)."""


class BatchedEngine(Engine):
    """An `Engine` over a synchronous `continue_batch` call.

    The queue is last-in-first-out: a request whose round just ended is continued before new
    requests start, so a batch-1 engine finishes one request before the next (one KV cache alive
    at a time) and a batched engine refills its batch without waiting for the slowest request's
    later rounds.
    """

    def __init__(self, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        self.batch_size = batch_size
        self._queue: list[Continuation] = []
        self.calls = 0  # continue_batch calls, for tests and benchmarks

    @abc.abstractmethod
    def continue_batch(self, conts: Sequence[Continuation]) -> list[Step]:
        """Run these continuations (at most `batch_size`) and return their steps in order."""

    def submit(self, cont: Continuation) -> None:
        self._queue.append(cont)

    def pending(self) -> int:
        return len(self._queue)

    def poll(self) -> list[tuple[Hashable, Step]]:
        if not self._queue:
            raise RuntimeError("poll() called with nothing submitted")
        batch = self._queue[-self.batch_size :][::-1]
        del self._queue[-self.batch_size :]
        self.calls += 1
        steps = self.continue_batch(batch)
        if len(steps) != len(batch):
            raise RuntimeError(f"{type(self).__name__} returned {len(steps)} steps for {len(batch)} continuations")
        return [(c.key, s) for c, s in zip(batch, steps)]
