"""collect: load the pool's sources and map each to the common columns (the first stage; reads no input).

Each source (s1data.sources) is loaded from the hub, or from a local file given under `paths` (a JSONL or
parquet file in the source's hub schema; a row's `_config` names its hub config where a source has several).
Per source, in the order of the authors' script (simplescaling/s1 data/collect_data.py):
1. convert and filter (a row failing its source's filter is dropped with that reason);
2. decontaminate, when `decontaminate` is set: drop a row sharing a word n-gram (or its whole normalised
   text) with an evaluation question (`contaminated:<benchmark>`) or, with `across_sources`, with a question
   kept from an earlier source (`overlap:<source>`): the script adds each source's kept questions to its
   test set before loading the next one. This runs before subsampling, as in the script, so xword still
   yields 1,000 clean rows;
3. subsample (xword 1,000 by a seeded shuffle; SciEval 250 by the script's task/topic quotas), cut rows
   dropped as `subsampled`; questions of `keep_questions` are never cut.
Every loaded row is counted as `in`. A source that fails to load stops the stage (`on_error: fail`, the
default) or is listed under `failed_sources` in stats.json and the log (`on_error: report`); it is never
skipped silently. Exact dedup across sources is left to the decontaminate stage that follows.

Deliberate differences from the script: a question shorter than n words is matched by its whole normalised
text (the script's n-gram lookup cannot see it); the keep lists are inputs (`numinamath_keep`: the hub's
simplescaling/numinamath_500 or a file; `keep_questions`: a file holding the script's `TMP_QUESTIONS_TO_KEEP`)
rather than code; Omni-MATH's `BAD_OMNIMATH_SAMPLES` is not applied, as the script defines but never uses it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from s1data.io import read_rows
from s1data.pipeline import Stage, StageOutput
from s1data.record import Drop
from s1data.sources import SOURCES, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectOptions:
    """`sources`: names from s1data.sources (default all 16, in the script's order); `paths`: {source: local
    file}; `samples`: {source: n} overriding subsample sizes (null: keep all); `numinamath_keep`: non-aops
    NuminaMath questions to keep (a file or hub id with a `problem` or `question` column); `keep_questions`:
    a file of questions kept by the NuminaMath filter and never cut by subsampling (rows with `question` or
    `problem`, or a JSON list of strings); `gpqa_diamond_data`: local GPQA Diamond CSV for the
    extended-minus-diamond filter; `decontaminate`: n-gram decontamination during collection, the
    decontaminate stage's options {n, benchmarks, allow_missing, gpqa_data, stop_phrases} (null: off);
    `across_sources`: also drop overlaps with earlier sources' kept questions; `seed`: of the subsampling shuffles
    (42 in the script)."""

    sources: tuple[str, ...] = tuple(SOURCES)
    paths: dict[str, str] = field(default_factory=dict)
    samples: dict[str, int | None] = field(default_factory=dict)
    on_error: str = "fail"
    numinamath_keep: str | None = None
    keep_questions: str | None = None
    gpqa_diamond_data: str | None = None
    decontaminate: dict[str, Any] | None = None
    across_sources: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        bad = [s for s in (*self.sources, *self.paths, *self.samples) if s not in SOURCES]
        if bad:
            raise ValueError(f"unknown sources {bad}; valid: {', '.join(SOURCES)}")
        if self.on_error not in ("fail", "report"):
            raise ValueError(f"on_error={self.on_error!r}; valid: fail, report")
        if self.decontaminate is not None:
            self.decontaminate_options()  # fail now, naming the bad key, not after loading the sources

    def decontaminate_options(self) -> Any:
        from s1data.stages.decontaminate import DecontaminateOptions

        raw = dict(self.decontaminate or {})
        if "dedup" in raw:
            raise ValueError("collect.decontaminate takes n, benchmarks, allow_missing, gpqa_data, stop_phrases; "
                             "dedup is the decontaminate stage's job (it runs after collect)")
        try:
            return DecontaminateOptions(**raw, dedup=False)
        except TypeError as exc:
            raise ValueError(f"collect.decontaminate: {exc}; valid keys: n, benchmarks, allow_missing, gpqa_data, "
                             "stop_phrases") from exc


def _questions_of(source: str) -> frozenset[str]:
    """Questions listed in a keep file or hub dataset: rows with `problem`/`question`, or bare strings."""
    out = set()
    path = Path(source).expanduser()
    # a JSON list (of strings or rows) is read as it is: the datasets json loader wants rows only
    rows = json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else read_rows(source)
    for r in rows:
        q = r if isinstance(r, str) else (r.get("problem") or r.get("question"))
        if not isinstance(q, str):
            raise ValueError(f"keep list {source!r}: a row has no `problem` or `question` string ({str(r)[:80]}); "
                             "give rows with one of those columns or a JSON list of strings")
        out.add(q)
    return frozenset(out)


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

    def _converter(self, src: Source, keep: frozenset[str]) -> Any:
        opts = self.options
        if src.name == "numinamath" and (opts.numinamath_keep or keep):
            extra = _questions_of(opts.numinamath_keep) if opts.numinamath_keep else frozenset()
            return partial(src.convert, keep=extra | keep)
        if src.name == "gpqa":
            from s1eval.data.gpqa import gpqa_rows

            kwargs = {"gpqa_data": opts.gpqa_diamond_data} if opts.gpqa_diamond_data else {}
            return partial(src.convert, diamond=frozenset(str(r["Question"]) for r in gpqa_rows(**kwargs)))
        return src.convert

    def _one(self, src: Source, index: Any, keep: frozenset[str]) -> StageOutput:
        """One source's kept and dropped rows; nothing reaches the pool (or the index) unless all of it worked."""
        pairs = _load_parts(src, self.options.paths.get(src.name))
        convert = self._converter(src, keep)
        kept: list[dict[str, Any]] = []
        out = StageOutput(kept=[], n_in=len(pairs))
        for row, part in pairs:
            res = convert(row, part)
            if isinstance(res, Drop):
                out.dropped.append(({"source": src.name, "metadata": str(row)}, res))
                continue
            hit = index.match(res["question"]) if index is not None else None
            if hit is not None and hit[0].startswith("source:") and not src.against_sources:
                hit = index.match(res["question"], skip_prefix="source:")
            if hit is not None:
                bench, item, gram = hit
                reason = (f"overlap:{bench[len('source:'):]}" if bench.startswith("source:")
                          else f"contaminated:{bench}")
                out.dropped.append((res, Drop(reason, f"item {item}: {gram}")))
                continue
            kept.append(res)
        size = self.options.samples.get(src.name, src.sample)
        if size is not None and len(kept) > size:
            chosen = src.select(kept, size, self.options.seed, keep)
            picked = set(chosen)
            out.dropped += [(r, Drop("subsampled", f"{src.name}: {len(chosen)} of {len(kept)}"))
                            for i, r in enumerate(kept) if i not in picked]
            kept = [kept[i] for i in chosen]
        out.kept = kept
        out.extra = {"loaded": len(pairs), "kept": len(kept),
                     "dropped": dict(Counter(d.reason for _, d in out.dropped))}
        return out

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        opts = self.options
        out = StageOutput(kept=[], n_in=0)
        per_source: dict[str, Any] = {}
        failed: dict[str, str] = {}
        keep = _questions_of(opts.keep_questions) if opts.keep_questions else frozenset()
        index, missing = None, {}
        if opts.decontaminate is not None:
            from s1data.stages.decontaminate import build_index

            index, missing = build_index(opts.decontaminate_options())
        for name in opts.sources:
            try:
                one = self._one(SOURCES[name], index, keep)
            except Exception as exc:  # reported or re-raised below, never silent
                msg = f"{type(exc).__name__}: {str(exc)[:300]}"
                if opts.on_error == "fail":
                    raise RuntimeError(f"source {name!r} ({SOURCES[name].hub_id}) failed to load: {msg}; "
                                       f"fix access, give a local file under collect.paths.{name}, "
                                       "or set on_error: report") from exc
                log.error("collect: source %s FAILED to load and is missing from the pool: %s", name, msg)
                failed[name] = msg
                continue
            out.kept += one.kept
            out.dropped += one.dropped
            out.n_in += one.n_in or 0
            per_source[name] = one.extra
            if index is not None and opts.across_sources:
                index.add(f"source:{name}", [r["question"] for r in one.kept])
        out.extra = {"per_source": per_source, "failed_sources": failed}
        if index is not None:
            out.extra["benchmarks_checked"] = {b: len(q) for b, q in index.questions.items()
                                               if not b.startswith("source:")}
            out.extra["benchmarks_missing"] = missing
        return out
