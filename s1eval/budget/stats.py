"""Per-request budget-forcing statistics, their collection, and their recomputation from text.

lm-eval's `generate_until` returns only strings, so each s1 model instance keeps its requests'
statistics in its own `StatsCollector` (`model.s1_stats`), and hands them over through lm-eval's
results: `get_model_info()` puts the totals into the results JSON and the collector's `key`
beside them; when the tracker saves those results, s1eval notes the key, and when it saves a task's
samples, the sidecar writer (s1eval.sidecar) takes that task's rows from the collector of that key
(`collector_for`). Another model in the same process never mixes in: it has another key.

`stats_from_text` recomputes thinking/answer tokens and "forced" from any response text (ours or
the original fork's); `s1eval stats` runs it over a samples file. The engine's record (the sidecar)
is the ground truth, and the text is read by the state machine's rules (s1eval.budget.machine):

* A forced end (reasons `budget`: the thinking used the whole budget; `no_room_for_ignore`: an end
  that would have been dropped, with fewer budget tokens left than the ignore string has;
  `rejection_exhausted`: rejection sampling out of tries, cut to the budget) writes `\n` (unless
  the thinking already ends in a newline) + thinking_end + `\n` + forced_answer_prefix. A natural
  end writes thinking_end alone, and the model may write `\nFinal Answer:` itself (the embedded
  mini-s1 model does): the text after the delimiter does not tell the two apart.
* So an answer that does not start with `\n` + prefix, or thinking that does not end in a newline,
  is not forced. Otherwise both readings are tested against what the engine allows: a natural end
  leaves at most budget - 1 thinking tokens (budget with rejection sampling), at least
  min_tokens_thinking (method append), and only after every ignore is used (the ignore string
  appears thinking_n_ignore times; the minimum is not applied with rejection sampling, as in the
  machine); a forced end leaves exactly the budget, or (no_room_for_ignore) fewer tokens than the
  ignore string short of it while an end could still be dropped. Thinking counts the newline
  before the delimiter, unless the forced end inserted it. Counts are of the re-encoded text: where
  that gives fewer tokens than were generated (a sampled non-canonical tokenisation, untexted ids),
  a forced end can read as natural. Allowing for such drift would make every natural end just
  below the budget unknown (a greedy run ends at budget - 1 often), so it is not guessed at; the
  run's own sidecar is the record.
* Thinking and answer split where the machine wrote the delimiter (`_splits`): thinking holds no
  thinking stop, and an answer decoded without special tokens cannot hold a delimiter made of one.
  Where several splits fit, a value the splits disagree on is None.
* Exactly one reading possible: that one. Both (the budget unknown, as `auto` or no budget is
  without the context length; a natural end near the budget with ignores left; rejection sampling
  at exactly the budget): forced is None, and thinking/answer tokens are None where the readings
  differ. Neither (the original fork let thinking run past the budget): forced, as the text looks.
  The budget must be the one the engine applied: a budget it lowered to fit the context, given
  unlowered, reads a forced end as a natural one.

Counts agree with the engine's when re-tokenizing the decoded text gives back the generated ids.
The answer is the text lm-eval got, cut at the task's `until` strings; the engine also counts the
tokens of an `until` string that ended the answer.
"""

from __future__ import annotations

import statistics
import threading
import uuid
import weakref
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from s1eval.budget.config import PRESETS, BudgetConfig
from s1eval.s1format import FORCED_ANSWER_PREFIX


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
    """One model instance's store of finished requests' statistics, grouped by task; thread-safe.

    `key` names it in lm-eval's results (see the module docstring); `collector_for` finds it while its model
    is alive, or among the `RECENT` last made: lm-eval drops a model it built before the tracker saves the
    model's results and samples.
    """

    def __init__(self) -> None:
        self.key = uuid.uuid4().hex
        _LIVE[self.key] = self
        _RECENT[self.key] = self
        while len(_RECENT) > RECENT:
            _RECENT.popitem(last=False)
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


RECENT = 16
_LIVE: weakref.WeakValueDictionary[str, StatsCollector] = weakref.WeakValueDictionary()
_RECENT: OrderedDict[str, StatsCollector] = OrderedDict()


def collector_for(key: str | None) -> StatsCollector | None:
    """The collector named `key` in a model's results (`StatsCollector.key`), or None."""
    if not key:
        return None
    return _LIVE.get(key) or _RECENT.get(key)


def stats_from_text(
    response: str,
    tokenizer: Any,
    preset: str = "s1",
    forced_answer_prefix: str = FORCED_ANSWER_PREFIX,
    *,
    budget: int | None = None,
    config: BudgetConfig | None = None,
) -> dict[str, Any]:
    """Recompute thinking/answer token counts and whether the answer was forced from a response.

    `response` is a full response as returned by s1eval or the original fork (start delimiter,
    thinking, answer delimiter, answer). Without an answer delimiter the whole text is thinking
    (a run cut off mid-thought, or no budget forcing at all) and the answer is not forced.

    `config` is the request's budget-forcing configuration (`parse_gen_kwargs` of its gen_kwargs:
    delimiters, forced_answer_prefix, ignores, min_tokens_thinking, rejection_sample); without it
    `preset` and `forced_answer_prefix` give the delimiters and the prefix and nothing else is known.
    `budget` is the thinking budget the engine applied (the sidecar's ``budget``: an integer
    max_tokens_thinking, lowered by s1eval.budget.planning when it did not fit the allowance, or
    the resolved ``auto`` budget); None when unknown. The rule is in the module docstring.

    Returns ``thinking_tokens``, ``answer_tokens`` (None where the text alone cannot tell),
    ``forced`` (True, False or None: unknown) and ``has_answer_delimiter``.
    """
    cfg = config if config is not None else _text_config(preset, forced_answer_prefix)
    start, end = cfg.thinking_start, cfg.thinking_end
    body = response[len(start):] if response.startswith(start) else response
    splits = _splits(body, end, cfg, tokenizer)
    if not splits:
        return {"thinking_tokens": _count(tokenizer, body), "answer_tokens": 0,
                "forced": False, "has_answer_delimiter": False}
    readings = [_read(body[:pos], body[pos + len(end):], cfg, budget, tokenizer) for pos in splits]
    # More than one split fits: each key agrees across them, or it is unknown.
    return {key: (readings[0][key] if all(r[key] == readings[0][key] for r in readings) else None)
            for key in readings[0]}


def _splits(body: str, end: str, cfg: BudgetConfig, tokenizer: Any) -> list[int]:
    """Where the machine may have written the answer delimiter in `body` (thinking + delimiter + answer).

    Thinking never holds a thinking stop (it would have ended the round); the answer may hold the
    delimiter unless decoding without special tokens (as the machine decodes the answer) drops part
    of it. With `until_thinking` inside the delimiter only its first occurrence fits (the s1 and
    think_tags presets); otherwise (control=step:N stops at `<|im_start|>0`) the model may write the
    delimiter inside its thinking, and the machine's is the last when the answer cannot hold it.
    """
    found, pos = [], body.find(end) if end else -1
    while pos >= 0:
        found.append(pos)
        pos = body.find(end, pos + 1)
    if not found:
        return []
    stops = [s for s in cfg.until_thinking if s]
    in_thinking = [p for p in found if not any(s in body[:p] for s in stops)]
    answer_holds_end = _decodes_to_itself(tokenizer, end)
    fits = [p for p in in_thinking if answer_holds_end or end not in body[p + len(end):]]
    return fits or in_thinking[:1] or found[:1]  # no split fits (another engine's text): the first


def _decodes_to_itself(tokenizer: Any, text: str) -> bool:
    """Could `text` appear in a text decoded without special tokens?"""
    try:
        ids = tokenizer.encode(text, add_special_tokens=False)
        return tokenizer.decode(ids, skip_special_tokens=True) == text
    except Exception:  # a tokenizer without these arguments: assume it can
        return True


def _read(thinking: str, answer: str, cfg: BudgetConfig, budget: int | None, tokenizer: Any) -> dict[str, Any]:
    """The reading of one split into thinking and answer (the rule in the module docstring)."""
    marker = "\n" + cfg.forced_answer_prefix if cfg.forced_answer_prefix else ""
    natural = {"thinking_tokens": _count(tokenizer, thinking), "answer_tokens": _count(tokenizer, answer),
               "forced": False, "has_answer_delimiter": True}
    # A forced end writes `\n` unless the thinking already ends in one, then the end and `\n` + prefix.
    if not answer.startswith(marker) or not (thinking == "" or thinking.endswith("\n")):
        return natural
    kept = natural["thinking_tokens"]  # the newline is the model's (or there is no thinking)
    candidates = {kept}
    if thinking.endswith("\n") and not thinking[:-1].endswith("\n"):
        candidates.add(_count(tokenizer, thinking[:-1]))  # the newline was inserted by the forced end
    forced_counts = {t for t in candidates if _forced_possible(t, cfg, budget, tokenizer)}
    natural_possible = _natural_possible(kept, thinking, cfg, budget)
    forced_answer = _count(tokenizer, answer[len(marker):])
    if natural_possible and not forced_counts:
        return natural
    if not natural_possible and not forced_counts:
        # No end the state machine writes explains the text (the original fork let thinking run past
        # the budget; another engine): read it as it looks, a forced end after an inserted newline.
        forced_counts = {min(candidates)}
    thinking_tokens = next(iter(forced_counts)) if len(forced_counts) == 1 else None
    if not natural_possible:
        return {"thinking_tokens": thinking_tokens, "answer_tokens": forced_answer,
                "forced": True, "has_answer_delimiter": True}
    return {"thinking_tokens": thinking_tokens if thinking_tokens == kept else None,
            "answer_tokens": forced_answer if forced_answer == natural["answer_tokens"] else None,
            "forced": None, "has_answer_delimiter": True}


def _text_config(preset: str, forced_answer_prefix: str) -> BudgetConfig:
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is unknown; use one of {', '.join(PRESETS)}")
    delims = PRESETS[preset]
    return BudgetConfig(thinking_start=delims["thinking_start"], thinking_end=delims["thinking_end"],
                        until_thinking=(delims["until_thinking"],), forced_answer_prefix=forced_answer_prefix,
                        delimiters=preset)


def _natural_possible(tokens: int, thinking: str, cfg: BudgetConfig, budget: int | None) -> bool:
    """Could an accepted natural end leave `tokens` thinking tokens (text `thinking`)?"""
    # A round may generate `left` tokens; a stop among them leaves at most budget - 1 of thinking.
    # Rejection sampling asks for left + 1 and accepts an end that fits: up to the whole budget.
    if budget is not None and tokens > (budget if cfg.rejection_sample else budget - 1):
        return False
    # that end would have been dropped and the ignore string appended; rejection sampling accepts
    # any try that ends within the budget and never applies the minimum (machine._rejection_step)
    if not cfg.rejection_sample and cfg.min_tokens_method == "append" and tokens < cfg.min_tokens_thinking:
        return False
    if cfg.thinking_n_ignore and cfg.thinking_n_ignore_str:
        # an end is accepted only once every ignore is used; each used one is in the text
        mark = cfg.thinking_n_ignore_str.strip() or cfg.thinking_n_ignore_str
        return thinking.count(mark) >= cfg.thinking_n_ignore
    return True


def _forced_possible(tokens: int, cfg: BudgetConfig, budget: int | None, tokenizer: Any) -> bool:
    """Could a forced end (budget, no_room_for_ignore, rejection_exhausted) leave `tokens` thinking tokens?"""
    if budget is None:
        return True  # the budget is unknown: any length may be the budget
    if tokens == budget:
        return True  # budget used up (or rejection sampling out of tries, cut to the budget)
    if tokens > budget or cfg.rejection_sample or not cfg.thinking_n_ignore_str:
        return False
    # no_room_for_ignore: an end that would be dropped (ignores left, or below min_tokens_thinking with
    # method append) when fewer budget tokens remain than the ignore string has.
    suppressible = cfg.thinking_n_ignore > 0 or (
        cfg.min_tokens_method == "append" and tokens < cfg.min_tokens_thinking)
    ignore_tokens = _count(tokenizer, cfg.thinking_n_ignore_str)
    return suppressible and budget - tokens < ignore_tokens


def _count(tokenizer: Any, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False)) if text else 0
