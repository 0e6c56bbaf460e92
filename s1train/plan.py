"""`s1train plan`: memory per GPU of one SFT step, term by term, and whether it fits.

    s1train plan --model Qwen/Qwen2.5-32B-Instruct --gpus 16 --block-size 32768 [--gpu-memory 79.6]
                 [--sharding fsdp|zero3|none] [--checkpointing/--no-checkpointing] [--loss-head fused|full]
                 [--cpu-offload] [--activation-offload]

It models the step `s1train sft` runs (trl's SFTTrainer, one sequence per micro-batch): float32 master
weights, AdamW (two float32 moments), bf16 compute, and trl's fused LM head, which scores the vocabulary in
4,096 x 32,768 tiles instead of building the logits. `--loss-head full` is the plain transformers loss that
the paper's trl version used: the bf16 logits, their float32 upcast and log-softmax in the forward and
float32 gradients in the backward (32K x 152,064 x 4 bytes = 20 GB per float32 copy).

Terms, in bytes (P parameters, N GPUs sharding the states, s tokens, L layers, h hidden, I intermediate,
q / kv the query and key-value widths, a heads, r the residual stream's bytes per element):
  weights, grads, optimizer   4P/N, 4P/N, 8P/N (N = 1 without sharding; ZeRO-3 adds its bf16 copy, 2P/N;
                              --cpu-offload moves them to host memory)
  saved activations           checkpointing: (L + 1) x s x h x r, each layer's input; without: L x s x c,
                              with c per token and layer as counted by saved-tensor hooks on transformers'
                              Qwen2 (sdpa / flash attention keep no s x s matrix): fp32 16h+16I+16q+8kv+4a;
                              bf16 autocast over fp32 weights 15h+8I+15q+4kv+4a; bf16 weights (FSDP / ZeRO-3
                              mixed precision) 10h+8I+10q+4kv+4a
  layer backward              the layer's recomputed activations (s x c, checkpointing) and its gradient
                              temporaries, s x (2I + 2h) elements
  loss head                   fused: one tile, a 32,768-row chunk of the head and float32 gradients of the
                              head and of the hidden states; on CPU trl's torch fallback adds a few float32
                              tile copies (3 forward, 7 backward, counted in its code and measured)
  gathered / cast weights     FSDP / ZeRO-3: bf16 copies of the root module (embedding and head) and of two
                              layers in flight, and one layer's unsharded gradients; without sharding, bf16
                              autocast's copies of every linear weight during the forward
  runtime                     CUDA context, NCCL and allocator slack: 1 GiB, 1.5 GiB with several GPUs

The peak is the largest of five moments: the end of the forward, the loss head's backward, the backward of
the last layer (all activations still saved) and of the first (nearly all gradients there), the optimizer
step. Tested against peak memory measured on CPU for random models (s1train.memprobe; within 7%) and against
the paper: Qwen2.5-32B at 32K fits 16 H100 with FSDP and runs out of memory on 8.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

from s1eval.argtypes import bounded
from s1train.shapes import ModelShape, load_shape

GIB = 1024**3
SHARDINGS = ("fsdp", "zero3", "none")
LOSS_HEADS = ("fused", "full")
PRECISIONS = ("bf16", "fp32")
DEVICES = ("cuda", "cpu")
H100_GIB = 79.6  # nvidia-smi reports 81,559 MiB on an H100 80GB
TOKEN_TILE, VOCAB_TILE = 4096, 32768  # trl/kernels/chunked_logprob.py
CPU_TILE_COPIES_FWD, CPU_TILE_COPIES_BWD = 3, 7  # float32 tile temporaries of its torch fallback


@dataclass(frozen=True)
class PlanInput:
    """One planned run; the defaults are the s1 recipe on H100s."""

    model: ModelShape
    gpus: int = 16
    seq_len: int = 32768
    sharding: str = "fsdp"
    checkpointing: bool = True
    precision: str = "bf16"
    loss_head: str = "fused"
    device: str = "cuda"
    gpu_memory_gib: float = H100_GIB
    cpu_offload: bool = False  # FSDP offload_params / ZeRO-3 offload: states in host memory
    activation_offload: bool = False  # trl's activation_offloading: saved activations in host memory

    def __post_init__(self) -> None:
        for name, value, allowed in (("sharding", self.sharding, SHARDINGS), ("loss_head", self.loss_head, LOSS_HEADS),
                                     ("precision", self.precision, PRECISIONS), ("device", self.device, DEVICES)):
            if value not in allowed:
                raise ValueError(f"{name}={value!r}; allowed: {', '.join(allowed)}")
        if self.gpus < 1 or self.seq_len < 2:
            raise ValueError(f"gpus={self.gpus} must be >= 1 and seq_len={self.seq_len} >= 2")
        if self.cpu_offload and self.sharding == "none":
            raise ValueError("cpu_offload needs sharding fsdp or zero3 (it is their offload option)")


@dataclass
class Plan:
    """Bytes per GPU: `states` are always resident, `phases` the moments of a step."""

    inp: PlanInput
    states: dict[str, float]
    phases: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)

    @property
    def phase_totals(self) -> dict[str, float]:
        base = sum(self.states.values())
        return {name: base + sum(terms.values()) for name, terms in self.phases.items()}

    @property
    def peak(self) -> float:
        return max(self.phase_totals.values())

    @property
    def peak_phase(self) -> str:
        totals = self.phase_totals
        return max(totals, key=totals.get)

    @property
    def fits(self) -> bool:
        return self.peak <= self.inp.gpu_memory_gib * GIB


def _mode(inp: PlanInput) -> str:
    """fp32 | autocast (bf16 compute over fp32 weights) | bf16 (weights gathered in bf16 by FSDP / ZeRO-3)."""
    if inp.precision == "fp32":
        return "fp32"
    return "autocast" if inp.sharding == "none" else "bf16"


def layer_activation_bytes(m: ModelShape, mode: str) -> int:
    """Bytes one decoder layer saves for backward per token (see the module docstring)."""
    h, inter, q, kv, a = m.hidden_size, m.intermediate_size, m.q_size, m.kv_size, m.num_attention_heads
    coef = {"fp32": (16, 16, 16, 8), "autocast": (15, 8, 15, 4), "bf16": (10, 8, 10, 4)}[mode]
    return coef[0] * h + coef[1] * inter + coef[2] * q + coef[3] * kv + 4 * a


def _head_terms(inp: PlanInput, e: int) -> tuple[float, float]:
    """(forward, backward) temporaries of the loss head, without the head's own gradient."""
    m, s, V = inp.model, inp.seq_len, inp.model.vocab_size
    if inp.loss_head == "full":
        upcast = 4 if e != 4 else 0
        return s * V * (e + upcast + 4), s * V * 12.0
    tile = min(s, TOKEN_TILE) * min(V, VOCAB_TILE)
    w_chunk = min(V, VOCAB_TILE) * m.hidden_size * e
    fwd, bwd = tile * e + w_chunk, tile * e + w_chunk + s * m.hidden_size * 4  # + float32 grad of the hidden states
    if inp.device == "cpu":
        fwd, bwd = fwd + CPU_TILE_COPIES_FWD * tile * 4, bwd + CPU_TILE_COPIES_BWD * tile * 4
    return fwd, bwd


def _weight_terms(inp: PlanInput, mode: str, shard: int) -> dict[str, float]:
    """Gathered (FSDP / ZeRO-3) or autocast-cast weight copies, and the head's gradient."""
    m = inp.model
    head = m.params_head or m.params_embed
    out = {"gathered": 0.0, "gathered_bwd": 0.0, "cast": 0.0, "cast_bwd": 0.0,
           "head_grad": 4 * head / (shard if mode != "bf16" else 1)}
    if inp.sharding != "none":
        out["gathered"] = 2 * (m.params_embed + m.params_head) + 2 * 2 * m.params_layer
        out["gathered_bwd"] = out["gathered"] + 2 * m.params_layer  # one layer's unsharded grads
        if mode == "bf16":
            out["head_grad"] += 2 * head  # the kernel's float32 gradient cast to the bf16 weight
    elif mode == "autocast":
        out["cast"] = 2 * m.num_hidden_layers * m.params_layer_linear  # autocast's weight cache, whole forward
        # saved for backward, unless the layers are recomputed: then one layer's casts come back with it
        out["cast_bwd"] = 2 * m.params_layer_linear if inp.checkpointing else out["cast"]
    return out


def estimate(inp: PlanInput) -> Plan:
    """Per-GPU memory of one training step on one sequence of `seq_len` tokens."""
    m, s, mode = inp.model, inp.seq_len, _mode(inp)
    P, shard, L, h = m.params_total, (inp.gpus if inp.sharding != "none" else 1), m.num_hidden_layers, m.hidden_size
    e, r = (4 if mode == "fp32" else 2), (2 if mode == "bf16" else 4)  # compute, residual-stream bytes
    host = 0.0 if inp.cpu_offload else 1.0
    states = {"weights": host * (4 + 2 * (inp.sharding == "zero3")) * P / shard, "optimizer": host * 8 * P / shard}
    c = layer_activation_bytes(m, mode)
    fixed = s * h * (2 * r + 8) + 2 * s * m.head_dim * 4  # final norm, head input, rotary tables
    saved = ((L + 1) * s * h * r if inp.checkpointing else L * s * c) * (not inp.activation_offload) + fixed
    last_saved = (s * h * r if inp.checkpointing else s * c) + fixed  # when the backward reaches layer 0
    layer_bwd = s * (2 * m.intermediate_size * e + 2 * h * r) + (s * c if inp.checkpointing else 0)
    head_fwd, head_bwd = _head_terms(inp, e)
    w = _weight_terms(inp, mode, shard)
    ddp = 4 * P if (inp.sharding == "none" and inp.gpus > 1) else 0.0  # DDP's gradient buckets
    grads_full = host * 4 * P / shard + ddp
    grads_first = host * 4 * (P - m.params_layer - m.params_embed * (m.params_head > 0)) / shard + ddp
    runtime = 0.0 if inp.device == "cpu" else (1.5 if inp.gpus > 1 else 1.0) * GIB
    bwd = {"gathered/cast weights": w["gathered_bwd"] + w["cast_bwd"], "runtime": runtime}
    phases = {
        "forward": {"activations": saved, "loss head": head_fwd, "gathered/cast weights": w["gathered"] + w["cast"],
                    "runtime": runtime},
        "loss-head backward": {"activations": saved, "loss head": head_bwd, "grads": w["head_grad"], **bwd},
        "backward, last layer": {"activations": saved, "layer backward": layer_bwd, "grads": w["head_grad"], **bwd},
        "backward, first layer": {"activations": last_saved, "layer backward": layer_bwd, "grads": grads_first, **bwd},
        "optimizer step": {"grads": grads_full, "runtime": runtime},
    }
    notes = [f"full logits: {s:,} x {m.vocab_size:,} x 4 bytes = {s * m.vocab_size * 4 / 1e9:.1f} GB per float32 copy"
             ] if inp.loss_head == "full" else []
    return Plan(inp=inp, states=states, phases=phases, notes=notes)


def max_seq_len(inp: PlanInput, limit: int = 1 << 20) -> int:
    """The longest sequence that fits (0 if none does), by bisection."""
    if not estimate(replace(inp, seq_len=2)).fits:
        return 0
    lo, hi = 2, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if estimate(replace(inp, seq_len=mid)).fits else (lo, mid - 1)
    return lo


def min_gpus(inp: PlanInput, limit: int = 1024) -> int | None:
    """The fewest GPUs, in powers of two (they must divide the global batch of 16), on which the run fits."""
    n = 1
    while n <= limit:
        if estimate(replace(inp, gpus=n)).fits:
            return n
        n *= 2
    return None


def format_plan(plan: Plan) -> str:
    """The plan as text: the run, the states, each phase's total and parts (peak marked), the verdict, notes."""
    inp, gib = plan.inp, (lambda b: f"{b / GIB:8.2f} GiB")
    flags = [f for f, on in (("cpu offload", inp.cpu_offload), ("activation offload", inp.activation_offload)) if on]
    lines = [f"model {inp.model.name}: {inp.model.params_total / 1e9:.2f}B parameters; {inp.gpus} GPU(s), "
             f"{inp.seq_len:,} tokens per sequence, sharding {inp.sharding}, checkpointing "
             f"{'on' if inp.checkpointing else 'off'}, {inp.precision}, {inp.loss_head} loss head"
             + "".join(f", {f}" for f in flags)]
    lines += [f"  {k:<26}{gib(v)}" for k, v in plan.states.items() if v]
    for phase, total in plan.phase_totals.items():
        lines.append(f"  at {phase:<23}{gib(total)}" + ("   <- peak" if phase == plan.peak_phase else ""))
        lines += [f"      {k:<22}{gib(v)}" for k, v in plan.phases[phase].items() if v]
    verdict = "fits" if plan.fits else "DOES NOT FIT"
    lines.append(f"peak {plan.peak / GIB:.1f} GiB of {inp.gpu_memory_gib:.1f} GiB per GPU: {verdict}")
    return "\n".join(lines + [f"note: {n}" for n in plan.notes])


def suggestions(inp: PlanInput) -> list[str]:
    """What would make a run that does not fit fit."""
    out = [f"longest sequence that fits: {max_seq_len(inp):,} tokens"]
    fewest = min_gpus(inp)
    out.append(f"{inp.seq_len:,} tokens fit on {fewest} GPUs" if fewest else "no GPU count fits")
    for name, change, how in (("--cpu-offload", {"cpu_offload": True}, "fsdp_offload_params: true"),
                              ("--activation-offload", {"activation_offload": True}, "activation_offloading: true"),
                              ("--checkpointing", {"checkpointing": True}, "gradient_checkpointing: true")):
        if inp.sharding == "none" and name == "--cpu-offload":
            continue
        if not getattr(inp, next(iter(change))) and estimate(replace(inp, **change)).fits:
            out.append(f"{name} fits ({how})")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add `s1train plan`'s options to a parser."""
    p.add_argument("--model", required=True, help="known model (e.g. Qwen/Qwen2.5-32B-Instruct) or a model folder")
    p.add_argument("--gpus", required=True, help="number of GPUs (data-parallel processes)",
                   type=bounded(int, lambda n: n >= 1, "a whole number of GPUs >= 1", "e.g. --gpus 16"))
    p.add_argument("--block-size", required=True, help="tokens per sequence (the recipe's block_size)",
                   type=bounded(int, lambda n: n >= 2, "a whole number of tokens >= 2",
                                "e.g. --block-size 32768 (the recipe's block_size)"))
    p.add_argument("--gpu-memory", default=H100_GIB, help=f"GiB per GPU (default {H100_GIB}: H100 80GB)",
                   type=bounded(float, lambda x: 0 < x < float("inf"), "GiB per GPU > 0",
                                f"e.g. --gpu-memory {H100_GIB} (H100 80GB)"))
    p.add_argument("--sharding", choices=SHARDINGS, default="fsdp", help="how weights, grads and moments are sharded")
    p.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=True,
                   help="gradient (activation) checkpointing (default on, as in the recipes)")
    p.add_argument("--loss-head", choices=LOSS_HEADS, default="fused",
                   help="fused: trl's chunked LM head (what s1train runs); full: materialized logits (older trl)")
    p.add_argument("--precision", choices=PRECISIONS, default="bf16", help="compute precision (weights stay fp32)")
    p.add_argument("--cpu-offload", action="store_true", help="weights, grads and moments in host memory")
    p.add_argument("--activation-offload", action="store_true", help="saved activations in host memory")


def run(args: argparse.Namespace) -> int:
    """Print the plan; exit status 0 if it fits, 1 if not."""
    inp = PlanInput(model=load_shape(args.model), gpus=args.gpus, seq_len=args.block_size, sharding=args.sharding,
                    checkpointing=args.checkpointing, precision=args.precision, loss_head=args.loss_head,
                    gpu_memory_gib=args.gpu_memory, cpu_offload=args.cpu_offload,
                    activation_offload=args.activation_offload)
    plan = estimate(inp)
    print(format_plan(plan))
    if not plan.fits:
        print("\n".join(f"- {line}" for line in suggestions(inp)))
    return 0 if plan.fits else 1
