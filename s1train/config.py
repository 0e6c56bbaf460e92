"""Configuration of `s1train sft`: trl's own dataclasses plus ours, parsed by trl's parser.

Three dataclasses, filled from a recipe (`--config recipes/s1_32b.yaml`) and then the command line, which
wins (`s1train sft --config recipes/s1_32b.yaml --learning_rate 2e-5`). `--config` takes a file, or the name of a
recipe shipped in the package when no such file exists (`--config s1_32b`, `--config mini/s1`; the wheel carries
`recipes/` as `s1train/recipes`).

- `S1ScriptArguments`: the data (source, which traces, delimiter preset, block size, over-long policy).
- `S1SFTConfig(trl.SFTConfig)`: every TrainingArguments / SFTConfig field, plus `global_batch_size`.
- `trl.ModelConfig`: the model, its dtype and attention, LoRA (`use_peft`, `lora_r`, ...).

`resolve` then derives what must not be set by hand and checks the options, once, before anything heavy
is loaded: `max_length` = `block_size` (trl's default of 1024 would silently truncate s1K);
`gradient_accumulation_steps` = `global_batch_size` / (processes x per-device batch), so the global batch
stays 16 and the run 315 steps on any GPU count; float32 weights (bf16 is autocast: pure-bf16 AdamW at
lr 1e-5 rounds most updates away); packages that an option needs are present.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml
from trl import ModelConfig, SFTConfig

from s1eval.s1format import DELIMITERS as FORMATS

log = logging.getLogger(__name__)

TRACES = ("thinking_trajectories", "gemini", "deepseek", "text")
DELIMITERS = tuple(FORMATS)  # s1eval's presets, so that a model is trained on what budget forcing expects
OVERLONG = ("truncate", "drop")
FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3")


@dataclass
class S1ScriptArguments:
    """The training data."""

    dataset_name: str = field(default="simplescaling/s1K", metadata={
        "help": "Hub dataset id, or a local dataset folder (s1data export / save_to_disk), parquet or json(l) file."})
    dataset_config: str | None = field(default=None, metadata={"help": "Hub dataset configuration name."})
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    traces: str = field(default="thinking_trajectories", metadata={
        "help": "Which columns hold the reasoning: thinking_trajectories + attempt (s1K, s1data export), gemini / "
                "deepseek (s1K-1.1's <teacher>_thinking_trajectory + <teacher>_attempt), or text (an already "
                "formatted `text` column, e.g. s1K_tokenized).", "choices": list(TRACES)})
    delimiters: str = field(default="s1", metadata={
        "help": "Thinking delimiters: " + " or ".join(f"{d.name} ({d.thinking_start} ... {d.thinking_end})"
                                                     for d in FORMATS.values()) + ", as in s1eval's presets.",
        "choices": list(DELIMITERS)})
    block_size: int = field(default=32768, metadata={"help": "Tokens per training sequence (becomes max_length)."})
    overlong: str = field(default="truncate", metadata={
        "help": "What to do with samples longer than block_size: truncate (keep the first block_size tokens, as the "
                "paper did) or drop them. They are counted either way.", "choices": list(OVERLONG)})
    max_samples: int | None = field(default=None, metadata={"help": "Use only the first N rows (smoke runs)."})
    init_from_config: bool = field(default=False, metadata={
        "help": "Start from freshly initialised weights (seeded by `seed`) built from model_name_or_path's "
                "config.json instead of loading its weights: the mini-s1 base model is pretrained this way. The "
                "folder needs config.json and the tokenizer files, no weights."})


@dataclass
class S1SFTConfig(SFTConfig):
    """trl's SFTConfig plus the global batch size; `max_length` comes from `block_size`."""

    global_batch_size: int | None = field(default=16, metadata={
        "help": "Sequences per optimizer step over all processes; gradient_accumulation_steps is derived from it "
                "(null: use gradient_accumulation_steps as given)."})
    max_length: int | None = field(default=None, metadata={
        "help": "Set from block_size; leave unset (a different value is an error)."})


DATACLASSES = (S1ScriptArguments, S1SFTConfig, ModelConfig)


class ConfigError(ValueError):
    """A setting or input that cannot work; the message names the value and the fix."""


def _valid_keys() -> set[str]:
    return {f.name for cls in DATACLASSES for f in fields(cls)} | {"env"}


def _unknown(keys: list[str], where: str) -> ConfigError:
    valid = _valid_keys()
    hints = []
    for key in keys:
        near = difflib.get_close_matches(key, valid, n=2)
        hints.append(f"{key!r}" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    return ConfigError(f"{where}: unknown option(s) {', '.join(hints)}; options are the fields of S1ScriptArguments, "
                       "trl.SFTConfig (TrainingArguments) and trl.ModelConfig (`s1train sft --help` lists them)")


def check_recipe_keys(path: str | os.PathLike) -> None:
    """Fail on unknown keys of a recipe with did-you-mean suggestions (trl would only list them)."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path} must be a YAML mapping of option: value, got {type(data).__name__}")
    bad = [k for k in data if k not in _valid_keys()]
    if bad:
        raise _unknown(bad, f"recipe {path}")


def recipe_dir() -> Path:
    """The packaged recipes: `s1train/recipes` in the wheel, `recipes/` in a checkout."""
    from s1eval.resources import packaged_dir

    return packaged_dir(__file__, "recipes")


def resolve_recipe(value: str) -> Path:
    """A recipe path, or the packaged recipe it names (`s1_32b`, `mini/s1`, `recipes/s1_32b.yaml`)."""
    from s1eval.resources import resolve

    try:
        return resolve(value, recipe_dir(), kind="recipe", prefix="recipes")
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from None


def resolve_config_arg(argv: list[str]) -> list[str]:
    """argv with `--config X` / `--config=X` as `--config PATH` (a file, else the packaged recipe X)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            argv[i:i + 1] = ["--config", arg.split("=", 1)[1]]
            arg = "--config"
        if arg == "--config":
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise ConfigError("--config needs a recipe: a file or a packaged name, e.g. --config s1_32b "
                                  "(recipes/s1_32b.yaml)")
            argv[i + 1] = str(resolve_recipe(argv[i + 1]))
            break
    return argv


def parse(argv: list[str]) -> tuple[S1ScriptArguments, S1SFTConfig, ModelConfig]:
    """Recipe (`--config FILE`) then command line, through trl's TrlParser."""
    from trl import TrlParser

    argv = resolve_config_arg(argv)
    if "--config" in argv:
        check_recipe_keys(argv[argv.index("--config") + 1])
    parser = TrlParser(DATACLASSES, prog="s1train sft")
    # unknown options first, before the dataclasses run their own checks on what they did understand
    options = set(parser._option_string_actions) | {"--config"}
    bad = [a[2:].split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in options]
    if bad:
        raise _unknown(bad, "command line")
    return tuple(parser.parse_args_and_config(argv))


def _need(module: str, option: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{option} needs the `{module}` package, which is not installed; {install}, or turn the "
                         "option off")


def derive_accumulation(global_batch: int, world_size: int, per_device: int) -> int:
    """gradient_accumulation_steps so that per_device x world_size x steps == global_batch."""
    if global_batch % (world_size * per_device):
        raise ConfigError(f"global_batch_size={global_batch} is not a multiple of {world_size} process(es) x "
                         f"per_device_train_batch_size={per_device}; use a number of processes (GPUs) and a "
                         f"per-device batch whose product divides {global_batch} (1, 2, 4, 8 or 16 GPUs for the "
                         "paper's 16)")
    return global_batch // (world_size * per_device)


def _check_options(script: S1ScriptArguments, args: S1SFTConfig, model: ModelConfig) -> None:
    if args.use_liger_kernel:
        _need("liger_kernel", "use_liger_kernel", "pip install liger-kernel (CUDA only)")
    if model.use_peft:
        _need("peft", "use_peft", "pip install peft (or the project's `train` extra)")
    for target, module in (("wandb", "wandb"), ("tensorboard", "tensorboard"), ("trackio", "trackio")):
        if target in (args.report_to or []):
            _need(module, f"report_to={target}", f"pip install {module}")
    if args.padding_free or args.packing:
        if model.attn_implementation not in FLASH_ATTENTION:
            raise ConfigError(f"padding_free/packing need attn_implementation flash_attention_2 or flash_attention_3 "
                             f"(sequences are concatenated), got {model.attn_implementation!r}")
        if model.attn_implementation == "flash_attention_2":
            _need("flash_attn", "attn_implementation=flash_attention_2", "pip install flash-attn")
        if args.padding_free and not args.packing and script.overlong == "truncate":
            raise ConfigError("padding_free without packing leaves sequences untruncated in trl; use overlong: drop "
                             "or packing: true")
    if args.completion_only_loss is False or args.assistant_only_loss:
        raise ConfigError("the loss must cover exactly the assistant turn: leave completion_only_loss unset (or true) "
                         "and assistant_only_loss false (Qwen2.5's template has no generation tags)")
    if model.dtype in ("bfloat16", "float16") and not model.use_peft:
        raise ConfigError(f"dtype={model.dtype} would keep the weights and AdamW states in 16 bits, which rounds "
                         "most updates at lr 1e-5 away; use dtype: float32 (bf16: true already gives bf16 compute)")


def _check_init_from_config(model: ModelConfig) -> None:
    if not (Path(model.model_name_or_path) / "config.json").is_file():
        raise ConfigError(f"init_from_config needs a local folder with config.json (and the tokenizer files); "
                         f"{model.model_name_or_path!r} has none: write one with transformers' "
                         "config.save_pretrained(folder) and tokenizer.save_pretrained(folder)")
    if model.use_peft:
        raise ConfigError("init_from_config with use_peft would train adapters on random weights; turn one off")


def _resume(value: str | None) -> str | bool | None:
    if value is None or str(value).lower() in ("false", "none", ""):
        return None
    if str(value).lower() == "true":
        return True  # the Trainer finds the last checkpoint in output_dir
    if not Path(value).is_dir():
        raise ConfigError(f"resume_from_checkpoint={value!r} is not a checkpoint folder; give one "
                         "(output_dir/checkpoint-N) or true for the latest")
    return value


def resolve(script: S1ScriptArguments, args: S1SFTConfig, model: ModelConfig) -> dict:
    """Derive and check the settings in place, once, at start-up; returns what was derived."""
    if model.model_name_or_path is None:
        raise ConfigError("model_name_or_path is required, e.g. Qwen/Qwen2.5-32B-Instruct or a local model folder")
    if args.max_length is not None and args.max_length != script.block_size:
        raise ConfigError(f"max_length={args.max_length} differs from block_size={script.block_size}; set only "
                         "block_size")
    args.max_length = script.block_size
    if args.padding_free and not args.packing:
        args.max_length = None  # trl refuses max_length here; over-long samples are dropped before training
    if args.global_batch_size is not None:
        accumulation = derive_accumulation(args.global_batch_size, args.world_size, args.per_device_train_batch_size)
        if args.gradient_accumulation_steps not in (1, accumulation):
            raise ConfigError(f"gradient_accumulation_steps={args.gradient_accumulation_steps} contradicts "
                             f"global_batch_size={args.global_batch_size}; set one of them (the other is derived)")
        args.gradient_accumulation_steps = accumulation
    model.dtype = "float32" if model.dtype in (None, "auto") else model.dtype
    _check_options(script, args, model)
    # FSDP's activation checkpointing (accelerate config) and the Trainer's gradient checkpointing must not both be
    # on (transformers refuses). accelerate hands its FSDP settings to every process as environment variables;
    # it applies FSDP on accelerators only, so on CPU the Trainer keeps checkpointing.
    fsdp_ckpt = all(os.environ.get(k, "").lower() == "true"
                    for k in ("ACCELERATE_USE_FSDP", "FSDP_ACTIVATION_CHECKPOINTING")) and args.device.type != "cpu"
    if fsdp_ckpt and args.gradient_checkpointing:
        log.info("FSDP activation checkpointing is on (accelerate config): the Trainer's gradient_checkpointing is "
                 "turned off so that layers are checkpointed once")
        args.gradient_checkpointing = False
    args.model_init_kwargs = {"revision": model.model_revision, "dtype": model.dtype,
                              "attn_implementation": model.attn_implementation, **(args.model_init_kwargs or {})}
    args.resume_from_checkpoint = _resume(args.resume_from_checkpoint)
    if script.init_from_config:
        _check_init_from_config(model)
    return {"world_size": args.world_size, "gradient_accumulation_steps": args.gradient_accumulation_steps,
            "max_length": args.max_length, "fsdp_activation_checkpointing": fsdp_ckpt}


def expected_steps(rows: int, world_size: int, per_device: int, accumulation: int, epochs: float) -> int:
    """Optimizer steps the Trainer will run: accelerate pads each epoch to whole batches on every process
    (ceil(rows / (world x per_device)) batches), and the Trainer counts a last partial accumulation as a step."""
    batches = -(-rows // (world_size * per_device))
    per_epoch = max(-(-batches // accumulation), 1)
    return int(-(-(epochs * per_epoch) // 1))
