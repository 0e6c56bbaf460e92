"""Keep a benchmark's text out of lm-eval's samples files: questions, choices and prompts become hashes.

GPQA's authors ask that its questions never appear in plain text online, and lm-eval's ``--log_samples`` writes
every doc and every prompt to ``samples_<task>_<date>.jsonl`` (which ``--hf_hub_log_args push_samples_to_hub=True``
then uploads). A task's loader marks its docs: each doc carries `REDACT_FIELD`, the names of the doc fields to hide
(`s1eval.data.gpqa` lists question, choices and prompt unless the task metadata says ``log_plaintext: true``).
Right before lm-eval writes a task's samples, the `EvaluationTracker.save_results_samples` wrapper in
`s1eval._autoload` passes them through `redact_samples`, so the plain text never reaches the disk. In each sample
whose doc names fields:

- those doc fields become ``sha256:<16 hex digits>`` of their text (a list item by item: four choices stay four);
- every string argument of the requests (the prompt as sent, chat template included) is hashed the same way.

What graders need stays: ``doc_id``, the gold (``target``, ``doc["answer"]``), the responses, the metrics and
``grading``, and lm-eval's own doc/prompt/target hashes. A hash is not a secret (a choice such as "4" is easily
guessed); it keeps the text out of the file while runs stay comparable. Responses are kept verbatim, so a model
that quotes the question puts that quote in the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

REDACT_FIELD = "log_redact"
HASH_PREFIX = "sha256:"


def text_hash(text: str) -> str:
    """``sha256:`` and the first 16 hex digits of the SHA-256 of `text` (UTF-8)."""
    return HASH_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _hashed(value: Any) -> Any:
    if isinstance(value, str):
        return text_hash(value)
    if isinstance(value, (list, tuple)):
        return [_hashed(v) for v in value]
    return text_hash(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


def _hash_strings(args: Any) -> Any:
    """A request's arguments with each string replaced by its hash (a generation's settings dict is kept)."""
    if isinstance(args, str):
        return text_hash(args)
    if isinstance(args, (list, tuple)):
        return type(args)(text_hash(a) if isinstance(a, str) else a for a in args)
    return args


def fields_to_hide(doc: Any) -> list[str]:
    """The doc fields a sample must not show in plain text ([] when the doc asks for none)."""
    fields = doc.get(REDACT_FIELD) if isinstance(doc, dict) else None
    if not fields:
        return []
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, Sequence) or not all(isinstance(f, str) for f in fields):
        raise TypeError(f"doc field {REDACT_FIELD!r} must list doc field names, got {fields!r}")
    return list(fields)


def redact_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """A copy of one lm-eval sample with its doc's listed fields and its prompts hashed (the same sample if none)."""
    hide = fields_to_hide(sample.get("doc"))
    if not hide:
        return sample
    out = dict(sample)
    out["doc"] = {k: (_hashed(v) if k in hide and v is not None else v) for k, v in sample["doc"].items()}
    out["arguments"] = [_hash_strings(args) for args in sample.get("arguments") or []]
    return out


def redact_samples(samples: Sequence[dict[str, Any]], task_name: str = "") -> list[dict[str, Any]]:
    """`redact_sample` on each sample; logs how many were hashed."""
    out = [redact_sample(s) for s in samples]
    hashed = sum(a is not b for a, b in zip(out, samples))
    if hashed:
        log.info("%s: %d of %d logged samples hold hashes instead of the question, choices and prompt "
                 "(the task's log_plaintext metadata is false)", task_name, hashed, len(out))
    return out


def ensure_samples_redacted() -> bool:
    """Make lm-eval's tracker redact samples even when the autoload hook is off (S1EVAL_NO_AUTOLOAD=1).

    Called by loaders whose docs ask for redaction; True if this call installed the wrapper. Without lm-eval
    nothing writes samples, so there is nothing to do.
    """
    try:
        from lm_eval.loggers.evaluation_tracker import EvaluationTracker
    except ImportError:
        return False
    from s1eval._autoload import patch_tracker

    installed = patch_tracker(EvaluationTracker)
    if installed:
        log.info("s1eval: lm-eval's samples writer now hashes the docs that ask for it (autoload hook was off)")
    return installed
