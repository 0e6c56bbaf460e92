"""The `s1eval` command.

    s1eval lm-eval ARGS...   lm-eval's own CLI with the s1 models and tasks registered explicitly
                             (a fallback for environments where the .pth autoload is disabled)
    s1eval grade ...         re-grade samples without regenerating (s1eval.grading.cli)
    s1eval demo [...]        budget forcing on the embedded tiny model, offline (s1eval.demo)
    s1eval compare BASE NEW  paired per-question comparison of two runs; a regression gate (s1eval.compare)
    s1eval report RUN...     runs beside the paper's numbers, with CIs and run records (s1eval.report)
    s1eval stats SAMPLES     recompute thinking/answer tokens from any samples file (s1eval.stats_cli)
    s1eval sweep ...         one model over a grid of budgets and ignores, resumable (s1eval.sweep)
"""

from __future__ import annotations

import sys

USAGE = __doc__.split("\n\n", 1)[1]
# Commands whose module has `main(argv) -> int`, imported only when called.
MODULE_COMMANDS = {"compare": "s1eval.compare", "report": "s1eval.report", "stats": "s1eval.stats_cli",
                   "sweep": "s1eval.sweep", "grade": "s1eval.grading.cli", "demo": "s1eval.demo"}
COMMANDS = ("lm-eval", *MODULE_COMMANDS)


def run_lm_eval(args: list[str]) -> int:
    """Run lm-eval's CLI in this process with our registrations in place."""
    from s1eval import _autoload

    _autoload.install(force=True)
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["lm_eval", *args]
    cli_evaluate()
    return 0


def main(argv: list[str] | None = None) -> int:
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
