"""Deterministic per-request seeds.

A sampled request's seed derives from (run seed, task, doc_id, repeat index, round, try), so 64
repeats are 64 different samples, rejection-sampling tries differ from each other, and a rerun
reproduces all of them. Python's `hash()` is salted per process, so we hash with blake2b.
"""

from __future__ import annotations

import hashlib
from typing import Any


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed from any printable parts (stable across processes and machines)."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    # 31 bits: every engine and server accepts it (llama.cpp takes uint32, torch any int).
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
