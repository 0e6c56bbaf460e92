"""s1eval.data: local CSV files are read with the standard library and nothing lands in the Hugging Face cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s1eval.data import benchmark_rows, load_source, read_csv
from s1eval.data.gpqa import build_doc, gpqa_diamond

GPQA_CSV = Path(__file__).parent / "grading" / "data" / "gpqa_synthetic.csv"


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_gpqa_csv_writes_nothing_to_the_hf_cache(tmp_path):
    # A fresh interpreter, so that `datasets` reads the cache locations below when it is imported.
    home, cache = tmp_path / "hf_home", tmp_path / "hf_datasets"
    home.mkdir(), cache.mkdir()
    code = ("import json, sys; from s1eval.data.gpqa import gpqa_diamond; "
            "d = gpqa_diamond(gpqa_data=sys.argv[1])['test']; print(json.dumps([len(d), d[0]['question']]))")
    env = {**os.environ, "HF_HOME": str(home), "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code, str(GPQA_CSV)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    size, question = json.loads(proc.stdout.strip().splitlines()[-1])
    assert size == 6 and question.startswith("What is the chemical symbol")
    assert _files_under(home) == [] and _files_under(cache) == []


def test_csv_never_goes_through_datasets_load_dataset(monkeypatch, tmp_path):
    import datasets

    def refuse(*args, **kwargs):
        raise AssertionError(f"datasets.load_dataset called with {args} {kwargs}")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    assert len(load_source(str(GPQA_CSV))) == 6
    assert len(gpqa_diamond(gpqa_data=str(GPQA_CSV))["test"]) == 6
    aime = tmp_path / "aime.csv"
    aime.write_text("Problem,Answer,id\nWhat is 1+1?,2,7\n", encoding="utf-8")
    assert benchmark_rows("aime25", aime25_data=str(aime)) == [
        {"Problem": "What is 1+1?", "Answer": "2", "id": "7", "problem": "What is 1+1?", "answer": "2"}]


def test_gpqa_docs_are_those_the_datasets_csv_reader_gave(tmp_path):
    # The docs (choice order included) must not change with the reader; cache_dir keeps this copy in tmp_path.
    import datasets

    before = datasets.load_dataset("csv", data_files=str(GPQA_CSV), split="train", cache_dir=str(tmp_path))
    assert [build_doc(r) for r in read_csv(GPQA_CSV)] == [build_doc(r) for r in before]


def test_csv_quoting_bom_and_multiline_cells(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('\ufeffQuestion,Answer\n"Line one,\nline two ""quoted""",42\n', encoding="utf-8")
    assert read_csv(path) == [{"Question": 'Line one,\nline two "quoted"', "Answer": "42"}]


def test_csv_row_with_surplus_cells_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Problem,Answer\nWhat is 1, 2 or 3?,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv.*more cells than the header's 2 columns.*quote cells"):
        read_csv(path)


def test_missing_local_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_source(str(tmp_path / "missing.csv"))
