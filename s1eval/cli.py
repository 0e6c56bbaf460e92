"""The `s1eval` command.

    s1eval lm-eval ARGS...   lm-eval's own CLI with the s1 models and tasks registered explicitly
                             (a fallback for environments where the .pth autoload is disabled)
    s1eval grade ...         re-grade samples without regenerating (s1eval.grading.cli)
    s1eval demo [...]        budget forcing on the embedded tiny model, offline (s1eval.demo)
"""

from __future__ import annotations

import sys

USAGE = __doc__.split("\n\n", 1)[1]
COMMANDS = ("lm-eval", "grade", "demo")


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
    if command == "grade":
        from s1eval.grading.cli import main as grade_main

        return grade_main(rest)
    if command == "demo":
        from s1eval.demo import main as demo_main

        return demo_main(rest)
    print(f"s1eval: unknown command {command!r}; choose one of {', '.join(COMMANDS)}.\n\n{USAGE}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
