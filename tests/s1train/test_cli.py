"""The `s1train` command itself: `s1train sft --help` without the train extra (trl, accelerate, peft)."""

from __future__ import annotations

import subprocess
import sys

# Runs `s1train` with the train extra's packages unimportable (None in sys.modules: `import trl` raises
# ModuleNotFoundError, as on an install without `[train]`).
WITHOUT_TRAIN = """
import sys
for name in ("trl", "accelerate", "peft", "datasets"):
    sys.modules[name] = None
from s1train.cli import main
sys.exit(main(sys.argv[1:]))
"""


def s1train(*argv: str, without_train: bool = True) -> subprocess.CompletedProcess:
    code = WITHOUT_TRAIN if without_train else "import sys; from s1train.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)


def test_sft_help_works_without_the_train_extra():
    proc = s1train("sft", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "usage: s1train sft" in proc.stdout
    assert "--config" in proc.stdout and "not installed (`trl` is missing)" in proc.stdout and "[train]" in proc.stdout


def test_sft_without_the_train_extra_is_one_clear_line():
    proc = s1train("sft", "--config", "s1_32b")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "s1train sft: error: training needs the train extra (trl, peft, datasets, accelerate); `trl` is not "
        "installed. Install it: pip install -e '.[train]' in a checkout"]


def test_plan_and_the_top_level_help_need_no_train_extra():
    assert s1train("--help").returncode == 0
    proc = s1train("plan", "--model", "Qwen/Qwen2.5-32B-Instruct", "--gpus", "16", "--block-size", "32768")
    assert proc.returncode == 0 and "fits" in proc.stdout


def test_sft_help_with_trl_lists_trls_options():
    proc = s1train("sft", "--help", without_train=False)
    assert proc.returncode == 0 and "--learning_rate" in proc.stdout and "--block_size" in proc.stdout
