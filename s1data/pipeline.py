"""The pipeline runner: stages in order, each writing its output, dropped rows and counts.

A stage folder `NN_name/` holds `data.parquet` (kept rows), `dropped.parquet` (every dropped row
with `drop_reason` and `drop_detail`) and `stats.json` (in, kept, dropped per reason), written
last, so its presence marks the stage complete. The runner checks in = kept + dropped for every
stage and raises otherwise: nothing is lost silently.

A stage's fingerprint hashes its name, its options and its input's fingerprint; a rerun skips a
stage whose `stats.json` carries the same fingerprint and recomputes it (and everything after)
otherwise. A stage with `chunk_size` (the model-calling ones) processes its input in chunks and
writes each chunk's output under `chunks/` as it finishes, so an interrupted run resumes at the
first unfinished chunk; those stages also keep a per-record cache for finer resumption.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s1data.io import file_sha256, read_parquet, read_rows, write_json, write_parquet
from s1data.record import Drop, Verdict

log = logging.getLogger(__name__)

STATS_VERSION = 1


class PipelineError(RuntimeError):
    """A stage broke the pipeline's contract (e.g. rows lost between in and kept + dropped)."""


@dataclass
class StageOutput:
    """What a stage produced from its input rows. `n_in` is set only by source stages (collect)."""

    kept: list[dict[str, Any]]
    dropped: list[tuple[dict[str, Any], Drop]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    n_in: int | None = None


class Stage:
    """A pipeline step. Subclasses set `name`, `Options` (a frozen dataclass) and implement `process`."""

    name = "stage"
    Options: Any = None
    is_source = False  # True for stages that read no input (collect)

    def __init__(self, options: Any, workdir: Path | None = None) -> None:
        self.options = options
        self.workdir = workdir  # the stage folder, for caches

    @property
    def chunk_size(self) -> int | None:
        return getattr(self.options, "chunk_size", None)

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (clients, pools) after the stage ran."""


class FilterStage(Stage):
    """A stage made of a per-row check: `check(row)` returns None (keep) or a `Drop`."""

    def check(self, row: dict[str, Any]) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError

    def process(self, rows: list[dict[str, Any]]) -> StageOutput:
        out = StageOutput(kept=[])
        for row in rows:
            verdict = self.check(row)
            if verdict is None:
                out.kept.append(row)
            else:
                out.dropped.append((row, verdict))
        return out


def options_dict(options: Any) -> dict[str, Any]:
    """A stage's options as a JSON-able dict (for fingerprints and stats)."""
    import dataclasses

    return dataclasses.asdict(options) if dataclasses.is_dataclass(options) else dict(options or {})


def fingerprint(stage: Stage, input_fp: str) -> str:
    """Hash of the stage's name, options and input fingerprint."""
    blob = json.dumps([stage.name, options_dict(stage.options), input_fp], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _dropped_rows(dropped: list[tuple[dict[str, Any], Drop]]) -> list[dict[str, Any]]:
    return [{**row, "drop_reason": d.reason, "drop_detail": d.detail} for row, d in dropped]


def _run_chunked(stage: Stage, rows: list[dict[str, Any]], folder: Path, fp: str) -> StageOutput:
    size = int(stage.chunk_size or len(rows) or 1)
    chunk_dir = folder / "chunks"
    total = StageOutput(kept=[])
    for i, start in enumerate(range(0, len(rows), size)):
        part = rows[start:start + size]
        done = chunk_dir / f"{i:05d}.json"
        if done.is_file() and json.loads(done.read_text()).get("fingerprint") == fp:
            kept = read_parquet(chunk_dir / f"{i:05d}.kept.parquet")
            dropped = read_parquet(chunk_dir / f"{i:05d}.dropped.parquet")
            total.kept += kept
            total.dropped += [({k: v for k, v in r.items() if k not in ("drop_reason", "drop_detail")},
                               Drop(r["drop_reason"], r.get("drop_detail") or "")) for r in dropped]
            log.info("%s: chunk %d already done (%d rows), skipped", stage.name, i, len(part))
            continue
        out = stage.process(part)
        _check_counts(stage.name, len(part), out, f" (chunk {i})")
        write_parquet(chunk_dir / f"{i:05d}.kept.parquet", out.kept)
        write_parquet(chunk_dir / f"{i:05d}.dropped.parquet", _dropped_rows(out.dropped))
        write_json(done, {"fingerprint": fp, "in": len(part), "kept": len(out.kept)})
        total.kept += out.kept
        total.dropped += out.dropped
        for k, v in out.extra.items():
            total.extra[k] = total.extra.get(k, 0) + v if isinstance(v, (int, float)) else v
    return total


def _check_counts(name: str, n_in: int, out: StageOutput, where: str = "") -> None:
    if n_in != len(out.kept) + len(out.dropped):
        raise PipelineError(f"stage {name!r}{where}: in={n_in} but kept={len(out.kept)} + dropped={len(out.dropped)}"
                            f" = {len(out.kept) + len(out.dropped)}; a stage must keep or drop every row it reads")


@dataclass
class StageResult:
    """Where a stage's output lies and its counts."""

    name: str
    folder: Path
    stats: dict[str, Any]
    skipped: bool

    @property
    def data(self) -> Path:
        return self.folder / "data.parquet"


def run_stage(stage: Stage, folder: Path, rows: list[dict[str, Any]] | None, input_fp: str) -> StageResult:
    """Run one stage into `folder` unless its stats.json already carries the same fingerprint."""
    fp = fingerprint(stage, input_fp)
    stats_path = folder / "stats.json"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text())
        if stats.get("fingerprint") == fp:
            log.info("%s: complete with the same inputs and options, skipped (%s)", stage.name, folder)
            return StageResult(stage.name, folder, stats, skipped=True)
        log.info("%s: options or input changed, recomputing", stage.name)
        stats_path.unlink()
    if (folder / "chunks").is_dir():
        for f in (folder / "chunks").glob("*.json"):
            if json.loads(f.read_text()).get("fingerprint") != fp:
                shutil.rmtree(folder / "chunks")
                break
    folder.mkdir(parents=True, exist_ok=True)
    stage.workdir = folder
    t0 = time.perf_counter()
    try:
        rows = rows if rows is not None else []
        out = _run_chunked(stage, rows, folder, fp) if stage.chunk_size else stage.process(rows)
    finally:
        stage.close()
    n_in = out.n_in if stage.is_source else len(rows)
    if n_in is None:
        raise PipelineError(f"source stage {stage.name!r} did not report how many rows it read (n_in)")
    _check_counts(stage.name, n_in, out)
    write_parquet(folder / "data.parquet", out.kept)
    write_parquet(folder / "dropped.parquet", _dropped_rows(out.dropped))
    reasons = Counter(d.reason for _, d in out.dropped)
    stats = {
        "stage": stage.name, "in": n_in, "kept": len(out.kept), "dropped_total": len(out.dropped),
        "dropped": dict(sorted(reasons.items())), "fingerprint": fp, "input_fingerprint": input_fp,
        "output_sha256": file_sha256(folder / "data.parquet"), "options": options_dict(stage.options),
        "seconds": round(time.perf_counter() - t0, 3), "extra": out.extra, "stats_version": STATS_VERSION,
    }
    write_json(stats_path, stats)
    log.info("%s: in %d, kept %d, dropped %d %s", stage.name, n_in, len(out.kept), len(out.dropped), dict(reasons))
    return StageResult(stage.name, folder, stats, skipped=False)


def input_fingerprint(source: str | None) -> str:
    """Fingerprint of a pipeline input: a local file's sha256, or the hub id as given."""
    if source is None:
        return "none"
    path = Path(source).expanduser()
    if path.is_file():
        return file_sha256(path)
    if path.is_dir():
        return hashlib.sha256("".join(file_sha256(f) for f in sorted(path.glob("*.parquet"))).encode()).hexdigest()
    return f"hub:{source}"


def run_pipeline(stages: list[Stage], out_dir: str | Path, source: str | None = None) -> list[StageResult]:
    """Run stages in order into `out_dir/NN_name/`; the first reads `source` unless it is a source stage."""
    out = Path(out_dir)
    results: list[StageResult] = []
    fp = input_fingerprint(source)
    rows: list[dict[str, Any]] | None = None
    for i, stage in enumerate(stages):
        folder = out / f"{i:02d}_{stage.name}"
        if i == 0 and not stage.is_source:
            if source is None:
                raise ValueError(f"the first stage {stage.name!r} reads a dataset: set `input:` in the config "
                                 "or start the pipeline with `collect`")
            rows = read_rows(source)
        elif i > 0:
            rows = None  # read lazily below: a skipped stage needs no input
        stats_path = folder / "stats.json"
        want = fingerprint(stage, fp)
        complete = stats_path.is_file() and json.loads(stats_path.read_text()).get("fingerprint") == want
        if i > 0 and not complete:
            rows = read_parquet(results[-1].data)
        result = run_stage(stage, folder, rows, fp)
        results.append(result)
        fp = result.stats["output_sha256"]
    write_json(out / "summary.json", [{k: r.stats[k] for k in ("stage", "in", "kept", "dropped")} for r in results])
    return results
