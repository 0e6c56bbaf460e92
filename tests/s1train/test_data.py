"""Data sources and formats: hub-style rows, s1data's export folder, parquet, s1K-1.1 teachers, `text`."""

from __future__ import annotations

import pytest

from s1data.stages.export import training_text
from s1train.config import ConfigError
from s1train.data import format_dataset, load_rows, prompt_completion, split_text
from tests.s1train.conftest import s1k_rows, write_jsonl


@pytest.fixture(scope="module")
def tok(tiny_ends):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_ends)


def test_s1_pair_is_s1datas_text_split_after_the_assistant_header(tok):
    row = s1k_rows(2)[1]
    pair = prompt_completion(tok, row["question"], row["thinking_trajectories"][0], row["attempt"])
    full = training_text(tok, row["question"], row["thinking_trajectories"][0], row["attempt"])
    assert pair["prompt"] + pair["completion"] + "\n" == full
    assert pair["prompt"].endswith("<|im_start|>assistant\n")
    assert pair["completion"].startswith("<|im_start|>think\n") and pair["completion"].endswith("<|im_end|>")
    assert "\n<|im_start|>answer\nAnswer: The sum is" in pair["completion"]  # "Answer: " added: the attempt had none
    row0 = s1k_rows(1)[0]  # its attempt already says "Answer: 42": not doubled
    assert prompt_completion(tok, row0["question"], row0["thinking_trajectories"][0], row0["attempt"])[
        "completion"].endswith("<|im_start|>answer\nAnswer: 42<|im_end|>")
    assert split_text(full, 0) == pair  # a `text` column (s1K_tokenized, s1data export) splits the same way


def test_think_tags_swaps_only_the_delimiters_even_when_the_trace_mentions_them(tok):
    trace = "I could write <|im_start|>answer here, or </think>, but keep thinking."
    pair = prompt_completion(tok, "What is 1 + 41?", trace, "42", preset="think_tags")
    assert pair["completion"] == f"<think>\n{trace}\n</think>\nAnswer: 42<|im_end|>"


def test_sources_export_folder_parquet_and_teacher_columns(tok, tmp_path):
    import datasets

    rows = s1k_rows(3)
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "export"))  # what s1data's export writes
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "rows.parquet"))
    jsonl = write_jsonl(tmp_path / "rows.jsonl", rows)
    for source in (tmp_path / "export", tmp_path / "rows.parquet", jsonl):
        ds = load_rows(str(source))
        assert len(ds) == 3 and ds[0]["question"] == rows[0]["question"]
    r1 = format_dataset(load_rows(str(jsonl)), tok, traces="deepseek")
    assert r1[0]["completion"].startswith("<|im_start|>think\nR1: Let me")
    assert r1[0]["completion"].endswith("<|im_start|>answer\nAnswer: Final: 42<|im_end|>")
    with pytest.raises(ConfigError, match=r"row 0: no trace/attempt for traces='gemini' \(columns: .*\); s1K uses"):
        format_dataset(load_rows(str(jsonl)), tok, traces="gemini")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not data")
    with pytest.raises(ConfigError, match=r"expected a saved dataset, or parquet or json\(l\) files of one kind"):
        load_rows(str(tmp_path / "other"))
