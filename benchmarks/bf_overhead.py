"""Budget-forcing overhead: s1 budget forcing against plain generation of as many new tokens.

For each backend configuration and model, one process runs, side by side and interleaved:

- BF:    lm-eval `generate_until` through the backend with
         max_tokens_thinking=N,thinking_n_ignore=2,thinking_n_ignore_str=Wait (the budget is large
         enough that every thinking round ends naturally: 3 rounds, 2 ignores, then the answer);
- plain: the same prompts continued by the backend's plain generation (transformers `generate`
         for s1hf) with min_new_tokens = max_new_tokens = the number of tokens the BF run added to
         that request (final sequence, EOS included, minus the prompt);
- plain-gen: the same with the number of tokens the model SAMPLED in the BF run (dropped stop
         tokens included, appended delimiters and "Wait" excluded). BF feeds appended tokens as
         part of the next round's (short) prefill instead of one decode step each, so plain-gen
         runs the same number of forward passes as BF, and BF/plain-gen is the stricter measure of
         budget forcing's own overhead (extra `generate` calls, cache crop, state machine).

Each is repeated (`--reps`, three times as many for the cheap tiny model); repetitions are
interleaved with a rotating order and the tables show medians. The token counts come from an untimed warm-up BF run whose engine is wrapped to record
sequence lengths. Models: the tiny test model (one 128-wide layer, so per-call overhead dominates)
and a larger build with the same greedy behaviour (512 wide, 8 layers) where compute matters.

    python benchmarks/bf_overhead.py                # both models, s1hf reuse_cache=true/false
    python benchmarks/bf_overhead.py --models large --reps 7 --profile

Exits non-zero only on errors, never because of a ratio. The device is CUDA when available.
New backends (s1vllm, s1api) plug in as another `Backend` subclass plus entries in `CONFIGS`.
"""

from __future__ import annotations

import abc
import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET = 1.10  # BF / plain for the configurations in TARGET_CONFIGS
TARGET_CONFIGS = ("s1hf reuse_cache=true",)
EXPECTED_ROUNDS = 3  # thinking rounds per request with 2 ignores and natural ends

# Some end in "?": the tiny model then thinks 3 tokens longer per round, so rounds differ.
QUESTIONS = [
    "What is 2+2?",
    "Compute 2+2.",
    "Add 40 and 2?",
    "Sum of 20, 20 and 2.",
    "How many primes are below 10?",
    "Find the remainder of 2024 divided by 7.",
    "Is 91 a prime number?",
    "Let x + 3 = 45. Find x.",
]

MODELS = {  # name -> (build_tiny_model keyword arguments, repetitions per --reps: cheap models get more)
    "tiny": ({}, 3),
    "large": ({"hidden_size": 512, "num_layers": 8}, 1),
}


def bf_gen_kwargs(budget: int) -> dict[str, Any]:
    return {"max_gen_toks": budget + 200, "max_tokens_thinking": budget, "thinking_n_ignore": 2,
            "thinking_n_ignore_str": "Wait", "until": [], "do_sample": False}


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
        return done

    def pending(self) -> int:
        return self.inner.pending()

    def release(self, key: Hashable) -> None:
        self.inner.release(key)


@dataclass
class Counted:
    rows: list[dict[str, Any]]  # per-request statistics (s1eval.budget.COLLECTOR rows)
    new_tokens: list[int]  # final sequence (EOS included) minus prompt, per request
    generated: list[int]  # tokens the model sampled (dropped stops included), per request
    engine_calls: list[int]  # engine continuations per request (thinking rounds + answer)


class Backend(abc.ABC):
    """One backend configuration on one model. Subclasses: load in __init__, then

    - `count(contexts, gen_kwargs)`: an untimed BF run that also reports token counts;
    - `bf(contexts, gen_kwargs)`: the timed BF run, returning the statistics rows;
    - `plain(contexts, counts)`: the timed plain run, `counts[i]` new tokens for request i.
    Configurations with the same `plain_group` share one plain timing (same generation path).
    """

    name: str
    plain_group: str

    @abc.abstractmethod
    def count(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> Counted: ...

    @abc.abstractmethod
    def bf(self, contexts: Sequence[str], gen_kwargs: dict[str, Any]) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def plain(self, contexts: Sequence[str], counts: Sequence[int]) -> None: ...

    @abc.abstractmethod
    def chat(self, question: str) -> str: ...

    def sync(self) -> None:
        """Wait for queued device work (before a timer stops)."""


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
        from s1eval.budget import COLLECTOR

        COLLECTOR.clear()
        self.lm.generate_until(self._instances(contexts, gen_kwargs), disable_tqdm=True)
        self.sync()
        rows = COLLECTOR.pop_task("bf_overhead")
        COLLECTOR.clear()
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
                       generated=[counting.generated[k] for k in keys], engine_calls=[counting.rounds[k] for k in keys])


class S1HF(LMEvalBackend):
    """s1hf (S1HFLM) at batch size 1; plain = transformers `generate` on the same model."""

    def __init__(self, model_path: str, device: str, reuse_cache: bool) -> None:
        from s1eval.models.hf import S1HFLM

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


# (name, factory(model_path, device) -> Backend). s1vllm / s1api: add a Backend subclass and entries.
CONFIGS: list[tuple[str, Callable[[str, str], Backend]]] = [
    ("s1hf reuse_cache=true", partial(S1HF, reuse_cache=True)),
    ("s1hf reuse_cache=false", partial(S1HF, reuse_cache=False)),
]


# ---------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Series:
    backend: Backend
    counted: Counted
    # (wall seconds, process CPU seconds) per repetition, keyed "bf", "plain", "plain_gen"; the plain
    # lists are shared by the configurations of one plain group
    times: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    mismatches: int = 0  # timed runs whose statistics differed from the warm-up run's


def _timed(fn: Callable[[], Any]) -> tuple[tuple[float, float], Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - w0, time.process_time() - c0), out


def _stat_key(rows: list[dict[str, Any]]) -> list[tuple]:
    return [(r["rounds"], r["thinking_tokens"], r["answer_tokens"], r["ignores_used"], r["forced"]) for r in rows]


def measure(backends: list[Backend], contexts: list[str], gen_kwargs: dict[str, Any], reps: int,
            log: Callable[[str], None]) -> list[Series]:
    series = []
    leaders: dict[str, Series] = {}  # plain group -> the series whose backend times it
    for b in backends:
        counted = b.count(contexts, gen_kwargs)  # also the warm-up of the BF path
        s = Series(b, counted, {"bf": []})
        lead = leaders.setdefault(b.plain_group, s)
        if lead is s:
            s.times.update(plain=[], plain_gen=[])
            b.plain(contexts[:2], [4, 4])  # warm-up of the plain path
        elif (lead.counted.new_tokens, lead.counted.generated) != (counted.new_tokens, counted.generated):
            raise RuntimeError(f"{b.name}: BF token counts {counted.new_tokens} / {counted.generated} differ from "
                               f"{lead.backend.name}'s {lead.counted.new_tokens} / {lead.counted.generated}")
        s.times.update(plain=lead.times["plain"], plain_gen=lead.times["plain_gen"])
        series.append(s)
    # one job per BF configuration and two per plain group, in a rotating order per repetition
    jobs: list[tuple[str, Series]] = [("bf", s) for s in series]
    jobs += [(kind, s) for s in leaders.values() for kind in ("plain", "plain_gen")]
    for rep in range(reps):
        k = rep % len(jobs)
        for kind, s in jobs[k:] + jobs[:k]:
            if kind == "bf":
                dt, rows = _timed(lambda: s.backend.bf(contexts, gen_kwargs))
                s.mismatches += _stat_key(rows) != _stat_key(s.counted.rows)
            else:
                counts = s.counted.new_tokens if kind == "plain" else s.counted.generated
                dt, _ = _timed(lambda: s.backend.plain(contexts, counts))
            s.times[kind].append(dt)
        log(f"  rep {rep + 1}/{reps} done")
    return series


def profile(backend: Backend, contexts: list[str], gen_kwargs: dict[str, Any], counts: list[int],
            top: int) -> str:
    """cProfile one BF run and one plain-gen run (`counts`: tokens sampled by BF, so both run as
    many forward passes); the top functions by own time and by cumulative time."""
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


def tables(model_rows: list[tuple[str, list[Series]]], n_requests: int) -> tuple[str, list[str]]:
    """The token-count table, a timing table per clock (wall, process CPU), and warnings."""
    counts, warnings = [], []
    timing: dict[int, list[list[str]]] = {0: [], 1: []}
    for model, series in model_rows:
        for s in series:
            c = s.counted
            rounds = [r["rounds"] for r in c.rows]
            bad = [r for r in c.rows if r["rounds"] != EXPECTED_ROUNDS or r["ignores_used"] != 2 or r["forced"]]
            if bad:
                warnings.append(f"{model} / {s.backend.name}: {len(bad)} of {len(c.rows)} requests did NOT run "
                                f"{EXPECTED_ROUNDS} natural thinking rounds (rounds {rounds}); the comparison is invalid")
            if s.mismatches:
                warnings.append(f"{model} / {s.backend.name}: {s.mismatches} timed runs gave other statistics "
                                "than the warm-up run (non-deterministic greedy decoding?)")
            name = s.backend.name + (" !!" if bad else "")
            counts.append([model, name, _spread(rounds), f"{statistics.fmean(c.engine_calls):.1f}",
                           f"{statistics.fmean(c.new_tokens):.1f} ({min(c.new_tokens)}-{max(c.new_tokens)})",
                           f"{statistics.fmean(c.generated):.1f} ({min(c.generated)}-{max(c.generated)})"])
            extra_calls = sum(c.engine_calls) - n_requests
            for clock in (0, 1):
                t = {k: [x[clock] for x in v] for k, v in s.times.items()}
                bf, plain, gen = (statistics.median(t[k]) for k in ("bf", "plain", "plain_gen"))
                paired = [x / y for x, y in zip(t["bf"], t["plain"])]
                per_call = (bf - gen) / extra_calls * 1000 if extra_calls else float("nan")
                timing[clock].append([model, name, f"{bf:.3f}", f"{plain:.3f}", f"{gen:.3f}", f"{bf / plain:.3f}",
                                      f"{min(paired):.2f}-{max(paired):.2f}", f"{bf / gen:.3f}", f"{per_call:+.1f}"])
    out = [_format(["model", "config", "rounds/req", "calls/req", "new tok/req", "gen tok/req"], counts)]
    head = ["model", "config", "BF s", "plain s", "plain-gen s", "BF/plain", "paired min-max", "BF/plain-gen",
            "ms/extra call"]
    out.append("wall clock (medians):\n" + _format(head, timing[0]))
    out.append("process CPU time (medians; steadier than wall clock on a shared CPU machine, "
               "meaningless for GPU work):\n" + _format(head, timing[1]))
    return "\n\n".join(out), warnings


def _spread(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,large", help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--configs", default="all",
                        help="comma-separated substrings selecting configurations of: "
                             + "; ".join(n for n, _ in CONFIGS))
    parser.add_argument("--reps", type=int, default=5,
                        help="timed repetitions of each run, medians shown (x3 for the cheap tiny model)")
    parser.add_argument("--requests", type=int, default=8, help=f"requests per run (at most {len(QUESTIONS)})")
    parser.add_argument("--budget", type=int, default=200,
                        help="max_tokens_thinking; large enough that every round ends naturally")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: stable on a shared machine; 0 = torch's default)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--model-dir", default=None, help="where to build the models (default: a temporary folder)")
    parser.add_argument("--profile", action="store_true", help="cProfile one BF and one plain run per configuration")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args(argv)

    import torch
    import transformers

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("lm_eval", "s1eval", "transformers"):
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
    configs = [(n, f) for n, f in CONFIGS if args.configs == "all" or any(k in n for k in args.configs.split(","))]
    if not configs:
        parser.error(f"--configs {args.configs!r} selects none of {[n for n, _ in CONFIGS]}")
    if not 1 <= args.requests <= len(QUESTIONS):
        parser.error(f"--requests must be 1..{len(QUESTIONS)}")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    from s1eval.testing.tiny_model import build_tiny_model

    gen_kwargs = bf_gen_kwargs(args.budget)
    started = time.perf_counter()
    results, profiles, rep_counts = [], [], {}
    with tempfile.TemporaryDirectory(prefix="bf_overhead_") as tmp:
        root = Path(args.model_dir or tmp)
        for model in models:
            path = root / model
            if not (path / "model.safetensors").is_file():
                log(f"building {model} model in {path}")
                build_tiny_model(path, "ends", **MODELS[model][0])
            log(f"{model}: loading {', '.join(n for n, _ in configs)} on {device}")
            backends = [factory(str(path), device) for _, factory in configs]
            contexts = [backends[0].chat(q) for q in QUESTIONS[: args.requests]]
            reps = args.reps * MODELS[model][1]
            series = measure(backends, contexts, gen_kwargs, reps, log)
            results.append((model, series))
            rep_counts[model] = reps
            if args.profile:
                for s in series:
                    profiles.append(profile(s.backend, contexts, gen_kwargs, s.counted.generated, args.profile_top))
            del backends, series

    text, warnings = tables(results, args.requests)
    print(f"\nBudget forcing (max_tokens_thinking={args.budget}, thinking_n_ignore=2, thinking_n_ignore_str=Wait, "
          f"greedy) vs plain generation of the same number of new tokens per request")
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.requests} requests per run, "
          f"batch size 1, medians of interleaved repetitions ({', '.join(f'{m}: {n}' for m, n in rep_counts.items())}), "
          f"{time.perf_counter() - started:.0f} s in all")
    print("new tok = final sequence (EOS included) - prompt: what plain generates; gen tok = tokens the model "
          "sampled in BF (dropped stops included): what plain-gen generates (same number of forward passes as BF); "
          "calls = engine continuations per request (thinking rounds + answer)\n")
    print(text)
    print("\npaired min-max: BF/plain within each repetition. ms/extra call = (BF - plain-gen) / (calls - requests): "
          "what one more engine call costs.")
    print(f"target: BF/plain <= {TARGET:.2f} for {', '.join(TARGET_CONFIGS)} (reuse_cache=false re-encodes every "
          "round: the reference, not held to it). Informational only: the exit status never depends on a ratio.")
    for model, series in results:
        for s in series:
            if s.backend.name in TARGET_CONFIGS:
                r = {k: [statistics.median(x[clock] for x in v) for clock in (0, 1)] for k, v in s.times.items()}
                wall, cpu = (r["bf"][c] / r["plain"][c] for c in (0, 1))
                wall_gen, cpu_gen = (r["bf"][c] / r["plain_gen"][c] for c in (0, 1))
                verdict = "within" if max(wall, cpu) <= TARGET else "ABOVE"
                print(f"  {model} / {s.backend.name}: BF/plain {wall:.3f} wall, {cpu:.3f} CPU; BF/plain-gen "
                      f"{wall_gen:.3f} wall, {cpu_gen:.3f} CPU -> {verdict} the target (BF/plain)")
    for w in warnings:
        print(f"\n!!!!! WARNING: {w} !!!!!")
    for p in profiles:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
