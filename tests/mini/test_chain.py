"""The mini-s1 chain through the real commands, shortened (small pool, a few training steps, a short sweep).

`python -m s1eval.mini build` runs `s1train sft` (pretraining from a config-initialised model), `s1data run`
(decontaminate, recorded teacher traces, quality, difficulty, s1K selection, export) and `s1train sft` again
(the s1 step), each as a subprocess; `s1eval sweep` then budget-forces the result through lm-eval's s1hf. A
change that breaks one package's contract with another (columns, formats, options, paths) fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s1eval.mini.data import TEST_FILE
from s1eval.mini.problems import FAMILIES

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--global_batch_size=8", "--per_device_train_batch_size=8", "--max_steps=2", "--logging_steps=1"]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2", "TQDM_DISABLE": "1"}


def _held_out() -> set[str]:
    return {json.loads(x)["problem"] for x in TEST_FILE.read_text().splitlines() if x.strip()}


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mini_chain")
    # the 15-minute setup's architecture and phase-1 recipe: faster here, and it exercises --base-config and
    # --pretrain-config (phases 2-3 keep pretrain2.yaml)
    cmd = [sys.executable, "-m", "s1eval.mini", "build", "--out", str(out), "--pool", "64", "--pool2", "32",
           "--phases", "3", "--candidates", "240", "--data-set", "select.n=40",
           "--base-config", str(REPO / "recipes" / "mini" / "base_config_small.json"),
           "--pretrain-config", str(REPO / "recipes" / "mini" / "pretrain_fast.yaml"),
           *(f"--pretrain-arg={a}" for a in SMALL), *(f"--s1-arg={a}" for a in SMALL)]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.mark.slow
def test_chain_runs_every_step_through_the_commands(chain):
    record = json.loads((chain / "build.json").read_text())
    ran = {s["step"]: s for s in record["steps"]}
    assert {"pool", "base", "pool2", "base2", "pool3", "base3", "s1data", "s1"} <= set(ran)
    assert all(not s.get("skipped") for s in ran.values())
    assert "--init_from_config" in ran["base"]["cmd"] and "s1data.cli" in ran["s1data"]["cmd"]
    # every training run really stepped; each pretraining phase continued from the one before, the s1 step
    # from the last
    start = {name: ran[name]["cmd"][ran[name]["cmd"].index("--model_name_or_path") + 1]
             for name in ("base2", "base3", "s1")}
    assert start == {"base2": str(chain / "base"), "base3": str(chain / "base2"), "s1": str(chain / "base3")}
    assert "pool3.jsonl" in ran["base3"]["cmd"][ran["base3"]["cmd"].index("--dataset_name") + 1]
    # the last phase's pool carries the teacher's "Wait" lines (the base must know "Wait"), earlier ones do not
    waits = {name: sum("Wait" in json.loads(x)["thinking_trajectories"][0]
                       for x in (chain / f"{name}.jsonl").read_text().splitlines()) for name in ("pool2", "pool3")}
    assert waits["pool2"] == 0 and waits["pool3"] > 0, waits
    for name in ("base", "base2", "base3", "s1"):
        run = json.loads((chain / name / "s1train_run.json").read_text())
        assert [h["step"] for h in run["log_history"] if "loss" in h] == [1, 2]
    base, s1 = _weights(chain / "base3"), _weights(chain / "s1")
    assert base.keys() == s1.keys()
    # --base-config chose the architecture every phase kept
    assert tuple(s1["model.embed_tokens.weight"].shape) == (400, 64)
    assert json.loads((chain / "s1" / "config.json").read_text())["num_attention_heads"] == 2
    # --pretrain-config chose phase 1's recipe, not the later phases'
    recipes = {name: Path(ran[name]["cmd"][ran[name]["cmd"].index("--config") + 1]).name for name in ("base", "base2")}
    assert recipes == {"base": "pretrain_fast.yaml", "base2": "pretrain2.yaml"}
    assert any(not (base[k] == s1[k]).all() for k in base)
    run = json.loads((chain / "s1" / "s1train_run.json").read_text())
    assert run["data"]["rows"] == 40


@pytest.mark.slow
def test_selection_is_the_s1k_rule_over_families_and_held_out_stays_out(chain):
    import datasets
    import pandas as pd

    export = datasets.load_from_disk(str(next((chain / "s1data").glob("*_export/hf_dataset"))))
    assert len(export) == 40
    assert {"question", "solution", "thinking_trajectories", "attempt", "metadata", "text"} <= set(export.column_names)
    domains = {json.loads(m)["domain"] for m in export["metadata"]}
    assert domains == set(FAMILIES)
    # Algorithm 1 ranks by trace length: the selected traces are longer than the candidates' on average
    pool = pd.read_parquet(next((chain / "s1data").glob("*_difficulty/data.parquet")))
    chosen = pool[pool.question.isin(set(export["question"]))]
    assert chosen.thinking_tokens.mean() > pool.thinking_tokens.mean() + 20
    # nothing the chain trained on is a held-out problem
    pretrain = [json.loads(x)["question"] for name in ("pool.jsonl", "pool2.jsonl", "pool3.jsonl")
                for x in (chain / name).read_text().splitlines()]
    assert len(pretrain) == 64 + 32 + 32
    assert not _held_out() & (set(pretrain) | set(export["question"]))


@pytest.mark.slow
def test_sweep_budget_forces_the_trained_model(chain, tmp_path):
    out = tmp_path / "sweep"
    cmd = [str(Path(sys.executable).parent / "s1eval"), "sweep", "--model", "s1hf", "--model_args",
           f"pretrained={chain / 's1'},max_length=1024", "--tasks", "s1_mini", "--max-tokens-thinking", "0,24",
           "--ignores", "0,1", "--limit", "3", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=64",
           "--output", str(out), "--no-plot"]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = json.loads((out / "summary.json").read_text())["rows"]
    assert {(r["budget"], r["ignores"]) for r in rows} == {(0, 0), (0, 1), (24, 0), (24, 1)}
    for r in rows:
        assert r["n"] == 3 and 0.0 <= r["accuracy"] <= 1.0
        assert r["within_budget_share"] == 1.0  # Control: the budget holds whatever the model does
    assert all(r["thinking_tokens_mean"] == 0 for r in rows if r["budget"] == 0)


def test_build_options_refuse_bad_sizes(tmp_path):
    from s1eval.mini.build import BuildOptions

    for bad, message in (({"pool2": -1}, "--pool2"), ({"phases": 0}, "--phases"),
                         ({"phases": 3, "wait_phases": 3}, "--wait-phases must be in \\[0, --phases - 1 = 2\\]"),
                         ({"candidates": 0}, "--candidates"), ({"ablation": "length"}, "--ablation")):
        with pytest.raises(ValueError, match=message):
            BuildOptions(tmp_path, **bad)
    with pytest.raises(FileNotFoundError, match="--base-config .*nope.json: no such file"):
        BuildOptions(tmp_path, base_config=tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="--pretrain-config .*nope.yaml: no such file .*pretrain_fast.yaml"):
        BuildOptions(tmp_path, pretrain_config=tmp_path / "nope.yaml")
    assert BuildOptions(tmp_path).pretrain_config.name == "pretrain.yaml"  # the shipped model's recipe
    assert BuildOptions(tmp_path).phases - BuildOptions(tmp_path).wait_phases >= 1  # phase 1 stays plain


def test_a_rerun_refuses_an_init_of_another_architecture(tmp_path):
    from s1eval.mini.build import RECIPES, write_init

    init = write_init(tmp_path, RECIPES / "base_config_small.json")
    assert json.loads((init / "config.json").read_text())["hidden_size"] == 64
    assert write_init(tmp_path, RECIPES / "base_config_small.json") == init  # the same chain resumes
    with pytest.raises(ValueError, match="another architecture than --base-config .*base_config.json"):
        write_init(tmp_path, RECIPES / "base_config.json")
