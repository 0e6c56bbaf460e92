"""What keeping the model off ids without text costs per request, at Qwen2.5's sizes.

Qwen2.5's model has 152,064 rows and its tokenizer 151,665 entries: ids 151665-152063 decode to
nothing. s1vllm and s1api mask them by default. Two ways to say so in a vLLM request:

- `allowed_token_ids`: every texted id, a 151,665-id list per request (~1 MB of JSON over HTTP);
- `logit_bias`: the 399 untexted ids, at -inf in-process (an exact mask) or -100 over HTTP (the
  OpenAI API's floor, which vLLM's server clamps to).

This script times the same greedy requests with no mask and with each of the two, side by side in
one process (rotating order, medians), through vLLM's `LLM.generate` in-process (the requests
s1vllm builds: `s1eval.models.vllm_engine.sampling_params`) and through a vLLM OpenAI server on
127.0.0.1 (the bodies s1api sends: `s1eval.models.api_protocol`), and prints the extra time per
request and the ratio to no mask. It also checks that every variant generated the same tokens.

The model is the tiny test model padded to 152,064 rows (the new rows copy an untexted row, whose
logit is far below every texted id's), so the masks have Qwen2.5's sizes; which ids they name is
simulated (the tiny tokenizer has 400 entries), their cost is not. A variant the engine refuses
(vLLM's V2 model runner takes at most 1,024 allowed or biased ids per request) is reported as such
and the engine or server is restarted for the others.

    python benchmarks/untexted_mask.py                  # ~2.5 min on 2 CPU cores
    python benchmarks/untexted_mask.py --backends server --reps 5 --requests 128
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bf_overhead as bo  # noqa: E402  (also sets the offline / quiet-vLLM environment)

ROWS, TEXTED = 152_064, 151_665  # Qwen2.5: the model's rows, the tokenizer's entries
VARIANTS = ("none", "allowed_token_ids", "logit_bias")
NEW_TOKENS = 8


def build_wide_model(out: Path) -> Path:
    """The tiny "ends" model with ROWS embedding / lm_head rows (copies of its last, untexted row)."""
    import torch
    from safetensors.torch import load_file, save_file

    from s1eval.testing.tiny_model import build_tiny_model

    build_tiny_model(out, "ends")
    weights = load_file(str(out / "model.safetensors"))
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        rows = weights[name]
        weights[name] = torch.cat([rows, rows[-1:].expand(ROWS - rows.shape[0], -1)]).contiguous()
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "vocab_size": ROWS}, indent=2))
    return out


def continuations(n: int) -> list[Any]:
    from s1eval.budget import Continuation

    # Distinct short prompts (no prefix-cache sharing to speak of); min = max new tokens.
    return [Continuation(key=i, token_ids=(5, 6, 7, 8 + i % 300), max_new=NEW_TOKENS, min_new=NEW_TOKENS,
                         stop_token_ids=frozenset({399})) for i in range(n)]


# ---------------------------------------------------------------------------- in-process vLLM
class InProcess:
    """`LLM.generate` over the requests s1vllm builds, with each mask."""

    name = "s1vllm (LLM.generate)"

    def __init__(self, model: str) -> None:
        self.model, self.llm = model, None

    def start(self) -> None:
        from vllm import LLM

        self.llm = LLM(self.model, dtype="float32", seed=0, **bo.vllm_engine_args(32))

    def stop(self) -> None:
        from s1eval.models.vllm_engine import shutdown

        if self.llm is not None:
            shutdown(self.llm)
        self.llm = None

    def run(self, variant: str, conts: Sequence[Any]) -> list[tuple[int, ...]]:
        from s1eval.models.vllm_engine import sampling_params, untexted_mask

        mask = untexted_mask(range(TEXTED, ROWS)) if variant == "logit_bias" else None
        params = [sampling_params(c, mask) for c in conts]
        if variant == "allowed_token_ids":
            allowed = list(range(TEXTED))
            for p in params:
                p.allowed_token_ids = allowed
        prompts = [{"prompt_token_ids": list(c.token_ids)} for c in conts]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [tuple(o.outputs[0].token_ids) for o in outputs]


# ---------------------------------------------------------------------------- vLLM server
class Server:
    """A vLLM OpenAI server; the bodies s1api sends, `concurrency` in flight."""

    name = "s1api (vLLM OpenAI server)"

    def __init__(self, model: str, log_dir: Path, concurrency: int) -> None:
        self.model, self.log_dir, self.concurrency, self.server = model, log_dir, concurrency, None

    def start(self) -> None:
        self.server = bo.VLLMServer(self.model, self.log_dir / "server.log", block_size=32).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def run(self, variant: str, conts: Sequence[Any]) -> list[tuple[int, ...]]:
        return asyncio.run(self._run(variant, conts))

    async def _run(self, variant: str, conts: Sequence[Any]) -> list[tuple[int, ...]]:
        import aiohttp

        from s1eval.models.api_protocol import APIConfig, request_payload

        url = self.server.url + "/completions"
        cfg = APIConfig(url=url, model=self.model,
                        untexted=range(TEXTED, ROWS) if variant == "logit_bias" else None)
        # the list s1api sent until session 7, pre-serialized once as it did
        allowed = ',"allowed_token_ids":' + json.dumps(list(range(TEXTED)), separators=(",", ":")) + "}"
        gate = asyncio.Semaphore(self.concurrency)

        async def one(session: Any, cont: Any) -> tuple[int, ...]:
            body = json.dumps(request_payload(cont, cfg, lambda ids: ""), separators=(",", ":"))
            if variant == "allowed_token_ids":
                body = body[:-1] + allowed
            body = body.encode()
            async with gate, session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}: {text[:300]}")
                return tuple(json.loads(text)["choices"][0]["token_ids"])

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            return list(await asyncio.gather(*(one(session, c) for c in conts)))


# ---------------------------------------------------------------------------- timing
def measure(backend: Any, conts: Sequence[Any], reps: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Median seconds per variant (rotating order), tokens per variant, refusals by message."""
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    tokens: dict[str, list[tuple[int, ...]]] = {}
    refused: dict[str, str] = {}
    backend.start()
    try:
        for variant in VARIANTS:  # warm-up, and where an engine refuses a variant, find out once
            try:
                tokens[variant] = backend.run(variant, conts)
            except Exception as exc:  # noqa: BLE001 - reported in the table
                refused[variant] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                log(f"  {variant}: refused ({refused[variant]}); restarting {backend.name}")
                backend.stop()
                backend.start()
        live = [v for v in VARIANTS if v not in refused]
        for rep in range(reps):
            for variant in live[rep % len(live):] + live[:rep % len(live)]:
                started = time.perf_counter()
                backend.run(variant, conts)
                times[variant].append(time.perf_counter() - started)
            log(f"  rep {rep + 1}/{reps}: " + ", ".join(f"{v} {times[v][-1]:.3f}s" for v in live))
    finally:
        backend.stop()
    return {"median": {v: statistics.median(t) for v, t in times.items() if t}, "tokens": tokens, "refused": refused}


def report(name: str, result: dict[str, Any], n: int) -> str:
    medians, tokens, refused = result["median"], result["tokens"], result["refused"]
    base = medians.get("none")
    lines = [f"\n{name}: {n} requests of {NEW_TOKENS} new tokens, masks of Qwen2.5's sizes "
             f"(allowed_token_ids {TEXTED:,} ids, logit_bias {ROWS - TEXTED} ids)",
             "| mask | median s | extra ms per request | ratio to none | same tokens as none |",
             "|---|---|---|---|---|"]
    for variant in VARIANTS:
        if variant in refused:
            lines.append(f"| {variant} | refused: {refused[variant]} | | | |")
            continue
        t = medians[variant]
        extra = f"{(t - base) / n * 1000:+.1f}" if base is not None else "?"
        ratio = f"{t / base:.2f}" if base else "?"
        same = "yes" if tokens.get(variant) == tokens.get("none") else "NO"
        lines.append(f"| {variant} | {t:.3f} | {extra} | {ratio} | {same} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="inprocess,server", help="comma-separated: inprocess, server")
    parser.add_argument("--requests", type=int, default=64, help="requests per timed run")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per variant (medians)")
    parser.add_argument("--concurrency", type=int, default=16, help="server requests in flight (s1api num_concurrent)")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"inprocess", "server"}:
        parser.error("--backends: choose from inprocess, server")
    if args.requests < 1 or args.reps < 1:
        parser.error("--requests and --reps must be >= 1")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    conts = continuations(args.requests)
    tables, failed = [], False
    with tempfile.TemporaryDirectory(prefix="untexted_mask_") as tmp:
        model = str(build_wide_model(Path(tmp) / "model"))
        for which in backends:
            backend = InProcess(model) if which == "inprocess" else Server(model, Path(tmp), args.concurrency)
            log(f"{backend.name}:")
            try:
                result = measure(backend, conts, args.reps, log)
            except Exception as exc:  # noqa: BLE001 - one backend failing does not hide the other
                log(f"  failed: {type(exc).__name__}: {exc}")
                failed = True
                continue
            tables.append(report(backend.name, result, args.requests))
            failed |= any(result["tokens"].get(v) != result["tokens"].get("none") for v in result["tokens"])
    print("\n".join(tables))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
