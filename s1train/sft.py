"""`s1train sft`: the s1 SFT script, trl style: parse, resolve, data, trainer, train, save.

    s1train sft --config recipes/s1_32b.yaml [--option value ...]
    accelerate launch --config_file s1train/configs/accelerate/fsdp.yaml \\
        -m s1train.cli sft --config recipes/s1_32b.yaml

Before training it logs (and writes to `output_dir/s1train_run.json`) what the run will do: the global batch
and how it is made, the number of optimizer steps, how many samples exceed the block and what happens to them,
and what produced it (package versions, tokenizer and chat-template hashes, seed); the loss history is
added when training ends.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from s1eval.runinfo import package_version, run_record
from s1train.config import expected_steps, parse, resolve

TRAIN_PACKAGES = ("trl", "accelerate", "peft", "datasets", "deepspeed", "liger-kernel", "flash-attn")

log = logging.getLogger(__name__)


def _init_model(model, args):
    """A freshly initialised model from the folder's config.json (weights from `args.seed`, float32 unless the
    dtype says otherwise), for pretraining a tiny base from scratch."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, set_seed

    set_seed(args.seed)  # the Trainer seeds again later, but the weights are drawn here
    config = AutoConfig.from_pretrained(model.model_name_or_path, revision=model.model_revision,
                                        trust_remote_code=args.trust_remote_code)
    kwargs = args.model_init_kwargs or {}
    net = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, kwargs.get("dtype") or "float32"),
                                           attn_implementation=kwargs.get("attn_implementation"),
                                           trust_remote_code=args.trust_remote_code)
    args.model_init_kwargs = None  # used up here (trl warns when they come with an instantiated model)
    log.info("init_from_config: %s with %.2fM fresh parameters (seed %d)", type(net).__name__,
             sum(p.numel() for p in net.parameters()) / 1e6, args.seed)
    return net


def build(argv: list[str]):
    """Everything up to training: returns (trainer, record). Tests build the trainer the real run would."""
    from transformers import AutoTokenizer
    from trl import SFTTrainer, get_peft_config

    from s1train.data import build_dataset

    script, args, model = parse(argv)
    derived = resolve(script, args, model)
    tokenizer = AutoTokenizer.from_pretrained(model.model_name_or_path, revision=model.model_revision,
                                              trust_remote_code=args.trust_remote_code)
    dataset, data_stats = build_dataset(script, tokenizer)
    per_device, world = args.per_device_train_batch_size, args.world_size
    accumulation = args.gradient_accumulation_steps
    steps = expected_steps(len(dataset), world, per_device, accumulation, args.num_train_epochs)
    log.info("global batch %d = %d per device x %d process(es) x %d accumulation step(s); %d rows x %g epochs -> "
             "%d optimizer steps", per_device * world * accumulation, per_device, world, accumulation, len(dataset),
             args.num_train_epochs, steps)
    trainer = SFTTrainer(model=_init_model(model, args) if script.init_from_config else model.model_name_or_path,
                         args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=get_peft_config(model))
    record = {"argv": argv, "derived": derived, "expected_steps": steps,
              "data": {k: v for k, v in data_stats.items() if k != "overlong_rows"},
              "run": run_record(backend="s1train", tokenizer=tokenizer, dtype=model.dtype,
                                batch_size=per_device * world * accumulation, seed=args.seed,
                                extra={"train_versions": {d: package_version(d) for d in TRAIN_PACKAGES}})}
    return trainer, record


def main(argv: list[str]) -> int:
    """`s1train sft`: build the trainer, write s1train_run.json, train, save (and push); the loss history is added."""
    trainer, record = build(argv)
    args = trainer.args
    run_file = Path(args.output_dir) / "s1train_run.json"
    if trainer.accelerator.is_main_process:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(record, indent=2, default=str) + "\n")
    trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    trainer.save_model(args.output_dir)
    if trainer.accelerator.is_main_process:
        record["log_history"] = trainer.state.log_history  # losses, learning rates, grad norms per step
        run_file.write_text(json.dumps(record, indent=2, default=str) + "\n")
    log.info("model saved to %s", args.output_dir)
    if args.push_to_hub:
        trainer.push_to_hub()
    if hasattr(trainer, "end"):  # transformers >= 5.18 finishes trackers and the process group here
        trainer.end()
    return 0
