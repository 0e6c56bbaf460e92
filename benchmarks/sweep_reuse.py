"""A 4-setting `s1eval sweep` against 4 separate `lm_eval` invocations, side by side.

Both evaluate the same tiny model with s1vllm on the same AIME24 problems under the same four
budget-forcing settings. The sweep builds the engine once; separate invocations pay for it (and
for lm-eval's start-up and task indexing) four times. Prints both wall times, the ratio (target
<= 0.5) and how many engines each side built (the sweep must build exactly one).

    python benchmarks/sweep_reuse.py [--limit 2]

Runs unchanged on a GPU machine (CPU-only engine arguments are added only without CUDA).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETS, IGNORES = (8, 16), (0, 1)


def engine_args() -> str:
    import torch

    base = ",max_model_len=2048"
    return base if torch.cuda.is_available() else base + ",gpu_memory_utilization=0.15,enforce_eager=true"


def separate_runs(model: Path, out: Path, limit: int) -> float:
    lm_eval = str(Path(sys.executable).parent / "lm_eval")
    start = time.perf_counter()
    for budget in BUDGETS:
        for ignores in IGNORES:
            gen = f"max_gen_toks=512,max_tokens_thinking={budget}"
            if ignores:
                gen += f",thinking_n_ignore={ignores},thinking_n_ignore_str=Wait"
            subprocess.run([lm_eval, "--model", "s1vllm", "--model_args", f"pretrained={model}{engine_args()}",
                            "--tasks", "s1_aime24", "--limit", str(limit), "--apply_chat_template",
                            "--gen_kwargs", gen, "--log_samples", "--output_path", str(out / f"b{budget}_i{ignores}")],
                           check=True, capture_output=True)
    return time.perf_counter() - start


def sweep_run(model: Path, out: Path, limit: int) -> tuple[float, int]:
    """Run the sweep in this process, counting S1VLLM constructions."""
    from s1eval.analysis import sweep
    from s1eval.models.vllm import S1VLLM

    built = []
    original = S1VLLM.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    S1VLLM.__init__ = counting_init
    start = time.perf_counter()
    sweep.main(["--model", "s1vllm", "--model_args", f"pretrained={model}{engine_args()}", "--tasks", "s1_aime24",
                "--limit", str(limit), "--max-tokens-thinking", ",".join(map(str, BUDGETS)),
                "--ignores", ",".join(map(str, IGNORES)), "--apply_chat_template",
                "--gen_kwargs", "max_gen_toks=512", "--output", str(out), "--no-plot"])
    return time.perf_counter() - start, len(built)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from s1eval.testing.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_model(Path(tmp) / "tiny", variant="ends")
        sweep_s, engines = sweep_run(model, Path(tmp) / "sweep", args.limit)
        separate_s = separate_runs(model, Path(tmp) / "separate", args.limit)
    n = len(BUDGETS) * len(IGNORES)
    print(f"{n} settings, s1vllm, tiny model, {args.limit} AIME24 problems each")
    print(f"  s1eval sweep        {sweep_s:7.1f} s   engines built: {engines}")
    print(f"  {n} x lm_eval        {separate_s:7.1f} s   engines built: {n}")
    print(f"  ratio sweep/separate: {sweep_s / separate_s:.2f} (target <= 0.5)")
    if engines != 1:
        print(f"ERROR: the sweep built {engines} engines; it must build exactly one", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
