"""An `Engine` over an OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp).

Each `Continuation` is one HTTP request (the budget logic stays in `s1eval.budget`), run on an
asyncio loop in a daemon thread, at most `num_concurrent` in flight. Requests advance on their own
(no round barrier): free slots are refilled at the scheduler's next poll, microseconds after a round
ends, from a last-in-first-out queue, so a request's next round takes the slot its last round freed.
Few requests are open at once, each reaches lm-eval's cache early, and its prefix is still warm in
the server's prefix cache when its next round arrives.

Translation to and from HTTP lives in `s1eval.models.api_protocol`.

Failures follow the one retry policy of `s1eval.http_retry` (the judge and s1data's client share it):
408, 409, 429, 5xx, timeouts, connection errors and malformed bodies are retried with jittered
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
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from s1eval.budget.engine import Continuation, Engine, Step
from s1eval.http_retry import Endpoint, RetryPolicy, post_json_async, retry_async, snip
from s1eval.models.api_protocol import (
    APIConfig,
    APIRequestError,
    completions_url,
    cut_unsent_stops,
    request_payload,
    step_from_response,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- HTTP
def served_model(base_url: str, model: str, api_key: str | None, timeout: float = 10.0) -> dict[str, Any]:
    """What the server says it serves as `model` (its `GET /v1/models` entry): `root` is where vLLM loaded the
    weights from (a path or hub id on the server), which a served name alone does not tell. Raises ValueError
    naming the URL when the server cannot be reached or does not serve `model`."""
    import urllib.error
    import urllib.request

    url = completions_url(base_url).removesuffix("/completions") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            listed = json.loads(resp.read().decode("utf-8")).get("data") or []
    except (OSError, ValueError, AttributeError) as err:  # URLError and HTTPError are OSErrors
        raise ValueError(f"s1api: GET {url} failed ({type(err).__name__}: {snip(str(err))}); start the server "
                         "first, or check base_url") from None
    entries = {str(e.get("id")): e for e in listed if isinstance(e, dict)}
    if model not in entries:
        raise ValueError(f"s1api: the server at {url} does not serve model {model!r}; it serves "
                         f"{', '.join(sorted(entries)) or 'nothing'}. Pass one of those as model=")
    entry = entries[model]
    return {"id": model, "root": entry.get("root")}


class CompletionsClient:
    """POSTs one continuation with retries (`s1eval.http_retry`'s policy); lives on the engine's event loop."""

    def __init__(self, cfg: APIConfig, encode: Callable[[str], Sequence[int]],
                 decode: Callable[[Sequence[int]], str], eos_id: int) -> None:
        self.cfg, self.encode, self.decode, self.eos_id = cfg, encode, decode, eos_id
        self.endpoint = Endpoint(
            "s1api", cfg.url, cfg.model, cfg.api_key, APIRequestError, logger=log, hint=self._hint,
            fix=f"Check that the server is up and serves model {cfg.model!r}, or raise max_retries / timeout")
        self.policy = RetryPolicy(cfg.max_retries, cfg.retry_backoff, cfg.timeout)
        self._session: Any = None
        self.warned: set[str] = set()
        self.requests_sent = 0  # HTTP attempts, for tests and benchmarks

    async def complete(self, cont: Continuation) -> Step:
        payload = request_payload(cont, self.cfg, self.decode)
        body = json.dumps(payload, separators=(",", ":")).encode()

        async def attempt() -> Step:
            self.requests_sent += 1
            data = await post_json_async(self._session_for_loop(), self.endpoint, body, self.cfg.timeout)
            step = step_from_response(data, cont, self.eos_id, self.encode, self.warned)
            return cut_unsent_stops(step, cont, payload["stop"], self.decode)

        return await retry_async(self.endpoint, self.policy, attempt)

    def _hint(self, status: int, body: str) -> str:
        """Advice for a refused request, from the server's words."""
        if self.cfg.untexted and "logit_bias" in body:
            return (". s1api masks the model's ids without text with a logit_bias; for a server that refuses "
                    "it (vLLM with speculative decoding does) pass allow_untexted_ids=true")
        if "stop" in body and "at most" in body:
            return (f". s1api sends at most max_stop_strings={self.cfg.max_stop_strings} stop strings (the rest are "
                    "cut on the client); for a server that takes fewer, pass its limit as max_stop_strings")
        return ""

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
