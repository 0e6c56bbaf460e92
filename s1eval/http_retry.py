"""One retry policy for every HTTP client that calls a model server, with a sync and an async front end.

Used by s1api's completions client (`s1eval.models.api_engine`, async, aiohttp), the grading judge
(`s1eval.grading.judge`, sync, urllib) and s1data's chat client (`s1data.clients`, sync, urllib). A leaf
module: it imports nothing from s1eval, so any package may use it.

The policy:

* What is retried: connection errors, timeouts, an HTTP 200 whose body is not the JSON expected (a caller's
  parser raises `Retryable` for a body of the wrong shape), and the statuses in `RETRY_STATUSES`: 408, 409,
  429 and 5xx. Any other status fails at once ("not retried"): asking again would get the same answer.
* How long to wait before retry n (0 for the first): the server's ``Retry-After`` when it sends one in
  seconds (an HTTP date is ignored: our own backoff is used), else ``backoff_s * 2**n`` times a jitter
  factor drawn from [0.5, 1.5) (clients that failed together, e.g. 16 threads hitting a rate limit, come
  back spread out); either way at most `MAX_BACKOFF_S`.
* Secrets: the API key is replaced by `REDACTED` in every message and log line, before a body is cut to
  `SNIPPET` characters (a key cut in half would survive a replace); URLs are shown without credentials and
  query (`shown_url`).
* Messages, one shape for every client (`Endpoint.label` is ``"<who>: POST <url> (model <model>)"``)::

      <label> failed after 3 attempts (max_retries=2); last error: HTTP 503: <body>. <fix>
      <label> refused the request: HTTP 400: <body> (not retried)<hint>

  raised as the endpoint's error class (a `RequestFailed`, which carries the last error, its status and the
  attempts made); each retry is logged as a warning on the endpoint's logger: ``<label> attempt 1/3 failed
  (<error>); retrying in 1.23s``.

Front ends: `retry_sync` / `retry_async` run an attempt function under the policy (the same bookkeeping,
`_Attempts`, so both behave alike: same delays, messages and logs); `post_json_sync` (urllib) and
`post_json_async` (aiohttp, imported when called) make one attempt and return the parsed JSON body.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import math
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES: frozenset[int] = frozenset({
    408,  # Request Timeout: the server gave up waiting for the request; a new one may get through
    409,  # Conflict: OpenAI's API answers it for a lock timeout, and its SDK retries it (openai._base_client)
    429,  # Too Many Requests: rate limited (vLLM behind a gateway, paid APIs); Retry-After says when to return
}) | frozenset(range(500, 600))  # 5xx: the server or a proxy failed (a restarting vLLM, 502/503/504 gateways)
MAX_BACKOFF_S = 60.0  # the longest wait between attempts, Retry-After included
SNIPPET = 300  # characters of a response body shown in a message
REDACTED = "***"  # what an API key becomes in messages and logs
_ERROR_BODY_BYTES = 65536  # read of an error response (for the message only)


class Retryable(Exception):
    """One attempt failed in a way worth retrying; `delay` is the server's Retry-After in seconds, if any."""

    def __init__(self, what: str, delay: float | None = None, status: int | None = None) -> None:
        super().__init__(what)
        self.delay = delay
        self.status = status


class RequestFailed(RuntimeError):
    """A request failed for good: after its retries, or with a status that is not retried.

    `last` is the last error alone (``"HTTP 503: <body>"``, redacted), `status` its HTTP status (None for a
    connection error or timeout), `attempts` the attempts made."""

    def __init__(self, message: str, *, last: str | None = None, status: int | None = None,
                 attempts: int = 0) -> None:
        super().__init__(message)
        self.last = last
        self.status = status
        self.attempts = attempts


# ---------------------------------------------------------------------------------------------- helpers
def snip(text: str, limit: int = SNIPPET) -> str:
    """`text` cut to `limit` characters, with "..." when it was longer."""
    return text if len(text) <= limit else text[:limit] + "..."


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every occurrence of each non-empty secret replaced by `REDACTED`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def shown_url(url: str) -> str:
    """The URL as shown in errors and logs: credentials in the authority part and the query are dropped."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def endpoint_url(base_url: str, path: str) -> str:
    """``http://host:8000/v1`` + ``/chat/completions`` -> ``http://host:8000/v1/chat/completions``; a base URL
    that already ends with `path` is kept."""
    url = base_url.rstrip("/")
    return url if url.endswith(path) else url + path


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (>= 0), or None when absent or not a number (an HTTP date)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


# ---------------------------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class RetryPolicy:
    """How often to try and how long to wait (see the module docstring); `rand` draws the jitter (tests fix it)."""

    max_retries: int = 5
    backoff_s: float = 1.0  # the first retry's base delay; doubles per retry
    timeout_s: float = 60.0  # per attempt (shown in timeout messages; the front end applies it)
    max_backoff_s: float = MAX_BACKOFF_S
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `retry` (0: the first): the server's Retry-After, else jittered
        exponential backoff; at most `max_backoff_s`."""
        if retry_after is not None:
            return min(self.max_backoff_s, max(0.0, retry_after))
        return min(self.max_backoff_s, self.backoff_s * 2.0 ** min(retry, 64) * (0.5 + self.rand()))


def _no_hint(status: int, body: str) -> str:
    return ""


@dataclass(frozen=True)
class Endpoint:
    """Where a client sends requests and how its failures are worded.

    `who` starts every message ("s1api", "judge", "s1data"); `error` is the `RequestFailed` subclass raised;
    `fix` ends the message of a request that failed after its retries (what to check or change); `hint`
    adds advice to a refused request, from its status and (redacted) body; `logger` gets the retry warnings."""

    who: str
    url: str
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    error: type[RequestFailed] = RequestFailed
    fix: str = "Check that the server is up and serves the model, or raise max_retries / timeout"
    hint: Callable[[int, str], str] = field(default=_no_hint, repr=False, compare=False)
    logger: logging.Logger = field(default=log, repr=False, compare=False)

    @property
    def label(self) -> str:
        model = f" (model {self.model})" if self.model else ""
        return f"{self.who}: POST {shown_url(self.url)}{model}"

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out

    def redact(self, text: str) -> str:
        return redact(text, self.api_key)

    def status_failure(self, status: int, body: str, retry_after: str | None = None) -> Exception:
        """What a non-200 response raises: `Retryable` for a status in `RETRY_STATUSES`, else the endpoint's
        error ("refused the request ... (not retried)")."""
        body = self.redact(body)
        what = f"HTTP {status}: {snip(body)}"
        if status in RETRY_STATUSES:
            return Retryable(what, retry_after_s(retry_after), status)
        return self.error(f"{self.label} refused the request: {what} (not retried){self.hint(status, body)}",
                          last=what, status=status, attempts=1)

    def exhausted(self, policy: RetryPolicy, last: Retryable) -> RequestFailed:
        n = policy.attempts
        what = self.redact(str(last))
        return self.error(f"{self.label} failed after {n} attempt{'' if n == 1 else 's'} (max_retries="
                          f"{policy.max_retries}); last error: {what}. {self.fix}.",
                          last=what, status=last.status, attempts=n)

    def json_body(self, status: int, text: str, retry_after: str | None = None) -> Any:
        """The parsed body of a response (status, text); raises as `status_failure` for a status other than 200,
        `Retryable` for a 200 whose body is not JSON."""
        if status != 200:
            raise self.status_failure(status, text, retry_after)
        try:
            return json.loads(text)
        except ValueError:
            raise Retryable(f"HTTP 200 with a malformed JSON body: {snip(self.redact(text))!r}") from None

    def connection_failure(self, err: BaseException, timeout_s: float) -> Retryable:
        reason = getattr(err, "reason", None) or err
        if isinstance(err, TimeoutError) or isinstance(reason, TimeoutError):
            return Retryable(f"no response within timeout={timeout_s:g}s")
        return Retryable(self.redact(f"connection error: {type(err).__name__} {reason}"))


class _Attempts:
    """The bookkeeping both front ends share: after a failed attempt, the wait before the next (logged), or
    the final error once the retries are spent."""

    def __init__(self, endpoint: Endpoint, policy: RetryPolicy) -> None:
        self.endpoint, self.policy, self.retry = endpoint, policy, 0

    def failed(self, exc: Retryable) -> float:
        if self.retry >= self.policy.max_retries:
            raise self.endpoint.exhausted(self.policy, exc) from None
        wait = self.policy.delay(self.retry, exc.delay)
        self.retry += 1
        self.endpoint.logger.warning("%s attempt %d/%d failed (%s); retrying in %.2fs", self.endpoint.label,
                                     self.retry, self.policy.attempts, self.endpoint.redact(str(exc)), wait)
        return wait


# The waits, looked up at each call: a test patches these to record the waits instead of sleeping.
_sleep: Callable[[float], Any] = time.sleep
_async_sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep


def retry_sync(endpoint: Endpoint, policy: RetryPolicy, attempt: Callable[[], T],
               sleep: Callable[[float], Any] | None = None) -> T:
    """`attempt()` until it returns, retrying on `Retryable` under `policy`; raises `endpoint.error` when the
    retries are spent (an attempt's own non-retryable error propagates at once)."""
    state = _Attempts(endpoint, policy)
    while True:
        try:
            return attempt()
        except Retryable as exc:
            wait = state.failed(exc)
        (sleep or _sleep)(wait)


async def retry_async(endpoint: Endpoint, policy: RetryPolicy, attempt: Callable[[], Awaitable[T]],
                      sleep: Callable[[float], Awaitable[Any]] | None = None) -> T:
    """`retry_sync` for a coroutine function."""
    state = _Attempts(endpoint, policy)
    while True:
        try:
            return await attempt()
        except Retryable as exc:
            wait = state.failed(exc)
        await (sleep or _async_sleep)(wait)


# ---------------------------------------------------------------------------------------------- transports
def post_json_sync(endpoint: Endpoint, body: bytes, timeout_s: float) -> Any:
    """One POST of a JSON `body` with urllib: the parsed JSON response; raises `Retryable`, or the endpoint's
    error for a status that is not retried."""
    request = urllib.request.Request(endpoint.url, data=body, headers=endpoint.headers(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        try:
            text = err.read(_ERROR_BODY_BYTES).decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - the body is only for the message
            text = ""
        raise endpoint.status_failure(err.code, text, err.headers.get("Retry-After") if err.headers else None) \
            from None
    except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, resets, a cut response
        raise endpoint.connection_failure(err, timeout_s) from None
    return endpoint.json_body(status, text)


async def post_json_async(session: Any, endpoint: Endpoint, body: bytes, timeout_s: float) -> Any:
    """`post_json_sync` on an `aiohttp.ClientSession` (whose own timeout applies; `timeout_s` names it)."""
    import aiohttp

    try:
        async with session.post(endpoint.url, data=body, headers=endpoint.headers()) as resp:
            text = (await resp.read()).decode("utf-8", "replace")
            status, retry_after = resp.status, resp.headers.get("Retry-After")
    except (aiohttp.ClientError, asyncio.TimeoutError) as err:
        raise endpoint.connection_failure(err, timeout_s) from None
    return endpoint.json_body(status, text, retry_after)
