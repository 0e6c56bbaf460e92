"""Model clients for the stages that call models (traces, difficulty, domains), and their cache.

A client answers a batch of user prompts with `Reply(text, reasoning, error)`; `on_result(i, reply)` is
called as each finishes so the caller can cache it at once (an interrupted run never pays twice).
Kinds (`client: {kind: ...}` in a config):
- ``openai``: an OpenAI-compatible `/chat/completions` endpoint (vLLM, SGLang, DeepSeek, Gemini's
  OpenAI layer); R1-style `reasoning_content` (or `reasoning`) becomes `reasoning`, else a
  ``<think>...</think>`` block in the content is split off (or everything before a lone ``</think>``, for
  templates that open the block in the prompt); the attempt loses leading whitespace. Threads give `concurrency`;
  retries follow the one policy of `s1eval.http_retry` (shared with s1api and the grading judge: 408/409/429/5xx,
  timeouts, connection errors and malformed bodies retried with jittered exponential backoff from `backoff`
  seconds, `Retry-After` honoured, the key redacted); a call that still fails is an error reply (HTTP status and
  body) and a warning naming the URL; the key comes from the variable named by `api_key_env`.
- ``engine``: a local model through an s1eval engine (`s1eval.models.hf_engine.HFEngine`), prompts put
  through the tokenizer's chat template, greedy unless `sampling` asks for a temperature; `max_tokens` and
  `seed` in `sampling` mean what they mean in an OpenAI request (default `max_new_tokens`, seed 0). Ids
  the tokenizer cannot decode are masked, as in s1eval. Used with the tiny model in tests.
- ``recorded``: replies read from a JSONL of {"prompt_hash", "text", "reasoning"} (keyed by
  sha256(prompt)[:16]); a prompt without a recording is an error reply. No network, no cost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1eval.http_retry import (
    Endpoint,
    RequestFailed,
    Retryable,
    RetryPolicy,
    endpoint_url,
    post_json_sync,
    retry_sync,
    snip,
)

log = logging.getLogger(__name__)

KINDS = ("openai", "engine", "recorded")
_THINK_RE = re.compile(r"^\s*<think>(.*?)</think>\s*", re.S)


@dataclass(frozen=True)
class Reply:
    """One model answer: visible text, separate reasoning (thinking) if any, or an error."""

    text: str | None
    reasoning: str | None = None
    error: str | None = None


def prompt_hash(prompt: str) -> str:
    """sha256(prompt)[:16], the key of recorded replies."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def split_think(content: str) -> tuple[str | None, str]:
    """(reasoning, answer) from content that may open with a `<think>...</think>` block."""
    m = _THINK_RE.match(content or "")
    if m:
        return m.group(1).strip(), content[m.end():]
    if "</think>" in (content or ""):  # templates that open the block in the prompt (R1-distill)
        head, tail = content.split("</think>", 1)
        return head.replace("<think>", "").strip(), tail.lstrip()
    return None, content


class OpenAIChatClient:
    """Chat completions over HTTP with threads, retries and R1-style reasoning extraction."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 16,
                 max_retries: int = 5, timeout: float = 1800.0, backoff: float = 2.0, **extra: Any) -> None:
        self.url = endpoint_url(base_url, "/chat/completions")  # a full endpoint is kept, as the judge keeps it
        self.model, self.concurrency, self.max_retries = model, int(concurrency), int(max_retries)
        self.timeout, self.backoff, self.extra = float(timeout), float(backoff), extra
        self._key = os.environ.get(api_key_env, "")
        self.endpoint = Endpoint("s1data", self.url, model, self._key or None, logger=log,
                                 fix=f"Check that the server is up and serves model {model!r}, or raise the "
                                     "client's max_retries / timeout")
        self.policy = RetryPolicy(self.max_retries, self.backoff, self.timeout)

    def _once(self, prompt: str, sampling: dict[str, Any]) -> Reply:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], **self.extra, **sampling}
        data = post_json_sync(self.endpoint, json.dumps(body).encode(), self.timeout)
        try:
            msg = data["choices"][0]["message"]
            reasoning = msg.get("reasoning_content") or msg.get("reasoning")
            content = msg.get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise Retryable(f"malformed response body {snip(self.endpoint.redact(json.dumps(data)))!r}") from None
        if reasoning is None:
            reasoning, content = split_think(content)
        # vLLM's reasoning parsers leave the blank line after </think> in front of the answer
        return Reply(content.lstrip(), reasoning)

    def _with_retries(self, prompt: str, sampling: dict[str, Any]) -> Reply:
        """The reply, or an error reply (the last error: ``HTTP 503: <body>``) once the retries are spent or the
        server refused the request."""
        try:
            return retry_sync(self.endpoint, self.policy, lambda: self._once(prompt, sampling))
        except RequestFailed as exc:
            log.warning("%s", exc)
            return Reply(None, None, exc.last or str(exc))

    def chat(self, prompts: list[str], sampling: dict[str, Any] | None = None,
             on_result: Callable[[int, Reply], None] | None = None) -> list[Reply]:
        out: list[Reply | None] = [None] * len(prompts)
        lock = threading.Lock()

        def one(i: int) -> None:
            reply = self._with_retries(prompts[i], dict(sampling or {}))
            with lock:
                out[i] = reply
                if on_result:
                    on_result(i, reply)

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            list(pool.map(one, range(len(prompts))))
        return [r for r in out if r is not None]


class RecordedClient:
    """Replies from a recordings file; `model` names the recorded model (cache keys use it)."""

    def __init__(self, path: str, model: str = "recorded") -> None:
        self.model = model
        self.replies: dict[str, dict[str, Any]] = {}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    self.replies[row.get("prompt_hash") or prompt_hash(row["prompt"])] = row
        self.calls = 0

    def chat(self, prompts: list[str], sampling: dict[str, Any] | None = None,
             on_result: Callable[[int, Reply], None] | None = None) -> list[Reply]:
        out = []
        for i, p in enumerate(prompts):
            self.calls += 1
            row = self.replies.get(prompt_hash(p))
            reply = (Reply(None, None, f"no recorded reply for prompt {prompt_hash(p)}") if row is None
                     else Reply(row.get("text"), row.get("reasoning"), row.get("error")))
            out.append(reply)
            if on_result:
                on_result(i, reply)
        return out


class EngineClient:
    """A local model through an s1eval engine (transformers), chat-templated, greedy unless sampled."""

    def __init__(self, model_path: str, max_new_tokens: int = 64, model: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from s1eval.models.hf_engine import HFEngine

        self.model = model or model_path
        self.tok = AutoTokenizer.from_pretrained(model_path)
        lm = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
        self.engine = HFEngine(lm, self.tok, torch.device("cpu"))
        self.max_new = int(max_new_tokens)

    def chat(self, prompts: list[str], sampling: dict[str, Any] | None = None,
             on_result: Callable[[int, Reply], None] | None = None) -> list[Reply]:
        from s1eval.budget.engine import Continuation
        from s1eval.budget.sampling import from_mapping

        eos = frozenset(i for i in [self.tok.eos_token_id, self.tok.convert_tokens_to_ids("<|im_end|>")]
                        if i is not None)
        # the OpenAI request fields a config shares with the openai kind: max_tokens caps the reply, seed seeds it
        sampling = dict(sampling or {})
        max_new = int(sampling.pop("max_tokens", None) or self.max_new)
        seed = int(sampling.pop("seed", 0) or 0)
        parsed = from_mapping(sampling)  # the sampling fields, greedy resolved once; other request fields ignored
        out = []
        for i, p in enumerate(prompts):
            ids = self.tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                               tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            self.engine.submit(Continuation(i, tuple(ids), max_new, eos, sampling=parsed, seed=seed))
            (_, step), = self.engine.poll()
            self.engine.release(i)
            text = self.tok.decode([t for t in step.new_ids if t not in eos], skip_special_tokens=False)
            reasoning, content = split_think(text)
            reply = Reply(content, reasoning)
            out.append(reply)
            if on_result:
                on_result(i, reply)
        return out


def make_client(spec: dict[str, Any]) -> Any:
    """A client from `{kind: openai|engine|recorded, ...}`."""
    spec = dict(spec or {})
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"client kind {kind!r}; valid: {', '.join(KINDS)} (e.g. client: {{kind: openai, "
                         "base_url: http://127.0.0.1:8000/v1, model: deepseek-ai/DeepSeek-R1}})")
    cls = {"openai": OpenAIChatClient, "engine": EngineClient, "recorded": RecordedClient}[kind]
    try:
        return cls(**spec)
    except TypeError as exc:
        raise ValueError(f"client kind {kind!r}: {exc}") from exc


class JsonlCache:
    """An append-only JSONL cache {key: value}; each put is flushed, so a killed run keeps what it paid for."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a kill: that call is redone
                        continue
                    self.data[row["key"]] = row["value"]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the cache's life; close() closes it
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value
            self._fh.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()
