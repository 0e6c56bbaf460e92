"""The `s1eval` command.

    s1eval lm-eval ARGS...   lm-eval's own CLI with the s1 models and tasks registered explicitly
                             (a fallback for environments where the .pth autoload is disabled)
    s1eval grade ...         re-grade samples without regenerating (s1eval.grading.cli)
    s1eval demo [...]        budget forcing on the embedded tiny model, offline (s1eval.demo)
    s1eval compare BASE NEW  paired per-question comparison of two runs; a regression gate (s1eval.analysis.compare)
    s1eval report RUN...     runs beside the paper's numbers, with CIs and run records (s1eval.analysis.report)
    s1eval stats SAMPLES     recompute thinking/answer tokens from any samples file (s1eval.analysis.stats)
    s1eval sweep ...         one model over a grid of budgets and ignores, resumable (s1eval.analysis.sweep)
"""

from __future__ import annotations

import sys

USAGE = __doc__.split("\n\n", 1)[1]
# Commands whose module has `main(argv) -> int`, imported only when called.
MODULE_COMMANDS = {"compare": "s1eval.analysis.compare", "report": "s1eval.analysis.report",
                   "stats": "s1eval.analysis.stats", "sweep": "s1eval.analysis.sweep", "grade": "s1eval.grading.cli",
                   "demo": "s1eval.demo"}
COMMANDS = ("lm-eval", *MODULE_COMMANDS)


def run_lm_eval(args: list[str]) -> int:
    """Run lm-eval's CLI in this process with our registrations in place; an s1 backend's model_args and
    --gen_kwargs are checked first, before the model loads (lm-eval itself has no hook for that)."""
    from s1eval import _autoload

    _autoload.install(force=True)
    problem = s1_argument_problem(args)
    if problem:
        print(f"s1eval lm-eval: {problem}", file=sys.stderr)
        return 2
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["lm_eval", *args]
    cli_evaluate()
    return 0


def s1_argument_problem(args: list[str]) -> str | None:
    """What `s1eval sweep` checks before loading, for an lm-eval command line that uses an s1 backend: unknown
    or misspelt model_args, a local model path that does not exist, --gen_kwargs the backend would refuse
    after loading (a task's own generation_kwargs are only known to lm-eval, later). None when fine, or not ours."""
    import argparse

    try:  # lm-eval's own parsing of its dict options (key=value lists or JSON), so both read the same
        from lm_eval._cli.utils import MergeDictAction
    except ImportError:
        return None
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--model", "-M")
    parser.add_argument("--model_args", "-a", nargs="+", action=MergeDictAction)
    parser.add_argument("--gen_kwargs", nargs="+", action=MergeDictAction)
    try:
        known, _ = parser.parse_known_args(args)
    except (argparse.ArgumentError, SystemExit):
        return None  # lm-eval reports its own parsing errors
    if known.model not in ("s1hf", "s1vllm", "s1api"):
        return None
    from s1eval.analysis.sweep_checks import SweepArgumentError, check_gen_kwargs, check_model

    try:
        model_cls = check_model(known.model, dict(known.model_args or {}))
        check_gen_kwargs(model_cls, dict(known.gen_kwargs or {}), "--gen_kwargs")
    except SweepArgumentError as err:
        return str(err)
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of `s1eval COMMAND ...`: runs the command; returns its exit status (2 for an unknown one)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: s1eval COMMAND ...\n\n" + USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "lm-eval":
        return run_lm_eval(rest)
    if command in MODULE_COMMANDS:
        import importlib

        return importlib.import_module(MODULE_COMMANDS[command]).main(rest)
    print(f"s1eval: unknown command {command!r}; choose one of {', '.join(COMMANDS)}.\n\n{USAGE}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
