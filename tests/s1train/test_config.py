"""Recipes, parsing, derived settings (max_length, accumulation, 315 steps), options that must fail clearly."""

from __future__ import annotations

import json

import pytest

from s1train.config import ConfigError, derive_accumulation, expected_steps, parse, resolve
from tests.s1train.conftest import RECIPE, ROOT, s1k_rows, write_jsonl

RECIPE_11 = ROOT / "recipes" / "s1.1_32b.yaml"


def resolved(*argv: str):
    script, args, model = parse(list(argv))
    derived = resolve(script, args, model)
    return script, args, model, derived


@pytest.mark.parametrize("recipe, data, traces, block", [
    (RECIPE, "simplescaling/s1K", "thinking_trajectories", 32768),
    (RECIPE_11, "simplescaling/s1K-1.1", "deepseek", 20000),
])
def test_recipes_carry_the_papers_hyperparameters(recipe, data, traces, block, tmp_path):
    script, args, model, derived = resolved("--config", str(recipe), "--output_dir", str(tmp_path),
                                            "--use_cpu", "true")
    assert (model.model_name_or_path, model.dtype) == ("Qwen/Qwen2.5-32B-Instruct", "float32")
    assert (script.dataset_name, script.traces, script.delimiters, script.block_size) == (data, traces, "s1", block)
    assert args.learning_rate == 1e-5 and args.warmup_steps == 0.05 and args.lr_scheduler_type.value == "cosine"
    assert args.num_train_epochs == 5 and args.global_batch_size == 16 and args.per_device_train_batch_size == 1
    assert (args.adam_beta1, args.adam_beta2, args.weight_decay) == (0.9, 0.95, 1e-4)
    assert args.optim.value == "adamw_torch_fused"
    assert args.bf16 and args.gradient_checkpointing and not args.packing
    assert args.max_length == block == derived["max_length"]  # not trl's default of 1024
    assert args.gradient_accumulation_steps == 16 and derived["world_size"] == 1
    assert args.model_init_kwargs["dtype"] == "float32"  # float32 master weights, bf16 autocast


def test_command_line_overrides_the_recipe(tmp_path):
    script, args, *_ = resolved("--config", str(RECIPE), "--output_dir", str(tmp_path), "--use_cpu", "true",
                                "--learning_rate", "2e-5", "--block_size", "4096", "--overlong", "drop")
    assert args.learning_rate == 2e-5 and args.max_length == 4096 and script.overlong == "drop"


def test_unknown_recipe_keys_fail_with_suggestions(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(RECIPE.read_text() + "learning_rat: 1.0e-5\nblock_sise: 100\n")
    with pytest.raises(ConfigError, match=r"'learning_rat' \(did you mean learning_rate.*"
                                          r"'block_sise' \(did you mean block_size"):
        parse(["--config", str(bad)])
    with pytest.raises(ConfigError, match=r"command line: unknown option\(s\) 'block_sise' \(did you mean block_size"):
        parse(["--config", str(RECIPE), "--block_sise", "3"])


@pytest.mark.parametrize("world, accumulation", [(1, 16), (2, 8), (4, 4), (8, 2), (16, 1)])
def test_global_batch_16_and_315_steps_on_any_gpu_count(world, accumulation):
    assert derive_accumulation(16, world, 1) == accumulation
    # 1000 rows: accelerate gives each process ceil(1000 / world) batches, 63 optimizer steps per epoch
    assert expected_steps(1000, world, 1, accumulation, 5) == 315


def test_batch_that_cannot_be_made_fails_with_the_values():
    with pytest.raises(ConfigError, match=r"global_batch_size=16 is not a multiple of 3 process\(es\) x "
                                          r"per_device_train_batch_size=1"):
        derive_accumulation(16, 3, 1)
    with pytest.raises(ConfigError, match="gradient_accumulation_steps=4 contradicts global_batch_size=16"):
        resolved("--config", str(RECIPE), "--use_cpu", "true", "--gradient_accumulation_steps", "4")
    with pytest.raises(ConfigError, match="max_length=1024 differs from block_size=32768"):
        resolved("--config", str(RECIPE), "--use_cpu", "true", "--max_length", "1024")


def test_the_real_trainer_runs_315_steps_on_1000_rows(tiny_ends, tmp_path):
    """The Trainer's own step count, from the dataloader it builds with the recipe (one process here)."""
    import torch

    from s1train import sft

    data = write_jsonl(tmp_path / "rows.jsonl", s1k_rows(1000))
    trainer, record = sft.build(["--config", str(RECIPE), "--model_name_or_path", tiny_ends, "--dataset_name",
                                 str(data), "--output_dir", str(tmp_path / "out"), "--use_cpu", "true",
                                 "--dataset_num_proc", "1"])
    max_steps = trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1]
    assert max_steps == record["expected_steps"] == 315
    assert trainer.args.gradient_accumulation_steps == 16 and trainer.args.max_length == 32768
    # warmup: 5% of 315 steps, then cosine to 0
    trainer.create_optimizer_and_scheduler(num_training_steps=max_steps)
    lrs = [trainer.lr_scheduler.get_last_lr()[0]]
    for _ in range(max_steps):
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
        lrs.append(trainer.lr_scheduler.get_last_lr()[0])
    peak = lrs.index(max(lrs))
    assert peak == 16 and max(lrs) == pytest.approx(1e-5) and lrs[-1] == pytest.approx(0, abs=1e-12)
    groups = trainer.optimizer.param_groups
    assert {g["betas"] for g in groups} == {(0.9, 0.95)} and {g["weight_decay"] for g in groups} == {1e-4, 0.0}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # bf16 is autocast only


@pytest.mark.parametrize("extra, message", [
    (["--use_liger_kernel", "true"], "use_liger_kernel needs the `liger_kernel` package"),
    (["--report_to", "wandb"], "report_to=wandb needs the `wandb` package"),
    (["--padding_free", "true"], "padding_free/packing need attn_implementation flash_attention_2"),
    (["--packing", "true", "--attn_implementation", "flash_attention_2"], "needs the `flash_attn` package"),
    (["--dtype", "bfloat16"], "dtype=bfloat16 would keep the weights and AdamW states in 16 bits"),
    (["--assistant_only_loss", "true"], "the loss must cover exactly the assistant turn"),
    (["--resume_from_checkpoint", "nowhere/checkpoint-9"], "resume_from_checkpoint='nowhere/checkpoint-9' is not"),
])
def test_options_whose_package_or_setting_is_missing_fail_clearly(extra, message):
    import importlib.util

    for module in ("liger_kernel", "wandb", "flash_attn"):
        if module in message and importlib.util.find_spec(module) is not None:
            pytest.skip(f"{module} is installed here")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolved("--config", str(RECIPE), "--use_cpu", "true", *extra)


def test_pass_through_options_reach_trl_and_transformers(tiny_ends, tmp_path):
    """LoRA (peft), resume and push_to_hub are trl / transformers options, passed as they are (report_to too:
    its packages are not installed here, so only its failure is tested above)."""
    from s1train import sft

    ckpt = tmp_path / "out" / "checkpoint-2"
    ckpt.mkdir(parents=True)
    data = write_jsonl(tmp_path / "rows.jsonl", s1k_rows(2))
    trainer, _ = sft.build(["--config", str(RECIPE), "--model_name_or_path", tiny_ends, "--dataset_name", str(data),
                            "--output_dir", str(tmp_path / "out"), "--use_cpu", "true", "--use_peft", "true",
                            "--lora_r", "4", "--lora_target_modules", "q_proj", "v_proj",
                            "--resume_from_checkpoint", "true"])
    from peft import PeftModel

    assert isinstance(trainer.model, PeftModel)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert trainer.args.resume_from_checkpoint is True
    # push_to_hub: the Trainer creates the hub repo when it is built, which needs the network; parsed here only
    _, args, *_ = resolved("--config", str(RECIPE), "--use_cpu", "true", "--push_to_hub", "true",
                           "--hub_model_id", "me/s1-tiny")
    assert args.push_to_hub and args.hub_model_id == "me/s1-tiny"


def test_fsdp_checkpointing_replaces_the_trainers_only_on_accelerators(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_ACTIVATION_CHECKPOINTING", "true")
    # on CPU accelerate does not apply FSDP, so the Trainer must keep checkpointing
    _, args, _, derived = resolved("--config", str(RECIPE), "--use_cpu", "true", "--output_dir", str(tmp_path))
    assert args.gradient_checkpointing and not derived["fsdp_activation_checkpointing"]
    json.dumps(derived)  # the run record is JSON
