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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="s1train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sft", help="fine-tune (options: s1train sft --help)", add_help=False)
    from s1train import plan

    plan.add_arguments(sub.add_parser("plan", help="memory per GPU of a planned run, and whether it fits"))
    if argv and argv[0] == "sft":
        from s1train import sft
        from s1train.config import ConfigError

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
