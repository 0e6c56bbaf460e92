"""s1eval.http_retry: the one retry policy of s1api, the grading judge and s1data's client, through both front ends.

Against a local scripted server (127.0.0.1), the sync (urllib) and async (aiohttp) front ends are run on the same
scripts, their waits recorded by a patched sleep (no wall-time assertions): each retryable status is retried and
every other one refused at once, Retry-After is honoured (capped), the key never reaches a message or a log line,
and both front ends wait, log and fail alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from s1eval.http_retry import (
    MAX_BACKOFF_S,
    REDACTED,
    RETRY_STATUSES,
    SNIPPET,
    Endpoint,
    RequestFailed,
    Retryable,
    RetryPolicy,
    endpoint_url,
    post_json_async,
    post_json_sync,
    redact,
    retry_after_s,
    retry_async,
    retry_sync,
    shown_url,
)
from s1eval.testing.ports import PortReservation

KEY = "sk-test-NEVER-SHOWN-0123456789"
OK = (200, {"ok": True}, {})
LOGGER = "tests.http_retry"


class Scripted:
    """Answers POSTs from `script` ((status, body, headers); a str body is sent as is, "ECHO_AUTH" echoes the
    Authorization header), then OK; `delay_s` stalls each answer."""

    def __init__(self, script=(), delay_s: float = 0.0) -> None:
        self.script, self.delay_s, self.requests = list(script), delay_s, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"headers": dict(self.headers), "body": body})
                status, payload, headers = server.script.pop(0) if server.script else OK
                if server.delay_s:
                    time.sleep(server.delay_s)
                if payload == "ECHO_AUTH":
                    payload = f"upstream failed for {self.headers.get('Authorization')}"
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                try:
                    self.send_response(status)
                    for k, v in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/chat/completions"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def endpoint(url: str, **kw) -> Endpoint:
    return Endpoint("test", url, "m", KEY, logger=logging.getLogger(LOGGER), **kw)


def policy(**kw) -> RetryPolicy:
    # rand 0.5: the jitter factor is exactly 1, so waits are backoff_s * 2**n
    return RetryPolicy(**{"max_retries": 3, "backoff_s": 0.5, "timeout_s": 5.0, "rand": lambda: 0.5, **kw})


def call(front: str, ep: Endpoint, pol: RetryPolicy) -> tuple[object, list[float]]:
    """(the parsed body or the RequestFailed raised, the waits) through the sync or the async front end."""
    waits: list[float] = []
    body = json.dumps({"q": 1}).encode()
    if front == "sync":
        try:
            return retry_sync(ep, pol, lambda: post_json_sync(ep, body, pol.timeout_s), sleep=waits.append), waits
        except RequestFailed as exc:
            return exc, waits

    async def run():
        import aiohttp

        async def sleep(s):
            waits.append(s)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=pol.timeout_s)) as session:
            return await retry_async(ep, pol, lambda: post_json_async(session, ep, body, pol.timeout_s), sleep=sleep)

    try:
        return asyncio.run(run()), waits
    except RequestFailed as exc:
        return exc, waits


FRONTS = ["sync", pytest.param("async", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("aiohttp") is None, reason="aiohttp is not installed"))]


# ------------------------------------------------------------------------------------------------ the policy
def test_retryable_statuses_are_the_union_of_the_three_clients():
    assert {408, 409, 429} | set(range(500, 600)) == set(RETRY_STATUSES)
    assert not {200, 400, 401, 403, 404, 413, 422} & RETRY_STATUSES


def test_backoff_doubles_with_jitter_and_is_capped():
    assert [policy().delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy(rand=lambda: 0.0).delay(2) == 1.0 and policy(rand=lambda: 0.999).delay(0) == pytest.approx(0.7495)
    assert policy().delay(30) == MAX_BACKOFF_S and policy(max_retries=10**6).delay(10**6) == MAX_BACKOFF_S
    # the server's Retry-After replaces the backoff (no jitter), capped too
    assert (policy().delay(3, 7.0) == 7.0 and policy().delay(0, 0.0) == 0.0
            and policy().delay(0, 600.0) == MAX_BACKOFF_S)


@pytest.mark.parametrize("value, seconds", [("3", 3.0), ("1.5", 1.5), (" 2 ", 2.0), ("-2", 0.0), (None, None),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("nan", None), ("inf", None)])
def test_retry_after_is_read_in_seconds(value, seconds):
    assert retry_after_s(value) == seconds


def test_redaction_and_shown_urls():
    assert redact(f"Bearer {KEY} and {KEY}", KEY) == f"Bearer {REDACTED} and {REDACTED}"
    assert redact("nothing to hide", None, "") == "nothing to hide"
    ep = endpoint("http://user:pw@host:8000/v1/chat/completions?key=abc")
    assert ep.label == "test: POST http://host:8000/v1/chat/completions (model m)"
    assert KEY not in repr(ep) and ep.headers()["Authorization"] == f"Bearer {KEY}"
    assert shown_url("https://h/v1?api_key=x") == "https://h/v1"
    assert endpoint_url("http://h/v1/", "/chat/completions") == "http://h/v1/chat/completions"
    assert endpoint_url("http://h/v1/chat/completions", "/chat/completions") == "http://h/v1/chat/completions"


def test_a_key_is_redacted_before_the_body_is_cut():
    # the key straddles the snippet's end: cut first, then redacted, its first characters would be shown
    body = "x" * (SNIPPET - 5) + KEY + "y" * 50
    err = endpoint("http://h/v1").status_failure(400, body)
    assert KEY[:5] not in str(err) and REDACTED in str(err) and isinstance(err, RequestFailed)
    retry = endpoint("http://h/v1").status_failure(503, body, "2")
    assert isinstance(retry, Retryable) and KEY[:5] not in str(retry) and (retry.delay, retry.status) == (2.0, 503)


# ------------------------------------------------------------------------------------------------ front ends
@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_each_retryable_status_is_retried(front, status):
    with Scripted([(status, {"error": "try again"}, {})]) as server:
        result, waits = call(front, endpoint(server.url), policy())
    assert result == {"ok": True} and len(server.requests) == 2 and waits == [0.5]


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_statuses_fail_at_once(front, status):
    with Scripted([(status, {"error": f"no {status}"}, {})]) as server:
        err, waits = call(front, endpoint(server.url), policy())
    assert isinstance(err, RequestFailed) and len(server.requests) == 1 and waits == []
    assert f"refused the request: HTTP {status}: " in str(err) and "(not retried)" in str(err)
    assert (err.status, err.attempts) == (status, 1) and err.last.startswith(f"HTTP {status}: ")


@pytest.mark.parametrize("front", FRONTS)
def test_retry_after_is_honoured_and_capped(front):
    script = [(503, {}, {"Retry-After": "7"}), (429, {}, {"Retry-After": "120"}),
              (500, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), (429, {}, {"Retry-After": "0"})]
    with Scripted(script) as server:
        result, waits = call(front, endpoint(server.url), policy(max_retries=4))
    # 7 s as asked; 120 s capped at 60; a date ignored (backoff 0.5 * 2**2); 0 as asked
    assert result == {"ok": True} and waits == [7.0, MAX_BACKOFF_S, 2.0, 0.0] and len(server.requests) == 5


@pytest.mark.parametrize("front", FRONTS)
def test_malformed_bodies_are_retried(front):
    with Scripted([(200, '{"choices": [trunc', {})]) as server:
        result, waits = call(front, endpoint(server.url), policy())
    assert result == {"ok": True} and len(server.requests) == 2


def _failing_run(front, caplog):
    script = [(500, "ECHO_AUTH", {}), (200, "not json", {}), (429, {"error": "slow"}, {"Retry-After": "0"}),
              (503, "ECHO_AUTH", {})]
    caplog.clear()
    with Scripted(script) as server, caplog.at_level(logging.DEBUG):
        err, waits = call(front, endpoint(server.url, fix="Try again later"), policy())
    assert all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in server.requests)
    logs = [r.getMessage().replace(server.url, "URL") for r in caplog.records if r.name == LOGGER]
    return str(err).replace(server.url, "URL"), err, waits, logs, caplog.text


def test_sync_and_async_front_ends_behave_alike(caplog):
    pytest.importorskip("aiohttp")
    sync, async_ = _failing_run("sync", caplog), _failing_run("async", caplog)
    assert sync[0] == async_[0] and sync[2] == async_[2] and sync[3] == async_[3]
    message, err, waits, logs, text = sync
    assert message == ("test: POST URL (model m) failed after 4 attempts (max_retries=3); last error: HTTP 503: "
                       f"upstream failed for Bearer {REDACTED}. Try again later.")
    assert (err.status, err.attempts, err.last) == (503, 4, f"HTTP 503: upstream failed for Bearer {REDACTED}")
    assert waits == [0.5, 1.0, 0.0]
    assert logs == [f"test: POST URL (model m) attempt 1/4 failed (HTTP 500: upstream failed for Bearer {REDACTED}); "
                    "retrying in 0.50s",
                    "test: POST URL (model m) attempt 2/4 failed (HTTP 200 with a malformed JSON body: 'not json'); "
                    "retrying in 1.00s",
                    'test: POST URL (model m) attempt 3/4 failed (HTTP 429: {"error": "slow"}); retrying in 0.00s']
    assert KEY not in text and KEY not in async_[4]


@pytest.mark.parametrize("front", FRONTS)
def test_connection_errors_are_retried_then_reported(front):
    with PortReservation() as port:  # bound, never listening: every connection is refused
        err, waits = call(front, endpoint(f"http://127.0.0.1:{port.port}/v1"), policy(max_retries=1))
    assert isinstance(err, RequestFailed) and "after 2 attempts" in str(err) and "connection error" in str(err)
    assert err.status is None and waits == [0.5]


@pytest.mark.parametrize("front", FRONTS)
def test_timeouts_are_retried_then_reported(front):
    with Scripted([OK], delay_s=1.0) as server:
        err, waits = call(front, endpoint(server.url), policy(max_retries=0, timeout_s=0.2))
    assert isinstance(err, RequestFailed) and "after 1 attempt " in str(err)
    assert "no response within timeout=0.2s" in err.last and waits == []


def test_a_parsers_retryable_is_retried_and_other_errors_propagate():
    seen = []

    def attempt():
        seen.append(1)
        if len(seen) < 3:
            raise Retryable("body of the wrong shape")
        return "parsed"

    waits: list[float] = []
    assert retry_sync(endpoint("http://h/v1"), policy(), attempt, sleep=waits.append) == "parsed"
    assert waits == [0.5, 1.0]
    with pytest.raises(ZeroDivisionError):
        retry_sync(endpoint("http://h/v1"), policy(), lambda: 1 / 0, sleep=waits.append)
