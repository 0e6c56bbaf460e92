"""One typed sampling object for every backend, and its vLLM, transformers and OpenAI translations.

lm-eval hands sampling to a model as loose gen_kwargs (`temperature`, `top_p`, `do_sample`, ...).
`parse_sampling` turns them into a frozen, hashable `Sampling` once per gen_kwargs dict, with greedy
decoding resolved there by lm-eval's rule (greedy unless `do_sample` is not False and the temperature is
positive), so no engine restates that rule. Greedy parity across backends is the contract the tests
check: a greedy `Sampling` becomes temperature 0 (or `do_sample=False`) plus its penalties everywhere.

The three translations sit side by side below (`to_vllm`, `to_transformers`, `to_openai`), and
`REFUSED` says which gen_kwargs each backend refuses and why: the backends' key checks
(s1eval.models.base) read their accepted keys from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from s1eval.budget.errors import BudgetConfigError

# The sampling gen_kwargs; each may also be overridden for the thinking phase as `<key>_thinking`.
SAMPLING_PARAMS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "do_sample",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
)
# Not sampling, but forwarded unchanged where a backend accepts it (never as a `_thinking` override).
PASSED_THROUGH = ("logit_bias",)

# Keys that change greedy decoding too: they reshape the logits before the argmax (temperature, top_p,
# top_k and min_p matter only when sampling). presence_penalty and frequency_penalty count the tokens of
# the current continuation only: each round is one.
PENALTIES = ("repetition_penalty", "presence_penalty", "frequency_penalty")

# The OpenAI wire's neutral values, sent explicitly for every key a request leaves unset: a server applies
# the model's generation_config.json otherwise (Qwen2.5's repetition penalty 1.05), and greedy decoding
# would no longer match the other backends.
NEUTRAL: dict[str, Any] = {
    "top_p": 1.0, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0,
    "presence_penalty": 0.0, "frequency_penalty": 0.0,
}

# What each backend refuses, with the reason. Everything in SAMPLING_PARAMS + PASSED_THROUGH not listed
# here is accepted; a refused key fails before anything is generated (base._s1_engine_kwargs), except at a
# neutral value lm-eval tasks set (presence_penalty=0: dropped, see base._NO_OPS).
REFUSED: dict[str, dict[str, str]] = {
    "s1hf": {
        "presence_penalty": "transformers' generate has no presence penalty",
        "frequency_penalty": "transformers' generate has no frequency penalty",
        "logit_bias": "s1hf does not forward a logit bias to transformers' generate",
    },
    "s1vllm": {
        "logit_bias": "s1vllm's logit_bias is its mask of the ids without text; a task's own is not merged in",
    },
    "s1api": {},
}


def accepted_keys(backend: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the sampling keys, the passed-through keys) `backend` takes, in SAMPLING_PARAMS order."""
    if backend not in REFUSED:
        raise ValueError(f"no sampling table for backend {backend!r}; known: {', '.join(REFUSED)}")
    refused = REFUSED[backend]
    return (tuple(k for k in SAMPLING_PARAMS if k not in refused),
            tuple(k for k in PASSED_THROUGH if k not in refused))


def is_greedy(do_sample: bool | None, temperature: float | None) -> bool:
    """lm-eval's rule, in the one place it is written: greedy unless sampling is asked for (do_sample
    not False) with a positive temperature."""
    return do_sample is False or temperature is None or not temperature > 0


@dataclass(frozen=True)
class Sampling:
    """How one continuation samples; engine-neutral, immutable and hashable (s1hf batches rows by it).

    None means unset: the backend's neutral value, never the model's generation_config.json. `greedy` is
    resolved once: pass True for lm-eval's `do_sample=False` (the temperature is then kept but unused);
    left out, it is `temperature` unset or <= 0. `dataclasses.replace` keeps it as resolved; `override`
    resolves it again. `logit_bias` is passed through as (token id, bias) pairs in the order given.
    """

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: tuple[tuple[Any, Any], ...] | None = None
    greedy: bool = None  # type: ignore[assignment]  # resolved in __post_init__

    def __post_init__(self) -> None:
        by_temperature = is_greedy(None, self.temperature)
        if self.greedy is None:
            object.__setattr__(self, "greedy", by_temperature)
        elif not self.greedy and by_temperature:
            raise ValueError(f"a sampled Sampling needs a temperature > 0, got {self.temperature!r}")

    def penalties(self) -> dict[str, float]:
        """The penalties this continuation sets (they apply greedy or not)."""
        return {k: getattr(self, k) for k in PENALTIES if getattr(self, k) is not None}

    def override(self, overrides: Mapping[str, Any]) -> Sampling:
        """This sampling with the thinking phase's `<key>_thinking` overrides (already checked by
        `check_overrides`), greedy resolved again as lm-eval would for the merged gen_kwargs, except that
        a temperature override without a do_sample one sets do_sample by itself: lm-eval puts
        do_sample=False on greedy tasks, and temperature_thinking=0.7 alone must still sample the
        thinking phase (as in the fork), not be silently overruled by that flag."""
        if not overrides:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "greedy"}
        values.update({k: v for k, v in overrides.items() if k != "do_sample"})
        if "do_sample" in overrides:
            do_sample = overrides["do_sample"]
        elif "temperature" in overrides:
            do_sample = None  # the temperature decides
        else:
            do_sample = False if self.greedy else None  # as resolved before
        return Sampling(**values, greedy=is_greedy(do_sample, values["temperature"]))


GREEDY = Sampling()


# ------------------------------------------------------------------------------------------------ parsing
def _fail(key: str, value: Any, allowed: str) -> BudgetConfigError:
    return BudgetConfigError(f"gen_kwargs {key}={value!r} is invalid: expected {allowed}.")


def _number(value: Any, shown: str) -> float:
    # lm-eval turns numeric-looking --gen_kwargs into numbers; a string left over is checked here.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _fail(shown, value, "a number")
    try:
        return float(value)
    except ValueError:
        raise _fail(shown, value, "a number") from None


def _whole(value: Any, shown: str) -> int:
    number = _number(value, shown)
    if not number.is_integer():
        raise _fail(shown, value, "a whole number")
    return int(number)


def _flag(value: Any, shown: str) -> bool:
    # A bool only: lm-eval's rule compares do_sample with False by identity, so 0 or "false" would not
    # have meant greedy before; refusing them is clearer than reinterpreting them.
    if isinstance(value, bool):
        return value
    raise _fail(shown, value, "true or false")


def _bias(value: Any, shown: str) -> tuple[tuple[Any, Any], ...]:
    if not isinstance(value, Mapping):
        raise _fail(shown, value, "a mapping of token id to bias")
    return tuple(value.items())  # keys as given (ints or strings): the request writes them


_PARSERS = {"top_k": _whole, "do_sample": _flag, "logit_bias": _bias}


def check_value(key: str, value: Any, shown: str | None = None) -> Any:
    """`value` of sampling key `key` in its typed form (None stays None: unset); BudgetConfigError naming
    `shown` (the key as the user wrote it, e.g. temperature_thinking) when it has the wrong type."""
    if value is None:
        return None
    return _PARSERS.get(key, _number)(value, shown or key)


def check_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The thinking phase's overrides (`temperature_thinking=0.7` as {"temperature": 0.7}), typed."""
    return {k: check_value(k, v, f"{k}_thinking") for k, v in overrides.items()}


def parse_sampling(kwargs: Mapping[str, Any]) -> Sampling:
    """The `Sampling` of gen_kwargs that hold only sampling and passed-through keys (the backend's key
    check, base._s1_engine_kwargs, has removed everything else). Greedy is resolved here, once."""
    unknown = sorted(set(kwargs) - set(SAMPLING_PARAMS) - set(PASSED_THROUGH))
    if unknown:
        raise ValueError(f"parse_sampling got keys that are not sampling keys: {', '.join(unknown)}")
    typed = {k: check_value(k, v) for k, v in kwargs.items()}
    do_sample = typed.pop("do_sample", None)
    return Sampling(**typed, greedy=is_greedy(do_sample, typed.get("temperature")))


def from_mapping(kwargs: Mapping[str, Any]) -> Sampling:
    """The `Sampling` of a loose mapping that may hold other keys too (OpenAI request fields, as s1data's
    engine client has), which are ignored."""
    return parse_sampling({k: v for k, v in kwargs.items() if k in SAMPLING_PARAMS + PASSED_THROUGH})


# -------------------------------------------------------------------------------------------- translations
# Greedy is temperature 0 (vLLM, OpenAI) or do_sample=False (transformers), with the penalties in every
# case: they reshape the argmax. Sampled continuations get what they set; the rest stays neutral.

def to_vllm(s: Sampling) -> dict[str, Any]:
    """vLLM `SamplingParams` keywords (logit_bias: refused, see REFUSED; s1vllm sets its own mask)."""
    if s.greedy:
        return {"temperature": 0.0, **s.penalties()}
    keys = ("temperature", "top_p", "top_k", "min_p", *PENALTIES)
    return {k: getattr(s, k) for k in keys if getattr(s, k) is not None}


def to_transformers(s: Sampling) -> dict[str, Any]:
    """`GenerationConfig` attributes (transformers has no presence or frequency penalty: refused, see REFUSED).
    Set on a config built with do_sample=False, so the model's generation_config.json sampling is not used."""
    out: dict[str, Any] = {"do_sample": not s.greedy}
    if s.repetition_penalty is not None:  # greedy too, as the other backends
        out["repetition_penalty"] = s.repetition_penalty
    if not s.greedy:
        out.update({k: getattr(s, k) for k in ("temperature", "top_p", "top_k", "min_p")
                    if getattr(s, k) is not None})
    return out


def to_openai(s: Sampling) -> dict[str, Any]:
    """`/v1/completions` request fields: every NEUTRAL key sent (explicitly neutral when unset), greedy as
    temperature 0, and logit_bias passed through as given."""
    out: dict[str, Any] = dict(NEUTRAL)
    if s.greedy:
        out.update(temperature=0.0, **s.penalties())
    else:
        out["temperature"] = s.temperature
        out.update({k: getattr(s, k) for k in NEUTRAL if getattr(s, k) is not None})
    if s.logit_bias is not None:
        out["logit_bias"] = dict(s.logit_bias)
    return out
