"""The stage registry: name -> class, imported lazily so `s1data --help` stays fast."""

from __future__ import annotations

import importlib
from typing import Any

_REGISTRY = {
    "collect": "s1data.stages.collect:Collect",
    "decontaminate": "s1data.stages.decontaminate:Decontaminate",
    "traces": "s1data.stages.traces:Traces",
    "quality": "s1data.stages.quality:Quality",
    "difficulty": "s1data.stages.difficulty:Difficulty",
    "domains": "s1data.stages.domains:Domains",
    "select": "s1data.stages.select:Select",
    "export": "s1data.stages.export:Export",
}


def stage_names() -> list[str]:
    """Registered stage names in pipeline order."""
    return list(_REGISTRY)


def stage_class(name: str) -> Any:
    """The class registered under `name`."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown stage {name!r}; valid: {', '.join(_REGISTRY)}")
    module, attr = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)
