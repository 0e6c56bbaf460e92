"""An `Engine` over an OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp).

Each `Continuation` is one HTTP request (the budget logic stays in `s1eval.budget`), run on an
asyncio loop in a daemon thread, at most `num_concurrent` in flight. Requests advance on their own
(no round barrier): free slots are refilled at the scheduler's next poll, microseconds after a round
ends, from a last-in-first-out queue, so a request's next round takes the slot its last round freed.
Few requests are open at once, each reaches lm-eval's cache early, and its prefix is still warm in
the server's prefix cache when its next round arrives.

Translation (checked against vLLM 0.32's server, see tests/models/test_s1api.py):

* request: token-id prompt (`prompt: [ids]`, or its text when `tokenized_requests` is off),
  `max_tokens`, `min_tokens`, `stop_token_ids`, `stop`, sampling with neutral defaults sent
  explicitly (a server applies the model's generation_config.json otherwise, e.g. Qwen2.5's
  repetition penalty 1.05, and greedy decoding would no longer match the other backends),
  `skip_special_tokens=false` and `spaces_between_special_tokens=false` (the defaults strip the
  thinking delimiters), `return_token_ids=true`, and `allowed_token_ids` = the tokenizer's ids
  unless untexted ids are allowed (models like Qwen2.5 have embedding rows without text).
* response: vLLM returns the generated ids in `choices[0].token_ids`, INCLUDING a stop token id
  or EOS that ended generation (its `text` leaves them out), and for a stop string the ids through
  the token that completed it. `stop_reason` is the stop id (int), the stop string, or None for
  EOS. A server that returns no ids (llama.cpp) gets its text re-tokenized, with the stop id
  appended, so the Step contract holds either way: `new_ids` ends with the stop id when a stop
  id or EOS ended it. Prefix-cache hits come from `usage.prompt_tokens_details.cached_tokens`
  (vLLM reports it with `--enable-prompt-tokens-details`).

Failures: 429, 408, 5xx, timeouts, connection errors and malformed bodies are retried with
exponential backoff (`Retry-After` honoured); other statuses fail at once. A request that still
fails stops the run with an `APIRequestError` naming the URL and the last status and body, with the
API key redacted: a request is never dropped or replaced by an empty string.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence

from s1eval.budget.engine import Continuation, Engine, Step, is_greedy

log = logging.getLogger(__name__)

# Sampling keys forwarded to the server and the neutral value sent when a request does not set one.
NEUTRAL_SAMPLING: dict[str, Any] = {
    "top_p": 1.0, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0,
    "presence_penalty": 0.0, "frequency_penalty": 0.0,
}
_PASSED_THROUGH = ("logit_bias",)  # not sampling, but forwarded when a task's gen_kwargs set it
_IGNORED = ("do_sample",)  # lm-eval's flag; the server reads temperature
_RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
_MAX_BACKOFF_S = 60.0
_SNIPPET = 300


class APIRequestError(RuntimeError):
    """A completion request failed for good (after its retries, or with a non-retryable status)."""


class _Retryable(Exception):
    """One attempt failed in a way worth retrying; `delay` is the server's Retry-After, if any."""

    def __init__(self, what: str, delay: float | None = None) -> None:
        super().__init__(what)
        self.delay = delay


@dataclass(frozen=True)
class APIConfig:
    """Where and how to send requests. `api_key` never appears in repr, logs or errors."""

    url: str  # the full /v1/completions URL
    model: str
    api_key: str | None = field(default=None, repr=False)
    tokenized_requests: bool = True
    num_concurrent: int = 8
    max_retries: int = 5
    timeout: float = 3600.0  # per HTTP request: a 32K-token round on a busy server takes many minutes
    retry_backoff: float = 1.0  # first retry delay in seconds; doubles per retry
    allowed_ids: int | None = None  # send allowed_token_ids = range(allowed_ids); None: no mask


def completions_url(base_url: str) -> str:
    """`http://host:8000/v1` -> `http://host:8000/v1/completions`; a full endpoint is kept."""
    url = base_url.rstrip("/")
    return url if url.endswith("/completions") else url + "/completions"


# ---------------------------------------------------------------------------- translation
def sampling_fields(sampling: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields for a Continuation's sampling: greedy is temperature 0, the rest neutral."""
    out: dict[str, Any] = dict(NEUTRAL_SAMPLING)
    if is_greedy(sampling):
        out["temperature"] = 0.0
    else:
        out["temperature"] = float(sampling["temperature"])
        out.update({k: sampling[k] for k in NEUTRAL_SAMPLING if sampling.get(k) is not None})
    out.update({k: sampling[k] for k in _PASSED_THROUGH if k in sampling})
    dropped = sorted(set(sampling) - set(out) - set(_IGNORED))
    if dropped:
        _warn_once(_WARNED, f"dropped:{dropped}", "s1api does not send sampling keys %s to the server", dropped)
    return out


def request_payload(cont: Continuation, cfg: APIConfig, decode: Callable[[Sequence[int]], str]) -> dict[str, Any]:
    """The JSON body for one continuation (without the allowed-ids mask, see `encode_body`)."""
    payload: dict[str, Any] = {
        "model": cfg.model,
        "prompt": list(cont.token_ids) if cfg.tokenized_requests else decode(cont.token_ids),
        "max_tokens": cont.max_new,
        "min_tokens": cont.min_new,
        "stop_token_ids": sorted(cont.stop_token_ids),
        "stop": list(cont.stop_strings),
        **sampling_fields(cont.sampling),
        "n": 1,
        "stream": False,
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "include_stop_str_in_output": False,
        "add_special_tokens": False,  # a text prompt is already complete (BOS included if any)
        "return_token_ids": True,
    }
    if cont.seed is not None:
        payload["seed"] = cont.seed
    return payload


def encode_body(payload: Mapping[str, Any], mask_json: str | None) -> bytes:
    """Serialize; the allowed-ids list (150K ids for Qwen2.5, ~1 MB) is spliced in pre-serialized."""
    body = json.dumps(payload, separators=(",", ":"))
    if mask_json is not None:
        body = body[:-1] + ',"allowed_token_ids":' + mask_json + "}"
    return body.encode("utf-8")


def step_from_response(data: Any, cont: Continuation, eos_id: int,
                       encode: Callable[[str], Sequence[int]], warned: set[str] | None = None) -> Step:
    """Map a /v1/completions response onto a `Step` (see the module docstring for the contract)."""
    warned = _WARNED if warned is None else warned
    try:
        choice = data["choices"][0]
        finish, reason, text = choice.get("finish_reason"), choice.get("stop_reason"), choice.get("text", "")
        ids = choice.get("token_ids")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise _Retryable(f"malformed response body (no choices[0]): {_snip(json.dumps(data))}") from exc
    if finish not in ("stop", "length"):
        raise _Retryable(f"unexpected finish_reason {finish!r} in {_snip(json.dumps(data))}")
    from_server = ids is not None
    if not from_server:
        _warn_once(warned, "no_ids", "the server returned no token ids (return_token_ids unsupported): "
                   "re-tokenizing its text, which may differ from the tokens it generated")
        ids = encode(text)
    try:
        new = [int(i) for i in ids]
    except (TypeError, ValueError) as exc:
        raise _Retryable(f"malformed token_ids in {_snip(json.dumps(data))}") from exc
    cached = _cached_tokens(data)
    if finish == "length":
        return Step(tuple(new), "length", None, cached)
    if isinstance(reason, str):
        return Step(tuple(new), "stop", reason, cached)
    if isinstance(reason, int) and not isinstance(reason, bool):
        if not new or new[-1] != reason:
            new.append(reason)  # text-only servers leave the stop id out of the text
        return Step(tuple(new), "stop", reason, cached)
    return Step(*_eos_stop(new, cont, eos_id, from_server, warned), cached_tokens=cached)


def _eos_stop(new: list[int], cont: Continuation, eos_id: int, from_server: bool,
              warned: set[str]) -> tuple[tuple[int, ...], str, int | None]:
    """A stop without a named reason: EOS. Make `new` end with the EOS id."""
    if new and new[-1] in cont.stop_token_ids:
        return tuple(new), "stop", new[-1]
    if from_server and new:
        # vLLM includes the EOS it stopped at: one we do not know is kept, and named once.
        _warn_once(warned, f"eos:{new[-1]}", "the server stopped at id %d, which is not among the stop "
                   "ids %s: is the tokenizer the served model's?", new[-1], sorted(cont.stop_token_ids))
        return tuple(new), "stop", new[-1]
    if cont.stop_strings and not from_server:
        return tuple(new), "stop", None  # EOS or an unnamed stop string: either way its text is cut
    new.append(eos_id)
    return tuple(new), "stop", eos_id


def _cached_tokens(data: Mapping[str, Any]) -> int:
    usage = data.get("usage")
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    return int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0


_WARNED: set[str] = set()


def _warn_once(warned: set[str], key: str, msg: str, *args: Any) -> None:
    if key not in warned:
        warned.add(key)
        log.warning(msg, *args)


def _snip(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


# ---------------------------------------------------------------------------- HTTP
class CompletionsClient:
    """POSTs one continuation with retries; lives on the engine's event loop."""

    def __init__(self, cfg: APIConfig, encode: Callable[[str], Sequence[int]],
                 decode: Callable[[Sequence[int]], str], eos_id: int) -> None:
        self.cfg, self.encode, self.decode, self.eos_id = cfg, encode, decode, eos_id
        self._mask_json = (json.dumps(list(range(cfg.allowed_ids)), separators=(",", ":"))
                           if cfg.allowed_ids is not None else None)
        self._headers = {"Content-Type": "application/json"}
        if cfg.api_key:
            self._headers["Authorization"] = f"Bearer {cfg.api_key}"
        self._session: Any = None
        self.warned: set[str] = set()
        self.requests_sent = 0  # HTTP attempts, for tests and benchmarks

    async def complete(self, cont: Continuation) -> Step:
        body = encode_body(request_payload(cont, self.cfg, self.decode), self._mask_json)
        last = "no attempt made"
        for attempt in range(self.cfg.max_retries + 1):
            try:
                data = await self._post(body)
                return step_from_response(data, cont, self.eos_id, self.encode, self.warned)
            except _Retryable as exc:
                last, delay = str(exc), exc.delay
            if attempt < self.cfg.max_retries:
                wait = delay if delay is not None else min(_MAX_BACKOFF_S, self.cfg.retry_backoff * 2**attempt)
                log.warning("s1api: POST %s attempt %d/%d failed (%s); retrying in %.2fs", self.cfg.url,
                            attempt + 1, self.cfg.max_retries + 1, self._redact(last), wait)
                await asyncio.sleep(wait)
        raise APIRequestError(
            f"s1api: POST {self.cfg.url} failed after {self.cfg.max_retries + 1} attempts "
            f"(max_retries={self.cfg.max_retries}); last error: {self._redact(last)}. Check that the "
            f"server is up and serves model {self.cfg.model!r}, or raise max_retries / timeout."
        )

    async def _post(self, body: bytes) -> Any:
        """One attempt: the parsed JSON body, or `_Retryable`, or `APIRequestError` (not retryable)."""
        import aiohttp

        session = self._session_for_loop()
        self.requests_sent += 1
        try:
            async with session.post(self.cfg.url, data=body, headers=self._headers) as resp:
                text = await resp.text()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            kind = f"no response within timeout={self.cfg.timeout:g}s" if isinstance(exc, asyncio.TimeoutError) \
                else f"connection error: {type(exc).__name__} {exc}"
            raise _Retryable(kind) from exc
        if status == 200:
            try:
                return json.loads(text)
            except ValueError as exc:
                raise _Retryable(f"HTTP 200 with a malformed JSON body: {_snip(text)!r}") from exc
        what = f"HTTP {status}: {_snip(text)}"
        if status in _RETRY_STATUSES:
            raise _Retryable(what, _retry_after(retry_after))
        raise APIRequestError(f"s1api: POST {self.cfg.url} failed with {self._redact(what)} (not retried)")

    def _session_for_loop(self) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout),
                connector=aiohttp.TCPConnector(limit=self.cfg.num_concurrent),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _redact(self, text: str) -> str:
        # An error body may echo request headers: the key must never reach a log or a message.
        return text.replace(self.cfg.api_key, "***") if self.cfg.api_key else text


def _retry_after(value: str | None) -> float | None:
    try:
        return None if value is None else min(_MAX_BACKOFF_S, max(0.0, float(value)))
    except ValueError:  # an HTTP date: use our own backoff
        return None


# ---------------------------------------------------------------------------- engine
class APIEngine(Engine):
    """`Engine` over a `CompletionsClient`: an asyncio loop in a daemon thread, LIFO dispatch."""

    def __init__(self, client: CompletionsClient) -> None:
        if client.cfg.num_concurrent < 1:
            raise ValueError(f"num_concurrent={client.cfg.num_concurrent} must be >= 1")
        self.client = client
        self.num_concurrent = client.cfg.num_concurrent
        self._outbox: list[Continuation] = []  # submitted, not yet handed to the loop
        self._results: queue.Queue = queue.Queue()
        self._submitted = self._returned = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Loop-thread state, touched only by callbacks running on the loop.
        self._waiting: list[Continuation] = []
        self._tasks: set[asyncio.Task] = set()
        self.max_in_flight = 0  # for tests: the most requests ever in flight at once

    # ------------------------------------------------------------ Engine API (caller thread)
    def submit(self, cont: Continuation) -> None:
        self._outbox.append(cont)
        self._submitted += 1

    def pending(self) -> int:
        return self._submitted - self._returned

    def poll(self) -> list[tuple[Hashable, Step]]:
        if not self.pending():
            raise RuntimeError("poll() called with nothing submitted")
        # Free slots are refilled only here, with this scheduler pass's submits handed over
        # together: so a request's next round takes the slot its last round freed (LIFO).
        batch, self._outbox = self._outbox, []
        self._ensure_loop().call_soon_threadsafe(self._accept, batch)
        items = [self._next_result()]
        while True:
            try:
                items.append(self._results.get_nowait())
            except queue.Empty:
                break
        errors = [exc for _, _, exc in items if exc is not None]
        if errors:
            self._abort()
            raise errors[0]
        self._returned += len(items)
        return [(key, step) for key, step, _ in items]

    def close(self) -> None:
        """Cancel what is in flight, close the HTTP session and stop the loop thread."""
        if self._loop is not None:
            self._finalizer()
            self._loop = self._thread = None
            self._submitted = self._returned = 0
            self._outbox.clear()

    # ------------------------------------------------------------ caller-thread helpers
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="s1api-http", daemon=True)
            self._thread.start()
            # Runs on close(), garbage collection or interpreter exit, whichever comes first.
            self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._thread, self.client)
        return self._loop

    def _next_result(self) -> tuple[Hashable, Step | None, BaseException | None]:
        while True:
            try:
                return self._results.get(timeout=1.0)
            except queue.Empty:
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError("s1api: the HTTP loop thread died with requests pending") from None

    def _abort(self) -> None:
        """After a failure: cancel every request and forget all state, so the engine is reusable."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(timeout=30)
        self._outbox.clear()
        while not self._results.empty():
            self._results.get_nowait()
        self._submitted = self._returned = 0

    # ------------------------------------------------------------ loop thread
    def _accept(self, batch: list[Continuation]) -> None:
        self._waiting.extend(batch)
        self._dispatch()

    def _dispatch(self) -> None:
        assert self._loop is not None
        while self._waiting and len(self._tasks) < self.num_concurrent:
            task = self._loop.create_task(self._run_one(self._waiting.pop()))  # LIFO, see module doc
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self.max_in_flight = max(self.max_in_flight, len(self._tasks))

    async def _run_one(self, cont: Continuation) -> None:
        try:
            self._results.put((cont.key, await self.client.complete(cont), None))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # delivered to poll(), which fails the run with it
            self._results.put((cont.key, None, exc))

    async def _cancel_all(self) -> None:
        self._waiting.clear()
        await _cancel(list(self._tasks))


async def _cancel(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _shutdown(loop: asyncio.AbstractEventLoop, thread: threading.Thread, client: CompletionsClient) -> None:
    """Stop an engine's loop thread cleanly (no reference to the engine, for weakref.finalize)."""
    if threading.current_thread() is thread or loop.is_closed():
        return  # collected on the loop itself: it would wait on itself; the thread is a daemon anyway

    async def stop() -> None:
        await _cancel([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])
        await client.close()

    try:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
