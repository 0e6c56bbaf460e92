"""Translate between the budget core's `Continuation`/`Step` and OpenAI `/v1/completions` JSON.

Translation (checked against vLLM 0.32's server, see tests/models/test_s1api.py):

* request: token-id prompt (`prompt: [ids]`, or its text when `tokenized_requests` is off),
  `max_tokens`, `min_tokens`, `stop_token_ids`, `stop`, sampling with neutral defaults sent
  explicitly (`s1eval.budget.sampling.to_openai`: a server applies the model's
  generation_config.json otherwise, e.g. Qwen2.5's repetition penalty 1.05, and greedy decoding
  would no longer match the other backends),
  `skip_special_tokens=false` and `spaces_between_special_tokens=false` (the defaults strip the
  thinking delimiters), `return_token_ids=true`, and, unless untexted ids are allowed, a
  `logit_bias` of -100 on the model's ids without text (Qwen2.5: 151665-152063), merged over a
  task's own `logit_bias` (see `APIConfig.untexted`).
* response: vLLM returns the generated ids in `choices[0].token_ids`, INCLUDING a stop token id
  or EOS that ended generation (its `text` leaves them out), and for a stop string the ids through
  the token that completed it. `stop_reason` is the stop id (int), the stop string, or None for
  EOS. A server that returns no ids (llama.cpp) gets its text re-tokenized, with the stop id
  appended, so the Step contract holds either way: `new_ids` ends with the stop id when a stop
  id or EOS ended it. Prefix-cache hits come from `usage.prompt_tokens_details.cached_tokens`
  (vLLM reports it with `--enable-prompt-tokens-details`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from s1eval.budget.engine import Continuation, Step, stop_string_cut
from s1eval.budget.sampling import to_openai
from s1eval.http_retry import RequestFailed, snip
from s1eval.http_retry import Retryable as _Retryable

log = logging.getLogger(__name__)

BAN_BIAS = -100.0  # the most negative logit_bias the OpenAI API accepts (vLLM clamps to it)
# vLLM's server refuses a request with more stop strings than VLLM_MAX_STOP_STRINGS (default 4) with
# HTTP 400 (vllm/entrypoints/generate/base/protocol.py, StopParam); the rest are matched here.
DEFAULT_MAX_STOP_STRINGS = 4


class APIRequestError(RequestFailed):
    """A completion request failed for good (after its retries, or with a non-retryable status); the retry
    policy is `s1eval.http_retry`'s."""


@dataclass(frozen=True)
class APIConfig:
    """Where and how to send requests. `api_key` never appears in repr, logs or errors."""

    url: str  # the full /v1/completions URL
    model: str
    api_key: str | None = field(default=None, repr=False)
    tokenized_requests: bool = True
    num_concurrent: int = 8
    max_retries: int = 5
    timeout: float = 3600.0  # per HTTP request: a 32K-token round on a busy server takes many minutes
    retry_backoff: float = 1.0  # first retry delay in seconds; doubles per retry
    # The ids without text (`base.untexted_ids`), sent as logit_bias -100: the OpenAI API's and
    # vLLM's floor, e^-100 ~ 4e-44 times their probability (a greedy pick would need a logit 100
    # above every texted id's). It is the portable field (SGLang and llama.cpp take it too) and
    # small (399 ids for Qwen2.5-7B), where `allowed_token_ids` with all 151,665 texted ids cost
    # ~75 ms of vLLM server time per request on CPU, the bias under 1 ms (benchmarks/untexted_mask.py),
    # and kills the engine of vLLM's V2 model runner (at most 1,024 ids). None: no mask.
    untexted: range | None = None
    # At most this many stop strings go to the server (vLLM's limit); the client cuts at the others.
    max_stop_strings: int = DEFAULT_MAX_STOP_STRINGS


def completions_url(base_url: str) -> str:
    """`http://host:8000/v1` -> `http://host:8000/v1/completions`; a full endpoint is kept."""
    url = base_url.rstrip("/")
    return url if url.endswith("/completions") else url + "/completions"


# ---------------------------------------------------------------------------- translation
def request_payload(cont: Continuation, cfg: APIConfig, decode: Callable[[Sequence[int]], str]) -> dict[str, Any]:
    """The JSON body for one continuation."""
    payload: dict[str, Any] = {
        "model": cfg.model,
        "prompt": list(cont.token_ids) if cfg.tokenized_requests else decode(cont.token_ids),
        "max_tokens": cont.max_new,
        "min_tokens": cont.min_new,
        "stop_token_ids": sorted(cont.stop_token_ids),
        "stop": list(sent_stop_strings(cont, cfg.max_stop_strings, decode)),
        **to_openai(cont.sampling),  # neutral values sent explicitly: s1eval.budget.sampling.NEUTRAL
        "n": 1,
        "stream": False,
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "include_stop_str_in_output": False,
        "add_special_tokens": False,  # a text prompt is already complete (BOS included if any)
        "return_token_ids": True,
    }
    if cont.seed is not None:
        payload["seed"] = cont.seed
    if cfg.untexted:
        bias = {str(k): v for k, v in (payload.get("logit_bias") or {}).items()}
        payload["logit_bias"] = {**bias, **dict.fromkeys(map(str, cfg.untexted), BAN_BIAS)}
    return payload


def sent_stop_strings(cont: Continuation, limit: int, decode: Callable[[Sequence[int]], str]) -> tuple[str, ...]:
    """The stop strings sent to the server: at most `limit`, the task's own first.

    Strings that are the text of one of the continuation's stop ids (lm-eval adds the EOS text to a
    task's `until`) go last: the id already stops the server. What is left out is cut on the
    client (`cut_unsent_stops`), so the result is the same either way.
    """
    id_texts = {decode([i]) for i in cont.stop_token_ids}
    unique = [s for s in dict.fromkeys(cont.stop_strings) if s]
    ordered = [s for s in unique if s not in id_texts] + [s for s in unique if s in id_texts]
    return tuple(ordered[:max(0, limit)])


def cut_unsent_stops(step: Step, cont: Continuation, sent: Sequence[str],
                     decode: Callable[[Sequence[int]], str]) -> Step:
    """`step` cut where a stop string the server was not given first appears (see `sent_stop_strings`),
    as a server that watched every stop string would have stopped."""
    if not set(cont.stop_strings) - set(sent):
        return step
    cut = stop_string_cut(step.new_ids, cont.stop_strings, decode, cont.min_new)
    if cut is None:
        return step
    by_id = step.finish == "stop" and isinstance(step.matched_stop, int)
    if by_id and cut[0] == len(step.new_ids):  # the stop id's own text: it stopped by the id
        return step
    return Step(step.new_ids[: cut[0]], "stop", cut[1], step.cached_tokens)


def step_from_response(data: Any, cont: Continuation, eos_id: int,
                       encode: Callable[[str], Sequence[int]], warned: set[str] | None = None) -> Step:
    """Map a /v1/completions response onto a `Step` (see the module docstring for the contract)."""
    warned = _WARNED if warned is None else warned
    try:
        choice = data["choices"][0]
        finish, reason, text = choice.get("finish_reason"), choice.get("stop_reason"), choice.get("text", "")
        ids = choice.get("token_ids")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise _Retryable(f"malformed response body (no choices[0]): {snip(json.dumps(data))}") from exc
    if finish not in ("stop", "length"):
        raise _Retryable(f"unexpected finish_reason {finish!r} in {snip(json.dumps(data))}")
    from_server = ids is not None
    if not from_server:
        _warn_once(warned, "no_ids", "the server returned no token ids (return_token_ids unsupported): "
                   "re-tokenizing its text, which may differ from the tokens it generated")
        ids = encode(text)
    try:
        new = [int(i) for i in ids]
    except (TypeError, ValueError) as exc:
        raise _Retryable(f"malformed token_ids in {snip(json.dumps(data))}") from exc
    cached = _cached_tokens(data)
    if finish == "length":
        return Step(tuple(new), "length", None, cached)
    if isinstance(reason, str):
        return Step(tuple(new), "stop", reason, cached)
    if isinstance(reason, int) and not isinstance(reason, bool):
        if not new or new[-1] != reason:
            new.append(reason)  # text-only servers leave the stop id out of the text
        return Step(tuple(new), "stop", reason, cached)
    return Step(*_eos_stop(new, cont, eos_id, from_server, warned), cached_tokens=cached)


def _eos_stop(new: list[int], cont: Continuation, eos_id: int, from_server: bool,
              warned: set[str]) -> tuple[tuple[int, ...], str, int | None]:
    """A stop without a named reason: EOS. Make `new` end with the EOS id."""
    if new and new[-1] in cont.stop_token_ids:
        return tuple(new), "stop", new[-1]
    if from_server and new:
        # vLLM includes the EOS it stopped at: one we do not know is kept, and named once.
        _warn_once(warned, f"eos:{new[-1]}", "the server stopped at id %d, which is not among the stop "
                   "ids %s: is the tokenizer the served model's?", new[-1], sorted(cont.stop_token_ids))
        return tuple(new), "stop", new[-1]
    if cont.stop_strings and not from_server:
        return tuple(new), "stop", None  # EOS or an unnamed stop string: either way its text is cut
    new.append(eos_id)
    return tuple(new), "stop", eos_id


def _cached_tokens(data: Mapping[str, Any]) -> int:
    usage = data.get("usage")
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    return int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0


_WARNED: set[str] = set()


def _warn_once(warned: set[str], key: str, msg: str, *args: Any) -> None:
    if key not in warned:
        warned.add(key)
        log.warning(msg, *args)

