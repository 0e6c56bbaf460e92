"""A scripted, fault-injecting `/v1/completions` server on 127.0.0.1 for s1api's tests.

It speaks just enough of vLLM's protocol: token-id or text prompts, `max_tokens`, `min_tokens`,
`stop_token_ids`, `stop`, and vLLM's response shape (`token_ids` including the stop id,
`stop_reason` an id, a string or None for EOS). Its "model" is a fixed cycle of tokens: while
thinking "\\nLet me check the sum." followed by `<|im_start|>`, and " 42<|im_end|>" once the prompt
contains `<|im_start|>answer`, the same shape as the tiny model's "ends" variant.

`faults` is consumed one entry per arriving request, then every request succeeds:

    "ok", "429" (with Retry-After: 0), "500", "503", "400", "400_logit_bias" (vLLM's refusal of a
    logit_bias under speculative decoding), "hang" (never answers until the client
    gives up), "malformed" (HTTP 200, broken JSON), "drop" (closes the connection without a
    response), "echo_auth_500" (a 500 whose body echoes the Authorization header, as a careless
    proxy might).

Like vLLM (VLLM_MAX_STOP_STRINGS, default 4) it answers HTTP 400 to more than `max_stop_strings` stop strings.

`GET /v1/models` lists `served` (name -> root, vLLM's fields). Every completions request is recorded
(`seen`: body, headers, fault, arrival and finish times), with the most
requests it ever had in flight at once.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from s1eval.testing.ports import bound_socket

THINK_REPLY = "\nLet me check the sum."
ANSWER_REPLY = " 42"


@dataclass
class Seen:
    body: dict
    headers: dict
    fault: str
    arrived: float
    finished: float = 0.0


class FaultServer:
    def __init__(self, tokenizer: Any, faults: Sequence[str] = (), *, return_ids: bool = True,
                 delay: Callable[[str], Any] | None = None, hang_s: float = 30.0,
                 max_stop_strings: int = 4, served: dict[str, str] | None = None) -> None:
        self.tok, self.faults, self.return_ids = tokenizer, list(faults), return_ids
        self.served = {"tiny": "/models/tiny"} if served is None else served  # GET /v1/models: name -> root
        self.max_stop_strings = max_stop_strings  # vLLM's VLLM_MAX_STOP_STRINGS default
        self.delay, self.hang_s = delay, hang_s
        self.seen: list[Seen] = []
        self.in_flight = self.max_in_flight = 0
        self.eos = tokenizer.eos_token_id
        self.im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="fault-server")
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> FaultServer:
        sock = bound_socket()  # the server listens on this very socket: the port is never free in between
        self.port = sock.getsockname()[1]
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(sock), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        # handler_cancellation: a "hang" handler ends when the client gives up and disconnects
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self, fault: str | None = None) -> int:
        return sum(1 for s in self.seen if fault is None or s.fault == fault)

    # ------------------------------------------------------------ requests
    async def _models(self, request: web.Request) -> web.StreamResponse:
        data = [{"id": name, "object": "model", "root": root} for name, root in self.served.items()]
        return web.json_response({"object": "list", "data": data})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = json.loads(await request.read())
        fault = self.faults[len(self.seen)] if len(self.seen) < len(self.faults) else "ok"
        seen = Seen(body, dict(request.headers), fault, time.monotonic())
        self.seen.append(seen)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._respond(request, body, fault)
        finally:
            self.in_flight -= 1
            seen.finished = time.monotonic()

    async def _respond(self, request: web.Request, body: dict, fault: str) -> web.StreamResponse:
        if fault == "429":
            return web.json_response({"error": "rate limited"}, status=429, headers={"Retry-After": "0"})
        if fault in ("500", "503", "400"):
            return web.json_response({"error": {"message": f"injected {fault}"}}, status=int(fault))
        if fault == "400_logit_bias":  # what vLLM answers when speculative decoding is on
            return web.json_response({"error": {"message": "The min_p and logit_bias sampling parameters are "
                                                           "not yet supported with speculative decoding."}},
                                     status=400)
        if fault == "echo_auth_500":
            return web.Response(status=500, text=f"upstream failed for {request.headers.get('Authorization')}")
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
        if fault == "malformed":
            return web.Response(status=200, text='{"choices": [{"text": "trunc', content_type="application/json")
        if fault == "drop":
            request.transport.close()
            return web.Response(status=500)
        if len(body.get("stop") or []) > self.max_stop_strings:  # vLLM's validation error, as it words it
            return web.json_response({"error": {"message": f"stop: List should have at most {self.max_stop_strings} "
                                                           f"items after validation, not {len(body['stop'])}"}},
                                     status=400)
        prompt = self._prompt_text(body["prompt"])
        if self.delay is not None:  # seconds, or an awaitable that holds the answer back until it is done
            wait = self.delay(prompt)
            await (wait if inspect.isawaitable(wait) else asyncio.sleep(wait))
        return web.json_response(self._complete(body, prompt))

    def _prompt_text(self, prompt: Any) -> str:
        return prompt if isinstance(prompt, str) else self.tok.decode(prompt, skip_special_tokens=False)

    def _complete(self, body: dict, prompt: str) -> dict:
        """Generate from the fixed token cycle with vLLM's stop semantics."""
        answer = "<|im_start|>answer" in prompt
        cycle = self.tok.encode(ANSWER_REPLY if answer else THINK_REPLY, add_special_tokens=False)
        cycle = [*cycle, self.eos if answer else self.im_start]
        stops = set(body.get("stop_token_ids") or []) | {self.eos}
        out: list[int] = []
        finish, reason = "length", None
        while len(out) < body.get("max_tokens", 16):
            tok = cycle[len(out) % len(cycle)]
            if tok in stops and len(out) < body.get("min_tokens", 0):
                tok = cycle[0]  # a masked stop: the "model" picks its next-best token
            out.append(tok)
            if tok in stops:
                finish, reason = "stop", (None if tok == self.eos else tok)
                break
            text = self.tok.decode(out, skip_special_tokens=False)
            hit = next((s for s in body.get("stop") or [] if s in text), None)
            if hit is not None:
                finish, reason = "stop", hit
                break
        text = self.tok.decode(out[:-1] if finish == "stop" and not isinstance(reason, str) else out,
                               skip_special_tokens=False)
        if isinstance(reason, str):
            text = text.split(reason)[0]
        choice = {"index": 0, "text": text, "finish_reason": finish, "stop_reason": reason}
        if self.return_ids:
            choice["token_ids"] = out
        return {"id": "cmpl-fake", "object": "text_completion", "model": body.get("model"), "choices": [choice],
                "usage": {"prompt_tokens": 0, "completion_tokens": len(out), "prompt_tokens_details": None}}
