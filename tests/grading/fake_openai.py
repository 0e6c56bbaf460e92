"""A local fake of an OpenAI-compatible ``/v1/chat/completions`` endpoint for the judge tests (127.0.0.1 only).

A paid API is the one thing the grading tests fake. The server reads the judge prompt's "Reference answer:" and
"Given answer:" lines and answers from `replies` ({(gold, answer): text}, default "No"); `script` holds
responses served first, one per request, as (status, text-or-body, headers); `delay_s` stalls every request.
Every request is recorded (path, headers, JSON body).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_GOLD_RE = re.compile(r"^Reference answer: (.*)$", re.M)
_ANSWER_RE = re.compile(r"^Given answer: (.*)$", re.M)


class FakeChatServer:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], str] = {}
        self.default_reply = "No"
        self.script: list[tuple[int, Any, dict[str, str]]] = []
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.script.clear()
            self.replies.clear()
            self.default_reply = "No"
            self.delay_s = 0.0

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _respond(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        prompt = body["messages"][-1]["content"]
        gold, answer = _GOLD_RE.search(prompt).group(1), _ANSWER_RE.search(prompt).group(1)  # type: ignore[union-attr]
        return 200, self.replies.get((gold, answer), self.default_reply), {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                status, payload, headers = fake._respond(body)
                if status == 200 and isinstance(payload, str):
                    payload = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": payload}}]}
                if status != 200 and payload == "echo-auth":  # a server that quotes the key back in its error
                    payload = {"error": {"message": f"bad key {self.headers.get('Authorization')}"}}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        return Handler
