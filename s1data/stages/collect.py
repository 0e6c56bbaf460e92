"""collect: load the pool's sources and map each to the common columns (the first stage; reads no input).

Each source (s1data.sources) is loaded from the hub, or from a local file given under `paths` (a JSONL or
parquet file in the source's hub schema; a row's `_config` names its hub config where a source has several).
Every loaded row is counted as `in`; a row failing its source's filter is dropped with that reason and a
row cut by subsampling as `subsampled`. A source that fails to load stops the stage (`on_error: fail`,
the default) or is listed under `failed_sources` in stats.json and the log (`on_error: report`); it is
never skipped silently.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from s1data.io import read_rows
from s1data.pipeline import Stage, StageOutput
from s1data.record import Drop
from s1data.sources import SOURCES, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectOptions:
    """`sources`: names from s1data.sources (default all 16); `paths`: {source: local file}; `samples`:
    {source: n} overriding subsample sizes (null: keep all); `numinamath_keep`: file of extra NuminaMath
    questions to keep (one per JSONL row, key `problem`); `gpqa_diamond_data`: local GPQA Diamond CSV for
    the extended-minus-diamond filter."""

    sources: tuple[str, ...] = tuple(SOURCES)
    paths: dict[str, str] = field(default_factory=dict)
    samples: dict[str, int | None] = field(default_factory=dict)
    on_error: str = "fail"
    numinamath_keep: str | None = None
    gpqa_diamond_data: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        bad = [s for s in (*self.sources, *self.paths, *self.samples) if s not in SOURCES]
        if bad:
            raise ValueError(f"unknown sources {bad}; valid: {', '.join(SOURCES)}")
        if self.on_error not in ("fail", "report"):
            raise ValueError(f"on_error={self.on_error!r}; valid: fail, report")


def _load_parts(src: Source, path: str | None) -> list[tuple[dict[str, Any], tuple]]:
    """(row, part) pairs of a source from its local file or the hub."""
    if path:
        default = src.parts[0]
        return [(r, (r.pop("_config", default[0]), default[1])) for r in read_rows(path)]
    import datasets

    out = []
    for part in src.parts:
        if src.name == "livecodebench":
            ds = datasets.load_dataset(src.hub_id, version_tag=part[0], split=part[1], trust_remote_code=True)
        else:
            ds = datasets.load_dataset(src.hub_id, part[0], split=part[1])
        out += [(dict(r), part) for r in ds]
    return out


class Collect(Stage):
    """Build the pool from its sources."""

    name = "collect"
    Options = CollectOptions
    is_source = True

    def _converter(self, src: Source) -> Any:
        opts = self.options
        if src.name == "numinamath" and opts.numinamath_keep:
            keep = frozenset(r.get("problem") or r.get("question") for r in read_rows(opts.numinamath_keep))
            return partial(src.convert, keep=keep)
        if src.name == "gpqa":
            from s1eval.data.gpqa import gpqa_rows

            kwargs = {"gpqa_data": opts.gpqa_diamond_data} if opts.gpqa_diamond_data else {}
            return partial(src.convert, diamond=frozenset(str(r["Question"]) for r in gpqa_rows(**kwargs)))
        return src.convert

    def _one(self, src: Source, out: StageOutput, rng: random.Random) -> dict[str, Any]:
        pairs = _load_parts(src, self.options.paths.get(src.name))
        convert = self._converter(src)
        kept: list[dict[str, Any]] = []
        before = len(out.dropped)
        for row, part in pairs:
            res = convert(row, part)
            if isinstance(res, Drop):
                out.dropped.append(({"source": src.name, "metadata": str(row)}, res))
            else:
                kept.append(res)
        size = self.options.samples.get(src.name, src.sample)
        if size is not None and len(kept) > size:
            chosen = set(rng.sample(range(len(kept)), size))
            out.dropped += [(r, Drop("subsampled", f"{src.name}: {size} of {len(kept)}"))
                            for i, r in enumerate(kept) if i not in chosen]
            kept = [r for i, r in enumerate(kept) if i in chosen]
        out.kept += kept
        reasons = Counter(d.reason for _, d in out.dropped[before:])
        return {"loaded": len(pairs), "kept": len(kept), "dropped": dict(reasons)}

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        out = StageOutput(kept=[], n_in=0)
        per_source: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for name in self.options.sources:
            rng = random.Random(f"{self.options.seed}:{name}")
            try:
                per_source[name] = self._one(SOURCES[name], out, rng)
                out.n_in += per_source[name]["loaded"]
            except Exception as exc:  # reported or re-raised below, never silent
                msg = f"{type(exc).__name__}: {str(exc)[:300]}"
                if self.options.on_error == "fail":
                    raise RuntimeError(f"source {name!r} ({SOURCES[name].hub_id}) failed to load: {msg}; fix access, "
                                       f"give a local file under collect.paths.{name}, or set on_error: report") from exc
                log.error("collect: source %s FAILED to load and is missing from the pool: %s", name, msg)
                failed[name] = msg
        out.extra = {"per_source": per_source, "failed_sources": failed}
        return out
