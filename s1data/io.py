"""Reading and writing datasets: parquet written atomically, inputs from files or the hub.

Rows are lists of dicts. Writing takes the ordered union of the rows' keys as columns (so a row
without a key gets null there) and renames a temporary file into place, so a reader never sees
half a file and a killed run leaves no corrupt output behind (one writer for the project:
s1eval.atomic's `write_text_atomic` / `write_bytes_atomic`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")


def columns_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Ordered union of the keys of `rows`."""
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def to_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> Any:
    """A pyarrow table from rows; a column whose values do not share one type is named in the error."""
    import pyarrow as pa

    cols = columns if columns is not None else columns_of(rows)
    arrays = {}
    for c in cols:
        values = [r.get(c) for r in rows]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            kinds = sorted({type(v).__name__ for v in values})
            raise TypeError(f"column {c!r} mixes value types {kinds}; make the stage or loader that writes it "
                            f"store one type (e.g. str(...) for metadata): {exc}") from exc
    if not cols:
        return pa.table({"drop_reason": pa.array([], pa.string())}) if not rows else pa.table({})
    return pa.table(arrays)


def write_parquet(path: str | Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Write rows to a parquet file atomically (serialised in memory, then one atomic write)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from s1eval.atomic import write_bytes_atomic

    buf = pa.BufferOutputStream()
    pq.write_table(to_table(rows, columns), buf)
    write_bytes_atomic(Path(path), buf.getvalue().to_pybytes())


def write_json(path: str | Path, obj: Any) -> None:
    """Write a JSON document atomically (indented, keys in insertion order)."""
    from s1eval.atomic import write_text_atomic

    write_text_atomic(Path(path), json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_parquet(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a parquet file."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def read_rows(source: str | Path, split: str = "train", config: str | None = None) -> list[dict[str, Any]]:
    """Rows from a local file (.parquet, .jsonl, .json, .csv), a folder of parquet files, or a hub dataset id."""
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if (path / "data.parquet").is_file():
            files = [path / "data.parquet"]
        if not files:
            raise FileNotFoundError(f"folder {str(path)!r} holds no .parquet file; give a file or a stage folder")
        return [r for f in files for r in read_parquet(f)]
    if path.suffix in _SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"input {str(path)!r} does not exist; give an existing file or a hub dataset id")
        if path.suffix == ".parquet":
            return read_parquet(path)
        if path.suffix == ".jsonl":
            with open(path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        import datasets

        kind = {".json": "json", ".csv": "csv"}[path.suffix]
        return list(datasets.load_dataset(kind, data_files=str(path), split="train"))
    import datasets

    return list(datasets.load_dataset(str(source), config, split=split))


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (stage fingerprints chain through these)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
