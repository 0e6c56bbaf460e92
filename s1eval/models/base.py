"""lm-eval glue shared by the s1 backends: `generate_until` over the budget-forcing core.

A backend class mixes `BudgetForcingMixin` into an lm-eval `LM` and provides `_s1_engine()` (an
`s1eval.budget.Engine`), `_s1_codec()`, `tok_encode`, `max_length`, `max_gen_toks` and
`tokenizer`. This module turns lm-eval `Instance`s into `RequestSpec`s (context fitting, per-request
seeds, repeat indices), runs them, hands each finished request to lm-eval's cache at once
(`--use_cache` resumes a killed run without regenerating it), records statistics, and applies
lm-eval's `think_end_token` convention when the user wants only the answer back.
"""

from __future__ import annotations

import difflib
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from s1eval.budget import RequestSpec, StatsCollector, parse_gen_kwargs, run_requests
from s1eval.budget.codec import Codec
from s1eval.budget.config import ALL_KEYS, BudgetConfigError
from s1eval.budget.control import add_instruction, instruction
from s1eval.budget.engine import Engine
from s1eval.budget.planning import fit_generation
from s1eval.budget.sampling import NEUTRAL, REFUSED, accepted_keys, parse_sampling
from s1eval.budget.seeds import derive_seed
from s1eval.fingerprint import check_model_location
from s1eval.models import cached_stats

log = logging.getLogger(__name__)


# lm-eval's CLI always passes these; accepted so `--max_batch_size` does not fail.
_LM_EVAL_EXTRAS = ("max_batch_size",)
# gen_kwargs some lm-eval tasks set to values that change nothing here (dropped): no beam search, and a
# sampling key some backend refuses (REFUSED) at its neutral value (presence_penalty=0). Then names from
# other APIs whose equivalent is not their closest spelling.
_NO_OPS = {"num_beams": 1, **{k: NEUTRAL[k] for refused in REFUSED.values() for k in refused if k in NEUTRAL}}
_HINTS = {"stop": "until", "stop_sequences": "until"}
_MISSING = object()


def _is_no_op(key: str, value: Any) -> bool:
    return _NO_OPS.get(key, _MISSING) == value


def _canonical(value: Any) -> Any:
    """A hashable, order-free form of gen_kwargs (dict keys may mix ints and strings: logit_bias)."""
    if isinstance(value, dict):
        return tuple(sorted(((str(k), _canonical(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    return value


def _lm_eval_default(key: str) -> Any:
    """What lm-eval's CLI passes for `key` when the user gave no `--key` (0.4.13: batch_size 1, device cuda:0)."""
    try:
        from lm_eval.config.evaluate_config import EvaluatorConfig

        return EvaluatorConfig.__dataclass_fields__[key].default
    except (ImportError, AttributeError, KeyError):
        return {"batch_size": 1, "device": "cuda:0"}.get(key)


def merge_lm_eval_args(name: str, model_args: dict[str, Any], cli: dict[str, Any] | None) -> dict[str, Any]:
    """`model_args` plus what lm-eval's CLI adds on its own (`batch_size`, `max_batch_size`, `device`).

    lm-eval passes those as keywords next to `--model_args`, so `--model_args device=cpu` alone failed
    with "got multiple values for keyword argument 'device'". A key in both: the model_args value
    wins over lm-eval's default (`--batch_size` absent is 1, `--device` absent is cuda:0); a different
    value given on the command line as well is refused, naming both.
    """
    merged = dict(model_args)
    for key, value in (cli or {}).items():
        if value is None:
            continue
        if key not in merged:
            merged[key] = value
            continue
        ours = merged[key]
        if str(value) == str(ours) or str(value) == str(_lm_eval_default(key)):
            continue
        raise ValueError(
            f"{name} got {key} twice with different values: --model_args {key}={ours} and --{key} {value}. "
            f"Give it once (either place works)."
        )
    return merged


def check_model_args(name: str, kwargs: dict[str, Any], allowed: tuple[str, ...],
                     paths: dict[str, Any] | None = None) -> None:
    """Fail on any model argument we do not know, naming the valid ones (no silent pass-through), and on a
    model or tokenizer path (`paths`: the backend's named arguments) that does not exist, before anything loads."""
    unknown = sorted(set(kwargs) - set(allowed) - set(_LM_EVAL_EXTRAS))
    if unknown:
        hints = {u: difflib.get_close_matches(u, allowed, n=1) for u in unknown}
        hint = "; ".join(f"{u} (did you mean {h[0]}?)" if h else u for u, h in hints.items())
        raise ValueError(f"{name} got unknown model_args: {hint}. Valid: {', '.join(allowed)}.")
    for key, value in {**kwargs, **(paths or {})}.items():  # a missing folder says so, not "bad repo id"
        if key in ("pretrained", "tokenizer") and isinstance(value, str) and value:
            check_model_location(key, value)


class BudgetForcingMixin:
    """`generate_until` with budget forcing; the backend supplies the engine."""

    backend_name = "s1"
    s1_seed: int = 1234
    think_end_token: str | int | None = None
    _s1_warned_template = False

    # ------------------------------------------------------------ construction by lm-eval
    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict[str, Any], additional_config: dict[str, Any] | None = None) -> Any:
        return cls(**merge_lm_eval_args(cls.backend_name, dict(arg_dict), additional_config))

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict[str, Any] | None = None) -> Any:
        from lm_eval.utils import simple_parse_args_string

        return cls(**merge_lm_eval_args(cls.backend_name, simple_parse_args_string(arg_string), additional_config))

    # ------------------------------------------------------------ backend hooks
    def _s1_engine(self) -> Engine:  # pragma: no cover - abstract
        raise NotImplementedError

    def _s1_codec(self) -> Codec:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------ lm-eval API
    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        if not requests:
            return []
        codec = self._s1_codec()
        specs = self._s1_specs(requests, codec)

        texts: list[str] = [""] * len(requests)

        def on_finish(i: int, result: Any) -> None:
            self.s1_stats.add(result.stats)
            texts[i] = self._s1_returned_text(result.text)
            # statistics first: a kill between the two leaves an unused entry, never a text without statistics
            cached_stats.store(getattr(self.cache_hook, "dbdict", None), requests[i].args, texts[i],
                               result.stats.to_dict())
            self.cache_hook.add_partial("generate_until", requests[i].args, texts[i])

        run_requests(specs, self._s1_engine(), codec, on_finish=on_finish, progress=not disable_tqdm)
        return texts

    @property
    def s1_stats(self) -> StatsCollector:
        """This instance's per-request statistics (s1eval.budget.stats: how they reach the sidecar)."""
        stats = self.__dict__.get("_s1_stats")
        if stats is None:  # made on first use: the backends' constructors need not call a mixin __init__
            stats = self.__dict__["_s1_stats"] = StatsCollector()
        return stats

    def s1_model_info(self) -> dict:
        """What the results JSON gets (`config`): the run record and the statistics' totals per task.
        s1_stats_key is the hand-off to the sidecar writer, taken out of the results before they are written."""
        return {"s1_run_record": self._record, "s1_budget_stats": self.s1_stats.totals(),
                "s1_stats_key": self.s1_stats.key}

    def s1_served_from_cache(self, served: Sequence[tuple[Any, str]], dbdict: Any) -> None:
        """Record the statistics of responses lm-eval's request cache served instead of this model.

        `served` holds (Instance, text) pairs in request order (an Instance repeated once per repeat);
        s1eval._autoload calls this from lm-eval's CachingLM. Responses without stored statistics are
        counted and left out (s1eval.models.cached_stats).
        """
        seen: Counter = Counter()
        missing = 0
        for req, text in served:
            repeat = seen[id(req)]
            seen[id(req)] += 1
            row = cached_stats.lookup(dbdict, req.args, text)
            if row is None:
                missing += 1
                continue
            row.update(task=getattr(req, "task_name", None), doc_id=getattr(req, "doc_id", None), repeat=repeat,
                       from_cache=True)
            self.s1_stats.add_row(row)
        if missing:
            log.warning("%d of %d responses served from lm-eval's request cache have no stored budget statistics "
                        "(cached by another run or an older s1eval); the statistics sidecar leaves them out.",
                        missing, len(served))

    # ------------------------------------------------------------ helpers
    def _s1_specs(self, requests: Sequence[Any], codec: Codec) -> list[RequestSpec]:
        from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs

        eos_text = self.tokenizer.decode([self.eot_token_id])
        seen: Counter = Counter()
        parsed: dict[str, Any] = {}
        specs = []
        for req in requests:
            context, gen_kwargs = req.args
            key = repr(_canonical(gen_kwargs))
            if key not in parsed:  # parse each distinct kwargs dict once
                cfg, rest = parse_gen_kwargs(gen_kwargs)
                rest = self._s1_engine_kwargs(normalize_gen_kwargs(rest, self.max_gen_toks))
                if cfg is not None:
                    self._s1_check_thinking_sampling(cfg.thinking_sampling)
                until = handle_stop_sequences(rest.pop("until", None), eos=eos_text)
                max_gen_toks = rest.pop("max_gen_toks")
                parsed[key] = (cfg, parse_sampling(rest), until, max_gen_toks)
            cfg, sampling, until, max_gen_toks = parsed[key]
            if cfg is not None:
                self._s1_check_prompt(context)
                if cfg.control is not None:  # the paper's control baselines: an instruction in the question
                    context = add_instruction(context, instruction(*cfg.control), self.tokenizer)
            prompt_ids = tuple(self.tok_encode(context))
            repeat = seen[id(req)]
            seen[id(req)] += 1
            task, doc_id = getattr(req, "task_name", None), getattr(req, "doc_id", None)
            specs.append(RequestSpec(
                prompt_ids=prompt_ids, prompt_text=context, config=cfg,
                max_gen=fit_generation(len(prompt_ids), max_gen_toks, self.max_length),
                until=tuple(until), sampling=sampling,
                seed=derive_seed(self.s1_seed, task, doc_id, repeat),
                task=task, doc_id=doc_id, repeat=repeat,
            ))
        return specs

    @classmethod
    def _s1_sampling_keys(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the sampling gen_kwargs this backend honours, also as `<key>_thinking` overrides; the other
        gen_kwargs it forwards), from s1eval.budget.sampling's table of what each backend refuses."""
        return accepted_keys(cls.backend_name)

    @classmethod
    def _s1_refusals(cls, keys: Sequence[str]) -> str:
        """Why this backend refuses those of `keys` that its table names ("" when none)."""
        refused = REFUSED[cls.backend_name]
        reasons = [f"{k} ({refused[k]})" for k in keys if k in refused]
        return f" Refused here: {'; '.join(reasons)}." if reasons else ""

    @classmethod
    def _s1_engine_kwargs(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`kwargs` without no-op keys; fails on a key no part of the run would use: a typo
        (`temprature=0.6`) must not silently give greedy decoding, and on a sampling value of the wrong
        type. A classmethod: `s1eval sweep` checks a setting's gen_kwargs before the model is built."""
        kwargs = {k: v for k, v in kwargs.items() if not _is_no_op(k, v)}
        sampling_keys, passed = cls._s1_sampling_keys()
        known = ("until", "max_gen_toks", *sampling_keys, *passed)
        unknown = sorted(set(kwargs) - set(known))
        if not unknown:
            parse_sampling({k: v for k, v in kwargs.items() if k not in ("until", "max_gen_toks")})  # the values
            return kwargs
        hints = {u: [_HINTS[u]] if u in _HINTS else difflib.get_close_matches(u, known + ALL_KEYS, n=1)
                 for u in unknown}
        named = "; ".join(f"{u} (did you mean {h[0]}?)" if h else u for u, h in hints.items())
        seed = " Seeds are a model arg (--model_args seed=N), derived per request." if "seed" in unknown else ""
        raise BudgetConfigError(
            f"{cls.backend_name} does not use gen_kwargs {named}.{seed} "
            f"It takes until, max_gen_toks, the sampling keys {', '.join(sampling_keys + passed)} "
            f"and the budget-forcing keys {', '.join(ALL_KEYS)}.{cls._s1_refusals(unknown)}"
        )

    @classmethod
    def _s1_check_thinking_sampling(cls, overrides: Any) -> None:
        """Fail on a `<key>_thinking` override of a sampling key this backend does not have."""
        sampling_keys = cls._s1_sampling_keys()[0]
        unsupported = sorted(k for k, v in overrides.items() if k not in sampling_keys and not _is_no_op(k, v))
        if unsupported:
            raise BudgetConfigError(
                f"{cls.backend_name} does not use gen_kwargs "
                f"{', '.join(k + '_thinking' for k in unsupported)}: it has no {', '.join(unsupported)}. Its sampling "
                f"keys (also as <key>_thinking): {', '.join(sampling_keys)}.{cls._s1_refusals(unsupported)}"
            )

    def _s1_returned_text(self, text: str) -> str:
        # lm-eval's own convention for answer-only output (its `think_end_token` model arg).
        if isinstance(self.think_end_token, str) and self.think_end_token:
            from lm_eval.models.utils import postprocess_generated_text

            return postprocess_generated_text(text, None, self.think_end_token)
        return text

    def _s1_check_prompt(self, context: str) -> None:
        """Warn loudly, once, when budget forcing runs on a prompt without the chat template."""
        if self._s1_warned_template:
            return
        if not hasattr(self, "_s1_suffix"):
            self._s1_suffix = generation_prompt_suffix(self.tokenizer)
        suffix = self._s1_suffix
        if suffix and suffix.strip() not in context[-len(suffix) - 64:]:
            log.warning(
                "Budget forcing is running on prompts WITHOUT the model's chat template (the "
                "prompt does not end with %r). s1 models were trained on chat-formatted "
                "prompts: add --apply_chat_template to the lm_eval command.", suffix,
            )
            self._s1_warned_template = True


def generation_prompt_suffix(tokenizer: Any) -> str:
    """What the chat template appends for `add_generation_prompt=True` (e.g. `<|im_start|>assistant\\n`)."""
    if not getattr(tokenizer, "chat_template", None):
        return ""
    msgs = [{"role": "user", "content": "x"}]
    try:
        with_prompt = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        without = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    except Exception:  # a template that needs other roles: no check rather than a crash
        return ""
    return with_prompt[len(without):] if with_prompt.startswith(without) else ""


# vLLM 0.32's V2 model runner (its GPU default) takes at most this many biased ids per request; a
# request over it raises inside the worker and kills the engine (vllm/v1/worker/gpu/sample/logit_bias.py).
VLLM_MAX_BIASED_IDS = 1024


def untexted_ids(backend: str, texted: int, rows: int, limit: int | None) -> range:
    """The ids a model can emit that its tokenizer cannot decode (Qwen2.5-7B and up: 151665-152063).

    They are masked with a logit_bias on each of them; more than `limit` is refused here, naming
    the fixes, rather than left to kill a vLLM engine mid-run.
    """
    ids = range(texted, max(texted, rows))
    if limit is not None and len(ids) > limit:
        raise ValueError(
            f"{backend}: the model has {len(ids)} ids without text ({texted}..{rows - 1}); masking them takes "
            f"a logit_bias on each, and vLLM's V2 model runner (its GPU default) accepts at most {limit} per "
            "request. Pass allow_untexted_ids=true (they are then counted in the statistics), or run the "
            "engine with VLLM_USE_V2_MODEL_RUNNER=0."
        )
    return ids


def eos_ids(tokenizer: Any, generation_eos: Any) -> set[int]:
    """EOS ids: the tokenizer's and the generation config's (engines stop at all of them)."""
    eos = {tokenizer.eos_token_id}
    eos.update(generation_eos if isinstance(generation_eos, (list, tuple)) else [generation_eos])
    return {int(i) for i in eos if i is not None}


class TokenizerLM(BudgetForcingMixin):
    """lm-eval plumbing for backends that hold only a tokenizer locally (s1vllm, s1api).

    Subclasses set `tokenizer`, `_max_length`, `_max_gen_toks`, `_engine`, `_codec` and `_record`.
    Log-likelihoods are not offered: every s1 task is generative.
    """

    def _s1_engine(self) -> Engine:
        return self._engine

    def _s1_codec(self) -> Codec:
        return self._codec

    @property
    def eot_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def max_gen_toks(self) -> int:
        return self._max_gen_toks

    @property
    def tokenizer_name(self) -> str:
        return self.tokenizer.name_or_path.replace("/", "__")

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        if add_special_tokens is None:
            # As lm-eval's HFLM: the tokenizer's default, but no second BOS before a templated prompt.
            bos = self.tokenizer.bos_token
            add_special_tokens = not (bos and string.startswith(bos))
        return self.tokenizer.encode(string, add_special_tokens=add_special_tokens)

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.tokenizer.chat_template if chat_template else None

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(chat_history, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt,
                                                  continue_final_message=not add_generation_prompt)

    def _loglikelihood_tokens(self, requests: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{self.backend_name} implements generate_until only (all s1 tasks are generative); for "
            "log-likelihood tasks use --model s1hf or lm-eval's own models."
        )

    def loglikelihood_rolling(self, requests: Any, disable_tqdm: bool = False) -> Any:
        return self._loglikelihood_tokens(requests)

    def get_model_info(self) -> dict:
        return self.s1_model_info()
