"""Benchmark data shipped with s1eval, and the `custom_dataset` loaders the `s1_*` task YAMLs call.

The JSONL files beside this module are verbatim copies of public data (provenance and licence in README.md);
GPQA is never shipped (see `s1eval.data.gpqa`). lm-eval calls a loader with the task's metadata merged with
the `--metadata` of the command line (and the model arguments), so every loader accepts `**metadata` and reads
only its own keys (`gpqa_diamond` and `s1_mini` wrap the loaders of `s1eval.data.gpqa` and `s1eval.mini.data`):

- ``<bench>_data``: a local ``.jsonl``/``.json``/``.csv``/``.parquet`` file or a hub dataset id, replacing the
  shipped copy (``aime24_data``, ``aime25_data``, ``math500_data``). ``.jsonl`` and ``.csv`` are read with the
  standard library, so nothing is copied into the Hugging Face cache (``datasets.load_dataset("csv")`` would write
  an Arrow copy of the whole file there on every run: for GPQA, questions and explanations in plain text); CSV
  cells stay strings. ``.json`` and ``.parquet`` go through `datasets`;
- ``<bench>_config`` / ``<bench>_split``: hub config and split (defaults: none / ``train``);
- ``answer_delimiters`` and ``judge``: the grading settings. Every loader resolves and validates them
  (`s1eval.grading.hooks.grading_settings`: a bad value, or an unset judge API key variable, fails when lm-eval
  builds the task) and, when they are not the defaults, writes them into each document under ``s1_grading``,
  where the task's ``process_results`` reads them (`s1eval.grading.hooks.attach_settings`; with the defaults the
  documents are unchanged). lm-eval hands the metadata to the loader only, so this is how they reach the grader.

Rows are normalised to ``problem`` and ``answer`` columns (case-insensitive ``Problem``/``question`` and
``Answer`` are accepted), other columns are kept.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent
SHIPPED = {"aime24": "aime24.jsonl", "aime25": "aime25.jsonl", "math500": "math500.jsonl"}
_ASY_RE = re.compile(r"\s*\[asy\].*?\[/asy\]\s*", re.S)
_LOCAL_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (blank lines skipped); a line that is not JSON is a ValueError naming file and line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number} is not JSON ({err}); is the file complete?") from None
    return rows


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV file with a header line, cells as strings (multi-line quoted cells kept whole)."""
    # utf-8-sig: a spreadsheet's byte-order mark would otherwise become part of the first column's name.
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            rows = list(reader)
        except csv.Error as err:
            raise ValueError(f"{str(path)!r} line {reader.line_num}: {err}; is it a comma-separated file "
                             "with one header line?") from err
    for row in rows:
        if None in row:  # DictReader files surplus cells under the key None
            raise ValueError(f"{str(path)!r}: a row has more cells than the header's {len(reader.fieldnames or [])} "
                             f"columns ({row[None]!r} left over); quote cells that contain commas")
    return rows


def shipped_rows(bench: str) -> list[dict[str, Any]]:
    """The shipped copy of a benchmark as a list of dicts."""
    if bench not in SHIPPED:
        raise ValueError(f"no shipped data for {bench!r}; shipped: {', '.join(sorted(SHIPPED))}")
    return read_jsonl(DATA_DIR / SHIPPED[bench])


def strip_figures(problem: str) -> str:
    """Remove Asymptote figure code (`[asy]...[/asy]`), keeping paragraph breaks tidy (the no-figures text)."""
    out = _ASY_RE.sub("\n", problem)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def load_source(source: str, config: str | None = None, split: str = "train") -> list[dict[str, Any]]:
    """Rows from a local file (by suffix) or a hub dataset id."""
    path = Path(source).expanduser()
    if path.suffix in _LOCAL_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"data file {str(path)!r} does not exist; give an existing file or a hub id")
        if path.suffix == ".jsonl":
            return read_jsonl(path)
        if path.suffix == ".csv":
            return read_csv(path)
        import datasets

        kind = {".json": "json", ".parquet": "parquet"}[path.suffix]
        return list(datasets.load_dataset(kind, data_files=str(path), split="train"))
    import datasets

    return list(datasets.load_dataset(source, config, split=split))


def _normalise(row: dict[str, Any], bench: str) -> dict[str, Any]:
    lower = {k.lower(): k for k in row}
    out = dict(row)
    for want, options in (("problem", ("problem", "question")), ("answer", ("answer", "final_answer"))):
        if want in out:
            continue
        key = next((lower[o] for o in options if o in lower), None)
        if key is None:
            raise KeyError(f"{bench} row has no {want!r} column (columns: {sorted(row)}); accepted: {options}")
        out[want] = row[key]
    out["answer"] = str(out["answer"]).strip()
    return out


def benchmark_rows(bench: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Rows for `bench`: the shipped copy, or the source named by the `<bench>_data` metadata key."""
    source = kwargs.get(f"{bench}_data")
    if source:
        log.info("%s: loading %s instead of the shipped copy", bench, source)
        rows = load_source(str(source), kwargs.get(f"{bench}_config"), kwargs.get(f"{bench}_split", "train"))
    else:
        rows = shipped_rows(bench)
    return [_normalise(r, bench) for r in rows]


def _as_dataset(rows: list[dict[str, Any]]) -> Any:
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def _grading(metadata: dict[str, Any], name: str, judged: bool = True) -> Any:
    """The metadata's grading settings, validated (before any data is loaded)."""
    from s1eval.grading.hooks import grading_settings

    return grading_settings(metadata, name=name, judged=judged)


def _with_grading(dataset: Any, settings: Any) -> Any:
    from s1eval.grading.hooks import attach_settings

    return attach_settings(dataset, settings)


def aime24(**metadata: Any) -> Any:
    """AIME 2024 without figures (the variant the s1 paper reports): `[asy]` blocks are removed."""
    grading = _grading(metadata, "aime24")
    rows = benchmark_rows("aime24", **metadata)
    return _with_grading(_as_dataset([{**r, "problem": strip_figures(r["problem"])} for r in rows]), grading)


def aime24_figures(**metadata: Any) -> Any:
    """AIME 2024 with the Asymptote figure code left in the problem text."""
    grading = _grading(metadata, "aime24_figures")
    return _with_grading(_as_dataset(benchmark_rows("aime24", **metadata)), grading)


def aime25(**metadata: Any) -> Any:
    """AIME 2025 I and II."""
    grading = _grading(metadata, "aime25")
    return _with_grading(_as_dataset(benchmark_rows("aime25", **metadata)), grading)


def math500(**metadata: Any) -> Any:
    """MATH500, the PRM800K test split."""
    grading = _grading(metadata, "math500")
    return _with_grading(_as_dataset(benchmark_rows("math500", **metadata)), grading)


def gpqa_diamond(**metadata: Any) -> Any:
    """`custom_dataset` of s1_gpqa_diamond: `s1eval.data.gpqa.gpqa_diamond` with the grading settings (GPQA's
    letters use the answer delimiters, never the judge)."""
    from s1eval.data import gpqa

    grading = _grading(metadata, "gpqa_diamond", judged=False)
    return _with_grading(gpqa.gpqa_diamond(**metadata), grading)


def s1_mini(**metadata: Any) -> Any:
    """`custom_dataset` of s1_mini: `s1eval.mini.data.s1_mini` with the grading settings."""
    from s1eval.mini import data as mini_data

    grading = _grading(metadata, "s1_mini")
    return _with_grading(mini_data.s1_mini(**metadata), grading)
