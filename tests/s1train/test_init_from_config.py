"""`--init_from_config`: a fresh model from a folder's config.json (how the mini-s1 base is pretrained)."""

from __future__ import annotations

import json
import shutil

import pytest

from s1train.config import ConfigError
from tests.s1train.conftest import ROOT, s1k_rows, write_jsonl

MINI = ROOT / "recipes" / "mini"


@pytest.fixture(scope="module")
def init_dir(tmp_path_factory):
    from s1eval.mini.tokenizer import build_tokenizer

    folder = build_tokenizer(tmp_path_factory.mktemp("init"))
    shutil.copyfile(MINI / "base_config.json", folder / "config.json")
    return folder


def _build(init_dir, tmp_path, *extra):
    from s1train.sft import build

    data = write_jsonl(tmp_path / "rows.jsonl", s1k_rows(4))
    return build(["--config", str(MINI / "pretrain.yaml"), "--model_name_or_path", str(init_dir), "--dataset_name",
                  str(data), "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", *extra])


def test_fresh_weights_follow_the_config_and_the_seed(init_dir, tmp_path):
    cfg = json.loads((init_dir / "config.json").read_text())
    trainer, record = _build(init_dir, tmp_path, "--seed", "3")
    model = trainer.model
    assert (model.config.hidden_size == cfg["hidden_size"]
            and model.config.num_hidden_layers == cfg["num_hidden_layers"])
    assert model.config.hidden_size // model.config.num_attention_heads >= 32  # vLLM's CPU attention needs it
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 2e6
    assert record["argv"][-1] == "3"
    again = _build(init_dir, tmp_path, "--seed", "3")[0].model
    other = _build(init_dir, tmp_path, "--seed", "4")[0].model
    w = model.model.layers[0].mlp.up_proj.weight
    assert (w == again.model.layers[0].mlp.up_proj.weight).all()
    assert not (w == other.model.layers[0].mlp.up_proj.weight).all()


def test_a_folder_without_config_fails_clearly(tmp_path):
    with pytest.raises(ConfigError, match="init_from_config needs a local folder with config.json"):
        _build(tmp_path, tmp_path)
