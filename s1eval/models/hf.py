"""`s1hf`: budget forcing over Hugging Face transformers (CPU or GPU), registered in lm-eval.

    lm_eval --model s1hf --model_args pretrained=simplescaling/s1.1-32B --apply_chat_template \
        --tasks s1_aime24 --gen_kwargs max_tokens_thinking=auto,thinking_n_ignore=2,thinking_n_ignore_str=Wait

It subclasses lm-eval's `HFLM` for loading, tokenization, chat templates and log-likelihoods, and
replaces `generate_until` with the shared budget-forcing core (s1eval.models.base). The default
dtype is float32, as in the paper (lm-eval's default `auto` is usually bf16, which changes outputs).
"""

from __future__ import annotations

import logging
from typing import Any

from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from s1eval.budget.codec import Codec
from s1eval.models.base import BudgetForcingMixin, check_model_args, eos_ids
from s1eval.models.hf_engine import HFEngine
from s1eval.runinfo import run_record

log = logging.getLogger(__name__)

MODEL_ARGS = ("pretrained", "tokenizer", "dtype", "device", "batch_size", "max_length",
              "trust_remote_code", "seed", "reuse_cache", "think_end_token", "revision",
              "allow_untexted_ids")
@register_model("s1hf")
class S1HFLM(BudgetForcingMixin, HFLM):
    backend_name = "s1hf"  # its sampling keys: s1eval.budget.sampling.REFUSED

    def __init__(self, pretrained: str, tokenizer: str | None = None, dtype: str = "float32",
                 device: str | None = None, batch_size: int | str = 1, max_length: int | None = None,
                 trust_remote_code: bool = False, seed: int = 1234, reuse_cache: bool = True,
                 think_end_token: str | None = None, revision: str = "main",
                 allow_untexted_ids: bool = False, **kwargs: Any) -> None:
        check_model_args("s1hf", kwargs, MODEL_ARGS, {"pretrained": pretrained, "tokenizer": tokenizer})
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if str(batch_size).startswith("auto"):
            raise ValueError(f"s1hf takes an integer batch_size, got {batch_size!r}; use e.g. --batch_size 8 "
                             "(s1vllm schedules batches itself).")
        super().__init__(pretrained=pretrained, tokenizer=tokenizer, dtype=dtype, device=device,
                         batch_size=int(batch_size), max_length=max_length, revision=revision,
                         trust_remote_code=trust_remote_code, think_end_token=think_end_token)
        self.s1_seed = int(seed)
        self._engine = HFEngine(self.model, self.tokenizer, self.device, int(batch_size), bool(reuse_cache),
                              bool(allow_untexted_ids))
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        self._codec = Codec(self.tokenizer, eos_ids(self.tokenizer, gen_eos))
        self._record = run_record(backend="s1hf", tokenizer=self.tokenizer, dtype=str(self.model.dtype),
                                  batch_size=int(batch_size), seed=self.s1_seed,
                                  extra={"reuse_cache": self._engine.reuse_cache, "device": str(self.device)})

    def _s1_engine(self) -> HFEngine:
        return self._engine

    def _s1_codec(self) -> Codec:
        return self._codec

    def get_model_info(self) -> dict:
        return {**super().get_model_info(), **self.s1_model_info()}  # lm-eval's HFLM info, then ours

