"""Budget-forcing configuration: parse lm-eval generation kwargs into a frozen `BudgetConfig`.

Config flows one way (DESIGN.md): task YAML `generation_kwargs` -> `--gen_kwargs` -> this parser ->
a frozen dataclass that the state machine reads. Every key the original s1 fork accepted works
unchanged, so its `eval/commands.sh` lines run as they are:

    max_tokens_thinking   int or "auto"        thinking budget, counted over all rounds
    thinking_n_ignore     int                  how many ends of thinking are suppressed
    thinking_n_ignore_str str                  appended after each suppressed end (e.g. Wait)
    thinking_start        str                  opens thinking (preset default)
    thinking_end          str                  opens the answer (preset default)
    until_thinking        str                  stops a thinking round (preset default). Matched in the
                                               decoded text of the round, as vLLM stop strings are: Gemma's
                                               `$.` token ends a round at `.`, and the token holding the
                                               stop's first character is dropped with it. A string that is one
                                               added token (`<|im_start|>`) is matched by its id, the same
                                               thing, since no token can hold it merged with other text
    until_thinking_2      str                  a second thinking stop
    rejection_sample      bool                 resample thinking until it fits the budget
    <param>_thinking      e.g. temperature_thinking: a sampling override for thinking only

plus ours:

    min_tokens_thinking   int                  ends before this many thinking tokens are suppressed
    min_tokens_method     append | mask        how (see machine.py); `append` is s1's behaviour
    forced_answer_prefix  str                  written after the forced end ("Final Answer:")
    answer_reserve        int                  tokens kept for the answer by `auto`
    delimiters            s1 | think_tags      the delimiter preset, chosen explicitly, never by model name
    rejection_max_tries   int                  cap on rejection-sampling tries per request
    control               token:N | step:N | class:long | class:short   the paper's control
                                               baselines (s1eval.budget.control)

lm-eval strips whitespace around `--gen_kwargs` values; to pass an ignore string with a leading
space, quote it: `--gen_kwargs "thinking_n_ignore_str=' Wait'"` (lm-eval keeps quoted values as-is).

A key left out takes its `BudgetConfig` field's default (the only place the defaults are written).
Any other key containing "thinking", or an invalid value, raises `BudgetConfigError` naming the
allowed keys or values. Our keys are removed from the kwargs handed to an engine.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from s1eval.budget.control import parse_control, step_delimiters
from s1eval.budget.errors import BudgetConfigError
from s1eval.budget.sampling import SAMPLING_PARAMS, check_overrides
from s1eval.s1format import FORCED_ANSWER_PREFIX, PRESETS, S1

# PRESETS (s1eval.s1format): `s1` is the paper's (Qwen chat-format special tokens); `think_tags` is the
# R1 / Qwen3 family. A preset is chosen by the user, never inferred from a model name. The sampling
# parameters that may be overridden for the thinking phase as `<param>_thinking` are
# s1eval.budget.sampling's SAMPLING_PARAMS.

FORK_KEYS = (
    "max_tokens_thinking",
    "thinking_n_ignore",
    "thinking_n_ignore_str",
    "thinking_start",
    "thinking_end",
    "until_thinking",
    "until_thinking_2",
    "rejection_sample",
)
OUR_KEYS = (
    "min_tokens_thinking",
    "min_tokens_method",
    "forced_answer_prefix",
    "answer_reserve",
    "delimiters",
    "rejection_max_tries",
    "control",
)
THINKING_OVERRIDES = tuple(f"{p}_thinking" for p in SAMPLING_PARAMS)
ALL_KEYS = FORK_KEYS + OUR_KEYS + THINKING_OVERRIDES
# Keys whose mere presence switches budget forcing on (the fork: any key containing "thinking").
_ACTIVATING = set(FORK_KEYS) | {"min_tokens_thinking", "control"} | set(THINKING_OVERRIDES)

MIN_TOKENS_METHODS = ("append", "mask")


@dataclass(frozen=True)
class BudgetConfig:
    """What one request's budget forcing does. Immutable; built by `parse_gen_kwargs`."""

    max_tokens_thinking: int | str | None = None  # None = unbounded (up to the context), or "auto"
    thinking_n_ignore: int = 0
    # The fork asks engines for at least one token per thinking round whenever
    # thinking_n_ignore is given (vLLM min_tokens=1); we keep that for greedy parity.
    ignore_given: bool = False
    thinking_n_ignore_str: str | None = None
    thinking_start: str = S1.thinking_start  # the defaults of the `delimiters` preset below
    thinking_end: str = S1.thinking_end
    until_thinking: tuple[str, ...] = (S1.until_thinking,)
    rejection_sample: bool = False
    rejection_max_tries: int = 64
    min_tokens_thinking: int = 0
    min_tokens_method: str = "append"
    forced_answer_prefix: str = FORCED_ANSWER_PREFIX
    answer_reserve: int = 100
    delimiters: str = S1.name
    thinking_sampling: Mapping[str, Any] = field(default_factory=dict)  # typed `<key>_thinking` overrides
    control: tuple[str, int | str] | None = None  # e.g. ("token", 1024); see control.py

    @property
    def forced_end(self) -> str:
        """Text appended when the budget ends thinking (after an optional newline)."""
        if not self.forced_answer_prefix:
            return self.thinking_end
        return f"{self.thinking_end}\n{self.forced_answer_prefix}"


def _fail(key: str, value: Any, allowed: str) -> BudgetConfigError:
    return BudgetConfigError(f"gen_kwargs {key}={value!r} is invalid: expected {allowed}.")


def _unknown_key_error(key: str) -> BudgetConfigError:
    close = difflib.get_close_matches(key, ALL_KEYS, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return BudgetConfigError(
        f"Unknown budget-forcing gen_kwarg {key!r}.{hint} Allowed keys: {', '.join(ALL_KEYS)}."
    )


def _as_int(key: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _fail(key, value, f"an integer >= {minimum}")
    try:
        number = int(value)
    except ValueError:
        raise _fail(key, value, f"an integer >= {minimum}") from None
    if number < minimum:
        raise _fail(key, value, f"an integer >= {minimum}")
    return number


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).lower() in ("1", "true", "0", "false"):
        return str(value).lower() in ("1", "true")
    raise _fail(key, value, "true or false")


def _as_text(key: str, value: Any, allow_empty: bool = False) -> str:
    # lm-eval turns numeric-looking values into numbers; a delimiter is always text.
    text = value if isinstance(value, str) else str(value)
    if not text and not allow_empty:
        raise _fail(key, value, "a non-empty string")
    return text


def is_budget_forcing(gen_kwargs: Mapping[str, Any]) -> bool:
    """True when the kwargs ask for budget forcing (as in the fork: any thinking key)."""
    return any(k in _ACTIVATING or "thinking" in k for k in gen_kwargs) or bool(
        gen_kwargs.get("rejection_sample")
    )


def split_gen_kwargs(gen_kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split kwargs into (ours, the rest). Unknown keys containing "thinking" are errors."""
    ours, rest = {}, {}
    for key, value in gen_kwargs.items():
        if key in ALL_KEYS:
            ours[key] = value
        elif "thinking" in key:
            raise _unknown_key_error(key)
        else:
            rest[key] = value
    return ours, rest


def parse_gen_kwargs(gen_kwargs: Mapping[str, Any]) -> tuple[BudgetConfig | None, dict[str, Any]]:
    """Return (config or None when no budget forcing is asked for, engine kwargs without ours)."""
    ours, rest = split_gen_kwargs(gen_kwargs)
    if not is_budget_forcing(ours):
        if ours:  # e.g. only `delimiters=`: harmless, but say nothing silently
            raise BudgetConfigError(
                f"gen_kwargs {sorted(ours)} only apply to budget forcing; add a thinking key such "
                "as max_tokens_thinking=auto or thinking_n_ignore=1, or remove them."
            )
        return None, rest
    return _build(ours), rest


def _build(ours: dict[str, Any]) -> BudgetConfig:
    preset_name = str(ours.get("delimiters", BudgetConfig.delimiters))
    if preset_name not in PRESETS:
        raise _fail("delimiters", preset_name, " or ".join(PRESETS))
    preset = dict(PRESETS[preset_name])
    control = None
    if "control" in ours:
        try:
            control = parse_control(ours["control"])
        except ValueError as err:
            raise BudgetConfigError(str(err)) from None
        if control[0] == "step":  # the step format's delimiters, unless given explicitly
            preset["thinking_start"], preset["until_thinking"] = step_delimiters(int(control[1]))
    budget = ours.get("max_tokens_thinking")
    if budget is not None and budget != "auto":
        budget = _as_int("max_tokens_thinking", budget)
    until = [_as_text("until_thinking", ours.get("until_thinking", preset["until_thinking"]))]
    if "until_thinking_2" in ours:
        until.append(_as_text("until_thinking_2", ours["until_thinking_2"]))
    # Only what was given goes to the constructor: the defaults are written in BudgetConfig's fields only.
    given: dict[str, Any] = {}
    if ours.get("thinking_n_ignore") is not None:  # the fork's `or 0`: an explicit None is no ignores
        given["thinking_n_ignore"] = _as_int("thinking_n_ignore", ours["thinking_n_ignore"] or 0)
    if ours.get("thinking_n_ignore_str") is not None:
        given["thinking_n_ignore_str"] = _as_text("thinking_n_ignore_str", ours["thinking_n_ignore_str"])
    if "rejection_sample" in ours:
        given["rejection_sample"] = _as_bool("rejection_sample", ours["rejection_sample"])
    for key, minimum in (("rejection_max_tries", 1), ("min_tokens_thinking", 0), ("answer_reserve", 0)):
        if key in ours:
            given[key] = _as_int(key, ours[key], minimum)
    if "min_tokens_method" in ours:
        given["min_tokens_method"] = str(ours["min_tokens_method"])
        if given["min_tokens_method"] not in MIN_TOKENS_METHODS:
            raise _fail("min_tokens_method", given["min_tokens_method"], " or ".join(MIN_TOKENS_METHODS))
    if "forced_answer_prefix" in ours:
        given["forced_answer_prefix"] = _as_text("forced_answer_prefix", ours["forced_answer_prefix"],
                                                 allow_empty=True)
    cfg = BudgetConfig(
        max_tokens_thinking=budget,
        ignore_given=ours.get("thinking_n_ignore") is not None,
        thinking_start=_as_text("thinking_start", ours.get("thinking_start", preset["thinking_start"])),
        thinking_end=_as_text("thinking_end", ours.get("thinking_end", preset["thinking_end"])),
        until_thinking=tuple(until),
        delimiters=preset_name,
        thinking_sampling=check_overrides({k[: -len("_thinking")]: v for k, v in ours.items()
                                           if k in THINKING_OVERRIDES}),
        control=control,
        **given,
    )
    _check_combinations(cfg)
    return cfg


def _check_combinations(cfg: BudgetConfig) -> None:
    if cfg.rejection_sample and cfg.max_tokens_thinking is None:
        raise BudgetConfigError(
            "rejection_sample=true needs a budget: add max_tokens_thinking=N (or auto)."
        )
    if cfg.rejection_sample and cfg.thinking_n_ignore:
        raise BudgetConfigError(
            f"rejection_sample=true cannot be combined with thinking_n_ignore={cfg.thinking_n_ignore}: "
            "rejection sampling keeps the first natural end; drop one of the two."
        )
    if (
        isinstance(cfg.max_tokens_thinking, int)
        and cfg.min_tokens_thinking > cfg.max_tokens_thinking
    ):
        raise BudgetConfigError(
            f"min_tokens_thinking={cfg.min_tokens_thinking} exceeds max_tokens_thinking="
            f"{cfg.max_tokens_thinking}; lower the minimum or raise the budget."
        )
