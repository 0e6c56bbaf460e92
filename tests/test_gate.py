"""The regression gate used for real (`make gate`, docs/ci_recipe.md): the committed baseline
results/baselines/mini-s1 against a fresh evaluation of the shipped mini-s1 model, and of a perturbed copy.

`make gate` evaluates GATE_MODEL with the baseline's own command and gates it with
`s1eval compare BASELINE NEW --fail-on-regression`. Here it runs on the first LIMIT problems (GATE_LIMIT) against
the baseline restricted to the same questions, as a user would gate a cheaper run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s1eval.scaling.outputs import load_run, model_args
from tests.test_lm_eval_cli import env

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "results" / "baselines" / "mini-s1"
SHIPPED = "s1eval/data/mini/model"  # relative to the checkout, as in the baseline's command
GEN_KWARGS = {"max_gen_toks": 768, "max_tokens_thinking": 128, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Wait"}
LIMIT = 64


def make(*args: str) -> subprocess.CompletedProcess:
    """`make ARGS` in the checkout with this interpreter's venv; -o: never reinstall the venv from a test."""
    cmd = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", f"BIN={Path(sys.executable).parent}", *args]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=900)


def test_the_baseline_is_the_output_of_the_gates_own_command():
    files = sorted(p.name.split("_20")[0] for p in BASELINE.rglob("*") if p.is_file())
    assert files == ["results", "s1stats_s1_mini", "samples_s1_mini"]
    assert sum(p.stat().st_size for p in BASELINE.rglob("*") if p.is_file()) < 1_000_000
    results = json.loads(next(BASELINE.rglob("results_*.json")).read_text())
    config = results["config"]
    assert config["model"] == "s1hf" and model_args(results) == {"pretrained": SHIPPED, "max_length": 4096}
    assert config["gen_kwargs"] == GEN_KWARGS and config["limit"] == 300 and str(config["batch_size"]) == "64"
    assert config["s1_run_record"]["dtype"] == "torch.float32" and results["versions"] == {"s1_mini": 2.0}
    run = load_run(BASELINE)["s1_mini"]
    assert sorted(run.scores) == list(range(300)) and run.samples_per_question == 1 and run.grader_version == 2
    # `make gate` evaluates with the same command (only the output folder differs)
    dry = make("-n", "gate", "GATE_OUT=/tmp/gate-dry-run")
    assert dry.returncode == 0, dry.stderr
    command = next(line for line in dry.stdout.splitlines() if "lm_eval" in line)
    gen = ",".join(f"{k}={v}" for k, v in GEN_KWARGS.items())
    for arg in (f"--model s1hf --model_args pretrained={SHIPPED},max_length=4096", "--tasks s1_mini --limit 300",
                "--apply_chat_template --batch_size 64", f"--gen_kwargs {gen}", "--log_samples"):
        assert arg in command
    assert "s1eval compare results/baselines/mini-s1 /tmp/gate-dry-run/candidate --fail-on-regression" in dry.stdout


def restricted_baseline(out: Path, limit: int) -> Path:
    """The baseline's folder with only the questions `--limit limit` evaluates (doc_ids 0..limit-1)."""
    for f in BASELINE.rglob("*"):
        if not f.is_file():
            continue
        target = out / f.relative_to(BASELINE)
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix == ".jsonl":
            rows = [line for line in f.read_text().splitlines(True) if json.loads(line)["doc_id"] < limit]
            target.write_text("".join(rows))
        else:
            shutil.copy(f, target)
    return out


def perturbed_model(out: Path, scale: float = 0.6) -> Path:
    """The shipped model with seeded Gaussian noise (`scale` x each matrix's std) on every MLP weight."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(ROOT / SHIPPED, out)
    weights = load_file(out / "model.safetensors")
    gen = torch.Generator().manual_seed(0)
    for name, w in weights.items():
        if ".mlp." in name:
            weights[name] = w + scale * float(w.std()) * torch.randn(w.shape, generator=gen)
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    return out


@pytest.mark.slow
def test_the_gate_passes_the_shipped_model_exactly_and_fails_a_perturbed_copy(tmp_path):
    base = restricted_baseline(tmp_path / "baseline", LIMIT)
    gate = ("gate", f"GATE_LIMIT={LIMIT}", f"GATE_BASELINE={base}")

    shipped = make(*gate, f"GATE_OUT={tmp_path / 'shipped'}")
    assert shipped.returncode == 0, shipped.stdout[-2000:] + shipped.stderr[-3000:]
    assert "gate: ok (tolerance 0 points, at most 0 questions worse)" in shipped.stdout
    # greedy float32: every question scores exactly as in the baseline, not just the same accuracy
    again = load_run(tmp_path / "shipped" / "candidate")["s1_mini"]
    assert again.scores == load_run(base)["s1_mini"].scores and len(again.scores) == LIMIT
    task = json.loads((tmp_path / "shipped" / "compare.json").read_text())["tasks"][0]
    assert (task["delta"], task["worse"], task["better"]) == (0, [], [])
    assert task["base_accuracy"] > 20  # the budget leaves room to lose questions

    model = perturbed_model(tmp_path / "perturbed_model")
    perturbed = make(*gate, f"GATE_OUT={tmp_path / 'perturbed'}", f"GATE_MODEL={model}")
    assert (perturbed.returncode != 0
            and "gate: REGRESSION (tolerance 0 points, at most 0 questions worse)" in perturbed.stdout)
    assert "s1eval compare: regression beyond the gate's limits in s1_mini" in perturbed.stderr
    result = json.loads((tmp_path / "perturbed" / "compare.json").read_text())
    task = result["tasks"][0]
    assert result["passed"] is False and task["regressed"] and task["questions"] == LIMIT
    assert task["delta"] < -10 and task["p_value"] < 0.05 and len(task["worse"]) > len(task["better"])
