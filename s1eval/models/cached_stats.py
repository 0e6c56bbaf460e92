"""Budget statistics that survive lm-eval's request cache (`--use_cache`, and every `s1eval sweep`).

lm-eval's `CachingLM` stores each response *text* under `hash_args("generate_until", args)` and, on a
rerun, serves it without calling the model: the statistics of that request (thinking and answer tokens,
forced or not, rounds) would be lost, and a resumed run would report its budget figures over the requests
generated in the last process only. So each finished request's statistics are stored in the same cache
database, under a key of their own, together with the text they describe; when the cache serves a
response (`s1eval._autoload` tells the model which ones), the model looks its statistics up and records
them as if it had generated it, marked ``from_cache``. A stored entry counts only when its text is exactly
the text served (a cache written by another run or another version cannot attach foreign statistics); a
served response without one is counted as missing and left out of the sidecar, and the figures say over
how many rows they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The key namespace: lm-eval's own entries use the method name ("generate_until").
STATS_ATTR = "s1eval_stats:generate_until"
_IDS = ("task", "doc_id", "repeat")


def stats_key(args: Any) -> str:
    """The cache key of a request's statistics (the request's `Instance.args`)."""
    from lm_eval.api.model import hash_args

    return hash_args(STATS_ATTR, args)


def store(dbdict: Any, args: Any, text: str, row: Mapping[str, Any]) -> None:
    """Store a finished request's statistics row beside its cached response (no-op without a cache)."""
    if dbdict is None:
        return
    dbdict[stats_key(args)] = {"text": text, "stats": {k: v for k, v in row.items() if k not in _IDS}}


def lookup(dbdict: Any, args: Any, text: str) -> dict[str, Any] | None:
    """The statistics stored for the request `args` whose response was `text`, or None."""
    if dbdict is None:
        return None
    entry = dbdict.get(stats_key(args))
    if not isinstance(entry, dict) or entry.get("text") != text:
        return None
    return dict(entry["stats"])
