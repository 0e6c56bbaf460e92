"""`s1api`: budget forcing over an OpenAI-compatible `/v1/completions` server, registered in lm-eval.

    vllm serve simplescaling/s1.1-32B --dtype float32 --enable-prompt-tokens-details
    lm_eval --model s1api --apply_chat_template --tasks s1_aime24 \
        --model_args base_url=http://127.0.0.1:8000/v1,model=simplescaling/s1.1-32B,tokenizer=simplescaling/s1.1-32B,num_concurrent=64 \
        --gen_kwargs max_tokens_thinking=auto,thinking_n_ignore=2,thinking_n_ignore_str=Wait

The tokenizer is loaded locally because the thinking budget is counted in tokens; prompts are
sent as token ids (vLLM accepts `prompt: [ids]`), or as text with `tokenized_requests=false` for
servers that do not. The API key comes from `api_key=` or `OPENAI_API_KEY`; prefer the variable,
since lm-eval copies `--model_args` into its results file. Data parallelism on an 8-GPU node:
`vllm serve ... --data-parallel-size 8` and `num_concurrent` of 8x the per-GPU batch.

Budget forcing itself lives in `s1eval.budget`; this class only loads the tokenizer, builds the
HTTP engine (s1eval.models.api_engine) and answers lm-eval's questions about the model.
"""  # noqa: E501 - the example command line is one unbroken --model_args value

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model

from s1eval.budget.codec import Codec
from s1eval.models.api_engine import APIEngine, CompletionsClient
from s1eval.models.api_protocol import DEFAULT_MAX_STOP_STRINGS, APIConfig, completions_url
from s1eval.models.base import VLLM_MAX_BIASED_IDS, TokenizerLM, check_model_args, eos_ids, untexted_ids
from s1eval.runinfo import run_record

log = logging.getLogger(__name__)

MODEL_ARGS = ("base_url", "model", "tokenizer", "api_key", "tokenized_requests", "num_concurrent",
              "max_retries", "timeout", "retry_backoff", "max_length", "max_gen_toks", "seed",
              "think_end_token", "allow_untexted_ids", "trust_remote_code", "batch_size", "device",
              "max_stop_strings")
_DEFAULT_MAX_LENGTH = 32768


@register_model("s1api")
class S1API(TokenizerLM, TemplateLM):
    # takes every sampling key and forwards logit_bias (merged under the untexted-id mask): s1eval.budget.sampling
    backend_name = "s1api"

    def __init__(self, base_url: str | None = None, model: str | None = None, tokenizer: str | None = None,
                 api_key: str | None = None, tokenized_requests: bool = True, num_concurrent: int = 8,
                 max_retries: int = 5, timeout: float = 3600.0, retry_backoff: float = 1.0,
                 max_length: int | None = None, max_gen_toks: int = 256, seed: int = 1234,
                 think_end_token: str | None = None, allow_untexted_ids: bool = False,
                 trust_remote_code: bool = False, batch_size: Any = None, device: Any = None,
                 max_stop_strings: int = DEFAULT_MAX_STOP_STRINGS, **kwargs: Any) -> None:
        check_model_args("s1api", kwargs, MODEL_ARGS, {"tokenizer": tokenizer})
        _require(base_url=base_url, model=model, tokenizer=tokenizer)
        if isinstance(max_stop_strings, bool) or not str(max_stop_strings).isdigit():
            raise ValueError(
                f"s1api: max_stop_strings={max_stop_strings!r} must be an integer >= 0 (the most stop strings the "
                f"server takes per request; vLLM's default is {DEFAULT_MAX_STOP_STRINGS}, raised with "
                "VLLM_MAX_STOP_STRINGS on the server). Pass e.g. max_stop_strings=4."
            )
        super().__init__()
        from lm_eval.models.utils import resolve_max_length
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer, trust_remote_code=_flag(trust_remote_code))
        self.s1_seed, self.think_end_token = int(seed), think_end_token
        config = _model_config(tokenizer, _flag(trust_remote_code))
        # the context from the model config beside the tokenizer, else the tokenizer, else 32768
        self._max_length = int(max_length) if max_length else resolve_max_length(config, self.tokenizer,
                                                                                 default=_DEFAULT_MAX_LENGTH)
        self._max_gen_toks = int(max_gen_toks)
        self._codec = Codec(self.tokenizer, eos_ids(self.tokenizer, _generation_eos(tokenizer)))
        if api_key:
            log.warning("s1api: api_key was given in model_args, which lm-eval writes into its results "
                        "file; set OPENAI_API_KEY instead.")
        cfg = APIConfig(
            url=completions_url(str(base_url)), model=str(model),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or None,
            tokenized_requests=_flag(tokenized_requests), num_concurrent=int(num_concurrent),
            max_retries=int(max_retries), timeout=float(timeout), retry_backoff=float(retry_backoff),
            max_stop_strings=int(max_stop_strings),
            untexted=None if _flag(allow_untexted_ids) else untexted_ids(
                "s1api", len(self.tokenizer), _model_rows(config, tokenizer), VLLM_MAX_BIASED_IDS),
        )
        eos_id = self.tokenizer.eos_token_id
        self._engine = APIEngine(CompletionsClient(cfg, self._codec.encode, self._decode_prompt,
                                                   eos_id if eos_id is not None else min(self._codec.eos_ids)))
        self._record = run_record(
            backend="s1api", tokenizer=self.tokenizer, dtype=None, batch_size=cfg.num_concurrent,
            seed=self.s1_seed,
            extra={"base_url": str(base_url), "served_model": cfg.model, "tokenized_requests": cfg.tokenized_requests,
                   "num_concurrent": cfg.num_concurrent, "allow_untexted_ids": _flag(allow_untexted_ids),
                   "masked_untexted_ids": len(cfg.untexted or ()),
                   "max_length": self._max_length, "dtype_note": "set by the server, not recorded"},
        )

    def _decode_prompt(self, ids: Any) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _require(**values: Any) -> None:
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise ValueError(
            f"s1api needs model_args {', '.join(missing)}: e.g. --model_args base_url=http://127.0.0.1:8000/v1,"
            "model=NAME_THE_SERVER_USES,tokenizer=LOCAL_PATH_OR_HUB_NAME (the tokenizer counts the budget)."
        )


def _flag(value: Any) -> bool:
    """lm-eval parses `true`/`false` already; accept the strings too for Python callers."""
    if isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {value!r}")
        return value.lower() in ("true", "1")
    return bool(value)


def _model_config(path: str, trust_remote_code: bool) -> Any:
    """The model config beside the tokenizer, or None (a tokenizer-only folder or name)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception:  # no config.json, or a model type this transformers does not know
        return None


def _model_rows(config: Any, path: str) -> int:
    """The model's embedding rows (`vocab_size`, as vLLM reads it), from its config beside the tokenizer."""
    if config is not None:
        rows = getattr(config.get_text_config(), "vocab_size", None)
    else:  # a model type transformers cannot load: read the file itself
        try:
            raw = json.loads((Path(path) / "config.json").read_text())
        except (OSError, ValueError):
            raw = {}
        rows = raw.get("vocab_size") or (raw.get("text_config") or {}).get("vocab_size")
    if not isinstance(rows, int):
        raise ValueError(
            f"s1api: no vocab_size in a model config beside tokenizer={path}, so the model's ids without text "
            "(which it can emit and the tokenizer cannot decode) are unknown. Point tokenizer= at a folder "
            "with the served model's config.json, or pass allow_untexted_ids=true."
        )
    return rows


def _generation_eos(path: str) -> Any:
    """EOS ids in the generation_config.json beside the tokenizer, if any (servers stop at them)."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path).eos_token_id
    except Exception:  # no generation_config.json beside the tokenizer
        return None
