"""The loss covers exactly the assistant turn, from the thinking delimiter through <|im_end|>.

The expected mask is built independently of s1train and trl: the whole conversation is tokenized, the turns
are found token by token (`<|im_start|>` + role header + newline ... `<|im_end|>`), and the assistant turn's
content tokens, its closing `<|im_end|>` included, are the trained ones. It is compared with the labels of
every batch the real trainer's dataloader yields (built from the s1 recipe), for both delimiter presets,
with the token at the prompt/completion boundary checked on its own.
"""

from __future__ import annotations

import pytest

from s1train import sft
from tests.s1train.conftest import RECIPE, s1k_rows, write_jsonl

IGNORE = -100


def expected_labels(tokenizer, text: str) -> tuple[list[int], list[int], int]:
    """(input ids, labels, index of the first trained token) of one conversation, by walking its tokens."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    start_id, end_id = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    labels, i, first = [IGNORE] * len(ids), 0, None
    while i < len(ids):
        if ids[i] != start_id:
            i += 1
            continue
        header, j = "", i + 1
        while "\n" not in header:  # the role line: "<|im_start|>" role "\n"
            header += tokenizer.decode([ids[j]])
            j += 1
        assert header.endswith("\n"), f"the role header {header!r} shares a token with the turn's content"
        k = ids.index(end_id, j)  # the turn ends at its <|im_end|>; content may contain <|im_start|>
        if header == "assistant\n":
            labels[j:k + 1] = ids[j:k + 1]
            first = j
        i = k + 1
    # the template's newline after the last <|im_end|> is not part of the training sequence
    assert tokenizer.decode(ids[-1:]) == "\n"
    return ids[:-1], labels[:-1], first


def build_trainer(model_path, data_file, out, preset, *extra):
    argv = ["--config", str(RECIPE), "--model_name_or_path", model_path, "--dataset_name", str(data_file),
            "--output_dir", str(out), "--use_cpu", "true", "--delimiters", preset, "--global_batch_size", "1",
            "--block_size", "4096", "--dataloader_num_workers", "0", *extra]
    trainer, record = sft.build(argv)
    return trainer, record


def full_text(tokenizer, row, preset):
    from s1data.stages.export import training_text

    text = training_text(tokenizer, row["question"], row["thinking_trajectories"][0], row["attempt"])
    if preset == "think_tags":
        # what the preset means, written out by hand: the same text with <think> / </think> as delimiters
        head, rest = text.split("<|im_start|>think\n", 1)
        body, answer = rest.rsplit("\n<|im_start|>answer\n", 1)
        text = f"{head}<think>\n{body}\n</think>\n{answer}"
    return text


@pytest.mark.parametrize("preset", ["s1", "think_tags"])
def test_trainer_labels_cover_exactly_the_assistant_turn(tiny_ends, tmp_path, preset):
    rows = s1k_rows(4)
    trainer, _ = build_trainer(tiny_ends, write_jsonl(tmp_path / "rows.jsonl", rows), tmp_path / "out", preset)
    tok = trainer.processing_class
    expected = {}
    for row in rows:
        ids, labels, first = expected_labels(tok, full_text(tok, row, preset))
        expected[tuple(ids)] = (labels, first)
    seen = 0
    for batch in trainer.get_train_dataloader():
        ids = tuple(batch["input_ids"][0].tolist())
        assert ids in expected, "the trainer's input ids differ from the tokenized training text"
        labels, first = expected[ids]
        got = batch["labels"][0].tolist()
        assert got == labels
        # the boundary: the last prompt token ("\n" after "assistant") is masked, the delimiter is trained
        assert tok.decode([ids[first - 1]]).endswith("\n") and got[first - 1] == IGNORE
        delimiter = "<|im_start|>" if preset == "s1" else "<"
        assert tok.decode([ids[first]]).startswith(delimiter) and got[first] == ids[first]
        assert tok.decode([ids[-1]]) == "<|im_end|>" and got[-1] == ids[-1]
        seen += 1
    assert seen == len(rows)


def test_overlong_samples_are_counted_then_truncated_or_dropped(tiny_ends, tmp_path):
    rows = s1k_rows(6, long_every=3)  # rows 0 and 3 are long
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    trainer, record = build_trainer(tiny_ends, data, tmp_path / "a", "s1", "--block_size", "200")
    assert record["data"]["overlong"] == 2 and record["data"]["rows"] == 6 and record["data"]["longest"] > 200
    lengths = sorted(len(b["input_ids"][0]) for b in trainer.get_train_dataloader())
    assert len(lengths) == 6 and lengths[-1] == 200 and lengths[-2] == 200  # cut to the block
    trainer, record = build_trainer(tiny_ends, data, tmp_path / "b", "s1", "--block_size", "200", "--overlong", "drop")
    assert record["data"]["trained_rows"] == 4 and len(trainer.train_dataset) == 4
    assert record["expected_steps"] == 5 * 4  # 4 rows, batch 1, 5 epochs
