"""Shared by the model-calling stages (traces, difficulty, domains): clients made once, calls cached per record.

`ModelStage` makes each named client from its spec on first use (so a stage built only to be fingerprinted
or skipped opens no connection) and `ask`s it through the per-record cache. The cache lives in the stage
folder (`cache_<purpose>.jsonl`), keyed by (purpose, model, question_hash, prompt hash), so a rerun or a
resumed chunk never pays twice for the same question, and a changed prompt or model is a new key rather
than a stale hit. Errors are cached too only when `cache_errors`; by default a failed call is retried on the
next run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from s1data.clients import JsonlCache, Reply, make_client, prompt_hash
from s1data.pipeline import Stage
from s1data.record import question_hash


def require_client(stage: str, spec: dict[str, Any], key: str = "client") -> None:
    """The options check every model stage makes: a missing client spec is named with an example."""
    if not spec:
        raise ValueError(f"{stage} needs {key}: {{kind: openai, base_url: ..., model: ...}} (or engine / recorded)")


def cached_calls(client: Any, folder: Path | None, purpose: str, rows: list[dict[str, Any]],
                 prompt_of: Callable[[dict[str, Any]], str], sampling: dict[str, Any],
                 cache_errors: bool = False) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Replies (as dicts: text, reasoning, error) for each row, and counts {cached, called}."""
    cache = JsonlCache((folder or Path(".")) / f"cache_{purpose}.jsonl")
    model = getattr(client, "model", type(client).__name__)
    prompts = [prompt_of(r) for r in rows]
    keys = [f"{purpose}|{model}|{r.get('question_hash') or question_hash(r['question'])}|{prompt_hash(p)}"
            for r, p in zip(rows, prompts)]
    out: list[dict[str, Any] | None] = [cache.get(k) for k in keys]
    todo = [i for i, v in enumerate(out) if v is None]

    def store(j: int, reply: Reply) -> None:
        i = todo[j]
        value = {"text": reply.text, "reasoning": reply.reasoning, "error": reply.error}
        out[i] = value
        if reply.error is None or cache_errors:
            cache.put(keys[i], value)

    try:
        if todo:
            client.chat([prompts[i] for i in todo], sampling, on_result=store)
    finally:
        cache.close()
    return [v or {"text": None, "reasoning": None, "error": "no reply"} for v in out], \
        {"cached": len(rows) - len(todo), "called": len(todo)}


class ModelStage(Stage):
    """A stage that asks models: named clients made lazily from their specs, calls through the cache."""

    def __init__(self, options: Any, workdir: Any = None) -> None:
        super().__init__(options, workdir)
        self._clients: dict[str, Any] = {}

    def client(self, name: str, spec: dict[str, Any]) -> Any:
        """The client called `name`, made from `spec` the first time it is needed."""
        if name not in self._clients:
            self._clients[name] = make_client(spec)
        return self._clients[name]

    def ask(self, name: str, spec: dict[str, Any], purpose: str, rows: list[dict[str, Any]],
            prompt_of: Callable[[dict[str, Any]], str],
            sampling: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """`cached_calls` with client `name`: one reply dict per row, and counts {cached, called}."""
        return cached_calls(self.client(name, spec), self.workdir, purpose, rows, prompt_of, sampling)
