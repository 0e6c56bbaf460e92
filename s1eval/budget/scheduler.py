"""Drive many request state machines over one engine without round barriers.

Every request's first continuation is submitted up front; whenever the engine reports a finished
step, that request's machine produces its next continuation, which is submitted at once. So a
request whose thinking round ends early starts its next round while others are still generating,
as far as the engine allows (vLLM's continuous batching, an async HTTP pool). Results come back in
input order; `on_finish` is called the moment each request completes (lm-eval's cache hook uses
it, so a killed run keeps every finished request).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tqdm.auto import tqdm

from s1eval.budget.codec import Codec
from s1eval.budget.engine import Engine
from s1eval.budget.machine import RequestMachine, RequestResult, RequestSpec

log = logging.getLogger(__name__)

OnFinish = Callable[[int, RequestResult], None]


def run_requests(
    specs: Sequence[RequestSpec],
    engine: Engine,
    codec: Codec,
    on_finish: OnFinish | None = None,
    progress: bool = False,
) -> list[RequestResult]:
    """Run all requests to completion; return their results in input order."""
    machines = [RequestMachine(i, spec, codec) for i, spec in enumerate(specs)]
    results: list[RequestResult | None] = [None] * len(specs)
    # disable=None: a bar on a terminal, none in logs (CI, nohup) where it would only add noise.
    bar = tqdm(total=len(specs), desc="s1eval requests", disable=None if progress else True)

    def finish(i: int) -> None:
        results[i] = machines[i].result()
        engine.release(i)
        bar.update(1)
        if on_finish is not None:
            on_finish(i, results[i])

    try:
        # Submitted in reverse so that a last-in-first-out engine starts with request 0.
        for i in reversed(range(len(machines))):
            cont = machines[i].start()
            if cont is None:
                finish(i)
            else:
                engine.submit(cont)
        while engine.pending():
            for key, step in engine.poll():
                cont = machines[key].advance(step)
                if cont is None:
                    finish(key)
                else:
                    engine.submit(cont)
    except BaseException:
        # An error or Ctrl-C mid-run: let the engine drop what it keeps for unfinished requests
        # (vLLM sessions hold KV blocks and sequence slots), so the model stays usable.
        for i, result in enumerate(results):
            if result is None:
                engine.release(i)
        raise
    bar.close()
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"engine finished with requests {missing[:10]} never completed")
    return results  # type: ignore[return-value]
