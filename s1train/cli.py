"""The `s1train` command: `sft` (fine-tune from a recipe) and `plan` (memory per GPU before you launch).

    s1train sft --config recipes/s1_32b.yaml [--learning_rate 1e-5 ...]
    s1train plan --model Qwen/Qwen2.5-32B-Instruct --gpus 16 --block-size 32768

`sft` hands its arguments to trl's parser (`s1train sft --help` lists every option); run it under
`accelerate launch ... -m s1train.cli sft ...` for several GPUs (scripts/ has launchers).
"""

from __future__ import annotations

import argparse
import logging
import sys

TRAIN_EXTRA = "trl, peft, datasets, accelerate"
INSTALL = "pip install -e '.[train]' in a checkout"
SFT_HELP = f"""usage: s1train sft --config RECIPE [--option value ...]

Fine-tune with trl's SFTTrainer from a recipe (a packaged name such as s1_32b, or a YAML path), any recipe
key overridden on the command line; under `accelerate launch ... -m s1train.cli sft ...` for several GPUs.

The options are trl's SFTConfig and ModelConfig plus s1train's script arguments (block_size, ...).
Listing them needs the train extra ({TRAIN_EXTRA}), which is not installed (`%s` is missing):
{INSTALL}, then `s1train sft --help` lists every option. `s1train plan` (memory per GPU) needs none of it.
"""


def _without_train_extra(argv: list[str], missing: str) -> int:
    """`s1train sft` on an install without the train extra: the help, or one line saying what to install."""
    if "-h" in argv or "--help" in argv:
        print(SFT_HELP % missing, end="")
        return 0
    print(f"s1train sft: error: training needs the train extra ({TRAIN_EXTRA}); `{missing}` is not installed. "
          f"Install it: {INSTALL}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of `s1train`: `sft` goes to s1train.sft, `plan` to s1train.plan; errors return 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="s1train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sft", help="fine-tune (options: s1train sft --help)", add_help=False)
    from s1train import plan

    plan.add_arguments(sub.add_parser("plan", help="memory per GPU of a planned run, and whether it fits"))
    if argv and argv[0] == "sft":
        try:  # trl, peft, datasets and accelerate come with the train extra; `plan` and the help need none
            from s1train import sft
            from s1train.config import ConfigError
        except ModuleNotFoundError as err:
            return _without_train_extra(argv[1:], err.name or str(err))
        try:
            return sft.main(argv[1:])
        except ConfigError as err:  # settings and inputs: one clear line, not a traceback
            print(f"s1train sft: error: {err}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    try:
        return plan.run(args)
    except ValueError as err:
        print(f"s1train plan: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
