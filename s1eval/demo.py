"""`make demo` / `s1eval demo`: test-time scaling of the embedded mini-s1 model, offline, in a few minutes.

The embedded model (`s1eval/data/mini/model`, ~1M parameters, made by `make mini-s1`; its MODEL_CARD.md says
how) was trained with the s1 recipe in miniature on the mini task (`s1eval.mini`). The demo runs the real
`s1eval sweep` with `--model s1hf` on the held-out s1_mini problems over several thinking budgets
(`max_tokens_thinking`, 0 = no thinking) and 0/1/2 forced "Wait" extensions, and prints the table (accuracy
with a 95% CI, mean thinking tokens, share within the budget, share forced) and the paper's three metrics
(Control, Scaling, Performance); the scaling plot goes to OUTPUT/scaling.png.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from s1eval.mini.data import DATA_DIR

MODEL_DIR = DATA_DIR / "mini" / "model"
BUDGETS = "0,64,128,512"
IGNORES = "0,1,2"
# The task allows 2,048 new tokens; the longest teacher trace is ~350 and the largest demo budget 512, so 768
# changes nothing for a model that stops, and bounds the time of one that rambles after "Final Answer:".
MAX_GEN_TOKS = 768


def sweep_argv(model: Path, output: Path, budgets: str, ignores: str, limit: int | None, batch_size: int) -> list[str]:
    """The `s1eval sweep` command line the demo runs (printed, so it can be rerun by hand)."""
    argv = ["--model", "s1hf", "--model_args", f"pretrained={model},max_length=4096", "--tasks", "s1_mini",
            "--max-tokens-thinking", budgets, "--ignores", ignores, "--apply_chat_template",
            "--batch_size", str(batch_size), "--gen_kwargs", f"max_gen_toks={MAX_GEN_TOKS}", "--output", str(output)]
    return argv + (["--limit", str(limit)] if limit else [])


DEMO_MARKER = "s1eval_demo.json"


def clear_output(folder: Path) -> list[str]:
    """Make room for a fresh demo in `folder`: only a previous demo's folder (its marker, DEMO_MARKER) is
    cleared, and of it only what the sweep wrote (s1eval.analysis.sweep_manifest.OWN_ENTRIES) and the marker.

    A sweep resumes finished settings; a demo starts afresh. Any other non-empty folder is refused: it may be
    the user's (`--output .`) or a real sweep's (`--output runs/sweep1`), and no command deletes what it did
    not write.
    """
    from s1eval.analysis.sweep_manifest import remove_own_outputs

    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--output {folder} is a file; pass a folder")
    if not folder.is_dir() or not any(folder.iterdir()):
        return []
    if not (folder / DEMO_MARKER).is_file():
        raise ValueError(f"--output {folder} is not empty and holds no {DEMO_MARKER} (it is not a previous demo's "
                         "folder); pass a new or empty folder, e.g. --output demo_out")
    removed = remove_own_outputs(folder)
    (folder / DEMO_MARKER).unlink()
    return removed + [DEMO_MARKER]


def write_marker(folder: Path, argv: list[str]) -> None:
    """Mark `folder` as a demo's (so that the next demo may clear it), before the sweep writes anything."""
    from s1eval.atomic import write_text_atomic

    write_text_atomic(folder / DEMO_MARKER, json.dumps({"written_by": "s1eval demo", "sweep": argv}) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `s1eval demo`: a budget sweep of the embedded mini-s1 model; returns the sweep's status."""
    parser = argparse.ArgumentParser(prog="s1eval demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="demo_out", type=Path,
                        help="sweep folder: new, empty, or a previous demo's (whose outputs are replaced)")
    parser.add_argument("--model", default=MODEL_DIR, type=Path, help="model folder (default: the embedded one)")
    parser.add_argument("--budgets", default=BUDGETS, help=f"max_tokens_thinking values (default {BUDGETS})")
    parser.add_argument("--ignores", default=IGNORES, help=f"forced 'Wait' extensions (default {IGNORES})")
    parser.add_argument("--limit", type=int, default=40, help="s1_mini problems per setting (0: all 500)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    if not (args.model / "model.safetensors").is_file():
        parser.error(f"no model at {args.model} (model.safetensors missing); `make mini-s1` builds and ships the "
                     "embedded one, or pass --model FOLDER")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # the table is the output; progress bars would drown it
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("lm_eval", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        removed = clear_output(args.output)
    except ValueError as err:
        parser.error(str(err))
    if removed:
        print(f"Replacing the previous demo's outputs in {args.output}: {', '.join(removed)}")
    sweep = sweep_argv(args.model, args.output, args.budgets, args.ignores, args.limit, args.batch_size)
    print("mini-s1 (see s1eval/data/mini/model/MODEL_CARD.md): budget forcing on held-out s1_mini problems.\n"
          f"s1eval sweep {' '.join(sweep)}\n")
    from s1eval.analysis import sweep as sweep_cmd

    write_marker(args.output, sweep)
    code = sweep_cmd.main(sweep)
    print(f"\nplot: {args.output / 'scaling.png'}; per-setting lm-eval outputs under {args.output / 'settings'}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
