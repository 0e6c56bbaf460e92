"""Measure the peak memory of real SFT steps, to check `s1train plan` against.

A random Qwen2 model of the given shape runs two steps the way trl's SFTTrainer runs them: trl's fused LM
head (`add_fused_lm_head`), transformers' gradient checkpointing, bf16 autocast over float32 weights (or
float32), fused AdamW, `zero_grad(set_to_none=True)`. The second step is measured, so the optimizer's
moments exist, as in every step but the first.

How memory is measured:
- CUDA: `torch.cuda.max_memory_allocated` (reset before the measured step).
- CPU: the kernel's high-water mark of resident memory (VmHWM), reset by writing 5 to /proc/self/clear_refs
  right before the measured step; the step's memory is VmHWM minus the resident memory at that moment plus
  the exact bytes of the weights and optimizer moments (which are resident already). PyTorch's CPU
  allocator has no peak statistics, and tracemalloc does not see it. For the resident size to track live
  tensors, glibc must return freed memory to the kernel: `run_subprocess` starts the probe with
  MALLOC_MMAP_THRESHOLD_=65536 (every allocation from 64 KiB up is its own mapping, unmapped when freed)
  and the probe calls malloc_trim(0) before resetting the mark. What remains unmodelled is small: oneDNN
  scratch buffers, Python objects, allocations under 64 KiB.

    python -m s1train.memprobe '[{"hidden_size": 256, "num_hidden_layers": 4, ..., "seq_len": 1024}]'

prints one JSON line per configuration: the measured bytes and, for the same input, `s1train plan`'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
              "vocab_size")


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_cpu_peak() -> int:
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _model(cfg: dict[str, Any], device: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    config = Qwen2Config(**{k: cfg[k] for k in SHAPE_KEYS}, tie_word_embeddings=cfg.get("tie_word_embeddings", False),
                         attn_implementation="sdpa", use_cache=False)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(device)
    model.train()
    if cfg.get("checkpointing", True):
        model.gradient_checkpointing_enable()
    if cfg.get("loss_head", "fused") == "fused":
        add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))  # what SFTTrainer asks for
    return model


def _step(model, opt, ids, cfg: dict[str, Any], mark=None) -> None:
    """One SFTTrainer-like step; `mark(name)` is called as each phase (forward, backward, step) begins."""
    import torch

    mark = mark or (lambda name: None)
    fused = cfg.get("loss_head", "fused") == "fused"
    mark("forward")
    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=cfg.get("precision", "bf16") == "bf16"):
        extra = {"fused_lm_head": True} if fused else {}
        out = model(input_ids=ids, labels=ids, attention_mask=torch.ones_like(ids), **extra)
        loss = out.loss
    del out
    mark("backward")
    loss.backward()
    mark("step")
    opt.step()
    opt.zero_grad(set_to_none=True)
    mark("end")


def measure(cfg: dict[str, Any]) -> dict[str, Any]:
    """Peak bytes of the second of two steps on one sequence of `seq_len` tokens (see the module docstring)."""
    import torch

    device = "cuda" if cfg.get("device") == "cuda" else "cpu"
    model = _model(cfg, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=1e-4, fused=True)
    ids = torch.randint(0, cfg["vocab_size"], (1, cfg["seq_len"]), device=device, generator=None)
    _step(model, opt, ids, cfg)
    phases: dict[str, int] = {}
    state = {"name": None, "base": 0}
    resident = sum(p.nbytes for p in model.parameters()) + sum(
        t.nbytes for s in opt.state.values() for t in s.values() if torch.is_tensor(t) and t.dim() > 0)

    def mark(name: str) -> None:
        # close the phase that ends here, then reset the peak for the next one
        if device == "cuda":
            torch.cuda.synchronize()
            if state["name"]:
                phases[state["name"]] = torch.cuda.max_memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            # peaks are counted from the resident size when the step began (weights and moments included)
            if state["name"]:
                phases[state["name"]] = _status("VmHWM") - state["base"] + resident
            rss = _reset_cpu_peak()
            state["base"] = rss if state["name"] is None else state["base"]
        state["name"] = name

    _step(model, opt, ids, cfg, mark)
    del model, opt
    return {"measured": max(phases.values()), "phases": phases}


def planned(cfg: dict[str, Any]) -> float:
    """`s1train plan`'s peak for the same configuration (one device, no sharding), as the probe measures it."""
    from s1train.plan import PlanInput, estimate
    from s1train.shapes import ModelShape

    shape = ModelShape(name="probe", tie_word_embeddings=cfg.get("tie_word_embeddings", False),
                       **{k: cfg[k] for k in SHAPE_KEYS})
    inp = PlanInput(model=shape, gpus=1, seq_len=cfg["seq_len"], sharding="none",
                    checkpointing=cfg.get("checkpointing", True), precision=cfg.get("precision", "bf16"),
                    loss_head=cfg.get("loss_head", "fused"), device=cfg.get("device", "cpu"))
    plan = estimate(inp)
    # max_memory_allocated does not see the CUDA context and NCCL buffers that the plan's runtime term covers
    return plan.peak - plan.phases[plan.peak_phase].get("runtime", 0.0)


def run_subprocess(configs: list[dict[str, Any]], timeout: float = 600, threads: int = 1) -> list[dict[str, Any]]:
    """Measure each configuration in one fresh process (with the allocator settings the CPU method needs)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, "-m", "s1train.memprobe", json.dumps(configs)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"s1train.memprobe failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main(argv: list[str] | None = None) -> int:
    """Measure each configuration of the JSON list argument; print one JSON line each (measured vs planned)."""
    import torch

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        print("warning: MALLOC_MMAP_THRESHOLD_ is not set; CPU numbers may undercount (use run_subprocess)",
              file=sys.stderr)
    import time

    for cfg in json.loads(argv[0]):
        start = time.perf_counter()
        result = {**cfg, **measure(cfg), "planned": planned(cfg), "seconds": 0.0}
        result["seconds"] = round(time.perf_counter() - start, 2)
        result["error"] = result["planned"] / result["measured"] - 1
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
