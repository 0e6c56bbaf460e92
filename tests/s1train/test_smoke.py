"""CPU smoke run through the real `s1train sft` command: the tiny model trains a few steps on s1K-format rows
(loss goes down, parameters change), and the saved checkpoint runs budget forcing in s1hf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.s1train.conftest import RECIPE, s1k_rows, write_jsonl

BIN = Path(sys.executable).parent


def tensors(folder) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


@pytest.mark.slow
def test_sft_command_trains_and_the_checkpoint_budget_forces_in_s1hf(tiny_ends, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", s1k_rows(4))
    out = tmp_path / "run"
    # The s1 recipe as it is, except what a CPU smoke run needs: the tiny model, 4 rows in one global batch
    # (so each step sees the same data and losses are comparable), a larger learning rate, no warmup.
    cmd = [str(BIN / "s1train"), "sft", "--config", str(RECIPE), "--model_name_or_path", tiny_ends,
           "--dataset_name", str(data), "--output_dir", str(out), "--use_cpu", "true", "--block_size", "512",
           "--num_train_epochs", "4", "--global_batch_size", "4", "--learning_rate", "1e-3", "--warmup_steps", "0",
           "--disable_tqdm", "true"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]

    record = json.loads((out / "s1train_run.json").read_text())
    losses = [h["loss"] for h in record["log_history"] if "loss" in h]
    assert record["expected_steps"] == len(losses) == 4 and record["derived"]["gradient_accumulation_steps"] == 4
    assert record["run"]["train_versions"]["trl"] and record["run"]["chat_template_sha"]
    assert losses[-1] < losses[0], losses

    before, after = tensors(tiny_ends), tensors(out)
    assert before.keys() == after.keys() and all(after[k].dtype == before[k].dtype for k in before)  # float32
    unchanged = sorted(k for k in before if before[k].equal(after[k]))
    # the tiny model's MLP is zero by construction (silu(0) * 0): it and the norm that only feeds it get no
    # gradient; everything else trains
    assert unchanged == ["model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.gate_proj.weight",
                         "model.layers.0.mlp.up_proj.weight", "model.layers.0.post_attention_layernorm.weight"]
    assert not before["lm_head.weight"].equal(after["lm_head.weight"])

    # The checkpoint through lm-eval's own evaluator, as a user runs it: model s1hf, a real task.
    from lm_eval import simple_evaluate

    from s1eval import _autoload
    from s1eval.budget.stats import collector_for

    _autoload.install(force=True)
    result = simple_evaluate(model="s1hf", model_args=f"pretrained={out},max_length=2048", tasks=["s1_aime24"],
                             limit=1, apply_chat_template=True, log_samples=True,
                             gen_kwargs="max_gen_toks=256,max_tokens_thinking=12,thinking_n_ignore=1,"
                                        "thinking_n_ignore_str=Wait")
    (text,) = result["samples"]["s1_aime24"][0]["resps"][0]
    (stats,) = collector_for(result["config"]["s1_stats_key"]).pop_task("s1_aime24")  # the model's own
    assert text.startswith("<|im_start|>think") and "<|im_start|>answer" in text
    assert 0 < stats["thinking_tokens"] <= 12 and stats["budget"] == 12
    assert stats["forced"] == ("<|im_start|>answer\nFinal Answer:" in text)
    assert result["config"]["s1_run_record"]["backend"] == "s1hf"
