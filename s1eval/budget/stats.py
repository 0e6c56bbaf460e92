"""Per-request budget-forcing statistics, their collection, and their recomputation from text.

lm-eval's `generate_until` returns only strings, so the statistics travel two other ways: a
process-wide `COLLECTOR` that the sidecar writer (s1eval.sidecar) drains when lm-eval saves a
task's samples, and totals returned through the model's `get_model_info()` into the results JSON.

`stats_from_text` recomputes thinking/answer tokens from any response text (ours or the original
fork's). It agrees with the engine's counts when re-tokenizing the decoded text gives back the
generated ids; it can differ by a token when the forced newline is ambiguous (a forced end after
thinking that already ended in a newline looks the same as one where we inserted it).
"""

from __future__ import annotations

import statistics
import threading
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from s1eval.budget.config import PRESETS


@dataclass
class RequestStats:
    task: str | None = None
    doc_id: int | None = None
    repeat: int = 0
    prompt_tokens: int = 0
    budget: int | None = None
    thinking_tokens: int = 0  # all rounds, appended ignore strings included
    ignore_tokens: int = 0  # of which appended ignore strings
    answer_tokens: int = 0
    rounds: int = 0  # engine calls in the thinking phase
    ignores_used: int = 0
    min_suppressed: int = 0  # ends dropped because of min_tokens_thinking
    forced: bool = False
    forced_reason: str | None = None  # budget | no_room_for_ignore | rejection_exhausted
    rejection_tries: int = 0
    cached_tokens: int = 0
    untexted_tokens: int = 0  # generated ids beyond the tokenizer (no text; Qwen2.5 has 399)
    finish_reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and means over request statistics (what lands in the results JSON)."""
    if not rows:
        return {"requests": 0}
    thinking = [r["thinking_tokens"] for r in rows]
    within = [r for r in rows if r.get("budget") is None or r["thinking_tokens"] <= r["budget"]]
    return {
        "requests": len(rows),
        # of which served from lm-eval's request cache with their stored statistics (s1eval.models.cached_stats)
        "from_cache": sum(bool(r.get("from_cache")) for r in rows),
        "thinking_tokens_mean": statistics.fmean(thinking),
        "thinking_tokens_max": max(thinking),
        "answer_tokens_mean": statistics.fmean(r["answer_tokens"] for r in rows),
        "rounds_mean": statistics.fmean(r["rounds"] for r in rows),
        "ignores_used": sum(r["ignores_used"] for r in rows),
        "forced": sum(bool(r["forced"]) for r in rows),
        "within_budget": len(within),
        "cached_tokens": sum(r["cached_tokens"] for r in rows),
        "untexted_tokens": sum(r.get("untexted_tokens", 0) for r in rows),
        "rejection_tries": sum(r["rejection_tries"] for r in rows),
        # rejection sampling that never fit the budget within its try cap (then forced)
        "rejection_never_fit": sum(r["forced_reason"] == "rejection_exhausted" for r in rows),
    }


class StatsCollector:
    """Thread-safe store of finished requests' statistics, grouped by task."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        self._all: dict[str | None, list[dict[str, Any]]] = defaultdict(list)

    def add(self, stats: RequestStats) -> None:
        self.add_row(stats.to_dict())

    def add_row(self, row: dict[str, Any]) -> None:
        """Add a request's statistics as a row (one served from lm-eval's request cache, say)."""
        with self._lock:
            self._pending[row.get("task")].append(row)
            self._all[row.get("task")].append(row)

    def pop_task(self, task: str | None) -> list[dict[str, Any]]:
        """Rows of `task` not yet written to a sidecar, sorted by (doc_id, repeat)."""
        with self._lock:
            rows = self._pending.pop(task, [])
        return sorted(rows, key=lambda r: (r["doc_id"] is None, r["doc_id"] or 0, r["repeat"]))

    def totals(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {str(task): summarize(rows) for task, rows in self._all.items()}

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._all.clear()


COLLECTOR = StatsCollector()


def stats_from_text(
    response: str, tokenizer: Any, preset: str = "s1", forced_answer_prefix: str = "Final Answer:"
) -> dict[str, Any]:
    """Recompute thinking/answer token counts and whether the answer was forced from a response.

    `response` is a full response as returned by s1eval or the original fork (start delimiter,
    thinking, answer delimiter, answer). Without an answer delimiter the whole text is thinking
    (a run cut off mid-thought).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is unknown; use one of {', '.join(PRESETS)}")
    start, end = PRESETS[preset]["thinking_start"], PRESETS[preset]["thinking_end"]
    body = response[len(start):] if response.startswith(start) else response
    pos = body.rfind(end)
    if pos < 0:
        return {"thinking_tokens": _count(tokenizer, body), "answer_tokens": 0,
                "forced": False, "has_answer_delimiter": False}
    thinking, answer = body[:pos], body[pos + len(end):]
    prefix = "\n" + forced_answer_prefix
    forced = bool(forced_answer_prefix) and answer.startswith(prefix)
    if forced:
        answer = answer[len(prefix):]
    if forced and thinking.endswith("\n"):
        thinking = thinking[:-1]  # the newline inserted before a forced end is not thinking
    return {"thinking_tokens": _count(tokenizer, thinking), "answer_tokens": _count(tokenizer, answer),
            "forced": forced, "has_answer_delimiter": True}


def _count(tokenizer: Any, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False)) if text else 0
