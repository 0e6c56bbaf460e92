"""Optional LLM equivalence judge for answers the symbolic grader calls wrong (off by default).

The s1 fork asked gpt-4o-mini (at temperature 0.5) whether a non-integer answer matched the gold one. Here any
OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``) can play that part, at temperature 0.

When it is consulted: only for a response whose final answer WAS extracted and that Math-Verify (in the worker
pool) called wrong, i.e. a ``symbolic`` verdict of False. Never for ``unextracted`` responses (no answer to
judge: the judge must not fish one out of unfinished reasoning), never for ``timeout`` (a pathological answer is
wrong by policy, and it would reach the judge only because sympy choked), never for ``exact`` verdicts (an AIME
integer that differs from the gold integer is wrong with certainty) and never for GPQA (letters compare exactly).
The judge sees the gold answer and the extracted answer only, not the problem or the reasoning.

Verdict: the prompt (`PROMPT`, version `PROMPT_VERSION`) ends by demanding one word, Yes or No; the reply must be
exactly that (case-insensitive, surrounding whitespace and one final period allowed). Yes makes the response
correct, No keeps it wrong; both are logged with ``method: "judge"``. Any other reply means the judge failed for
that item: the symbolic verdict (wrong) stands, ``method`` stays ``symbolic``, and the per-sample ``judge``
record and a warning say why. Requests follow the one retry policy of `s1eval.http_retry` (s1api and s1data's
client share it: connection errors, timeouts, malformed bodies and HTTP 408/409/429/5xx are retried with jittered
exponential backoff, honouring ``Retry-After``; other 4xx are not); a request that still fails raises
`JudgeError`, naming the endpoint and never the API key: a run whose verdicts are half judged and half not would
not be comparable with anything. (In lm-eval, grading runs after generation: for a long run against a remote judge,
keep lm-eval's request cache on, or generate without the judge and re-grade the samples with ``s1eval grade``.)

Cache: one JSON file per (judge model, prompt version, gold, extracted answer) under ``cache`` (default
``$XDG_CACHE_HOME/s1eval/judge``, else ``~/.cache/s1eval/judge``), written atomically (`s1eval.atomic`:
temporary file, then ``os.replace``), so concurrent runs share it and a rerun never pays for
the same question twice. Every reply the endpoint gave is cached, including unusable ones (at temperature 0
asking again would mostly repeat them; bump `PROMPT_VERSION` or point ``cache`` elsewhere to ask again).

Recorded in the run: each judged sample's grading dict carries ``judge: {model, prompt_version, verdict[, error]}``,
and `grader_id` gives every sample of a judged run the grader version ``"<GRADER_VERSION>+judge:<model>:p<N>"``,
so ``s1eval compare`` refuses to pair a judged run with an unjudged one. The task metadata (``judge``) is written
to lm-eval's results JSON; it names the environment variable that holds the key, never the key itself.

The other judge prompt: `DIFFICULTY_PROMPT` is s1data's (its difficulty stage asks a judge whether a solver's
attempt matches the reference solution, paper section 2.2); it asks for reasoning and then the verdict on a line of
its own, which `parse_verdict(reply, last_line=True)` reads. s1data sends it through its own model clients (any
kind: openai, engine, recorded) and caches the replies with the stage's other calls, in the stage folder.

Configuration (`JudgeConfig.from_mapping`), from a task's ``--metadata '{"judge": {...}}'`` or ``s1eval grade
--judge-base-url URL --judge-model NAME``: ``base_url`` and ``model`` (required), ``api_key_env`` (default
``OPENAI_API_KEY``; null for an endpoint without a key), ``cache``, ``timeout_s`` (per request, default 60),
``max_retries`` (default 4), ``retry_backoff_s`` (default 1), ``max_tokens`` (default 16; null to send none),
``concurrency`` (parallel requests per batch, default 4).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from s1eval.atomic import write_text_atomic
from s1eval.http_retry import (
    Endpoint,
    RequestFailed,
    Retryable,
    RetryPolicy,
    endpoint_url,
    post_json_sync,
    retry_sync,
    shown_url,
    snip,
)

log = logging.getLogger(__name__)

PROMPT_VERSION = 1
PROMPT = """You are checking the final answer to a math problem against the reference answer.

Reference answer: {gold}
Given answer: {answer}

Do the two answers state the same mathematical result? Count them as the same when they differ only in form: \
equivalent expressions or simplifications, fractions versus exact decimals, the order of an unordered list of \
solutions, LaTeX formatting, or units and a variable name written around the same value. Count them as different \
when the values differ, when one is only an approximation of the other, when a required part is missing or \
extra, or when the given answer is not a definite answer. Do not solve the problem; compare the answers only.

Reply with exactly one word, Yes or No."""

# s1data's difficulty stage (paper section 2.2): a judge reads question, attempt and reference solution, reasons,
# and ends with its verdict on a line of its own (the paper used Claude 3.5 Sonnet). Read with
# parse_verdict(reply, last_line=True).
DIFFICULTY_PROMPT = (
    "You are an AI assistant for grading a science problem. The user will provide you with the question itself, "
    "an attempt made by a student and the correct answer to the problem. Your job is to judge whether the attempt "
    "is correct by comparing it with the correct answer. If the expected solution concludes with a number or "
    "choice, there should be no ambiguity. If the expected solution involves going through the entire reasoning "
    "process, you should judge the attempt based on whether the reasoning process is correct with correct answer "
    "if helpful.\n\n# Problem\n{question}\n\n## Attempt\n{attempt}\n\n## Correct answer\n{solution}\n\n"
    "Explain your reasoning, and end your response on a new line with only \"Yes\" or \"No\" (without quotes)."
)

# A verdict as `PROMPT` demands it: the whole reply is the word, one final period allowed.
_WORD_RE = re.compile(r"(yes|no)\.?", re.I)
# A verdict line as `DIFFICULTY_PROMPT` demands it: the word, in the quotes, emphasis or punctuation models add.
_LINE_RE = re.compile(r"^[\s*_`\"'.]*(yes|no)[\s*_`\"'.!]*$", re.I)  # anchored: linear under search too


class JudgeError(RequestFailed):
    """The judge endpoint could not be used (after retries, or with a non-retryable error)."""


def default_cache_dir() -> Path:
    """The reply cache folder: $XDG_CACHE_HOME/s1eval/judge, else ~/.cache/s1eval/judge."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "s1eval" / "judge"


def chat_url(base_url: str) -> str:
    """``http://host:8000/v1`` -> ``http://host:8000/v1/chat/completions``; a full endpoint is kept."""
    return endpoint_url(base_url, "/chat/completions")


_shown_url = shown_url  # the URL as errors and logs show it (no credentials, no query)


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge lives and how to call it (see the module docstring for each key)."""

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    cache: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 4
    retry_backoff_s: float = 1.0
    max_tokens: int | None = 16
    concurrency: int = 4

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> JudgeConfig:
        """Build from a dict (task metadata or CLI); unknown keys and missing required ones are errors."""
        if not isinstance(spec, Mapping):
            raise ValueError(f"judge must be a mapping like {{\"base_url\": ..., \"model\": ...}}, got {spec!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown judge option(s) {unknown}; allowed: {sorted(known)}")
        missing = [k for k in ("base_url", "model") if not spec.get(k)]
        if missing:
            raise ValueError(f"judge needs {' and '.join(missing)} (an OpenAI-compatible endpoint and a model name)")
        cfg = cls(**dict(spec))
        if cfg.timeout_s <= 0 or cfg.max_retries < 0 or cfg.retry_backoff_s < 0 or cfg.concurrency < 1:
            raise ValueError(f"judge: timeout_s > 0, max_retries >= 0, retry_backoff_s >= 0 and concurrency >= 1 "
                             f"are required, got {cfg}")
        return cfg

    @property
    def url(self) -> str:
        return chat_url(self.base_url)

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache).expanduser() if self.cache else default_cache_dir()

    def api_key(self) -> str | None:
        """The key from `api_key_env` (None when no key is configured); a configured but unset variable is an error."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise JudgeError(f"judge at {_shown_url(self.url)}: environment variable {self.api_key_env} is not set "
                             "(set it, or configure api_key_env: null for an endpoint without a key)")
        return key

    def record(self) -> dict[str, Any]:
        """What a judged sample logs about its judge."""
        return {"model": self.model, "prompt_version": PROMPT_VERSION}


@dataclass(frozen=True)
class Verdict:
    """One judgement: equivalent is True/False, or None when the reply was not a plain Yes or No."""

    equivalent: bool | None
    reply: str
    cached: bool = False


def parse_verdict(reply: str | None, *, last_line: bool = False) -> bool | None:
    """True for Yes, False for No, None for anything else: the one verdict reader for both judge prompts.

    By default (`PROMPT`, which asks for one word) the whole reply must be the word (case-insensitive, one final
    period allowed): "Yes, they are equal." or "**Yes**" is no verdict. With `last_line` (`DIFFICULTY_PROMPT`,
    which asks for reasoning, then the word on a line of its own) the last non-empty line is read, and quotes,
    emphasis and punctuation around the word are allowed."""
    text = (reply or "").strip()
    if last_line:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        m = _LINE_RE.fullmatch(lines[-1]) if lines else None
    else:
        m = _WORD_RE.fullmatch(text)
    return None if m is None else m.group(1).lower() == "yes"


def cache_key(model: str, gold: str, answer: str, prompt_version: int = PROMPT_VERSION) -> str:
    """SHA-256 hex naming a reply in the cache: of the model, prompt version, gold and answer."""
    blob = json.dumps({"model": model, "prompt_version": prompt_version, "gold": gold, "answer": answer},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Judge:
    """A configured judge: `judge_many` asks about (gold, answer) pairs, through the disk cache.

    Counters (for summaries and tests): `requests` HTTP attempts made, `cache_hits` answers read from disk.
    """

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        self.requests = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ cache
    def _cache_path(self, gold: str, answer: str) -> Path:
        key = cache_key(self.config.model, gold, answer)
        return self.config.cache_dir / key[:2] / f"{key}.json"

    def _read_cache(self, gold: str, answer: str) -> str | None:
        try:
            data = json.loads(self._cache_path(gold, answer).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (data.get("model"), data.get("prompt_version"), data.get("gold"), data.get("answer")) != (
                self.config.model, PROMPT_VERSION, gold, answer) or not isinstance(data.get("reply"), str):
            return None  # a hash collision or a foreign file: ask again
        return data["reply"]

    def _write_cache(self, gold: str, answer: str, reply: str) -> None:
        path = self._cache_path(gold, answer)
        record = {"model": self.config.model, "prompt_version": PROMPT_VERSION, "gold": gold, "answer": answer,
                  "reply": reply}
        try:
            write_text_atomic(path, json.dumps(record, ensure_ascii=False))
        except OSError as err:  # an unwritable cache costs money on the next run, not this verdict
            log.warning("judge cache %s is not writable (%s); the reply is not cached", self.config.cache_dir, err)

    # ------------------------------------------------------------------ HTTP
    def _ask(self, gold: str, answer: str) -> str:
        """The endpoint's reply, under `s1eval.http_retry`'s policy (JudgeError once the retries are spent)."""
        cfg = self.config
        endpoint = Endpoint("judge", cfg.url, cfg.model, cfg.api_key(), JudgeError, logger=log,
                            fix="Check that the endpoint is up and serves that model, or raise the judge's "
                                "max_retries / timeout_s")
        payload: dict[str, Any] = {
            "model": cfg.model,
            "messages": [{"role": "user", "content": PROMPT.format(gold=gold, answer=answer)}],
            "temperature": 0.0,
            "n": 1,
        }
        if cfg.max_tokens is not None:
            payload["max_tokens"] = cfg.max_tokens
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")

        def attempt() -> str:
            with self._lock:
                self.requests += 1
            return _reply_content(post_json_sync(endpoint, body, cfg.timeout_s), endpoint)

        return retry_sync(endpoint, RetryPolicy(cfg.max_retries, cfg.retry_backoff_s, cfg.timeout_s), attempt)

    # ------------------------------------------------------------------ API
    def judge(self, gold: str, answer: str) -> Verdict:
        """Whether `answer` states the same result as `gold`, from the cache or the endpoint."""
        cached = self._read_cache(gold, answer)
        if cached is not None:
            with self._lock:
                self.cache_hits += 1
            return Verdict(parse_verdict(cached), cached, cached=True)
        reply = self._ask(gold, answer)
        self._write_cache(gold, answer, reply)
        return Verdict(parse_verdict(reply), reply)

    def judge_many(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        """Judge (gold, answer) pairs, each distinct pair once, up to `concurrency` requests at a time."""
        unique = list(dict.fromkeys(pairs))
        if len(unique) <= 1 or self.config.concurrency == 1:
            verdicts = [self.judge(g, a) for g, a in unique]
        else:
            with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(unique))) as ex:
                verdicts = list(ex.map(lambda p: self.judge(*p), unique))
        by_pair = dict(zip(unique, verdicts))
        return [by_pair[p] for p in pairs]


def _reply_content(data: Any, endpoint: Endpoint) -> str:
    """The message text of a chat completion (a non-text content is ""); `Retryable` for a body of another shape."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise Retryable(f"malformed response body {snip(endpoint.redact(json.dumps(data)))!r}") from None
    return content if isinstance(content, str) else ""


_JUDGES: dict[JudgeConfig, Judge] = {}
_JUDGES_LOCK = threading.Lock()


def judge_for(config: JudgeConfig) -> Judge:
    """One `Judge` per configuration in this process (the lm-eval hooks call it once per document)."""
    with _JUDGES_LOCK:
        if config not in _JUDGES:
            _JUDGES[config] = Judge(config)
        return _JUDGES[config]


def grader_id(grader_version: int, judge: Judge | JudgeConfig | None) -> int | str:
    """The grader version a sample logs: the plain version, or ``"<version>+judge:<model>:p<prompt>"``."""
    if judge is None:
        return grader_version
    cfg = judge.config if isinstance(judge, Judge) else judge
    return f"{grader_version}+judge:{cfg.model}:p{PROMPT_VERSION}"
