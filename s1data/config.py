"""Pipeline configs: YAML -> frozen option dataclasses -> stage objects.

    out_dir: runs/s1k
    input: simplescaling/data_ablation_full59K   # omitted when the first stage is collect
    seed: 42                                     # given to every stage with a `seed` option not set below
    stages:
      - quality: {}
      - select: {method: s1k, n: 1000}

Unknown keys fail with the valid ones and a did-you-mean; command-line `key=value` overrides
are parsed as YAML scalars and applied on top.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from s1data.pipeline import Stage
from s1data.stages import stage_class, stage_names

TOP_KEYS = ("out_dir", "input", "seed", "stages")


def _unknown(kind: str, key: str, valid: list[str] | tuple[str, ...]) -> ValueError:
    near = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return ValueError(f"unknown {kind} {key!r}{hint}; valid: {', '.join(valid)}")


def build_options(stage_name: str, raw: dict[str, Any] | None, seed: int | None = None) -> Any:
    """The stage's frozen Options from a dict; unknown keys raise with the valid ones."""
    cls = stage_class(stage_name)
    raw = dict(raw or {})
    fields = {f.name: f for f in dataclasses.fields(cls.Options)}
    for key in raw:
        if key not in fields:
            raise _unknown(f"option of stage {stage_name!r}", key, list(fields))
    if seed is not None and "seed" in fields and "seed" not in raw:
        raw["seed"] = seed
    try:
        return cls.Options(**raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"stage {stage_name!r}: {exc}") from exc


def make_stage(stage_name: str, raw: dict[str, Any] | None = None, seed: int | None = None) -> Stage:
    """A stage object from its name and raw options."""
    if stage_name not in stage_names():
        raise _unknown("stage", stage_name, stage_names())
    return stage_class(stage_name)(build_options(stage_name, raw, seed))


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` with the value parsed as YAML (`n=500`, `benchmarks=[aime24]`)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not key=value; e.g. n=500 or select.n=500")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


@dataclass(frozen=True)
class PipelineConfig:
    """A parsed pipeline config."""

    out_dir: str
    input: str | None
    seed: int
    stages: tuple[tuple[str, dict[str, Any]], ...]

    def build(self) -> list[Stage]:
        return [make_stage(name, opts, self.seed) for name, opts in self.stages]


def load_config(path: str | Path, overrides: list[str] = ()) -> PipelineConfig:
    """Read a YAML config; `overrides` are `key=value` (top level) or `stage.key=value`."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    for key in raw:
        if key not in TOP_KEYS:
            raise _unknown("config key", key, TOP_KEYS)
    stages: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(raw.get("stages") or []):
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"stages[{i}] must be `name: {{options}}`, got {item!r}")
        (name, opts), = item.items()
        if name not in stage_names():
            raise _unknown("stage", name, stage_names())
        stages.append((name, dict(opts or {})))
    if not stages:
        raise ValueError(f"{path}: `stages:` is empty; list at least one of {', '.join(stage_names())}")
    top = {"out_dir": raw.get("out_dir", f"runs/{Path(path).stem}"), "input": raw.get("input"),
           "seed": int(raw.get("seed", 0))}
    for text in overrides:
        key, value = parse_override(text)
        if "." in key:
            stage_name, opt = key.split(".", 1)
            hits = [opts for name, opts in stages if name == stage_name]
            if not hits:
                raise _unknown("stage in override", stage_name, [n for n, _ in stages])
            for opts in hits:
                opts[opt] = value
        elif key in top:
            top[key] = value
        else:
            raise _unknown("override key", key, list(top))
    return PipelineConfig(str(top["out_dir"]), top["input"], int(top["seed"]), tuple(stages))
